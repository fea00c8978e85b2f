"""Initial state of the ego estimator: stationary detection, gravity alignment, heading, biases.

- **Stationary start** (≥ 1 s of still IMU, and still wheels when there are any): roll/pitch from
  the mean specific force, gyro bias from the mean rate; zero-velocity updates cover that span.
- **Moving start**: the up direction is the mean of ``f − a`` over the first second, with the
  acceleration ``a = ω × v + v̇`` of a vehicle moving along base x at the wheel (or GNSS) speed
  (a turning car's centripetal acceleration would otherwise tilt the estimate by degrees).
- **Heading**: with GNSS the world frame is local ENU and the start heading is the circular mean,
  weighted by distance, of the GNSS course between fixes minus the gyro-integrated turn since the
  start (first 30 s); without GNSS the world is the odometry frame, anchored at the first wheel
  odometry pose (or at the origin, heading 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.rotation import yaw_from_quat_xyzw
from fusion.ego.inputs import F64, GnssInput, ImuInput, WheelInput
from fusion.ego.kernels import GRAVITY

BLOCK_NS = 250_000_000
"""Stationary detection block, ns."""
WHEEL_SCALE_SIGMA = 0.05
"""Prior σ of the wheel scale error (estimated only with GNSS)."""


@dataclass(frozen=True)
class InitialState:
    """``x0`` (22,) = p, v, R_world_imu row-major, ba, bg, wheel scale error; ``P0`` (16, 16); and what
    was decided."""

    x0: F64
    P0: F64
    world: str
    origin: tuple[float, float, float] | None
    stationary_end_ns: int
    stationary_s: float
    notes: tuple[str, ...]


def _interp(t: np.ndarray, tt: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.stack([np.interp(t, tt, y[:, a]) for a in range(y.shape[1])], axis=1)


def stationary_end(imu: ImuInput, wheel: WheelInput | None) -> int:
    """End (ns) of a still start (each 0.25 s block: gyro σ < 0.01 rad/s, accel σ < 0.1 m/s²,
    |‖f‖ − g| < 0.3 m/s², wheels < 0.02 m/s), or the first IMU time when shorter than 1 s."""
    t = np.asarray(imu.times_ns, np.int64)
    g, a = imu.angular_velocity_radps, imu.linear_acceleration_mps2
    end = int(t[0])
    while True:
        sel = (t >= end) & (t < end + BLOCK_NS)
        if sel.sum() < 3 or end + BLOCK_NS > t[-1]:
            break
        ok = (g[sel].std(0).max() < 0.01 and a[sel].std(0).max() < 0.1
              and abs(np.linalg.norm(a[sel].mean(0)) - GRAVITY) < 0.3)
        if ok and wheel is not None and len(wheel.times_ns):
            ws = (wheel.times_ns >= end) & (wheel.times_ns < end + BLOCK_NS)
            ok = not ws.any() or bool(np.abs(wheel.linear_velocity_mps[ws, 0]).max() < 0.02)
        if not ok:
            break
        end += BLOCK_NS
    return end if end - int(t[0]) >= 4 * BLOCK_NS else int(t[0])


def _speed(t: np.ndarray, wheel: WheelInput | None, gnss: GnssInput | None) -> tuple[np.ndarray, str]:
    """Forward speed at ``t`` (ns) from the wheels, else from a line fit of the first GNSS fixes."""
    if wheel is not None and len(wheel.times_ns) >= 2:
        return np.interp(t, wheel.times_ns, wheel.linear_velocity_mps[:, 0]), "wheels"
    if gnss is not None and len(gnss.times_ns) >= 3:
        sel = gnss.times_ns <= gnss.times_ns[0] + 3_000_000_000
        sel[:3] = True
        ts = (gnss.times_ns[sel] - gnss.times_ns[0]) * 1e-9
        v = np.polyfit(ts, gnss.enu_m[sel, :2], 1)[0]
        return np.full(t.shape, float(np.hypot(*v))), "GNSS"
    return np.zeros(t.shape), "none (assumed still)"


def _gnss_heading(imu: ImuInput, gnss: GnssInput, R_bi: F64) -> tuple[float, float]:
    """Base heading (rad, ENU, CCW from east) at the first IMU time and its 1σ (see module docstring)."""
    t = np.asarray(imu.times_ns, np.int64)
    w_base_z = (imu.angular_velocity_radps @ R_bi.T)[:, 2]
    turn = np.concatenate([[0.0], np.cumsum(0.5 * (w_base_z[1:] + w_base_z[:-1]) * np.diff(t) * 1e-9)])
    sel = gnss.times_ns <= gnss.times_ns[0] + 30_000_000_000
    e = gnss.enu_m[sel, :2]
    tg = gnss.times_ns[sel]
    d = np.diff(e, axis=0)
    dist = np.hypot(d[:, 0], d[:, 1])
    sig = float(np.sqrt(np.median(gnss.covariance_m2[sel, 0, 0] + gnss.covariance_m2[sel, 1, 1])))
    use = dist > max(2.0 * sig, 0.3)
    if use.sum() < 3:  # slow: take every 5th fix
        d = e[5::5] - e[:-5:5]
        tm = 0.5 * (tg[5::5] + tg[:-5:5])
        dist = np.hypot(d[:, 0], d[:, 1])
        use = dist > max(1.5 * sig, 0.3)
    else:
        tm = 0.5 * (tg[1:] + tg[:-1])
    if use.sum() == 0:
        return 0.0, np.pi
    course = np.arctan2(d[use, 1], d[use, 0]) - np.interp(tm[use], t, turn)
    w = dist[use] ** 2
    c, s = float((w * np.cos(course)).sum()), float((w * np.sin(course)).sum())
    resultant = np.hypot(c, s) / w.sum()
    spread = np.sqrt(max(-2 * np.log(max(resultant, 1e-9)), 0.0))
    return float(np.arctan2(s, c)), float(max(spread / np.sqrt(use.sum()), np.radians(2.0)))


def _rotation(up_imu: F64, R_bi: F64, heading: float) -> F64:
    """``R_world_imu`` with world z along ``up_imu`` and base x at ``heading`` (about world z)."""
    u = up_imu / np.linalg.norm(up_imu)
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(u, z)
    s, c = np.linalg.norm(axis), float(u @ z)
    if s < 1e-12:
        R = np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    else:
        k = axis / s
        K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        ang = np.arctan2(s, c)
        R = np.eye(3) + np.sin(ang) * K + (1 - np.cos(ang)) * K @ K
    fwd = R @ R_bi.T @ np.array([1.0, 0.0, 0.0])
    dpsi = heading - np.arctan2(fwd[1], fwd[0])
    Rz = np.array([[np.cos(dpsi), -np.sin(dpsi), 0], [np.sin(dpsi), np.cos(dpsi), 0], [0, 0, 1]])
    return Rz @ R


def initial_state(imu: ImuInput, wheel: WheelInput | None, gnss: GnssInput | None, t_ib: F64) -> InitialState:
    """The state at the first IMU sample (see module docstring)."""
    t = np.asarray(imu.times_ns, np.int64)
    t0 = int(t[0])
    R_bi = np.asarray(imu.T_base_imu, np.float64)[:3, :3]
    g, f = imu.angular_velocity_radps, imu.linear_acceleration_mps2
    notes: list[str] = []
    st_end = stationary_end(imu, wheel)
    P0 = np.zeros((16, 16))
    if st_end > t0:
        sel = t < st_end
        up = f[sel].mean(0)
        bg = g[sel].mean(0)
        speed0 = 0.0
        P0[12:15, 12:15] = np.eye(3) * max(float(g[sel].std(0).max()) ** 2 / sel.sum(), 1e-8)
        notes.append(f"stationary start {(st_end - t0) * 1e-9:.1f} s: gravity and gyro bias from it")
    else:
        sel = t < t0 + 1_000_000_000
        speed, src = _speed(t[sel], wheel, gnss)
        ts = (t[sel] - t0) * 1e-9
        v_i = np.outer(speed, R_bi.T @ np.array([1.0, 0.0, 0.0]))
        acc_i = np.cross(g[sel], v_i) + np.gradient(v_i, ts, axis=0) if sel.sum() > 2 else 0.0 * v_i
        up = (f[sel] - acc_i).mean(0)
        bg = np.zeros(3)
        speed0 = float(speed[0])
        P0[12:15, 12:15] = np.eye(3) * 0.01**2
        notes.append(f"moving start: gravity from the first second compensated with the speed from {src}")
    P0[9:12, 9:12] = np.eye(3) * 0.1**2
    if gnss is not None and len(gnss.times_ns):
        world, origin = "enu", gnss.origin
        heading, yaw_sigma = _gnss_heading(imu, gnss, R_bi)
        k = int(np.argmin(np.abs(gnss.times_ns - t0)))
        R_wi = _rotation(up, R_bi, heading)
        p_ant = gnss.enu_m[k]
        t_wb0 = p_ant - (R_wi @ R_bi.T) @ np.asarray(gnss.t_base_antenna, np.float64)
        pos_var = np.diag(gnss.covariance_m2[k]) + (speed0 * abs(int(gnss.times_ns[k]) - t0) * 1e-9) ** 2 + 0.25
        notes.append(f"world: local ENU at the first fix; heading {np.degrees(heading):.1f}° ± "
                     f"{np.degrees(yaw_sigma):.1f}° from the GNSS course")
    else:
        world, origin = "odom", None
        if wheel is not None and wheel.translation_m is not None and wheel.rotation_xyzw is not None:
            k = int(np.argmin(np.abs(wheel.times_ns - t0)))
            heading = float(yaw_from_quat_xyzw(wheel.rotation_xyzw[k]))
            t_wb0 = np.asarray(wheel.translation_m[k], np.float64)
            notes.append("world: the wheel odometry frame, anchored at its first pose")
        else:
            heading, t_wb0 = 0.0, np.zeros(3)
            notes.append("world: odom = the start pose (origin, heading 0)")
        R_wi = _rotation(up, R_bi, heading)
        yaw_sigma, pos_var = np.radians(0.1), np.full(3, 1e-4)
    R_wb = R_wi @ R_bi.T
    p_i = t_wb0 - R_wi @ t_ib
    v0 = R_wb @ np.array([speed0, 0.0, 0.0])
    x0 = np.zeros(22)
    x0[0:3], x0[3:6], x0[6:15], x0[18:21] = p_i, v0, R_wi.ravel(), bg
    P0[0:3, 0:3] = np.diag(pos_var)
    P0[3:6, 3:6] = np.eye(3) * (1e-4 if st_end > t0 else 0.5**2)
    if world == "enu" and wheel is not None:  # the wheel scale error is observable against GNSS
        P0[15, 15] = WHEEL_SCALE_SIGMA**2
    else:  # fixed at 0 (a tiny variance keeps the covariances invertible for the smoother)
        P0[15, 15] = 1e-12
    # attitude: 2° roll/pitch, the heading σ about world z (expressed in the IMU frame)
    up_i = R_wi.T @ np.array([0.0, 0.0, 1.0])
    uu = np.outer(up_i, up_i)
    P0[6:9, 6:9] = (np.eye(3) - uu) * np.radians(2.0) ** 2 + uu * yaw_sigma**2
    return InitialState(x0, P0, world, origin, st_end, (st_end - t0) * 1e-9, tuple(notes))

