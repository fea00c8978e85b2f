"""The inertial ego estimator: IMU (+ wheel odometry) (+ GNSS) → ``T_world_base`` at full rate.

:func:`estimate` initialises the state (:mod:`fusion.ego.init`), turns wheel twists (with the
non-holonomic constraint), wheel yaw rates and GNSS fixes into measurements, runs the forward
error-state EKF and the RTS smoother (:mod:`fusion.ego.kernels`) and returns the base_link
trajectory with its twist and 1σ (:class:`~fusion.ego.inputs.EgoEstimate`).
"""

from __future__ import annotations

import numpy as np

from calibration.rotation import matrix_to_quat_xyzw
from fusion.ego import kernels
from fusion.ego.init import initial_state
from fusion.ego.inputs import F64, I64, EgoEstimate, EstimatorParams, GnssInput, ImuInput, WheelInput
from fusion.errors import FusionError

KIND_NAMES = {0: "wheel_velocity", 1: "wheel_yaw_rate", 2: "gnss", 3: "zero_velocity", 4: "gnss_altitude"}


class EstimatorError(FusionError):
    """The inputs cannot give a trajectory (too few IMU samples, no overlap)."""


def _noise_density(x: F64, dt: float, floor: float) -> float:
    """White-noise density (unit/√Hz) from the sample-to-sample spread (robust), at least ``floor``."""
    d = np.diff(x, axis=0)
    if len(d) < 10:
        return floor
    mad = np.median(np.abs(d - np.median(d, axis=0)), axis=0) * 1.4826 / np.sqrt(2.0)
    return float(max(floor, float(np.max(mad)) * np.sqrt(dt)))


def _measurements(
    t0: int, t1: int, imu: ImuInput, wheel: WheelInput | None, gnss: GnssInput | None, p: EstimatorParams,
    stationary_end_ns: int,
) -> tuple[I64, np.ndarray, F64, F64, np.ndarray]:
    """Time-sorted (ns, kind, z (3,), R (3,3), mask (3,)) of every measurement and output node."""
    ts: list[I64] = []
    kinds: list[np.ndarray] = []
    zs: list[F64] = []
    Rs: list[F64] = []
    masks: list[np.ndarray] = []

    def add(t: I64, kind: int, z: F64, R: F64, mask: tuple[bool, bool, bool]) -> None:
        sel = (t > t0) & (t <= t1)
        n = int(sel.sum())
        ts.append(t[sel])
        kinds.append(np.full(n, kind, np.int64))
        zs.append(z[sel])
        Rs.append(R[sel])
        masks.append(np.tile(np.array(mask), (n, 1)))

    nh = p.nonholonomic_sigma**2
    if wheel is not None and len(wheel.times_ns):
        v = np.zeros((len(wheel.times_ns), 3))
        v[:, 0] = wheel.linear_velocity_mps[:, 0]
        R = np.zeros((len(v), 3, 3))
        R[:, 0, 0] = (p.wheel_speed_sigma + p.wheel_speed_fraction * np.abs(v[:, 0])) ** 2
        R[:, 1, 1] = R[:, 2, 2] = nh
        add(wheel.times_ns, 0, v, R, (True, True, True))
        if p.wheel_yaw_rate_sigma is not None and wheel.angular_velocity_radps is not None:
            Rw = np.zeros((len(v), 3, 3))
            Rw[:, 2, 2] = p.wheel_yaw_rate_sigma**2
            add(wheel.times_ns, 1, np.asarray(wheel.angular_velocity_radps, np.float64), Rw, (False, False, True))
    elif p.nonholonomic_sigma > 0:  # no wheels: lateral and vertical base velocity ≈ 0
        tn = np.arange(t0, t1, int(1e9 / p.nonholonomic_rate_hz), dtype=np.int64)[1:]
        R = np.zeros((len(tn), 3, 3))
        R[:, 0, 0] = 1.0
        R[:, 1, 1] = R[:, 2, 2] = nh
        add(tn, 0, np.zeros((len(tn), 3)), R, (False, True, True))
    if gnss is not None and len(gnss.times_ns):
        cov = np.array(gnss.covariance_m2, dtype=np.float64)
        floor = p.gnss_sigma_floor**2
        for a in range(3):
            cov[:, a, a] = np.maximum(cov[:, a, a], floor)
        enu = np.asarray(gnss.enu_m, np.float64)  # horizontal and vertical gated apart (altitude drifts)
        add(gnss.times_ns, 2, enu, cov, (True, True, False))
        add(gnss.times_ns, 4, enu, cov, (False, False, True))
    if stationary_end_ns > t0:  # zero velocity and zero rate while standing still at the start
        tz = np.arange(t0, stationary_end_ns, 50_000_000, dtype=np.int64)[1:]
        Rz = np.tile(np.eye(3) * 1e-4, (len(tz), 1, 1))
        add(tz, 3, np.zeros((len(tz), 3)), Rz, (True, True, True))
    tn = np.arange(t0, t1, int(1e9 / p.rate_hz), dtype=np.int64)[1:]
    add(np.append(tn, t1), -1, np.zeros((len(tn) + 1, 3)), np.zeros((len(tn) + 1, 3, 3)), (False, False, False))
    t = np.concatenate(ts)
    order = np.argsort(t, kind="stable")
    return (t[order], np.concatenate(kinds)[order], np.concatenate(zs)[order], np.concatenate(Rs)[order],
            np.concatenate(masks)[order])


