"""Livox CustomMsg (livox_ros_driver, livox_ros_driver2) bags written with rosbags, read as LiDAR sweeps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

import fusion
from fusion.readers import open_bags
from fusion.readers.inspect import inspect_source
from fusion.readers.livox import decode_livox, decode_livox_raw
from fusion.readers.records import MessageMeta, PointCloud
from fusion.readers.source import RawMessage
from fusion.store.validate import validate_store

MSGS = Path(__file__).resolve().parents[1] / "fusion" / "readers" / "msgs"
FUSION = [sys.executable, "-m", "fusion"]
T0 = 1_700_000_000_000_000_000
PERIOD = 100_000_000


def livox_store(pkg: str, ros1: bool) -> Any:
    store = get_typestore(Stores.ROS1_NOETIC if ros1 else Stores.LATEST)
    for name in ("CustomPoint", "CustomMsg"):
        store.register(get_types_from_msg((MSGS / pkg / f"{name}.msg").read_text(), f"{pkg}/msg/{name}"))
    return store


def make_msg(store: Any, pkg: str, seq: int, stamp_ns: int, frame: str, timebase: int, pts: dict[str, np.ndarray],
             ros1: bool) -> Any:
    T = store.types
    time = T["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
    header = T["std_msgs/msg/Header"](seq=seq, stamp=time, frame_id=frame) if ros1 else T["std_msgs/msg/Header"](
        stamp=time, frame_id=frame)
    P = T[f"{pkg}/msg/CustomPoint"]
    points = [P(int(pts["offset_time"][i]), float(pts["x"][i]), float(pts["y"][i]), float(pts["z"][i]),
                int(pts["reflectivity"][i]), int(pts["tag"][i]), int(pts["line"][i])) for i in range(len(pts["x"]))]
    return T[f"{pkg}/msg/CustomMsg"](header, timebase, len(points), 1, np.zeros(3, np.uint8), points)


def random_points(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "offset_time": np.sort(rng.integers(0, PERIOD, n)).astype(np.uint32),
        "x": rng.uniform(-50, 50, n).astype(np.float32),
        "y": rng.uniform(-50, 50, n).astype(np.float32),
        "z": rng.uniform(-3, 10, n).astype(np.float32),
        "reflectivity": rng.integers(0, 256, n).astype(np.uint8),
        "tag": rng.integers(0, 256, n).astype(np.uint8),
        "line": rng.integers(0, 6, n).astype(np.uint8),
    }


def write_livox_bag(path: Path, pkg: str, ros1: bool, n_msgs: int = 12, n_pts: int = 2000
                    ) -> list[tuple[int, dict[str, np.ndarray]]]:
    """A bag of ``n_msgs`` CustomMsg on /livox/lidar at 10 Hz; returns (timebase, points) per message."""
    rng = np.random.default_rng(7)
    store = livox_store(pkg, ros1)
    truth = []
    if ros1:
        from rosbags.rosbag1 import Writer as Writer1

        writer: Any = Writer1(path)
    else:
        from rosbags.rosbag2 import StoragePlugin
        from rosbags.rosbag2 import Writer as Writer2

        writer = Writer2(path, version=8, storage_plugin=StoragePlugin.MCAP)
    ser = store.serialize_ros1 if ros1 else store.serialize_cdr
    with writer as w:
        conn = w.add_connection("/livox/lidar", f"{pkg}/msg/CustomMsg", typestore=store)
        for k in range(n_msgs):
            timebase = T0 + k * PERIOD + int(rng.integers(0, 1000))
            pts = random_points(rng, n_pts)
            msg = make_msg(store, pkg, k, timebase, "livox_frame", timebase, pts, ros1)
            w.write(conn, timebase + PERIOD + 2_000_000, ser(msg, f"{pkg}/msg/CustomMsg"))
            truth.append((timebase, pts))
    return truth


@pytest.mark.parametrize(("pkg", "ros1"), [("livox_ros_driver", True), ("livox_ros_driver2", False),
                                           ("livox_ros_driver2", True)])
def test_records_equal_what_was_written(tmp_path: Path, pkg: str, ros1: bool) -> None:
    path = tmp_path / ("livox.bag" if ros1 else "livox_ros2")
    truth = write_livox_bag(path, pkg, ros1, n_msgs=4, n_pts=500)
    with open_bags(path) as src:
        info = src.topics["/livox/lidar"]
        assert info.kind == "lidar" and info.frame_id == "livox_frame" and info.count == 4
        assert info.reader.startswith("Livox CustomMsg")
        recs = [src.decode(r) for r in src.messages()]
        slow = [decode_livox(src.deserialize(r), rec.meta) for r, rec in zip(src.messages(), recs, strict=True)]
        bounds = [src.lidar_time_bounds(r) for r in src.messages()]
        entry = inspect_source(src)["topics"]["/livox/lidar"]
    assert entry["reader"].startswith("Livox CustomMsg") and entry["lidar_time_convention"] == "livox_offset_time"
    for rec, lazy, (timebase, pts), b in zip(recs, slow, truth, bounds, strict=True):
        assert isinstance(rec, PointCloud) and rec.time_convention == "livox_offset_time"
        assert rec.meta.stamp_ns == timebase
        assert np.array_equal(rec.xyz, np.stack([pts["x"], pts["y"], pts["z"]], axis=1))
        assert rec.point_time_ns is not None
        assert np.array_equal(rec.point_time_ns, timebase + pts["offset_time"].astype(np.int64))
        for k in ("reflectivity", "tag", "line"):
            assert np.array_equal(rec.fields[k], pts[k]) and rec.fields[k].dtype == np.uint8
        assert np.array_equal(lazy.xyz, rec.xyz) and np.array_equal(lazy.point_time_ns, rec.point_time_ns)
        assert b == (int(rec.point_time_ns.min()), int(rec.point_time_ns.max()), len(rec.xyz))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 40), st.booleans(), st.text(max_size=9), st.integers(0, 2**40))
def test_raw_reader_equals_rosbags(n: int, ros1: bool, frame: str, seed: int) -> None:
    """Both serializations, any point count and frame id length (CDR alignment): raw == rosbags."""
    pkg = "livox_ros_driver2"
    store = livox_store(pkg, ros1)
    pts = random_points(np.random.default_rng(seed), n)
    msg = make_msg(store, pkg, 3, T0, frame, T0 + 5, pts, ros1)
    data = (store.serialize_ros1 if ros1 else store.serialize_cdr)(msg, f"{pkg}/msg/CustomMsg")
    raw = RawMessage("/l", 0, T0, f"{pkg}/msg/CustomMsg", bytes(data), ros1, Path("x"))
    fast = decode_livox_raw(raw)
    slow = decode_livox(msg, MessageMeta("/l", 0, T0, T0, frame.lstrip("/")))
    assert fast.meta == slow.meta
    assert np.array_equal(fast.xyz, slow.xyz) and np.array_equal(fast.point_time_ns, slow.point_time_ns)
    for k in ("reflectivity", "tag", "line"):
        assert np.array_equal(fast.fields[k], slow.fields[k])


@pytest.mark.slow
def test_convert_stores_the_written_times_and_points(tmp_path: Path) -> None:
    path = tmp_path / "livox_ros2"
    truth = write_livox_bag(path, "livox_ros_driver2", False)
    store = tmp_path / "livox.zarr"
    res = subprocess.run([*FUSION, "convert", str(path), "-o", str(store)], capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    assert validate_store(str(store)).ok
    ds = fusion.open(str(store))
    stream = ds.stream("livox")
    assert len(stream) == len(truth)
    for k, (timebase, pts) in enumerate(truth):
        view = stream[k]
        assert np.array_equal(view.xyz, np.stack([pts["x"], pts["y"], pts["z"]], axis=1))  # no ego: not deskewed
        assert np.array_equal(view.time_ns, timebase + pts["offset_time"].astype(np.int64))
        assert np.array_equal(view["line"], pts["line"])
