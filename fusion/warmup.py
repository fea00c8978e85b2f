"""Compile (and cache) the numba kernels a conversion uses, so the first real one runs warm.

:func:`warmup` converts a tiny generated log (0.6 s, a small organized LiDAR, two small cameras,
radar, IMU, odometry) with the demo's settings in a temporary folder, then deskews one
unorganized sweep through the per-point kernel (logs whose LiDAR gives every point its own time)
and runs the ego estimator on 2 s of synthetic IMU, wheel odometry and GNSS.
Every kernel is ``cache=True``, so what it compiles is written to numba's cache (next to the
sources, or the user cache :mod:`fusion._numba_cache` chose) and later processes load it in
milliseconds. Running it again only loads the cache: it is safe to rerun.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class WarmupResult:
    """What :func:`warmup` did.

    Attributes:
        seconds: Wall time of the whole warm-up, s.
        cache_dir: numba's cache folder (None: ``__pycache__`` next to each source).
    """

    seconds: float
    cache_dir: str | None


def _convert_tiny(folder: Path) -> None:
    """Generate and convert a tiny log with the demo's conversion settings."""
    from calibration import save_rig
    from fusion.pipeline.config import ConvertConfig, EgoConfig, FramesConfig
    from fusion.pipeline.convert import convert
    from fusion.sync.reference import FrameReference
    from fusion.testing.synth import SynthConfig, generate, load_truth

    synth = SynthConfig(
        duration_s=0.6, seed=0, lidar_beams=4, lidar_columns=64, image_width=64, image_height=48, imu_rate_hz=50.0
    )
    gen = generate(synth, folder / "log", formats=("mcap",))
    rig = folder / "rig.yaml"
    save_rig(load_truth(gen.truth_path).rig(), rig)
    cfg = ConvertConfig(
        rig=str(rig),
        frames=FramesConfig(reference=FrameReference.parse("lidar:lidar_top"), reference_time="sweep_start"),
        ego=EgoConfig(topic="/odom"),
        deskew="frame",
    )
    cfg = cfg.with_overrides(store=type(cfg.store)(keep_raw_points=True))
    convert([gen.bags["mcap"]], str(folder / "warmup.zarr"), cfg)


def _deskew_per_point() -> None:
    """One unorganized sweep through :func:`fusion.sync.deskew_sweep.deskew_sweep` (the per-point kernel)."""
    from fusion.sync.deskew_sweep import deskew_sweep

    n = 8
    xyz = np.ones((n, 3), np.float32)
    pt = np.arange(n, dtype=np.int64) * 1000
    times = np.array([0, 10_000], np.int64)
    traj_t = np.zeros((2, 3))
    traj_q = np.tile([0.0, 0.0, 0.0, 1.0], (2, 1))
    R, t = np.eye(3), np.zeros(3)
    out = np.empty_like(xyz)
    i64 = np.int64
    deskew_sweep(xyz, pt, i64(0), i64(1), i64(0), i64(7000), times, traj_t, traj_q, R, t, i64(10**9), 0, out)


def _ego_estimator() -> None:
    """The ego estimator's kernels (forward pass, smoother, gyro integration) on 2 s of synthetic
    IMU + wheel odometry + GNSS (a log without a recorded trajectory runs them)."""
    from fusion.ego import ImuInput, WheelInput, estimate
    from fusion.ego import kernels as ek
    from fusion.ego.geo import fixes_to_enu
    from fusion.testing.synth.inertial import ego_log

    log = ego_log(seed=0, duration_s=2.0, imu_rate_hz=50.0)
    imu = ImuInput(log.imu_times_ns, log.gyro, log.accel, log.T_base_imu)
    w = log.wheel
    g = log.gnss
    n = len(log.gnss_times_ns)
    gnss = fixes_to_enu(log.gnss_times_ns, g["latitude_deg"], g["longitude_deg"], g["altitude_m"], np.zeros(n),
                        g["covariance"], np.full(n, 2), np.zeros(3))
    estimate(imu, wheel=WheelInput(log.wheel_times_ns, w["v_base"], w["w_base"]), gnss=gnss)
    t = np.arange(3, dtype=np.float64)
    ek.integrate_gyro(t, np.zeros((3, 3)), np.eye(3), np.zeros(3))


def warmup() -> WarmupResult:
    """Compile and cache every kernel a conversion uses (safe to rerun; fast when cached)."""
    import os

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fusion-warmup-") as tmp:
        _convert_tiny(Path(tmp))
    _deskew_per_point()
    _ego_estimator()
    return WarmupResult(time.perf_counter() - t0, os.environ.get("NUMBA_CACHE_DIR") or None)