def estimate(imu: ImuInput, wheel: WheelInput | None = None, gnss: GnssInput | None = None,
             params: EstimatorParams | None = None) -> EgoEstimate:
    """Fuse the IMU with wheel odometry and/or GNSS into ``T_world_base`` (see module docstring).

    Args:
        imu: IMU samples (required, ≥ 10).
        wheel: wheel odometry twists (and poses), or None.
        gnss: fixes in local ENU, or None. With GNSS the world frame is ENU, else the odometry frame.
        params: noise model and options.

    Returns:
        The estimate at the measurement times and at ``params.rate_hz`` in between, from the
        first to the last IMU sample.

    Raises:
        EstimatorError: fewer than 10 IMU samples.
    """
    p = params or EstimatorParams()
    it_ns = np.asarray(imu.times_ns, np.int64)
    if it_ns.size < 10:
        raise EstimatorError(f"the IMU has {it_ns.size} sample(s); the ego estimator needs at least 10")
    gyro = np.ascontiguousarray(imu.angular_velocity_radps, np.float64)
    acc = np.ascontiguousarray(imu.linear_acceleration_mps2, np.float64)
    dt = float(np.median(np.diff(it_ns))) * 1e-9
    T_bi = np.asarray(imu.T_base_imu, np.float64)
    R_bi = np.ascontiguousarray(T_bi[:3, :3])
    t_ib = np.ascontiguousarray(-R_bi.T @ T_bi[:3, 3])  # base origin in the IMU frame
    t_ba = np.zeros(3) if gnss is None else np.asarray(gnss.t_base_antenna, np.float64)
    t_ia = np.ascontiguousarray(R_bi.T @ (t_ba - T_bi[:3, 3]))
    init = initial_state(imu, wheel, gnss, t_ib)
    q = np.array([_noise_density(acc, dt, p.accel_noise) ** 2, _noise_density(gyro, dt, p.gyro_noise) ** 2,
                  p.accel_bias_walk**2, p.gyro_bias_walk**2,
                  p.wheel_scale_walk**2 if (gnss is not None and wheel is not None) else 0.0])
    t0, t1 = int(it_ns[0]), int(it_ns[-1])
    mt, mk, mz, mR, mm = _measurements(t0, t1, imu, wheel, gnss, p, init.stationary_end_ns)
    sec = lambda t: (np.asarray(t, np.int64) - t0).astype(np.float64) * 1e-9  # noqa: E731
    args = (sec(it_ns), gyro, acc, sec(mt), mk, np.ascontiguousarray(mz), np.ascontiguousarray(mR),
            np.ascontiguousarray(mm))
    x0, P0 = init.x0, init.P0
    yaw_rate = wheel is not None and wheel.angular_velocity_radps is not None and p.wheel_yaw_rate_sigma is not None
    lock = 0 if gnss is not None else (1 if yaw_rate else 2)
    for _ in range(p.passes if p.smooth else 1):
        node_s, X, D, Pm, Pp, Phis, rejected = kernels.forward(*args, x0, P0, q, R_bi, t_ib, t_ia, float(p.gate),
                                                                lock)
        if not p.smooth:
            P = Pp
            break
        X, P = kernels.smooth(X, D, Pm, Pp, Phis, lock)
        # the next pass starts from the smoothed start (relinearised about a better heading/tilt)
        x0, P0 = X[0].copy(), 0.5 * (P[0] + P[0].T) * 4.0
    # unique node times (several measurements at one time share a node already)
    times = t0 + np.round(node_s * 1e9).astype(np.int64)
    keep = np.concatenate([[True], np.diff(times) > 0])
    times, X, P = times[keep], X[keep], P[keep]
    return _output(times, X, P, it_ns, gyro, R_bi, t_ib, init, mk, rejected)


