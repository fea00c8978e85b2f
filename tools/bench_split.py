"""One long log: ``fusion convert`` in one piece vs ``--split N`` (serially and on ``--dask local``).

Generates (or reuses) a full-size log of the bench ``default`` preset (64 × 1024 LiDAR at 10 Hz,
two 1280 × 720 cameras, radar, IMU, odometry; MCAP; ``fusion.bench.runner.generate_log``), then
runs one ``fusion convert`` process per mode, as a user runs it, and reports wall seconds, CPU
seconds of the whole process tree (the command and everything it started, reaped:
``RUSAGE_CHILDREN``), and for a split the parts' wall time and the join's (from the report's
``split`` record), with the load average before and after (the machine may be shared). Every
split store is checked equal to the single-process one (``tests/test_split.py``'s comparison).

Usage: ``PYTHONPATH=. python tools/bench_split.py [--duration 30] [--parts 2] [--workers 2] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def run(args: list[str]) -> dict[str, Any]:
    """One ``fusion`` command: wall and CPU seconds of its process tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "fusion", *args], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})  # fmt: skip
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise SystemExit(f"fusion {' '.join(args)} failed: {res.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "stderr": res.stderr}


def report_of(store: Path) -> dict[str, Any]:
    import zarr

    return dict(json.loads(bytes(zarr.open_group(str(store), mode="r")["report"][...]).decode()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--parts", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--logs", default=str(Path(tempfile.gettempdir()) / "fusion_bench_split"))
    ap.add_argument("--rounds", type=int, default=1, help="rounds, each in a rotated mode order (medians reported)")
    ap.add_argument("--json", dest="json_out")
    a = ap.parse_args()
    from fusion.bench.runner import PRESETS, generate_log

    bag, rig = generate_log(PRESETS["default"], Path(a.logs), duration_s=a.duration)
    out = Path(a.logs) / "stores"
    out.mkdir(exist_ok=True)
    base = ["convert", str(bag), "--rig", str(rig), "--overwrite"]
    modes = {
        "single": [],
        f"split {a.parts} serial": ["--split", str(a.parts)],
        f"split {a.parts} dask local x{a.workers}": ["--split", str(a.parts), "--dask", "local", "--workers",
                                                      str(a.workers)],
    }
    rows: dict[str, Any] = {"bag_bytes": sum(f.stat().st_size for f in Path(bag).rglob("*") if f.is_file()),
                            "load_before": os.getloadavg(), "runs": []}  # fmt: skip
    names = list(modes)
    for r in range(a.rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            store = out / (name.replace(" ", "_") + ".zarr")
            res = run([*base, "-o", str(store), *modes[name]])
            rec = report_of(store).get("split", {})
            res.update({k: rec[k] for k in ("wall_seconds", "join_seconds", "part_seconds") if k in rec})
            res.pop("stderr")
            rows["runs"].append({"mode": name, "round": r, **res})
            print(name, res, flush=True)
    for name in names:
        mine = [x for x in rows["runs"] if x["mode"] == name]
        rows[name] = {k: statistics.median(x[k] for x in mine) for k in ("wall_s", "cpu_s")}
    rows["load_after"] = os.getloadavg()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_split import assert_same_store

    for name in list(modes)[1:]:
        assert_same_store(out / "single.zarr", out / (name.replace(" ", "_") + ".zarr"))
    rows["equal"] = True
    print(json.dumps(rows, indent=1))
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
