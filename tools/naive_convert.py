"""The naive converter ``fusion bench --stage startup`` compares ``fusion convert`` with (no fusion import).

For each LiDAR sweep (the first PointCloud2 topic): its xyz, and the camera message of every image
topic nearest to it by header stamp. Written as sharded Zarr v3 arrays: ``lidar/xyz`` (N, 3) float32
+ ``lidar/offsets``, ``<camera>/bytes`` (the message's data) + ``<camera>/offsets``, ``stamp_ns``.
No clock offsets, no deskew, no calibration, no checks: a floor, not a converter.

    python tools/naive_convert.py BAG OUT.zarr
"""

import sys
from pathlib import Path

import numpy as np
import zarr
from rosbags.highlevel import AnyReader

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")


def stamp_ns(msg) -> int:  # type: ignore[no-untyped-def]
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def write(group, name: str, parts: list[np.ndarray], row_shape: tuple[int, ...], dtype: str) -> None:  # type: ignore[no-untyped-def]
    data = np.concatenate(parts) if parts else np.zeros((0, *row_shape), dtype)
    chunk = (1 << 16, *row_shape) if row_shape else (1 << 20,)
    shard = (chunk[0] * 16, *row_shape)
    group.create_array(f"{name}/data", data=data, chunks=chunk, shards=shard)
    offsets = np.cumsum([0] + [len(p) for p in parts], dtype=np.int64)
    group.create_array(f"{name}/offsets", data=offsets, chunks=(4096,), shards=(4096 * 16,))


def main(bag: str, out: str) -> None:
    sweeps: list[tuple[int, np.ndarray]] = []
    images: dict[str, list[tuple[int, bytes]]] = {}
    with AnyReader([Path(bag)]) as reader:
        lidar = next(c.topic for c in reader.connections if c.msgtype == "sensor_msgs/msg/PointCloud2")
        cams = [c for c in reader.connections if c.msgtype in IMAGE_TYPES]
        conns = [c for c in reader.connections if c.topic == lidar] + cams
        for conn, _t, raw in reader.messages(connections=conns):
            msg = reader.deserialize(raw, conn.msgtype)
            if conn.topic == lidar:
                off = {f.name: f.offset for f in msg.fields}
                rows = msg.data.reshape(-1, msg.point_step)
                xyz = np.stack([rows[:, off[k] : off[k] + 4].copy().view(np.float32)[:, 0] for k in "xyz"], 1)
                sweeps.append((stamp_ns(msg), xyz))
            else:
                images.setdefault(conn.topic, []).append((stamp_ns(msg), bytes(msg.data)))
    root = zarr.open_group(out, mode="w", zarr_format=3)
    root.create_array("stamp_ns", data=np.array([s for s, _ in sweeps], np.int64), chunks=(4096,))
    write(root, "lidar", [x for _, x in sweeps], (3,), "float32")
    for topic, msgs in images.items():
        stamps = np.array([s for s, _ in msgs], np.int64)
        picks = [int(np.argmin(np.abs(stamps - s))) for s, _ in sweeps]
        parts = [np.frombuffer(msgs[i][1], np.uint8) for i in picks]
        write(root, topic.strip("/").replace("/", "_"), parts, (), "uint8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
