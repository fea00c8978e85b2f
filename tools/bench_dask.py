"""Many logs: ``fusion convert --each`` serially vs on a local Dask cluster, as a user runs it.

Generates N small logs (1 s each, ``tests/synthlog.py``'s small size: 16 × 256 LiDAR, two
160 × 120 cameras, radar, IMU, odometry, MCAP), then runs, in interleaved rounds, one
``fusion convert LOGS --each`` process per mode and count: serial, and ``--dask local --workers
W``. Reports wall seconds and CPU seconds of the whole process tree (the command and every
process it started, reaped: ``RUSAGE_CHILDREN``), the speed-up (serial ÷ Dask), and the load
average before and after (the machine may be shared). Each run must leave no process behind
(checked: the children of this process before and after).

Usage: ``python tools/bench_dask.py [--logs 8] [--counts 2,4,8] [--workers 2] [--rounds 2] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from fusion.bench.dask_each import full_size, make_logs, run_once


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logs", type=int, default=8, help="Logs generated (the largest count).")
    ap.add_argument("--counts", default="", help="Comma-separated numbers of logs to convert (default: --logs).")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=float, default=1.0, help="Seconds of each generated log.")
    ap.add_argument("--lidar-columns", type=int, default=256, help="LiDAR columns (16 beams): the work per log.")
    ap.add_argument(
        "--full-size",
        action="store_true",
        help="The generator's default sensors (64 x 1024 LiDAR, 1280 x 720 cameras).",
    )
    ap.add_argument("--json", dest="json_path", type=Path)
    args = ap.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",")] if args.counts else [args.logs]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fusion-bench-dask-") as tmp:
        size: dict[str, Any] = {"duration_s": args.duration, "lidar_columns": args.lidar_columns}
        if args.full_size:
            size = full_size() | {"duration_s": args.duration}
        bags, rig = make_logs(Path(tmp), max(counts), **size)
        load0 = os.getloadavg()
        for rnd in range(args.rounds):
            for n in counts:
                for mode, dask in (("serial", None), ("dask", "local")):
                    r = run_once(bags[:n], rig, Path(tmp) / f"out_{mode}", dask, args.workers)
                    results.append({"round": rnd, "logs": n, "mode": mode, **r})
                    print(f"round {rnd} logs {n} {mode:6s} wall {r['wall_s']:6.2f} s  cpu {r['cpu_s']:6.2f} s  "
                          f"leftover {r['leftover_pids']}", file=sys.stderr)  # fmt: skip
        load1 = os.getloadavg()
    lidar = "the generator's default sensors" if args.full_size else f"16 x {args.lidar_columns} LiDAR"
    print(f"{max(counts)} logs of {args.duration:g} s ({lidar}); {os.cpu_count()} cores; load average before "
          f"{load0[0]:.2f}, after {load1[0]:.2f}; {args.workers} workers; {args.rounds} round(s), medians")  # fmt: skip
    print("| logs | serial wall s | dask wall s | speed-up (wall) | serial CPU s | dask CPU s | leftover |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    summary = []
    for n in counts:
        med = {m: {k: statistics.median(r[k] for r in results if r["logs"] == n and r["mode"] == m)
                   for k in ("wall_s", "cpu_s")} for m in ("serial", "dask")}  # fmt: skip
        left = sum(len(r["leftover_pids"]) for r in results if r["logs"] == n)
        speed = med["serial"]["wall_s"] / med["dask"]["wall_s"]
        summary.append({"logs": n, **{f"{m}_{k}": v for m, d in med.items() for k, v in d.items()}, "speedup": speed})
        print(f"| {n} | {med['serial']['wall_s']:.2f} | {med['dask']['wall_s']:.2f} | {speed:.2f}× | "
              f"{med['serial']['cpu_s']:.2f} | {med['dask']['cpu_s']:.2f} | {left} |")  # fmt: skip
    if args.json_path:
        meta = {
            "duration_s": args.duration,
            "lidar_columns": args.lidar_columns,
            "full_size": args.full_size,
            "cores": os.cpu_count(),
        }
        doc = {**meta, "load_before": load0, "load_after": load1, "runs": results, "summary": summary}
        args.json_path.write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
