"""Benchmark LiDAR deskew: numba kernel (1 thread / all threads) vs numpy reference vs kiss-icp.

Scan: 128 × 1024 = 131 072 points, 0.1 s sweep (one time per column), trajectory of 21 poses
(5 ms apart) of a 10 m/s, 30°/s drive (closed form), points sorted by column. Variants: the
driver's organized row-major layout with ``columns=1024`` (one composed map per column), and a
distinct time per point (no column cache, e.g. Livox/Hesai). Prints JSON and one markdown line.

Usage: ``python tools/bench_deskew.py [--repeat 50] [--json out.json]``; ``fusion bench`` includes it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from fusion.sync import deskew_points, deskew_points_reference

ROWS, COLS, SWEEP_NS, N_POSES = 128, 1024, 100_000_000, 21
MAX_THREADS: int = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
T0 = 1_700_000_000_000_000_000


def trajectory() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """21 poses of T_world_base over the sweep (10 m/s, 30°/s yaw, closed form), quaternions xyzw."""
    times = T0 + np.linspace(0, SWEEP_NS, N_POSES).astype(np.int64)
    s = (times - T0) / 1e9
    w, v = np.deg2rad(30.0), 10.0
    t = np.column_stack([v / w * np.sin(w * s), v / w * (1 - np.cos(w * s)), np.zeros_like(s)])
    q = np.column_stack([np.zeros_like(s), np.zeros_like(s), np.sin(w * s / 2), np.cos(w * s / 2)])
    return times, t, q


def scan(per_point_times: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    az = np.repeat(2 * np.pi * np.arange(COLS) / COLS, ROWS)
    el = np.tile(np.deg2rad(np.linspace(-22.5, 22.5, ROWS)), COLS)
    r = rng.uniform(1.0, 80.0, ROWS * COLS)
    xyz = np.column_stack([r * np.cos(el) * np.cos(az), r * np.cos(el) * np.sin(az), r * np.sin(el)])
    if per_point_times:
        pt = T0 + (np.arange(ROWS * COLS, dtype=np.int64) * SWEEP_NS) // (ROWS * COLS)
    else:
        pt = T0 + np.repeat((np.arange(COLS, dtype=np.int64) * SWEEP_NS) // COLS, ROWS)
    return xyz.astype(np.float32), pt


def timeit(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return {"median_ms": float(np.median(ts) * 1e3), "min_ms": float(np.min(ts) * 1e3)}


def run(repeat: int) -> dict[str, Any]:
    times, tt, q = trajectory()
    T = np.eye(4)
    T[:3, 3] = [1.2, 0.0, 1.8]
    ref = int(T0 + SWEEP_NS // 2)
    n = ROWS * COLS
    res: dict[str, Any] = {"points": n, "poses": N_POSES, "sweep_ns": SWEEP_NS, "cpus": os.cpu_count(),
                           "threads_max": MAX_THREADS}  # fmt: skip
    variants = (("column_times", False, 0), ("organized_rows", False, COLS), ("per_point_times", True, 0))
    for label, per_point, columns in variants:
        xyz, pt = scan(per_point)
        if columns:  # the driver's organized layout: row-major (ROWS x COLS), a column shares one time
            xyz = np.ascontiguousarray(xyz.reshape(COLS, ROWS, 3).swapaxes(0, 1).reshape(-1, 3))
            pt = np.ascontiguousarray(pt.reshape(COLS, ROWS).T.reshape(-1))
        out = np.empty_like(xyz)
        entry: dict[str, Any] = {"columns": columns}
        for nt in (1, MAX_THREADS):
            numba.set_num_threads(nt)
            r = timeit(lambda: deskew_points(xyz, pt, times, tt, q, T, ref, out=out, columns=columns), repeat)  # noqa: B023
            r["points_per_s"] = n / (r["min_ms"] / 1e3)
            r["points_per_s_median"] = n / (r["median_ms"] / 1e3)
            entry[f"numba_{nt}_threads"] = r
        numba.set_num_threads(MAX_THREADS)
        r = timeit(lambda: deskew_points_reference(xyz, pt, times, tt, q, T, ref), max(3, repeat // 10))  # noqa: B023
        r["points_per_s"] = n / (r["min_ms"] / 1e3)
        entry["numpy_reference"] = r
        out64 = np.empty(xyz.shape, np.float64)
        deskew_points(xyz, pt, times, tt, q, T, ref, out=out64, columns=columns)
        ref64 = deskew_points_reference(xyz, pt, times, tt, q, T, ref)
        entry["max_abs_diff_vs_numpy_m"] = float(np.max(np.abs(out64 - ref64)))
        entry["equal_1e-6_m"] = entry["max_abs_diff_vs_numpy_m"] <= 1e-6
        res[label] = entry
    res["kiss_icp"] = kiss_icp_bench(repeat)
    return res


def kiss_icp_bench(repeat: int) -> dict[str, Any]:
    """kiss-icp 1.3 Preprocessor (constant-velocity deskew + range filter + copy), same points."""
    try:
        from kiss_icp.pybind import kiss_icp_pybind as k
    except ImportError as exc:  # optional: pip install kiss-icp (the "bench" extra)
        return {"error": f"kiss-icp not importable: {exc}"}
    xyz, pt = scan(False)
    frame = xyz.astype(np.float64)
    stamps = ((pt - pt.min()) / (pt.max() - pt.min())).astype(np.float64)
    _, tt, _ = trajectory()
    rel = np.eye(4)  # constant-velocity motion over one sweep (what kiss-icp takes as input)
    yaw = np.deg2rad(30.0) * SWEEP_NS / 1e9
    rel[:3, :3] = [[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]]
    rel[:3, 3] = tt[-1] - tt[0]
    out: dict[str, Any] = {}
    for nt in (1, MAX_THREADS):
        pre = k._Preprocessor(1e9, 0.0, True, nt)

        def go(pre: Any = pre) -> Any:
            return pre._preprocess(k._Vector3dVector(frame), stamps, rel)

        r = timeit(go, repeat)
        r["points_per_s"] = frame.shape[0] / (r["min_ms"] / 1e3)
        out[f"{nt}_threads"] = r
        convert = timeit(lambda: k._Vector3dVector(frame), repeat)
        out[f"{nt}_threads"]["of_which_input_conversion_ms"] = convert["min_ms"]
    return out


def run_deskew_bench(repeat: int = 20) -> dict[str, Any]:
    """The deskew comparison as ``fusion bench`` reports it (JSON-friendly)."""
    return run(repeat)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--json", type=str, default=None, help="also write the JSON here")
    args = ap.parse_args()
    res = run(args.repeat)
    text = json.dumps(res, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text)
    c = res["column_times"]
    p = res["per_point_times"]
    nmax = MAX_THREADS
    kiss = res["kiss_icp"].get("1_threads", {}).get("min_ms", float("nan"))
    all_thr = c[f"numba_{nmax}_threads"]["points_per_s"] / 1e6
    print(
        f"| deskew 131k pts, 21 poses | numba 1 thr {c['numba_1_threads']['points_per_s'] / 1e6:.0f} M pts/s "
        f"({c['numba_1_threads']['min_ms']:.2f} ms) | numba {nmax} thr {all_thr:.0f} M pts/s "
        f"| per-point times 1 thr {p['numba_1_threads']['points_per_s'] / 1e6:.0f} M pts/s "
        f"| numpy ref {c['numpy_reference']['min_ms']:.1f} ms (max diff {c['max_abs_diff_vs_numpy_m']:.1e} m) "
        f"| kiss-icp 1 thr {kiss:.2f} ms |"
    )


if __name__ == "__main__":
    main()
