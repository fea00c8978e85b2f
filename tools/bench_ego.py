"""Benchmark the ego estimator (issue 19): cost in seconds per minute of log, per source.

Synthetic: the generator's drive (IMU 200 Hz, wheels 50 Hz, GNSS 10 Hz) for each ``--minutes``;
real: ../shared/data/real/husky_imu_odom_gps.bag (IMU 30 Hz, wheels 10 Hz, GNSS 2.5 Hz, 395 s) when
present, through ``fusion convert`` (the report's ``ego.estimator_s``). A conversion whose log has a
recorded trajectory (``ego.source: auto``) never runs the estimator.

LiDAR odometry (``lidar``, ``lidar+imu``): the urban world's sweeps (64 x 512 points at 10 Hz,
``--lidar-seconds``), simulated first, then registered.

Usage: PYTHONPATH=. python tools/bench_ego.py [--minutes 1 5] [--repeat 2] [--lidar-seconds 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from fusion.ego import EstimatorParams, estimate
from fusion.testing.synth.inertial import ego_log, estimator_inputs

REPO = Path(__file__).resolve().parents[1]


def _synthetic(minutes: float, repeat: int) -> None:
    log = ego_log(seed=0, duration_s=60.0 * minutes)
    imu, wheel, gnss = estimator_inputs(log)
    params = EstimatorParams(wheel_yaw_rate_sigma=0.005)
    for name, kw in (("imu+odom", {"wheel": wheel}), ("imu+gnss", {"gnss": gnss}),
                     ("imu+odom+gnss", {"wheel": wheel, "gnss": gnss})):
        best = np.inf
        for _ in range(repeat):
            t0 = time.perf_counter()
            est = estimate(imu, params=params, **kw)  # type: ignore[arg-type]
            best = min(best, time.perf_counter() - t0)
        print(f"synthetic {minutes:g} min {name:14s} {best:6.2f} s = {best / minutes:5.2f} s per minute of log "
              f"({len(est.times_ns)} poses)")


def _lidar(seconds: float) -> None:
    """LiDAR odometry cost on the urban world (64 x 512 points, 10 Hz; sweeps simulated beforehand)."""
    import dataclasses

    from fusion.ego.lidar import LIDAR, LIDAR_IMU
    from fusion.ego.lidar_odometry import LidarSweep
    from fusion.ego.sources import EgoInputs, LidarInput
    from fusion.testing.synth import rig as rigdef
    from fusion.testing.synth.lidar import beam_directions, simulate_sweep
    from fusion.testing.synth.trajectory import AnalyticTrajectory, TrajectoryParams
    from fusion.testing.synth.urban import make_structures
    from fusion.testing.synth.world import make_world

    start = 1_700_000_000_000_000_000
    traj = AnalyticTrajectory(TrajectoryParams.make(start, 10.0, 30.0, np.random.default_rng([0, 2])))
    world = dataclasses.replace(make_world(start, seconds, 10.0, 12, 4, np.random.default_rng([0, 1])),
                                structures=make_structures(10.0 * seconds, np.random.default_rng([0, 8])))
    T_bl = rigdef.SENSORS["lidar_top"].T_base_sensor
    dirs = beam_directions(64, 512)
    sweeps = [simulate_sweep(traj, world, T_bl, start + k * 100_000_000, 100_000_000, dirs, 100.0)
              for k in range(int(seconds * 10))]
    imu, _, _ = estimator_inputs(ego_log(seed=0, duration_s=seconds))
    lid = LidarInput(lambda: (LidarSweep(s.xyz_lidar.astype(np.float64), s.time_ns) for s in sweeps), T_bl, "/lidar")
    for src in (LIDAR, LIDAR_IMU):
        t0 = time.perf_counter()
        src.build(EgoInputs(imu=imu, lidar=lid))
        dt = time.perf_counter() - t0
        print(f"synthetic {seconds:g} s {src.name:14s} {dt:6.2f} s = {dt * 60 / seconds:5.1f} s per minute of log "
              f"(64 x 512 points, 10 Hz)")


def _husky() -> None:
    from fusion.pipeline.config import ConvertConfig, EgoConfig
    from fusion.pipeline.convert import convert

    bag = REPO.parent / "shared" / "data" / "real" / "husky_imu_odom_gps.bag"
    if not bag.exists():
        print(f"husky: {bag} not found, skipped")
        return
    rig = REPO / "configs" / "rigs" / "husky_imu.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        for source in ("auto", "imu+odom", "imu+gnss", "imu+odom+gnss"):
            t0 = time.perf_counter()
            cfg = ConvertConfig(rig=str(rig), ego=EgoConfig(source=source))
            res = convert([bag], str(Path(tmp) / f"{source}.zarr"), cfg)
            total = time.perf_counter() - t0
            est = float(res.ego.get("estimator_s", 0.0))
            print(f"husky 6.6 min {source:14s} estimator {est:5.2f} s = {est / 6.59:5.2f} s per minute of log; "
                  f"conversion {total:5.2f} s (ego: {res.ego['source']})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[1.0, 5.0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--lidar-seconds", type=float, default=20.0, help="LiDAR odometry log length (0: skip)")
    args = ap.parse_args()
    for m in args.minutes:
        _synthetic(m, args.repeat)
    if args.lidar_seconds > 0:
        _lidar(args.lidar_seconds)
    _husky()


if __name__ == "__main__":
    main()
