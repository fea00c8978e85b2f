"""A/B conversion time of two source trees on the same generated log, interleaved and paired.

This machine's speed drifts by tens of percent over minutes, so two benchmark runs made one after
the other cannot be compared; here every round converts the same ``fusion bench`` log with tree A
and with tree B back to back (in alternating order), each in a fresh process after one untimed
warm-up conversion, and the paired ratios B / A are reported.

Usage::

    git worktree add /tmp/before <commit>
    python tools/ab_convert.py --a /tmp/before --b . --rounds 6 --preset default
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, sys, time
from fusion.bench.stages import stage_convert
res = stage_convert(sys.argv[1], 1, sys.argv[2], rig=sys.argv[3], warmup=True)
print(json.dumps({"seconds": res["seconds"][0]}))
"""


def _convert(tree: Path, bag: Path, rig: Path, scratch: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run([sys.executable, "-c", CHILD, str(bag), str(scratch), str(rig)], env=env,
                         capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", type=Path, required=True, help="source tree A (the reference)")
    ap.add_argument("--b", type=Path, required=True, help="source tree B (the candidate)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--preset", default="default")
    args = ap.parse_args()
    from fusion.bench.runner import PRESETS, generate_log

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bag, rig = generate_log(PRESETS[args.preset], work)
        times: dict[str, list[float]] = {"a": [], "b": []}
        for r in range(args.rounds):
            order = ("a", "b") if r % 2 == 0 else ("b", "a")
            for side in order:
                tree = args.a if side == "a" else args.b
                times[side].append(_convert(tree.resolve(), bag, rig, work / f"out_{side}.zarr"))
            print(f"round {r + 1}: A {times['a'][-1]:.3f} s, B {times['b'][-1]:.3f} s", file=sys.stderr)
    ratios = [b / a for a, b in zip(times["a"], times["b"], strict=True)]
    result = {
        "preset": args.preset,
        "a_s": times["a"],
        "b_s": times["b"],
        "median_a_s": statistics.median(times["a"]),
        "median_b_s": statistics.median(times["b"]),
        "paired_ratio_b_over_a": ratios,
        "median_ratio": statistics.median(ratios),
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
