"""Ego sources ``lidar`` and ``lidar+imu``: LiDAR odometry (:mod:`fusion.ego.lidar_odometry`).

``lidar``: the sweeps of the first LiDAR registered scan-to-map, each deskewed with the previous
sweep-to-sweep twist (iterated once). ``lidar+imu``: the same with the gyro's mean rate over each
sweep as the rotation of the deskew and of the registration's initial guess, and the first pose
levelled with the accelerometer (gravity → roll/pitch). The world frame is the first base_link pose
(yaw 0, position 0). The trajectory has one pose per sweep (at the middle of its point times);
deskew and radar compensation interpolate it like a recorded one. Its 1σ grows with the distance
travelled (a drift model from the synthetic drive's measurement) weighted by each sweep's
registration residual; residual and fitness per sweep go to the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from calibration.rotation import matrix_to_quat_xyzw
from fusion.ego import se3
from fusion.ego.inputs import F64, I64, ImuInput
from fusion.ego.lidar_odometry import LidarOdometry, LidarOdometryParams, LidarOdometryUnavailableError, _kiss, run
from fusion.ego.sources import EgoInputs, EgoTrack

DRIFT_FRACTION = 0.005
"""1σ position drift per metre travelled (measured 0.2 % on the synthetic 60 s drive, ×2.5)."""
YAW_WALK_RAD = 0.0005
"""1σ heading random walk per √m travelled (0.6° after 600 m; measured ≤ 0.33°)."""


def _gyro_rate(imu: ImuInput, R_lidar_imu: F64):  # type: ignore[no-untyped-def]
    """``(t0, t1) -> (3,)`` mean gyro rate over [t0, t1] in the LiDAR frame, rad/s."""
    t = np.asarray(imu.times_ns, np.int64)
    g = np.asarray(imu.angular_velocity_radps, np.float64) @ R_lidar_imu.T

    def rate(t0: int, t1: int) -> F64:
        a, b = np.searchsorted(t, t0), np.searchsorted(t, t1, side="right")
        if b - a < 1:
            k = int(np.clip(np.searchsorted(t, (t0 + t1) // 2), 0, len(t) - 1))
            return np.asarray(g[k])
        return np.asarray(g[a:b].mean(axis=0))
    return rate


def _level(imu: ImuInput, t0: int) -> F64:
    """(3, 3) rotation taking base_link at ``t0`` to a level frame (z up), yaw kept: from the mean
    specific force over the first second (a vehicle at constant speed: gravity dominates)."""
    t = np.asarray(imu.times_ns, np.int64)
    sel = (t >= t0) & (t <= t0 + 1_000_000_000)
    if sel.sum() < 5:
        return np.eye(3)
    up = np.asarray(imu.T_base_imu, np.float64)[:3, :3] @ np.asarray(imu.linear_acceleration_mps2)[sel].mean(axis=0)
    up /= np.linalg.norm(up)
    axis = np.cross(up, [0.0, 0.0, 1.0])
    s, c = np.linalg.norm(axis), float(np.dot(up, [0.0, 0.0, 1.0]))
    return np.eye(3) if s < 1e-9 else Rotation.from_rotvec(axis / s * np.arctan2(s, c)).as_matrix()


def track_from_odometry(lo: LidarOdometry, T_base_lidar: F64, R_level: F64 | None = None,
                        smooth: bool = True) -> tuple[Any, ...]:
    """Base-link trajectory of the LiDAR poses: (times (M,), translation (M, 3), quaternion x, y, z, w (K, 4),
    base velocity (K, 3), base angular velocity (K, 3), position σ (K,), yaw σ (K,)).

    ``smooth`` (the track is the output, not a filter's measurements): :data:`SUBSTEPS` poses per
    sweep interval, and a Savitzky–Golay cubic over :data:`SMOOTH_WINDOW` sweeps on the positions and the
    (sign-continuous) quaternions takes out the per-sweep registration jitter that deskew would
    otherwise inherit (p99 at ≤ 20 m: 3–8 cm per sweep → 2.59 cm overall on the synthetic drive, with the
    poses densified on a C² spline; see :data:`SMOOTH_WINDOW`)."""
    T_lb = se3.inv(T_base_lidar)
    T_wl, times = extend(lo) if EXTEND else (lo.T_world_lidar, lo.times_ns)
    T_wb = T_wl @ T_lb
    A = se3.inv(T_wb[1 if EXTEND else 0])  # world = the first sweep's base_link pose
    if R_level is not None:
        L = np.eye(4)
        L[:3, :3] = R_level
        A = L @ A
    T_wb = A @ T_wb
    if smooth and len(T_wb) >= SMOOTH_WINDOW:  # registration jitter: a local cubic over 0.9 s
        from scipy.signal import savgol_filter

        T_wb[:, :3, 3] = savgol_filter(T_wb[:, :3, 3], SMOOTH_WINDOW, 3, axis=0)
        q = matrix_to_quat_xyzw(T_wb[:, :3, :3])
        flips = np.cumsum(np.concatenate([[0], np.einsum("ni,ni->n", q[1:], q[:-1]) < 0]))
        q *= np.where(flips % 2, -1.0, 1.0)[:, None]
        q = savgol_filter(q, SMOOTH_WINDOW, 3, axis=0)
        T_wb[:, :3, :3] = Rotation.from_quat(q / np.linalg.norm(q, axis=1, keepdims=True)).as_matrix()
    t = T_wb[:, :3, 3]
    s = (times - times[0]).astype(np.float64) * 1e-9
    v_w = np.gradient(t, s, axis=0) if len(s) > 1 else np.zeros_like(t)
    v_b = np.einsum("nji,nj->ni", T_wb[:, :3, :3], v_w)
    rv = Rotation.from_matrix(np.einsum("nji,njk->nik", T_wb[:-1, :3, :3], T_wb[1:, :3, :3])).as_rotvec()
    w = rv / np.maximum(np.diff(s), 1e-9)[:, None] if len(s) > 1 else np.zeros((0, 3))
    w_b = np.vstack([w[:1], 0.5 * (w[1:] + w[:-1]), w[-1:]]) if len(w) else np.zeros((len(s), 3))
    step = np.concatenate([[0.0], np.linalg.norm(np.diff(t, axis=0), axis=1)])
    fill = float(np.nanmedian(lo.residual_m)) if np.isfinite(lo.residual_m).any() else 0.0
    res = lo.residual_m if not EXTEND else np.concatenate([lo.residual_m[:1], lo.residual_m, lo.residual_m[-1:]])
    res = np.nan_to_num(res, nan=fill)
    weight = res / max(float(np.median(res)), 1e-6) if len(res) else res
    pos_sigma = np.cumsum(DRIFT_FRACTION * step * weight)
    yaw_sigma = np.sqrt(np.cumsum(YAW_WALK_RAD**2 * step * weight))
    # SUBSTEPS poses per sweep interval (SE(3) geodesic): a sweep-rate trajectory has gaps of just over
    # 100 ms (frames.max_gap_ms), which deskew never bridges
    td, Td = _densify(times, T_wb) if smooth else (times, T_wb)
    col = lambda a: np.stack([np.interp(td, times, a[:, i]) for i in range(a.shape[1])], axis=1)  # noqa: E731
    return (td, Td[:, :3, 3], matrix_to_quat_xyzw(Td[:, :3, :3]), col(v_b), col(w_b), np.interp(td, times, pos_sigma),
            np.interp(td, times, yaw_sigma))


EXTEND = False
"""Extend the trajectory over the first and last sweep (constant twist): measured worse (p99 10.5 cm), off."""
SUBSTEPS = 4
"""Poses per sweep interval in the ``lidar`` trajectory (25 ms apart at 10 Hz)."""


def _densify(times: I64, T: F64) -> tuple[I64, F64]:
    """(times (SUBSTEPS·(K−1)+1,), T (…, 4, 4)): ``SUBSTEPS`` poses per sweep interval on a C² spline
    through the sweep poses (cubic on the positions, scipy's ``RotationSpline`` on the rotations),
    so that deskew sees a smoothly varying velocity instead of one constant twist per interval."""
    from scipy.interpolate import CubicSpline
    from scipy.spatial.transform import RotationSpline

    if len(times) < 3:
        return times, T
    out_t = np.concatenate([times[k] + (times[k + 1] - times[k]) * np.arange(SUBSTEPS) // SUBSTEPS
                            for k in range(len(times) - 1)] + [times[-1:]]).astype(np.int64)
    s = (times - times[0]).astype(np.float64) * 1e-9
    so = (out_t - times[0]).astype(np.float64) * 1e-9
    out = np.repeat(np.eye(4)[None], len(out_t), axis=0)
    out[:, :3, 3] = CubicSpline(s, T[:, :3, 3], axis=0)(so)
    out[:, :3, :3] = RotationSpline(s, Rotation.from_matrix(T[:, :3, :3]))(so).as_matrix()
    return out_t, out


def extend(lo: LidarOdometry) -> tuple[F64, I64]:
    """The sweep poses plus one before the first and one after the last (each sweep's constant twist
    to the first / last point time), so deskew covers the first and the last sweep entirely.

    Returns:
        (T_world_lidar (K + 2, 4, 4), times_ns (K + 2,)).
    """
    a, b = lo.span_ns
    t0, t1 = int(lo.times_ns[0]), int(lo.times_ns[-1])
    a, b = min(a, t0 - 1), max(b, t1 + 1)
    k1 = min(1, len(lo.twist) - 1)  # the first sweep's twist has no translation yet
    first = lo.T_world_lidar[0] @ se3.exp(lo.twist[k1] * (a - t0) * 1e-9)
    last = lo.T_world_lidar[-1] @ se3.exp(lo.twist[-1] * (b - t1) * 1e-9)
    return (np.concatenate([first[None], lo.T_world_lidar, last[None]]),
            np.concatenate([[a], lo.times_ns, [b]]).astype(np.int64))


SMOOTH_WINDOW = 9
"""Sweeps in the smoothing window of ``lidar`` (0.9 s at 10 Hz; the cubic passes motion up to ≈ 3 Hz).
Measured, deskew p99 at ≤ 20 m on the 8 s synthetic urban drive, seeds 0 / 1: window 7 3.05 / 2.63 cm,
9 2.59 / 2.61 cm, 11 2.72 cm (seed 0; drift 0.36 % vs 0.26 %)."""
FUSE_IMU = True
"""``lidar+imu``: fuse the LiDAR positions into the inertial filter (smooth full-rate trajectory)."""
POSITION_SIGMA_M = (0.02, 0.02, 0.05)
"""1σ of a LiDAR odometry position as a measurement of the filter (per sweep, relative to its neighbours)."""


def _fuse(imu: ImuInput, times: I64, t: F64, pos_sigma: F64, yaw_sigma: F64) -> tuple[Any, ...]:
    """The inertial filter/smoother (:func:`fusion.ego.estimate`) with the LiDAR odometry positions as
    position measurements (like GNSS fixes in a local frame, σ :data:`POSITION_SIGMA_M`): the IMU
    fills the motion between sweeps and smooths the registration's jitter; the positions hold the drift
    of the LiDAR odometry. Returns the track's arrays at the filter's nodes."""
    from fusion.ego.estimator import estimate
    from fusion.ego.inputs import EstimatorParams, GnssInput

    cov = np.tile(np.diag(np.square(POSITION_SIGMA_M)), (len(times), 1, 1))
    fixes = GnssInput(times, t, cov, (0.0, 0.0, 0.0))
    est = estimate(imu, gnss=fixes, params=EstimatorParams(gnss_sigma_floor=min(POSITION_SIGMA_M)))
    inside = (est.times_ns >= times[0]) & (est.times_ns <= times[-1])
    s = est.times_ns[inside]
    drift = np.interp(s, times, pos_sigma)
    return (s, est.translation_m[inside], est.rotation_xyzw[inside], est.linear_velocity_mps[inside],
            est.angular_velocity_radps[inside], np.hypot(drift, est.position_sigma_m[inside]),
            np.hypot(np.interp(s, times, yaw_sigma), est.yaw_sigma_rad[inside]))


@dataclass(frozen=True)
class LidarSource:
    """LiDAR odometry, with the IMU (gyro rotation prior, gravity levelling) when ``use_imu``."""

    name: str
    use_imu: bool

    def missing(self, inputs: EgoInputs) -> str | None:
        if inputs.lidar is None:
            return "the log has no LiDAR to register (select one in sensors)"
        if self.use_imu and inputs.imu is None:
            return "the log has no IMU (use ego.source: lidar)"
        try:
            _kiss()
        except LidarOdometryUnavailableError as exc:
            return str(exc)
        return None

    def build(self, inputs: EgoInputs) -> EgoTrack:
        lid = inputs.lidar
        assert lid is not None
        T_bl = np.asarray(lid.T_base_lidar, np.float64)
        gyro = None
        imu = inputs.imu if self.use_imu else None
        if imu is not None:
            gyro = _gyro_rate(imu, T_bl[:3, :3].T @ np.asarray(imu.T_base_imu, np.float64)[:3, :3])
        lo = run(lid.sweeps(), LidarOdometryParams(), gyro)
        if len(lo.times_ns) < 2:
            raise LidarOdometryUnavailableError(f"{lid.topic}: fewer than 2 usable sweeps for LiDAR odometry")
        level = _level(imu, int(lo.times_ns[0])) if imu is not None else None
        times, t, q, v, w, ps, ys = track_from_odometry(lo, T_bl, level, smooth=not (imu is not None and FUSE_IMU))
        if imu is not None and FUSE_IMU:
            times, t, q, v, w, ps, ys = _fuse(imu, times, t, ps, ys)
        inputs_used = (lid.topic,) + ((inputs.imu_topic,) if imu is not None else ())
        fit = lo.fitness[1:]
        notes = [f"LiDAR odometry on {lid.topic}: {len(lo.times_ns)} sweeps registered (kiss-icp scan-to-map); "
                 f"residual p50 {np.nanmedian(lo.residual_m[1:]):.3f} m, fitness min {np.nanmin(fit):.2f}"]
        if not lid.mount_known:
            notes.append(f"{lid.topic}: no LiDAR mount in the rig; base_link = LiDAR frame assumed")
        if imu is None:
            notes.append("world frame = the first LiDAR pose (not levelled: no IMU)")
        acc = ("LiDAR odometry: drift ≈ 0.2–0.5 % of distance, heading ≈ 0.3° per 600 m in a structured "
               "scene; degrades in corridors, open fields and crowds (see docs/SYNC.md §8)")
        return EgoTrack(times, t, q, v, w, "odom", self.name, inputs_used, acc, ps, ys,
                        notes=tuple(notes), quality={"residual_m": lo.residual_m, "fitness": lo.fitness,
                                                      "times_ns": lo.times_ns})


LIDAR = LidarSource("lidar", False)
LIDAR_IMU = LidarSource("lidar+imu", True)
