"""LiDAR odometry: scan-to-map registration of deskewed sweeps (kiss-icp's registration and map).

For each sweep (points in the LiDAR frame, each at its own time on the common clock):

1. **Deskew** every point to the sweep's reference time (the middle of its point times) with a
   constant body twist: the previous sweep-to-sweep motion (``lidar``) or, with an IMU, the mean
   gyro rate over the sweep as the rotation and the previous velocity as the translation
   (``lidar+imu``).
2. **Register** the voxel-downsampled deskewed sweep to the local voxel map (kiss-icp's robust
   point-to-point ICP with its adaptive threshold), starting from the constant-twist prediction.
3. **Iterate once**: re-estimate the twist from the registered pose, deskew the raw points
   again, register again; then add the sweep to the map.

kiss-icp's own deskew is never used: fusion deskews with its per-point times. The registration
runs single-threaded (the machine's cores belong to the conversion). Residual and fitness of
each sweep are measured against the previous registered sweep (nearest neighbours, scipy).

Frames: ``T_world_lidar`` maps the LiDAR frame at the sweep's reference time into the odometry
world frame, which is the LiDAR frame of the first sweep unless an initial pose is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from fusion.ego import se3
from fusion.ego.inputs import F64, I64
from fusion.errors import FusionError


class LidarOdometryUnavailableError(FusionError):
    """The optional LiDAR odometry library (kiss-icp) is not installed."""


@dataclass(frozen=True)
class LidarSweep:
    """One sweep for the odometry.

    Attributes:
        xyz: (N, 3) points in the LiDAR frame, each at its own time, m.
        time_ns: (N,) int64 per-point times on the common clock.
    """

    xyz: F64
    time_ns: I64


@dataclass(frozen=True)
class LidarOdometryParams:
    """Registration settings (SI).

    Attributes:
        voxel_size_m: map voxel (the sweep is downsampled at 0.5× and 1.5× of it).
        min_range_m / max_range_m: points outside are ignored (the vehicle itself, far noise).
        max_points_per_voxel: map density.
        initial_threshold_m / min_motion_m: kiss-icp's adaptive correspondence threshold.
        passes: deskew ↔ registration passes per sweep (2: deskew, register, re-deskew, register).
        max_iterations / convergence: ICP stopping rule.
    """

    voxel_size_m: float = 1.0
    min_range_m: float = 2.0
    max_range_m: float = 100.0
    max_points_per_voxel: int = 5
    initial_threshold_m: float = 2.0
    min_motion_m: float = 0.1
    passes: int = 2
    max_iterations: int = 500
    convergence: float = 1e-4


@dataclass(frozen=True)
class LidarOdometry:
    """Result: one pose per sweep.

    Attributes:
        times_ns: (K,) reference time of each sweep (middle of its point times).
        T_world_lidar: (K, 4, 4) LiDAR pose at that time.
        twist: (K, 6) body twist (m/s, rad/s) used to deskew each sweep, LiDAR frame.
        residual_m: (K,) RMS distance of the registered sweep's inliers to the previous sweep (NaN first).
        fitness: (K,) fraction of the sweep's points within the correspondence threshold of the
            previous sweep (NaN for the first).
        points: (K,) number of downsampled points registered.
        span_ns: (2,) first and last point time of all sweeps (the trajectory is extended to it).
    """

    times_ns: I64
    T_world_lidar: F64
    twist: F64
    residual_m: F64
    fitness: F64
    points: I64
    span_ns: tuple[int, int] = (0, 0)


def _kiss() -> tuple[object, object, object]:
    try:
        from kiss_icp.mapping import VoxelHashMap
        from kiss_icp.pybind import kiss_icp_pybind
        from kiss_icp.registration import Registration
    except ImportError as exc:
        raise LidarOdometryUnavailableError(
            "LiDAR odometry needs kiss-icp, which is not installed: pip install 'fusion[lidar-odometry]' "
            f"(or bash tools/install.sh --extras) [{exc}]") from None
    return VoxelHashMap, Registration, kiss_icp_pybind


def deskew(xyz: F64, dt_s: F64, twist: F64) -> F64:
    """Points moved to the reference time with a constant body twist.

    Args:
        xyz: (N, 3) points in the LiDAR frame at their own time.
        dt_s: (N,) point time − reference time, s.
        twist: (6,) (v m/s, ω rad/s), LiDAR frame.

    Returns:
        (N, 3) points in the LiDAR frame at the reference time.
    """
    R, t = se3.exp_rt(dt_s[:, None] * twist[None, :])
    return np.einsum("nij,nj->ni", R, xyz) + t


def run(sweeps: Iterable[LidarSweep], params: LidarOdometryParams | None = None,
        gyro_rate: Callable[[int, int], F64] | None = None) -> LidarOdometry:
    """Register the sweeps in order (see the module docstring).

    Args:
        sweeps: the sweeps in time order (empty ones are skipped).
        params: registration settings.
        gyro_rate: ``(t0_ns, t1_ns) -> (3,)`` mean angular rate (rad/s) of the LiDAR frame over
            that interval from an IMU (``lidar+imu``), or None.

    Raises:
        LidarOdometryUnavailableError: kiss-icp is not installed.
    """
    from scipy.spatial import cKDTree  # here: scipy.spatial costs every conversion ≈ 0.2 s of start-up

    p = params or LidarOdometryParams()
    VoxelHashMap, Registration, kp = _kiss()
    vmap = VoxelHashMap(p.voxel_size_m, p.max_range_m, p.max_points_per_voxel)  # type: ignore[operator]
    reg = Registration(p.max_iterations, p.convergence, 1)  # type: ignore[operator]
    thr = kp._AdaptiveThreshold(initial_threshold=p.initial_threshold_m,  # type: ignore[attr-defined]
                                min_motion_th=p.min_motion_m, max_range=p.max_range_m)
    down = lambda pts, v: np.asarray(kp._voxel_down_sample(kp._Vector3dVector(pts), v))  # type: ignore[attr-defined]  # noqa: E731
    times: list[int] = []
    poses: list[F64] = []
    twists: list[F64] = []
    resid: list[float] = []
    fit: list[float] = []
    npts: list[int] = []
    twist = np.zeros(6)
    prev_tree: cKDTree | None = None
    span = [np.iinfo(np.int64).max, np.iinfo(np.int64).min]
    for sw in sweeps:
        xyz = np.asarray(sw.xyz, np.float64)
        r = np.linalg.norm(xyz, axis=1)
        keep = np.isfinite(r) & (r >= p.min_range_m) & (r <= p.max_range_m)
        xyz, tp = xyz[keep], np.asarray(sw.time_ns, np.int64)[keep]
        if len(xyz) < 100:
            continue
        t_ref = int(tp.min() + (tp.max() - tp.min()) // 2)
        span = [min(span[0], int(tp.min())), max(span[1], int(tp.max()))]
        dt_s = (tp - t_ref).astype(np.float64) * 1e-9
        if gyro_rate is not None:
            twist = np.concatenate([twist[:3], gyro_rate(int(tp.min()), int(tp.max()))])
        if not poses:  # the first sweep starts the map (deskewed with the IMU rotation only, if any)
            pts = deskew(xyz, dt_s, twist)
            frame = down(pts, 0.5 * p.voxel_size_m)
            vmap.update(frame, np.eye(4))
            times.append(t_ref)
            poses.append(np.eye(4))
            twists.append(twist.copy())
            resid.append(np.nan)
            fit.append(np.nan)
            npts.append(len(frame))
            prev_tree = cKDTree(frame)
            continue
        dt_k = (t_ref - times[-1]) * 1e-9
        T_prev = poses[-1]
        T = T_prev @ se3.exp(twist * dt_k)
        sigma = float(thr._compute_threshold())
        for _ in range(max(1, p.passes)):
            pts = deskew(xyz, dt_s, twist)
            frame = down(pts, 0.5 * p.voxel_size_m)
            source = down(frame, 1.5 * p.voxel_size_m)
            T_pred = T
            T = np.asarray(reg.align_points_to_map(source, vmap, T_pred, 3 * sigma, sigma))
            delta = se3.log(se3.inv(T_prev) @ T) / dt_k
            twist = np.concatenate([delta[:3], twist[3:] if gyro_rate is not None else delta[3:]])
        thr._update_model_deviation(model_deviation=se3.inv(T_prev @ se3.exp(twists[-1] * dt_k)) @ T)
        vmap.update(frame, T)
        world = source @ T[:3, :3].T + T[:3, 3]
        assert prev_tree is not None
        d, _ = prev_tree.query(world, distance_upper_bound=3 * sigma)
        inl = np.isfinite(d)
        resid.append(float(np.sqrt(np.mean(d[inl] ** 2))) if inl.any() else np.nan)
        fit.append(float(inl.mean()))
        prev_tree = cKDTree(frame @ T[:3, :3].T + T[:3, 3])
        times.append(t_ref)
        poses.append(T)
        twists.append(twist.copy())
        npts.append(len(source))
    return LidarOdometry(np.asarray(times, np.int64), np.asarray(poses).reshape(-1, 4, 4),
                         np.asarray(twists).reshape(-1, 6), np.asarray(resid), np.asarray(fit),
                         np.asarray(npts, np.int64), (span[0], span[1]))
