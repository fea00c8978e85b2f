"""ROS 1 MCAP (profile ros1, ros1msg schemas): read like a .bag, converted to the same store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from synthlog import make_log

import fusion
from fusion.readers import open_bags
from fusion.readers.records import ImuSample, PointCloud
from fusion.store.validate import validate_store
from fusion.testing.ros1_mcap import bag_to_ros1_mcap, write_ros1_mcap

FUSION = [sys.executable, "-m", "fusion"]


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("ros1mcap")
    bags, _, rig = make_log(folder, ("bag",), duration_s=1.5)
    mcap = bag_to_ros1_mcap(bags["bag"], folder / "synth_ros1.mcap")
    return bags["bag"], mcap, rig


def test_same_topics_messages_and_records_as_the_bag(logs: tuple[Path, Path, Path]) -> None:
    bag, mcap, _ = logs
    with open_bags(bag) as a, open_bags(mcap) as b:
        assert b.ros1 and b.format_name == "ROS 1 MCAP" and a.format_name == "ROS 1 bag"
        assert {t: (i.msgtype, i.count, i.kind, i.frame_id) for t, i in a.topics.items()} == {
            t: (i.msgtype, i.count, i.kind, i.frame_id) for t, i in b.topics.items()
        }
        ra, rb = list(a.messages()), list(b.messages())
        assert [(m.topic, m.index, m.record_time_ns, bytes(m.data)) for m in ra] == [
            (m.topic, m.index, m.record_time_ns, bytes(m.data)) for m in rb
        ]
        topics = list(a.topics)
        sa, sb = a.stamps(topics), b.stamps(topics)
        for t in topics:
            assert np.array_equal(sa[t][0], sb[t][0]) and np.array_equal(sa[t][1], sb[t][1])
        kinds = {type(b.decode(m)) for m in rb}
        assert PointCloud in kinds and ImuSample in kinds
        for ma, mb in zip(ra, rb, strict=True):
            da, db = a.decode(ma), b.decode(mb)
            if isinstance(da, PointCloud):
                assert isinstance(db, PointCloud)
                assert np.array_equal(da.xyz, db.xyz) and np.array_equal(da.point_time_ns, db.point_time_ns)


def test_inspect_says_ros1_mcap(logs: tuple[Path, Path, Path]) -> None:
    from fusion.readers.inspect import inspect_bags

    summary = inspect_bags(logs[1])
    assert summary["format"] == "ros1" and summary["format_name"] == "ROS 1 MCAP"
    assert summary["message_count"] == sum(t["count"] for t in summary["topics"].values()) > 0


def test_messages_written_from_rosbags_objects(tmp_path: Path) -> None:
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS1_NOETIC)
    Imu_ = store.types["sensor_msgs/msg/Imu"]
    Header = store.types["std_msgs/msg/Header"]
    Time = store.types["builtin_interfaces/msg/Time"]
    V3 = store.types["geometry_msgs/msg/Vector3"]
    Q = store.types["geometry_msgs/msg/Quaternion"]
    msgs = []
    for i in range(20):
        t = 1_700_000_000_000_000_000 + i * 10_000_000
        m = Imu_(Header(i, Time(t // 10**9, t % 10**9), "imu"), Q(0.0, 0.0, 0.0, 1.0), np.zeros(9),
                 V3(0.1 * i, 0.0, 0.0), np.zeros(9), V3(0.0, 0.0, 9.81), np.zeros(9))
        msgs.append(("/imu", "sensor_msgs/msg/Imu", t + 1000, m))
    path = write_ros1_mcap(tmp_path / "imu.mcap", store, msgs)
    with open_bags(path) as src:
        assert src.ros1 and src.topics["/imu"].count == 20 and src.topics["/imu"].frame_id == "imu"
        recs = [src.decode(r) for r in src.messages()]
    assert [r.meta.stamp_ns for r in recs] == [m[2] - 1000 for m in msgs]
    assert np.allclose([r.angular_velocity_radps[0] for r in recs], [0.1 * i for i in range(20)])


def test_cut_ros1_mcap_reads_what_precedes_the_damage(logs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    from fusion.errors import TruncatedBagError

    _, mcap, _ = logs
    cut = tmp_path / "cut.mcap"
    data = mcap.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    n = 0
    with open_bags(cut) as src, pytest.raises(TruncatedBagError):
        assert src.ros1
        for _ in src.messages():
            n += 1
    assert n > 0


@pytest.mark.slow
def test_convert_ros1_mcap_equals_the_bag(logs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    bag, mcap, rig = logs
    stores = {}
    for name, path in (("bag", bag), ("mcap", mcap)):
        store = tmp_path / f"{name}.zarr"
        res = subprocess.run([*FUSION, "convert", str(path), "-o", str(store), "--rig", str(rig)],
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr
        assert validate_store(str(store)).ok
        stores[name] = fusion.open(str(store))
    insp = subprocess.run([*FUSION, "inspect", str(mcap)], capture_output=True, text=True, timeout=300)
    assert insp.returncode == 0 and "ROS 1 MCAP" in insp.stdout, insp.stderr
    a, b = stores["bag"], stores["mcap"]
    assert len(a) == len(b) > 0
    lidars = [n for n, s in a.sensors.items() if s.kind == "lidar"]
    assert lidars and set(a.sensors) == set(b.sensors)
    for i in range(len(a)):
        fa, fb = a[i], b[i]
        for name in lidars:
            la, lb = fa.lidar[name], fb.lidar[name]
            assert np.array_equal(la.xyz, lb.xyz) and np.array_equal(la.time_ns, lb.time_ns)
