"""Blosc compression level and shuffle for point columns, on real and synthetic LiDAR sweeps.

Compresses every point column of real clouds (a ROS 1 bag from ``../shared/data``, default: the
Luminar sweeps of ``embag_luminar_lidar.bag``) and optionally of a converted store, in
65 536-row chunks (fusion's LiDAR chunk), on one thread (the shard pool runs one such encode per
core), with each candidate codec. Prints MB/s of raw data and the compression ratio per column;
the choice is recorded in docs/FORMAT.md ("Chunking, sharding and compression").

Usage::

    python tools/bench_codecs.py [--bag ../shared/data/real/embag_luminar_lidar.bag] [--store STORE]

``--store`` adds the LiDAR columns of a converted store (e.g. the bench's ``bench.zarr``, made by
``fusion bench --workdir DIR``: the generator's 64×1024 sweeps).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numcodecs.blosc
import numpy as np
from numcodecs import Blosc

from fusion.readers.bag import RosBagSource
from fusion.readers.records import PointCloud

CHUNK_ROWS = 65_536
CANDIDATES = {
    "zstd(1) bitshuffle": Blosc("zstd", 1, Blosc.BITSHUFFLE),
    "zstd(3) bitshuffle": Blosc("zstd", 3, Blosc.BITSHUFFLE),
    "zstd(1) shuffle": Blosc("zstd", 1, Blosc.SHUFFLE),
    "zstd(3) shuffle": Blosc("zstd", 3, Blosc.SHUFFLE),
    "lz4(5) bitshuffle": Blosc("lz4", 5, Blosc.BITSHUFFLE),
    "lz4(5) shuffle": Blosc("lz4", 5, Blosc.SHUFFLE),
}


def point_columns(bag: Path) -> dict[str, np.ndarray]:
    """Every LiDAR point column of the bag's clouds, concatenated (time offsets vs the sweep end)."""
    clouds: list[PointCloud] = []
    with RosBagSource([bag]) as src:
        for raw in src.messages():
            rec = src.decode(raw)
            if isinstance(rec, PointCloud):
                clouds.append(rec)
    if not clouds:
        raise SystemExit(f"{bag}: no PointCloud2 messages")
    cols = {"xyz": np.concatenate([c.xyz for c in clouds])}
    if clouds[0].point_time_ns is not None:
        cols["time_offset_ns"] = np.concatenate(
            [(c.point_time_ns - c.point_time_ns.max()).astype(np.int32) for c in clouds if c.point_time_ns is not None]
        )
    for name in clouds[0].fields:
        cols[name] = np.concatenate([c.fields[name] for c in clouds])
    return cols


def store_columns(store: str) -> dict[str, np.ndarray]:
    """The point columns of the first LiDAR stream of a converted store (up to 16 chunks each)."""
    import zarr

    streams = zarr.open_group(f"{store}/streams", mode="r")
    for _, group in streams.groups():
        if group.attrs.get("kind") == "lidar" or "time_offset_ns" in group:
            skip = {"offsets", "stamp_ns", "record_time_ns", "time_ns", "ref_time_ns"}
            return {k: np.asarray(a[: 16 * CHUNK_ROWS]) for k, a in group.arrays() if k not in skip}
    raise SystemExit(f"{store}: no LiDAR stream")


def measure(columns: dict[str, np.ndarray], title: str) -> None:
    numcodecs.blosc.use_threads = False  # one encode per pool thread, as in the converter
    print(f"\n{title}\n| column | dtype | " + " | ".join(CANDIDATES) + " |")
    print("|---|---|" + "---|" * len(CANDIDATES))
    for name, data in columns.items():
        a = np.ascontiguousarray(data)
        chunks = [a[i : i + CHUNK_ROWS] for i in range(0, len(a), CHUNK_ROWS)]
        cells = []
        for codec in CANDIDATES.values():
            best, size = float("inf"), 0
            for _ in range(3):
                t = time.perf_counter()
                size = sum(len(codec.encode(c)) for c in chunks)
                best = min(best, time.perf_counter() - t)
            cells.append(f"{a.nbytes / best / 1e6:.0f} MB/s ×{a.nbytes / size:.2f}")
        print(f"| {name} | {a.dtype} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = Path(__file__).resolve().parents[1]
    ap.add_argument("--bag", type=Path, default=here.parent / "shared/data/real/embag_luminar_lidar.bag")
    ap.add_argument("--store", help="also measure the LiDAR columns of this converted store")
    args = ap.parse_args()
    measure(point_columns(args.bag), f"real: {args.bag.name}")
    if args.store:
        measure(store_columns(args.store), f"store: {args.store}")


if __name__ == "__main__":
    main()
