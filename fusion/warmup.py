"""Compile (and cache) the numba kernels a conversion uses, so the first real one runs warm.

:func:`warmup` converts a tiny generated log (0.6 s, a small organized LiDAR, two small cameras,
radar, IMU, odometry) with the demo's settings in a temporary folder, then deskews one
unorganized sweep through the per-point kernel (logs whose LiDAR gives every point its own time),
runs the clock fit's lower-hull kernel (short logs fit their clocks in Python),
decodes a few raw Velodyne and Hesai packets (logs that record LiDAR packets) and runs the ego
estimator on 2 s of synthetic IMU, wheel odometry and GNSS.
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


def load_numba_target() -> None:
    """Load numba's CPU target (typing and lowering registries) with one tiny cached kernel: the fixed
    cost of the first kernel a process runs, paid once in a process that forks others."""
    _clock_hull()


def _clock_hull() -> None:
    """The clock fit's lower-hull kernel: a short log's fits run in Python
    (:func:`fusion.sync.clock.lower_hull`), so the conversion above may not have compiled it."""
    from fusion.sync.kernels_clock import lower_hull_kernel

    x = np.arange(4, dtype=np.float64)
    lower_hull_kernel(x, x * x, np.empty(4, np.int64))


def _packets() -> None:
    """The raw LiDAR packet kernels (:mod:`fusion.lidar_packets`), with the argument types of a real
    decode: packets as the read-only strided view of a serialized scan message."""
    import struct

    from fusion.lidar_packets.calibration import HesaiCalibration
    from fusion.lidar_packets.decoded import DecodedPoints
    from fusion.lidar_packets.hesai import AT128Decoder, HesaiDecoder
    from fusion.lidar_packets.hesai_correction import AT128Correction
    from fusion.lidar_packets.hesai_models import MODELS
    from fusion.lidar_packets.kernels_common import group_by_sweep
    from fusion.lidar_packets.payload import split_packets
    from fusion.lidar_packets.velodyne import make_velodyne

    def scan(dlen: int, size: bool) -> bytes:
        body = b"\x00\x01\x00\x00" + struct.pack("<iII", 0, 0, 2) + b"x\x00\x00\x00" + struct.pack("<I", 2)
        pkt = struct.pack("<iI", 0, 0) + bytes(dlen) + bytes((-(8 + dlen)) % 4)
        return body + (pkt + (struct.pack("<I", dlen) if size else b"")) * 2

    vel = make_velodyne("VLP16", None)
    vel.decode(split_packets(scan(1206, False), "velodyne_msgs/msg/VelodyneScan", ros1=False))
    m = MODELS["PandarXT32"]
    hes = HesaiDecoder(m, HesaiCalibration(np.zeros(m.n_channels, np.float32), np.zeros(m.n_channels, np.float32)))
    hes.decode(split_packets(scan(1500, True), "pandar_msgs/msg/PandarScan", ros1=False))
    z = np.zeros(128, np.int64)
    at = AT128Decoder(MODELS["AT128"], AT128Correction(np.array([0], np.int64), np.array([0], np.int64), z, z,
                                                       np.zeros((128, 181), np.int64), np.zeros((128, 181), np.int64)))
    at.decode(split_packets(scan(1500, True), "pandar_msgs/msg/PandarScan", ros1=False))
    p = DecodedPoints.empty(4)
    group_by_sweep(np.arange(4, dtype=np.int64), 0, 2, p.xyz, p.intensity, p.channel, p.return_index, p.time_ns)


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
    _clock_hull()
    _packets()
    _ego_estimator()
    return WarmupResult(time.perf_counter() - t0, os.environ.get("NUMBA_CACHE_DIR") or None)
