"""Many logs (``fusion bench`` throughput stage, ``tools/bench_dask.py``): ``fusion convert --each``
serially vs on a local Dask cluster, each run one process as a user runs it.

Wall seconds and CPU seconds of the whole process tree (the command and every process it started,
reaped: ``RUSAGE_CHILDREN``) and the processes left behind (children of this process before and
after: must be none).
"""

from __future__ import annotations

import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from fusion.testing.synth import SynthConfig

SMALL: dict[str, Any] = {"duration_s": 1.0, "lidar_beams": 16, "lidar_columns": 256, "image_width": 160,
                         "image_height": 120}  # fmt: skip


def full_size() -> dict[str, Any]:
    """The generator's default sensor sizes for :func:`make_logs` (64 × 1024 LiDAR, 1280 × 720 cameras)."""
    return {k: v for k, v in SynthConfig().__dict__.items() if k in SMALL and k != "duration_s"}


def make_logs(folder: Path, n: int, **size: Any) -> tuple[list[str], str]:
    """N generated logs (seeds 0..N-1, ``SMALL`` overridden by ``size``) and the rig file of the first."""
    from calibration import save_rig
    from fusion.testing.synth import generate, load_truth

    bags, rig = [], folder / "rig.yaml"
    for i in range(n):
        cfg = SynthConfig(**{**SMALL, **size}, seed=i)
        stamp = folder / f"log{i}.json"  # written last: the log is complete and made from this config
        if stamp.exists() and rig.exists():
            saved = json.loads(stamp.read_text())
            if saved.get("config") == repr(cfg) and Path(saved["bag"]).exists():
                bags.append(saved["bag"])
                continue
        shutil.rmtree(folder / f"log{i}", ignore_errors=True)  # a log left unfinished by a stopped run
        out = generate(cfg, folder / f"log{i}", formats=("mcap",))
        bags.append(str(out.bags["mcap"]))
        if i == 0:
            save_rig(load_truth(out.truth_path).rig(), rig)
        stamp.write_text(json.dumps({"config": repr(cfg), "bag": bags[-1]}))
    return bags, str(rig)


def run_once(bags: list[str], rig: str, out: Path, dask: str | None, workers: int) -> dict[str, Any]:
    """One ``fusion convert --each`` process: wall s, CPU s of its whole tree, per-log conversion s."""
    cmd = [sys.executable, "-m", "fusion", "convert", *bags, "--each", "-o", str(out), "--rig", rig,
           "--overwrite", "--json"]  # fmt: skip
    if dask is not None:
        cmd += ["--dask", dask, "--workers", str(workers)]
    before_children = {p.pid for p in psutil.Process().children(recursive=True)}
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise SystemExit(f"error: {' '.join(cmd[:4])} ... failed: {res.stderr.strip()[-400:]}")
    rows = json.loads(res.stdout)
    time.sleep(0.2)
    left = [p.pid for p in psutil.Process().children(recursive=True) if p.pid not in before_children]
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "log_s": [r["seconds"] for r in rows],
            "log_cpu_s": [r.get("cpu_seconds", 0.0) for r in rows], "leftover_pids": left}


def compare(bags: list[str], rig: str, work: Path, workers: int = 2, rounds: int = 2) -> dict[str, Any]:
    """Serial ``--each`` and ``--dask local --workers N`` on ``bags``, interleaved ``rounds`` times.

    Returns:
        ``runs`` (every run), medians ``serial_wall_s``, ``dask_wall_s``, ``serial_cpu_s``,
        ``dask_cpu_s``, ``speedup`` (serial ÷ Dask wall), the best (shortest) wall of each mode and
        ``speedup_best`` (their ratio: a round where the disk stalled one run says little),
        ``leftover`` (processes left, all runs), and
        ``serial_cores`` — the cores a serial conversion keeps busy (CPU ÷ wall of the conversions
        themselves), which bounds what two workers can gain on two cores.
    """
    from fusion.bench.runner import warm_page_cache

    warm_page_cache(bags)  # the first round would read the logs from disk, the others from memory
    runs = []
    for rnd in range(rounds):
        for mode, dask in (("serial", None), ("dask", "local")):
            runs.append({"round": rnd, "mode": mode, **run_once(bags, rig, work / f"out_{mode}", dask, workers)})
    med = {f"{m}_{k}": statistics.median(r[k] for r in runs if r["mode"] == m)
           for m in ("serial", "dask") for k in ("wall_s", "cpu_s")}  # fmt: skip
    best = {f"{m}_wall_best_s": min(r["wall_s"] for r in runs if r["mode"] == m) for m in ("serial", "dask")}
    return {"logs": len(bags), "workers": workers, "rounds": rounds, "runs": runs, **med, **best,
            "speedup": med["serial_wall_s"] / med["dask_wall_s"],
            "speedup_best": best["serial_wall_best_s"] / best["dask_wall_best_s"],
            "leftover": sum(len(r["leftover_pids"]) for r in runs)}  # fmt: skip


def log_seconds(runs: list[dict[str, Any]], mode: str, key: str = "log_s") -> float:
    """Median over runs of the summed per-log conversion seconds (``key="log_cpu_s"``: CPU s) of ``mode``."""
    return statistics.median(sum(r[key]) for r in runs if r["mode"] == mode)


