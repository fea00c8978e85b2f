"""Benchmark the reader layer against rosbags' own iteration (not a test).

Writes a bag of big PointCloud2 scans (Ouster-style ``t``) and raw bgr8 images with
rosbags' writer, then measures:

1. **baseline**: ``rosbags.highlevel.AnyReader`` iterating every message and
   ``deserialize`` -ing it;
2. **fusion**: ``open_bags(...).messages()`` + ``.decode()`` of every message (typed
   records: float32 xyz, native fields, absolute per-point time, image pixels);
3. **fusion read + deserialize** (no typed decode: the same work as the baseline) and
   **fusion stamps**: the pass-1 ``.stamps()`` fast path;
4. **peak RSS** of a fusion decode pass (fresh process) for a 1x and a 4x longer bag.

Usage::

    python tools/bench_readers.py --format mcap --scans 60 --points 65536 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.highlevel import AnyReader
from rosbags.rosbag1 import Writer as Writer1
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer as Writer2
from rosbags.typesys import Stores, get_typestore

NS = 1_000_000_000
T0 = 1_700_000_000 * NS


def _header(store: Any, stamp: int, frame: str, ros1: bool) -> Any:
    t = store.types["builtin_interfaces/msg/Time"](sec=stamp // NS, nanosec=stamp % NS)
    h = store.types["std_msgs/msg/Header"]
    return h(seq=0, stamp=t, frame_id=frame) if ros1 else h(stamp=t, frame_id=frame)


def write_big_bag(path: Path, fmt: str, scans: int, points: int, width: int, height: int) -> Path:
    """A bag with ``scans`` clouds (x y z intensity t ring, 24 B/point) and as many bgr8 images."""
    ros1 = fmt == "bag"
    store = get_typestore(Stores.ROS1_NOETIC if ros1 else Stores.LATEST)
    pf = store.types["sensor_msgs/msg/PointField"]
    fields = [pf(name=n, offset=o, datatype=d, count=1) for n, o, d in
              (("x", 0, 7), ("y", 4, 7), ("z", 8, 7), ("intensity", 12, 7), ("t", 16, 6), ("ring", 20, 4))]  # fmt: skip
    dt = np.dtype({"names": ["x", "y", "z", "intensity", "t", "ring"], "formats": ["f4", "f4", "f4", "f4", "u4", "u2"],
                   "offsets": [0, 4, 8, 12, 16, 20], "itemsize": 24})  # fmt: skip
    rng = np.random.default_rng(0)
    pts = np.zeros(points, dtype=dt)
    for n in ("x", "y", "z", "intensity"):
        pts[n] = rng.normal(size=points)
    pts["t"] = np.arange(points) * (100_000_000 // points)
    cloud_bytes = np.frombuffer(pts.tobytes(), np.uint8)
    img_bytes = rng.integers(0, 255, size=height * width * 3, dtype=np.uint8)
    ser = store.serialize_ros1 if ros1 else store.serialize_cdr
    out = path.with_suffix(".bag") if ros1 else path

    def msgs() -> Any:
        for i in range(scans):
            s = T0 + i * 100_000_000
            pc = store.types["sensor_msgs/msg/PointCloud2"](
                header=_header(store, s, "lidar", ros1), height=1, width=points, fields=fields, is_bigendian=False,
                point_step=24, row_step=24 * points, data=cloud_bytes, is_dense=True)  # fmt: skip
            yield "/lidar/points", "sensor_msgs/msg/PointCloud2", s + 20_000_000, ser(pc, "sensor_msgs/msg/PointCloud2")
            im = store.types["sensor_msgs/msg/Image"](
                header=_header(store, s, "cam", ros1), height=height, width=width, encoding="bgr8",
                is_bigendian=False, step=width * 3, data=img_bytes)  # fmt: skip
            yield "/camera/image_raw", "sensor_msgs/msg/Image", s + 30_000_000, ser(im, "sensor_msgs/msg/Image")

    conns: dict[str, Any] = {}
    if ros1:
        with Writer1(out) as w:
            for topic, typ, t, data in msgs():
                if topic not in conns:
                    conns[topic] = w.add_connection(topic, typ, typestore=store)
                w.write(conns[topic], t, data)
    else:
        plugin = StoragePlugin.MCAP if fmt == "mcap" else StoragePlugin.SQLITE3
        with Writer2(out, version=9, storage_plugin=plugin) as w:
            for topic, typ, t, data in msgs():
                if topic not in conns:
                    conns[topic] = w.add_connection(topic, typ, typestore=store)
                w.write(conns[topic], t, data)
    return out


def bag_bytes(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.iterdir())


def run_baseline(path: Path) -> int:
    n = 0
    default = get_typestore(Stores.LATEST)
    with AnyReader([path], default_typestore=default) as reader:
        for conn, _t, raw in reader.messages():
            reader.deserialize(raw, conn.msgtype)
            n += 1
    return n


def run_fusion(path: Path) -> int:
    from fusion.readers import open_bags

    n = 0
    with open_bags(path) as src:
        for raw in src.messages():
            src.decode(raw)
            n += 1
    return n


def run_fusion_deserialize(path: Path) -> int:
    """fusion's reader without the typed decode (same work as the baseline)."""
    from fusion.readers import open_bags

    n = 0
    with open_bags(path) as src:
        for raw in src.messages():
            src.deserialize(raw)
            n += 1
    return n


def run_stamps(path: Path) -> int:
    from fusion.readers import open_bags

    with open_bags(path) as src:
        st = src.stamps(list(src.topics))
    return sum(s.size for s, _r in st.values())


def best_of(fn: Any, path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(path)
        times.append(time.perf_counter() - t)
    return min(times)


def child_rss(path: Path) -> float:
    """Peak RSS (MB) of a fresh process doing one fusion decode pass."""
    code = (
        f"import resource, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"from bench_readers import run_fusion; from pathlib import Path; run_fusion(Path({str(path)!r})); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--format", choices=("bag", "db3", "mcap"), default="mcap")
    ap.add_argument("--scans", type=int, default=60)
    ap.add_argument("--points", type=int, default=65536)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    _ = resource  # the child processes use it
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        small = write_big_bag(Path(tmp) / "x1", args.format, args.scans, args.points, args.width, args.height)
        size_mb = bag_bytes(small) / 1e6
        n = run_fusion(small)
        base = best_of(run_baseline, small, args.repeat)
        ours = best_of(run_fusion, small, args.repeat)
        ours_deser = best_of(run_fusion_deserialize, small, args.repeat)
        stamps = best_of(run_stamps, small, args.repeat)
        rss1 = child_rss(small)
        big = write_big_bag(Path(tmp) / "x4", args.format, 4 * args.scans, args.points, args.width, args.height)
        rss4 = child_rss(big)
        result = {
            "format": args.format,
            "bag_mb": round(size_mb, 1),
            "messages": n,
            "rosbags_anyreader_deserialize_mb_s": round(size_mb / base, 1),
            "fusion_read_decode_mb_s": round(size_mb / ours, 1),
            "fusion_vs_rosbags": round(base / ours, 3),
            "fusion_read_deserialize_mb_s": round(size_mb / ours_deser, 1),
            "fusion_read_deserialize_vs_rosbags": round(base / ours_deser, 3),
            "fusion_stamps_mb_s": round(size_mb / stamps, 1),
            "peak_rss_mb_1x": round(rss1, 1),
            "peak_rss_mb_4x": round(rss4, 1),
            "bag_mb_4x": round(bag_bytes(big) / 1e6, 1),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
