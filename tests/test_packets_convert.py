"""A packet bag end to end: ``fusion convert`` + ``fusion validate`` + ``fusion.open``.

The stored LiDAR stream of a packet topic must be the one a PointCloud2 LiDAR gives: the test
writes two real rosbag2 logs with the same odometry — one with the recorded VLP-16 packets, one
with the sweeps fusion decodes from them as ``PointCloud2`` (Autoware ``time_stamp`` per-point
time) — converts both with deskew and compares the stores array for array.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

import fusion
from fusion.readers import open_bags
from fusion.readers.typesys import BUNDLED_MSG_DIR, types_from_msg_dirs
from fusion.store.validate import validate_store

pytestmark = [pytest.mark.shared, pytest.mark.slow]
FUSION = [sys.executable, "-m", "fusion"]


def _store():  # type: ignore[no-untyped-def]
    ts = get_typestore(Stores.LATEST)
    ts.register(types_from_msg_dirs([BUNDLED_MSG_DIR / "velodyne_msgs"]))
    return ts


def _odometry(ts, t_ns: int, vx: float, x0_ns: int):  # type: ignore[no-untyped-def]
    m = ts.types
    sec, nsec = divmod(t_ns, 1_000_000_000)
    x = vx * (t_ns - x0_ns) / 1e9
    pose = m["geometry_msgs/msg/PoseWithCovariance"](
        m["geometry_msgs/msg/Pose"](m["geometry_msgs/msg/Point"](x, 0.0, 0.0),
                                    m["geometry_msgs/msg/Quaternion"](0.0, 0.0, 0.0, 1.0)), np.zeros(36))
    twist = m["geometry_msgs/msg/TwistWithCovariance"](
        m["geometry_msgs/msg/Twist"](m["geometry_msgs/msg/Vector3"](vx, 0.0, 0.0),
                                     m["geometry_msgs/msg/Vector3"](0.0, 0.0, 0.0)), np.zeros(36))
    header = m["std_msgs/msg/Header"](m["builtin_interfaces/msg/Time"](sec, nsec), "odom")
    return m["nav_msgs/msg/Odometry"](header, "base_link", pose, twist)


def _cloud(ts, rec):  # type: ignore[no-untyped-def]
    """A PointCloud2 of one decoded sweep: x y z float32, intensity u8, ring u16, time_stamp u32."""
    m = ts.types
    n = len(rec.xyz)
    dt = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("intensity", "u1"), ("ring", "<u2"),
                   ("time_stamp", "<u4")])
    rows = np.zeros(n, dt)
    rows["x"], rows["y"], rows["z"] = rec.xyz.T
    rows["intensity"], rows["ring"] = rec.fields["intensity"], rec.fields["ring"]
    rows["time_stamp"] = (rec.point_time_ns - rec.meta.stamp_ns).astype(np.uint32)
    pf = m["sensor_msgs/msg/PointField"]
    fields = [pf("x", 0, 7, 1), pf("y", 4, 7, 1), pf("z", 8, 7, 1), pf("intensity", 12, 2, 1),
              pf("ring", 13, 4, 1), pf("time_stamp", 15, 6, 1)]
    sec, nsec = divmod(rec.meta.stamp_ns, 1_000_000_000)
    header = m["std_msgs/msg/Header"](m["builtin_interfaces/msg/Time"](sec, nsec), rec.meta.frame_id)
    return m["sensor_msgs/msg/PointCloud2"](header, 1, n, fields, False, dt.itemsize, dt.itemsize * n,
                                            rows.view(np.uint8), True)


@pytest.fixture(scope="module")
def logs(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:
    src_bag = next((shared_data / "real/lidar_packets/velodyne/vlp16").glob("1*/"))
    out = tmp_path_factory.mktemp("packets")
    ts = _store()
    raws, recs = [], []
    with open_bags(src_bag) as src:
        for raw in src.messages():
            raws.append((raw.record_time_ns, bytes(raw.data)))
            with contextlib.suppress(fusion.errors.DecodeError):  # a message that ends no sweep
                recs.append(src.decode(raw))
            tail = src.trailing_record(raw.topic)  # the rotation the log ends in: a row of its own
            if tail is not None:
                recs.append(tail)
    t0, t1 = raws[0][0] - 300_000_000, raws[-1][0] + 300_000_000
    paths = []
    for name in ("packets", "clouds"):
        path = out / name
        with Writer(path, version=8, storage_plugin=StoragePlugin.SQLITE3) as w:
            odo = w.add_connection("/odom", "nav_msgs/msg/Odometry", typestore=ts)
            for t in range(t0, t1, 10_000_000):  # 100 Hz, 5 m/s forward
                w.write(odo, t, ts.serialize_cdr(_odometry(ts, t, 5.0, t0), "nav_msgs/msg/Odometry"))
            if name == "packets":
                c = w.add_connection("/velodyne_packets", "velodyne_msgs/msg/VelodyneScan", typestore=ts)
                for rt, data in raws:
                    w.write(c, rt, data)
            else:
                c = w.add_connection("/velodyne_points", "sensor_msgs/msg/PointCloud2", typestore=ts)
                for rec in recs:
                    msg = ts.serialize_cdr(_cloud(ts, rec), "sensor_msgs/msg/PointCloud2")
                    w.write(c, rec.meta.record_time_ns, msg)
        paths.append(path)
    return paths[0], paths[1], recs


def test_packet_bag_converts_like_pointcloud2(logs: tuple[Path, Path, list], tmp_path: Path) -> None:
    packets, clouds, recs = logs
    stores = {}
    for name, bag in (("packets", packets), ("clouds", clouds)):
        store = tmp_path / f"{name}.zarr"
        res = subprocess.run([*FUSION, "convert", str(bag), "-o", str(store)], capture_output=True, text=True,
                             timeout=900)
        assert res.returncode == 0, res.stderr
        val = subprocess.run([*FUSION, "validate", str(store)], capture_output=True, text=True, timeout=300)
        assert val.returncode == 0, val.stdout + val.stderr
        assert validate_store(str(store)).ok
        stores[name] = fusion.open(str(store))
    a, b = stores["packets"], stores["clouds"]
    assert list(a.sensors) == list(b.sensors) == ["velodyne"]
    sa, sb = a.stream("velodyne"), b.stream("velodyne")
    # 4 messages, each completing a rotation, + the 40-point sliver the log ends in (trailing row)
    assert sa.kind == sb.kind == "lidar" and len(sa) == len(sb) == len(recs) == 5
    assert a.state.streams["velodyne"].attrs["partial_sweeps"] == [0, 4]
    assert len(a) == len(b) > 0
    for i in range(len(a)):
        la, lb = a[i].lidar["velodyne"], b[i].lidar["velodyne"]
        assert la.ref_time_ns == lb.ref_time_ns
        np.testing.assert_array_equal(la.time_ns, lb.time_ns)
        np.testing.assert_array_equal(la.xyz, lb.xyz)  # deskewed the same way
        np.testing.assert_array_equal(la.column("ring"), lb.column("ring"))
        raw = recs[i]
        moved = np.linalg.norm(la.xyz - raw.xyz, axis=1)
        # 5 m/s over a 0.1 s sweep: deskew moves points by up to ≈ 0.5 m (measured max 0.50 m)
        if np.ptp(raw.point_time_ns) > 50_000_000:  # not the 0.25 ms sliver the log ends in
            assert 0.3 < moved.max() < 0.6
