"""Digest of the stores fusion writes for the generator's logs: a refactoring's identity check.

Generates fixed-seed logs (ROS 1 ``.bag``, ROS 2 ``.db3`` and ``.mcap``; clean and with every
fault the generator injects), converts each with ``configs/synthetic.yaml`` and writes, per
store, the SHA-256 of every array's bytes (with shape and dtype) and every node's attributes.
The report is compared without what legitimately changes between runs (timings, paths,
software versions).

Usage::

    python tools/store_digest.py --out before.json            # on the old code
    python tools/store_digest.py --out after.json --compare before.json   # exit 1 on a difference
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import zarr

REPO = Path(__file__).resolve().parents[1]
VOLATILE = {"created_by", "seconds", "timing", "software", "inputs", "spool", "time_s", "wall_s", "versions",
            "source_path", "input_fingerprint"}  # the last two name the checkout the config was read from

CASES: dict[str, dict[str, Any]] = {
    "clean": {},
    "faults": {
        "faults": {"drop_rate": 0.1, "duplicate_count": 2, "zero_stamp_count": 2, "out_of_order_count": 2,
                   "corrupt_count": 2, "gap": (0.6, 0.2)},
    },
}


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in sorted(value.items()) if k not in VOLATILE}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, str) and ("/tmp" in value or "\\Temp" in value):
        return "<path>"
    return value


def digest_store(path: Path) -> dict[str, Any]:
    """``{node path: {"attrs": ..., "sha256"/"shape"/"dtype" for arrays}}`` of a store."""
    root = zarr.open_group(str(path), mode="r")
    out: dict[str, Any] = {"": {"attrs": _scrub(dict(root.attrs))}}
    for name, node in sorted(root.members(max_depth=None)):
        entry: dict[str, Any] = {"attrs": _scrub(dict(node.attrs))}
        if isinstance(node, zarr.Array):
            meta = node.metadata.to_dict()
            meta.pop("attributes", None)
            entry["metadata"] = json.loads(json.dumps(meta, default=str))
            data = np.asarray(node[...])
            if name == "report":
                entry["report"] = _scrub(json.loads(data.tobytes().decode()))
            else:
                entry.update(shape=list(data.shape), dtype=str(data.dtype),
                             sha256=hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest())
        out[name] = entry
    return out


def run(out_json: Path, workdir: Path) -> dict[str, Any]:
    from fusion.pipeline.config import load_config
    from fusion.pipeline.convert import convert
    from fusion.testing.synth import Faults, SynthConfig, generate

    cfg = load_config(REPO / "configs" / "synthetic.yaml")
    variant = dataclasses.replace(cfg, store=dataclasses.replace(cfg.store, spool=False, keep_raw_points=True))
    result: dict[str, Any] = {}
    for case, extra in CASES.items():
        faults = Faults(**extra["faults"]) if "faults" in extra else Faults()
        synth = SynthConfig(duration_s=2.0, seed=11, lidar_beams=16, lidar_columns=256, image_width=160,
                            image_height=120, n_static_boxes=4, n_moving_objects=2, faults=faults)
        logs = generate(synth, workdir / case, formats=("bag", "db3", "mcap"))
        for fmt, bag in sorted(logs.bags.items()):
            store = workdir / f"{case}_{fmt}.zarr"
            convert([bag], str(store), cfg, overwrite=True)
            result[f"{case}/{fmt}"] = digest_store(store)
            print(f"{case}/{fmt}: {len(result[f'{case}/{fmt}'])} nodes", file=sys.stderr)
            if case == "faults":  # the bag read twice (no spool) and the raw points kept
                convert([bag], str(store), variant, overwrite=True)
                result[f"{case}/{fmt}/nospool_raw"] = digest_store(store)
    out_json.write_text(json.dumps(result, indent=1, sort_keys=True))
    return result


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Every difference between two digests, one line each."""
    problems = []
    for store in sorted(set(a) | set(b)):
        if store not in a or store not in b:
            problems.append(f"{store}: only in {'after' if store in b else 'before'}")
            continue
        na, nb = _scrub(a[store]), _scrub(b[store])
        for node in sorted(set(na) | set(nb)):
            if node not in na or node not in nb:
                problems.append(f"{store}: {node or '/'}: only in {'after' if node in nb else 'before'}")
            elif na[node] != nb[node]:
                keys = sorted(k for k in set(na[node]) | set(nb[node]) if na[node].get(k) != nb[node].get(k))
                problems.append(f"{store}: {node or '/'}: differs in {keys}")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="digest JSON to write")
    ap.add_argument("--compare", type=Path, help="an earlier digest: exit 1 on any difference")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        after = run(args.out, Path(tmp))
    if args.compare is None:
        return 0
    problems = compare(json.loads(args.compare.read_text()), after)
    for line in problems:
        print(line)
    print(f"{len(after)} stores compared: {len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