def _output(times: I64, X: F64, P: F64, it_ns: I64, gyro: F64, R_bi: F64, t_ib: F64, init: object,
            mk: np.ndarray, rejected: np.ndarray) -> EgoEstimate:
    pos, vel = X[:, 0:3], X[:, 3:6]
    R = X[:, 6:15].reshape(-1, 3, 3)
    ba, bg = X[:, 15:18], X[:, 18:21]
    w_m = np.stack([np.interp(times, it_ns, gyro[:, a]) for a in range(3)], axis=1)
    w_i = w_m - bg
    R_wb = R @ R_bi.T
    t_wb = pos + R @ t_ib
    v_base = (R_bi @ (np.einsum("nji,nj->ni", R, vel) + np.cross(w_i, t_ib)).T).T
    w_base = w_i @ R_bi.T
    # horizontal σ of base_link: position block plus the lever arm through the attitude
    J = -R @ np.array([[0, -t_ib[2], t_ib[1]], [t_ib[2], 0, -t_ib[0]], [-t_ib[1], t_ib[0], 0]])
    Ppos = P[:, 0:3, 0:3] + J @ P[:, 6:9, 6:9] @ np.transpose(J, (0, 2, 1))
    pos_sigma = np.sqrt(np.maximum(Ppos[:, 0, 0] + Ppos[:, 1, 1], 0))
    # heading σ: the world-z component of the body-frame attitude error
    up = R[:, 2, :]  # world z in the IMU frame
    yaw_var = np.einsum("ni,nij,nj->n", up, P[:, 6:9, 6:9], up)
    counts = {KIND_NAMES[k]: int(rejected[mk == k].sum()) for k in KIND_NAMES if (mk == k).any()}
    from fusion.ego.init import InitialState

    assert isinstance(init, InitialState)
    return EgoEstimate(
        times_ns=times, translation_m=t_wb, rotation_xyzw=matrix_to_quat_xyzw(R_wb),
        linear_velocity_mps=v_base, angular_velocity_radps=w_base, position_sigma_m=pos_sigma,
        yaw_sigma_rad=np.sqrt(np.maximum(yaw_var, 0)), gyro_bias_radps=bg, accel_bias_mps2=ba,
        wheel_scale_error=X[:, 21].copy(),
        world=init.world, origin=init.origin, stationary_start_s=init.stationary_s,
        rejected={k: v for k, v in counts.items() if v}, notes=init.notes,
    )
