"""open_bags core API on bags written with rosbags writers, in all three formats."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_readers_util import FORMATS, NS, T0, header, mk, pointcloud2, store_for, write_bag

from fusion.errors import (
    BagError,
    BagNotFoundError,
    ConfigError,
    DecodeError,
    EmptyBagError,
    MessageTypeError,
    UnsupportedBagError,
)
from fusion.readers import BagSource, open_bags, reorder_by_stamp
from fusion.readers.records import ImuSample, PointCloud, PoseSample, SensorKind, TransformBatch

N_IMU = 20
N_LIDAR = 4
IMU_LAT = 3_000_000  # record = stamp + 3 ms
LIDAR_LAT = 40_000_000


def imu_msg(store: Any, stamp: int, i: int) -> Any:
    v3 = store.types["geometry_msgs/msg/Vector3"]
    return mk(
        store,
        "sensor_msgs/msg/Imu",
        header=header(store, stamp, "/imu_link"),
        orientation=mk(store, "geometry_msgs/msg/Quaternion", x=0.0, y=0.0, z=0.0, w=1.0),
        orientation_covariance=np.array([-1.0] + [0.0] * 8),
        angular_velocity=v3(x=0.1 * i, y=0.0, z=0.0),
        angular_velocity_covariance=np.zeros(9),
        linear_acceleration=v3(x=0.0, y=0.0, z=9.81),
        linear_acceleration_covariance=np.zeros(9),
    )


def lidar_msg(store: Any, stamp: int) -> Any:
    dt = np.dtype(
        {"names": ["x", "y", "z", "t"], "formats": ["f4", "f4", "f4", "u4"], "offsets": [0, 4, 8, 12], "itemsize": 16}
    )
    pts = np.zeros(8, dtype=dt)
    pts["x"] = np.arange(8)
    pts["t"] = np.arange(8) * 1000
    return pointcloud2(store, stamp, "lidar_top", pts)


def tf_msg(store: Any, stamp: int) -> Any:
    ts = mk(
        store,
        "geometry_msgs/msg/TransformStamped",
        header=header(store, stamp, "odom"),
        child_frame_id="base_link",
        transform=mk(
            store,
            "geometry_msgs/msg/Transform",
            translation=store.types["geometry_msgs/msg/Vector3"](x=1.0, y=2.0, z=3.0),
            rotation=mk(store, "geometry_msgs/msg/Quaternion", x=0.0, y=0.0, z=0.0, w=1.0),
        ),
    )
    return mk(store, "tf2_msgs/msg/TFMessage", transforms=[ts])


def scenario(fmt: str) -> list[tuple[str, str, int, Any]]:
    store = store_for(fmt)
    msgs = []
    for i in range(N_IMU):
        s = T0 + i * 10_000_000
        msgs.append(("/imu/data", "sensor_msgs/msg/Imu", s + IMU_LAT, imu_msg(store, s, i)))
    for i in range(N_LIDAR):
        s = T0 + i * 50_000_000
        msgs.append(("/lidar/points", "sensor_msgs/msg/PointCloud2", s + LIDAR_LAT, lidar_msg(store, s)))
        msgs.append(("/tf", "tf2_msgs/msg/TFMessage", s + 1, tf_msg(store, s)))
    msgs.sort(key=lambda m: m[2])
    return msgs


@pytest.fixture(scope="module", params=FORMATS)
def bag(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    fmt = request.param
    return write_bag(tmp_path_factory.mktemp(fmt) / "log", fmt, store_for(fmt), scenario(fmt))


def test_topics_counts_kinds_frames(bag: Path) -> None:
    with open_bags([bag]) as src:
        assert isinstance(src, BagSource)
        topics = src.topics
        assert set(topics) == {"/imu/data", "/lidar/points", "/tf"}
        assert topics["/imu/data"].count == N_IMU and topics["/imu/data"].kind is SensorKind.IMU
        assert topics["/imu/data"].frame_id == "imu_link"  # leading slash dropped
        assert topics["/lidar/points"].kind is SensorKind.LIDAR and topics["/lidar/points"].frame_id == "lidar_top"
        assert topics["/tf"].kind is SensorKind.TF and topics["/tf"].count == N_LIDAR


def test_messages_record_order_index_and_filter(bag: Path) -> None:
    with open_bags(bag) as src:
        allm = list(src.messages())
        assert len(allm) == N_IMU + 2 * N_LIDAR
        times = [m.record_time_ns for m in allm]
        assert times == sorted(times)
        imu = [m for m in allm if m.topic == "/imu/data"]
        assert [m.index for m in imu] == list(range(N_IMU))
        only = list(src.messages(["/lidar/points"]))
        assert [m.topic for m in only] == ["/lidar/points"] * N_LIDAR
        assert [m.index for m in only] == list(range(N_LIDAR))
        with pytest.raises(ConfigError, match="/nope"):
            list(src.messages(["/nope"]))


def test_stamps_fast_path_matches_full_decode(bag: Path) -> None:
    with open_bags(bag) as src:
        st = src.stamps(["/imu/data", "/lidar/points", "/tf"])
        stamp, rec = st["/imu/data"]
        assert stamp.dtype == np.int64 and rec.dtype == np.int64
        np.testing.assert_array_equal(stamp, T0 + np.arange(N_IMU) * 10_000_000)
        np.testing.assert_array_equal(rec - stamp, np.full(N_IMU, IMU_LAT))
        np.testing.assert_array_equal(st["/lidar/points"][0], T0 + np.arange(N_LIDAR) * 50_000_000)
        np.testing.assert_array_equal(st["/tf"][0], T0 + np.arange(N_LIDAR) * 50_000_000)  # first transform
        decoded = [src.decode(m).meta.stamp_ns for m in src.messages(["/imu/data"])]
        np.testing.assert_array_equal(stamp, decoded)
        assert src.corrupt_stamps == {}


def test_decode_records(bag: Path) -> None:
    with open_bags(bag) as src:
        recs = {m.topic: src.decode(m) for m in src.messages()}
        imu = recs["/imu/data"]
        assert isinstance(imu, ImuSample) and imu.orientation_xyzw is None
        np.testing.assert_allclose(imu.angular_velocity_radps, [0.1 * (N_IMU - 1), 0, 0])
        pc = recs["/lidar/points"]
        assert isinstance(pc, PointCloud) and pc.time_convention == "ouster_t"
        assert pc.point_time_ns is not None
        np.testing.assert_array_equal(pc.point_time_ns - pc.meta.stamp_ns, np.arange(8) * 1000)
        tf = recs["/tf"]
        assert isinstance(tf, TransformBatch) and not tf.static
        assert isinstance(tf.transforms[0], PoseSample)
        assert (tf.transforms[0].parent_frame, tf.transforms[0].child_frame) == ("odom", "base_link")
        np.testing.assert_array_equal(tf.transforms[0].translation_m, [1, 2, 3])


def test_corrupt_message_stamp_zero_and_decode_error(tmp_path: Path) -> None:
    for fmt in FORMATS:
        store = store_for(fmt)
        good = imu_msg(store, T0, 0)
        data = bytes(
            store.serialize_ros1(good, "sensor_msgs/msg/Imu")
            if fmt == "bag"
            else store.serialize_cdr(good, "sensor_msgs/msg/Imu")
        )
        imu = ("/imu/data", "sensor_msgs/msg/Imu")
        msgs = [(*imu, T0 + 1, data), (*imu, T0 + 2, data[:10]),
                ("/imu/data", "sensor_msgs/msg/Imu", T0 + 3, data[:40])]  # fmt: skip
        path = write_bag(tmp_path / f"c{fmt}", fmt, store, msgs, raw=True)
        with open_bags(path) as src:
            stamp, _ = src.stamps(["/imu/data"])["/imu/data"]
            np.testing.assert_array_equal(stamp, [T0, 0, T0])  # 40 bytes still hold the header stamp
            assert src.corrupt_stamps == {"/imu/data": [1]}
            raws = list(src.messages())
            assert isinstance(src.decode(raws[0]), ImuSample)
            for bad in raws[1:]:
                with pytest.raises(DecodeError) as err:
                    src.decode(bad)
                assert err.value.topic == "/imu/data" and err.value.index == bad.index
                assert str(bad.record_time_ns) in str(err.value)


def test_split_ros1_bags_form_one_log(tmp_path: Path) -> None:
    store = store_for("bag")
    msgs = scenario("bag")
    a = write_bag(tmp_path / "a", "bag", store, msgs[::2])
    b = write_bag(tmp_path / "b", "bag", store, msgs[1::2])
    with open_bags([b, a]) as src:
        got = list(src.messages())
        assert [m.record_time_ns for m in got] == [m[2] for m in msgs]
        assert src.topics["/imu/data"].count == N_IMU
        assert [m.index for m in got if m.topic == "/imu/data"] == list(range(N_IMU))


def test_split_ros2_files_without_metadata(tmp_path: Path) -> None:
    store = store_for("mcap")
    msgs = scenario("mcap")
    d = tmp_path / "split"
    d.mkdir()
    write_bag(tmp_path / "p0", "mcap", store, msgs[: len(msgs) // 2])
    write_bag(tmp_path / "p1", "mcap", store, msgs[len(msgs) // 2 :])
    (tmp_path / "p0" / "p0.mcap").rename(d / "x_0.mcap")
    (tmp_path / "p1" / "p1.mcap").rename(d / "x_1.mcap")
    with open_bags(d) as src:
        assert [m.record_time_ns for m in src.messages()] == [m[2] for m in msgs]


def test_reorder_by_stamp_bounded_window() -> None:
    class R:
        def __init__(self, s: int) -> None:
            self.meta = type("M", (), {"stamp_ns": s})()

    stamps = [0, 20, 10, 30, 25, 40, 100, 35, 110]
    out = [r.meta.stamp_ns for r in reorder_by_stamp((R(s) for s in stamps), window_ns=15)]
    assert out == [0, 10, 20, 25, 30, 40, 35, 100, 110]  # 35 is 65 late: beyond the window, emitted asap
    out = [r.meta.stamp_ns for r in reorder_by_stamp((R(s) for s in stamps), window_ns=100)]
    assert out == sorted(stamps)


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(BagNotFoundError, match=r"missing\.bag"):
        open_bags(tmp_path / "missing.bag")
    (tmp_path / "empty.bag").write_bytes(b"")
    with pytest.raises(EmptyBagError, match=r"empty\.bag"):
        open_bags(tmp_path / "empty.bag")
    (tmp_path / "notabag").mkdir()
    (tmp_path / "notabag" / "readme.txt").write_text("hi")
    with pytest.raises(BagError, match="not a bag directory"):
        open_bags(tmp_path / "notabag")
    (tmp_path / "junk.bag").write_bytes(b"hello world, not a bag")
    with pytest.raises(UnsupportedBagError, match=r"junk\.bag"):
        open_bags(tmp_path / "junk.bag")
    for fmt in FORMATS:
        path = write_bag(tmp_path / f"e{fmt}", fmt, store_for(fmt), [])
        with pytest.raises(EmptyBagError, match=re.escape(path.name)):
            open_bags(path)


CUSTOM = "float64 value\nstring label\n"


def test_missing_type_definition_and_msg_dir(tmp_path: Path) -> None:
    """A db3 bag written without definitions for a custom type: MessageTypeError, fixed by msg_dirs."""
    store = store_for("db3")
    store.register(dict(__import__("rosbags.typesys", fromlist=["x"]).get_types_from_msg(CUSTOM, "my_pkg/msg/Reading")))
    msg = mk(store, "my_pkg/msg/Reading", value=2.5, label="a")
    out = tmp_path / "custom"
    from rosbags.rosbag2 import Writer

    with Writer(out, version=9) as w:
        c = w.add_connection("/reading", "my_pkg/msg/Reading", typestore=store)
        w.write(c, T0, store.serialize_cdr(msg, "my_pkg/msg/Reading"))
    db = sqlite3.connect(next(out.glob("*.db3")))  # like a pre-Iron bag: no embedded definitions
    db.execute("DELETE FROM message_definitions")
    db.commit()
    db.close()
    with open_bags(out) as src:
        assert "no definition" in src.topics["/reading"].type_error
        raw = next(src.messages())
        with pytest.raises(MessageTypeError, match=r"/reading.*my_pkg/msg/Reading") as err:
            src.decode(raw)
        assert isinstance(err.value, DecodeError)  # conversion skips it as one undecodable message
        assert err.value.reason == str(err.value)  # the report text the pipeline wrote before (str(exc))
        with pytest.raises(MessageTypeError, match="my_pkg/msg/Reading"):
            src.stamps(["/reading"])
    pkg = tmp_path / "msgs" / "my_pkg" / "msg"
    pkg.mkdir(parents=True)
    (pkg / "Reading.msg").write_text(CUSTOM)
    with open_bags(out, msg_dirs=[tmp_path / "msgs"]) as src:
        rec = src.decode(next(src.messages()))
        assert rec.meta.stamp_ns == 0 and src.topics["/reading"].type_error == ""
        assert src.deserialize(next(src.messages())).value == 2.5


def test_stream_iterates_lazily(bag: Path) -> None:
    """messages() is a generator: stopping early reads nothing more, and the source stays usable."""
    with open_bags(bag) as src:
        gen = src.messages()
        first = next(gen)
        gen.close()
        assert first.record_time_ns == min(m.record_time_ns for m in src.messages())


def test_ros1_many_connections_same_topic(tmp_path: Path) -> None:
    store = store_for("bag")
    from rosbags.rosbag1 import Writer

    path = tmp_path / "two.bag"
    with Writer(path) as w:
        c1 = w.add_connection("/imu/data", "sensor_msgs/msg/Imu", typestore=store, callerid="/a")
        c2 = w.add_connection("/imu/data", "sensor_msgs/msg/Imu", typestore=store, callerid="/b")
        for i in range(6):
            w.write(
                c1 if i % 2 else c2,
                T0 + i * NS,
                store.serialize_ros1(imu_msg(store, T0 + i * NS, i), "sensor_msgs/msg/Imu"),
            )
    with open_bags(path) as src:
        assert src.topics["/imu/data"].connections == 2 and src.topics["/imu/data"].count == 6
        assert [m.index for m in src.messages()] == list(range(6))


def test_open_restricted_to_topics(bag: Path) -> None:
    with open_bags(bag, topics=["/imu/data"]) as src:
        assert set(src.topics) == {"/imu/data"}
        assert [m.topic for m in src.messages()] == ["/imu/data"] * N_IMU
    with pytest.raises(ConfigError, match="/nope"):
        open_bags(bag, topics=["/nope"])
    with open_bags(bag) as src:
        assert list(src.messages([])) == []


@pytest.mark.parametrize("compression", ["zstd", "lz4", "none"])
def test_mcap_from_other_tools_with_empty_profile(tmp_path: Path, compression: str) -> None:
    """An MCAP written by the mcap library (profile "", cdr messages, ros2msg schema) is read in full."""
    from mcap.writer import CompressionType, Writer

    store = store_for("mcap")
    msgdef, _ = store.generate_msgdef("sensor_msgs/msg/Imu", ros_version=2)
    path = tmp_path / "other.mcap"
    comp = {"zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4, "none": CompressionType.NONE}[compression]
    sent = []
    with path.open("wb") as f:
        w = Writer(f, compression=comp, chunk_size=2048)
        w.start(profile="")
        sid = w.register_schema("sensor_msgs/msg/Imu", "ros2msg", msgdef.encode())
        cid = w.register_channel("/imu/data", "cdr", sid)
        for i in range(N_IMU):
            s = T0 + i * 10_000_000
            data = bytes(store.serialize_cdr(imu_msg(store, s, i), "sensor_msgs/msg/Imu"))
            w.add_message(cid, log_time=s + IMU_LAT, data=data, publish_time=s)
            sent.append((s + IMU_LAT, data))
        w.finish()
    with open_bags(path) as src:
        assert src.topics["/imu/data"].count == N_IMU and src.topics["/imu/data"].kind is SensorKind.IMU
        got = [(m.record_time_ns, bytes(m.data)) for m in src.messages()]
        assert got == sent
        rec = src.decode(next(src.messages()))
        assert isinstance(rec, ImuSample) and rec.meta.stamp_ns == T0


def _reading_bag(path: Path, definition: str, **fields: object) -> Path:
    """A db3 bag with one my_pkg/msg/Reading message and its definition embedded."""
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import get_types_from_msg

    store = store_for("db3")
    store.register(dict(get_types_from_msg(definition, "my_pkg/msg/Reading")))
    with Writer(path, version=9) as w:
        c = w.add_connection("/reading", "my_pkg/msg/Reading", typestore=store)
        w.write(c, T0, store.serialize_cdr(mk(store, "my_pkg/msg/Reading", **fields), "my_pkg/msg/Reading"))
    return path


def test_typestores_are_shared_by_identical_definitions_only(tmp_path: Path) -> None:
    """Logs with the same definitions share one typestore; a redefined type gets its own."""
    a = _reading_bag(tmp_path / "a", CUSTOM, value=2.5, label="a")
    b = _reading_bag(tmp_path / "b", CUSTOM + "uint8 extra\n", value=1.5, label="b", extra=7)
    with open_bags(a) as s1, open_bags(a) as s2, open_bags(b) as s3:
        assert s1.registry.store is s2.registry.store
        assert s3.registry.store is not s1.registry.store
        assert s3.deserialize(next(s3.messages())).extra == 7
        m1 = s1.deserialize(next(s1.messages()))
        assert (m1.value, m1.label) == (2.5, "a") and not hasattr(m1, "extra")


def test_rosbags_store_is_loaded_only_for_a_type_the_bag_does_not_define(bag: Path) -> None:
    """Opening a bag that embeds every definition (ROS 1 headers, MCAP schemas) skips rosbags' bundled
    store (it imports every ROS 2 distribution's types: ≈ 70 ms); a bag without them loads it."""
    from rosbags.interfaces import MessageDefinition, MessageDefinitionFormat

    from fusion.readers import typesys

    with open_bags(bag) as src:
        conns = [c for group in src._conns for c in group]
        want = {c.msgtype for c in conns}
        embedded = all(c.msgdef.format != MessageDefinitionFormat.NONE for c in conns)
    typesys._fallback_types.cache_clear()
    reg = typesys.build_registry(conns, ros1=bag.suffix == ".bag")
    assert not reg.missing and want <= set(reg.store.fielddefs)
    assert typesys._fallback_types.cache_info().currsize == (0 if embedded else 1)
    none = MessageDefinition(MessageDefinitionFormat.NONE, "")
    bare = [c._replace(msgdef=none) for c in conns if c.msgtype == "sensor_msgs/msg/Imu"]  # as old db3 bags
    reg = typesys.build_registry(bare, ros1=bag.suffix == ".bag")
    assert bare and not reg.missing and "sensor_msgs/msg/Imu" in reg.store.fielddefs
    assert typesys._fallback_types.cache_info().currsize == 1
