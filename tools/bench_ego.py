"""Benchmark the ego estimator (issue 19): cost in seconds per minute of log, per source.

Synthetic: the generator's drive (IMU 200 Hz, wheels 50 Hz, GNSS 10 Hz) for each ``--minutes``;
real: ../shared/data/real/husky_imu_odom_gps.bag (IMU 30 Hz, wheels 10 Hz, GNSS 2.5 Hz, 395 s) when
present, through ``fusion convert`` (the report's ``ego.estimator_s``). A conversion whose log has a
recorded trajectory (``ego.source: auto``) never runs the estimator.

Usage: PYTHONPATH=. python tools/bench_ego.py [--minutes 1 5] [--repeat 2]
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
    args = ap.parse_args()
    for m in args.minutes:
        _synthetic(m, args.repeat)
    _husky()


if __name__ == "__main__":
    main()
