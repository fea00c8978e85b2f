"""numba's parallel kernels with 1 vs N threads over a range of sizes, idle and with the other cores busy.

The parallel kernel is :func:`fusion.annotations.points_in_box.points_in_boxes` (``prange`` over point
chunks; every other kernel is serial). For each size (points x boxes) it reports the best and the
median of ``--repeat`` calls with 1 thread and with every thread; ``--load`` starts one busy-loop process per
other core for the run (the "under load" case of issue 23). The crossover ``PARALLEL_MIN_ITEMS`` of
:mod:`fusion.kernel_policy` comes from this table.

    python tools/bench_threads.py              # idle
    python tools/bench_threads.py --load       # the other core(s) busy
    python tools/bench_threads.py --policy     # also time the call with kernel_threads()' choice
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time

import numba
import numpy as np

from fusion.annotations.points_in_box import points_in_boxes
from fusion.kernel_policy import threads_for

SIZES = (1_000, 4_000, 16_000, 65_536, 131_072, 262_144, 1_048_576)
BOXES = 16


def _spin(stop: float) -> None:
    while time.time() < stop:
        pass


def _scene(n: int, b: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    pts = rng.uniform(-40, 40, (n, 3)).astype(np.float32)
    centers = rng.uniform(-30, 30, (b, 3))
    sizes = np.tile([4.5, 2.0, 1.6], (b, 1))
    yaw = rng.uniform(-np.pi, np.pi, b)
    q = np.stack([np.zeros(b), np.zeros(b), np.sin(yaw / 2), np.cos(yaw / 2)], 1)
    return pts, centers, sizes, q


def best_ms(fn, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(min, median) wall time of ``repeat`` calls, ms."""
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(min(ts) * 1e3), float(np.median(ts) * 1e3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--load", action="store_true", help="keep the other cores busy while measuring")
    ap.add_argument("--policy", action="store_true", help="also time kernel_threads()' choice")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    nmax = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    busy = []
    if args.load:
        stop = time.time() + 3600
        busy = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(max(1, nmax - 1))]
        for p in busy:
            p.start()
        time.sleep(1.0)
    rows = []
    try:
        points_in_boxes(*_scene(100, BOXES))  # load the kernel
        for n in SIZES:
            scene = _scene(n, BOXES)
            row = {"points": n, "boxes": BOXES, "items": n * BOXES, "load": os.getloadavg()[0]}
            for nt in (1, nmax):
                row[f"ms_{nt}_threads"], row[f"median_ms_{nt}_threads"] = best_ms(
                    lambda: points_in_boxes(*scene, threads=nt), args.repeat)  # noqa: B023
            if args.policy:  # points_in_boxes' own choice (kernel_threads)
                row["ms_policy"], row["median_ms_policy"] = best_ms(lambda: points_in_boxes(*scene), args.repeat)  # noqa: B023
                with threads_for(n * BOXES) as chosen:
                    row["policy_threads"] = chosen
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        for p in busy:
            p.terminate()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load": args.load, "threads_max": nmax, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
