"""Reading synthetic bags back with rosbags: topics, types, counts, timing, payload equality."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from rosbags.interfaces import QosDurability

from fusion.testing.synth import SynthConfig, generate, load_truth

TOPICS = {
    "/lidar/points": "sensor_msgs/msg/PointCloud2",
    "/camera/front/image/compressed": "sensor_msgs/msg/CompressedImage",
    "/camera/front/camera_info": "sensor_msgs/msg/CameraInfo",
    "/camera/left/image_raw": "sensor_msgs/msg/Image",
    "/camera/left/camera_info": "sensor_msgs/msg/CameraInfo",
    "/radar/front/points": "sensor_msgs/msg/PointCloud2",
    "/imu/data": "sensor_msgs/msg/Imu",
    "/odom": "nav_msgs/msg/Odometry",
    "/tf": "tf2_msgs/msg/TFMessage",
    "/tf_static": "tf2_msgs/msg/TFMessage",
}
# 1.0 s log: sweeps floor(1.0*10); periodic streams: phase + k/rate < 1 s
EXPECTED_COUNTS = {
    "/lidar/points": 10, "/camera/front/image/compressed": 15, "/camera/front/camera_info": 15,
    "/camera/left/image_raw": 12, "/camera/left/camera_info": 12, "/radar/front/points": 13,
    "/imu/data": 200, "/odom": 50, "/tf": 50, "/tf_static": 1,
}
OFFSETS = {"lidar_top": 4_000_000, "camera_front": -2_500_000, "imu": 1_234_567, "odom": 700_000}
CLOCK = {"/lidar/points": "lidar_top", "/camera/front/image/compressed": "camera_front",
         "/camera/front/camera_info": "camera_front", "/camera/left/image_raw": "camera_left",
         "/camera/left/camera_info": "camera_left", "/radar/front/points": "radar_front",
         "/imu/data": "imu", "/odom": "odom", "/tf": "odom", "/tf_static": "odom"}


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory):
    cfg = SynthConfig(duration_s=1.0, seed=3, lidar_beams=16, lidar_columns=256, image_width=160,
                      image_height=120, clock_offsets_ns=OFFSETS)
    out = generate(cfg, tmp_path_factory.mktemp("synth_bags"))
    return out, load_truth(out.truth_path)


def read_all(path: Path) -> dict[str, list[tuple[int, object, bytes, str]]]:
    """topic -> [(record_ns, deserialized msg, raw bytes, msgtype)] in record order."""
    out: dict[str, list[tuple[int, object, bytes, str]]] = {}
    with AnyReader([path]) as reader:
        for conn, ts, raw in reader.messages():
            out.setdefault(conn.topic, []).append((ts, reader.deserialize(raw, conn.msgtype), bytes(raw),
                                                   conn.msgtype))
    return out


def stamp_ns(msg: object) -> int:
    h = msg.header  # type: ignore[attr-defined]
    return int(h.stamp.sec) * 1_000_000_000 + int(h.stamp.nanosec)


@pytest.mark.parametrize("fmt", ["bag", "db3", "mcap"])
def test_topics_types_counts(log, fmt: str) -> None:
    out, truth = log
    path = out.bags[fmt]
    assert path.exists()
    if fmt != "bag":
        assert (path / "metadata.yaml").is_file()
        assert len([p for p in path.iterdir() if p.suffix in (".db3", ".mcap")]) == 1
    with AnyReader([path]) as reader:
        got = {c.topic: c.msgtype for c in reader.connections}
        counts = {t: sum(c.msgcount for c in reader.connections if c.topic == t) for t in got}
        static = next(c for c in reader.connections if c.topic == "/tf_static")
        if fmt == "bag":
            assert static.ext.latching == 1
        else:
            assert static.ext.offered_qos_profiles[0].durability == QosDurability.TRANSIENT_LOCAL
    assert got == TOPICS
    assert counts == EXPECTED_COUNTS
    assert truth.counts() == EXPECTED_COUNTS
    assert out.counts == EXPECTED_COUNTS


@pytest.mark.parametrize("fmt", ["bag", "db3", "mcap"])
def test_stamps_and_record_times_equal_truth(log, fmt: str) -> None:
    out, truth = log
    msgs = read_all(out.bags[fmt])
    lo, hi = truth.config.latency_ns
    for topic, rows in msgs.items():
        table = truth.messages(topic)
        rec = np.array([r[0] for r in rows], dtype=np.int64)
        np.testing.assert_array_equal(rec, table.record_time_ns)
        np.testing.assert_array_equal(table.index, np.arange(len(rows)))
        if topic in ("/tf", "/tf_static"):
            stamps = np.array([stamp_ns(r[1].transforms[0]) for r in rows])
        else:
            stamps = np.array([stamp_ns(r[1]) for r in rows])
        np.testing.assert_array_equal(stamps, table.stamp_ns)
        # header stamp = true time - configured clock offset (common = stamp + offset)
        offset = OFFSETS.get(CLOCK[topic], 0)
        np.testing.assert_array_equal(table.stamp_ns, table.true_time_ns - offset)
        assert truth.time_offsets_ns[CLOCK[topic]] == offset
        latency = table.record_time_ns - table.true_time_ns
        assert latency.min() >= lo and latency.max() <= hi + 2 * len(rows)
        assert np.all(np.diff(table.record_time_ns) > 0)
    # latencies are really random within [2, 30] ms, so aligning by record time is wrong by ms
    lat = truth.messages("/imu/data").record_time_ns - truth.messages("/imu/data").true_time_ns
    assert lat.std() > 3e6


def test_ros1_and_ros2_payloads_identical(log) -> None:
    out, _ = log
    a, b, c = (read_all(out.bags[f]) for f in ("bag", "db3", "mcap"))
    for topic in TOPICS:
        raw_b = [r[2] for r in b[topic]]
        assert raw_b == [r[2] for r in c[topic]]  # both CDR
        for (_, m1, _, _), (_, m2, _, _) in zip(a[topic], b[topic]):
            if hasattr(m1, "data"):
                assert bytes(m1.data) == bytes(m2.data)
            if hasattr(m1, "header"):
                assert stamp_ns(m1) == stamp_ns(m2) and m1.header.frame_id == m2.header.frame_id
        if topic == "/imu/data":
            acc1 = np.array([[m.linear_acceleration.x, m.linear_acceleration.y, m.linear_acceleration.z]
                             for _, m, _, _ in a[topic]])
            acc2 = np.array([[m.linear_acceleration.x, m.linear_acceleration.y, m.linear_acceleration.z]
                             for _, m, _, _ in b[topic]])
            np.testing.assert_array_equal(acc1, acc2)


def test_frames_and_camera_info(log) -> None:
    out, truth = log
    msgs = read_all(out.bags["mcap"])
    assert {m.header.frame_id for _, m, _, _ in msgs["/lidar/points"]} == {"lidar_top"}
    assert {m.header.frame_id for _, m, _, _ in msgs["/camera/front/image/compressed"]} == {"camera_front_optical"}
    assert {m.header.frame_id for _, m, _, _ in msgs["/camera/left/image_raw"]} == {"camera_left_optical"}
    assert {m.header.frame_id for _, m, _, _ in msgs["/radar/front/points"]} == {"radar_front"}
    assert {m.header.frame_id for _, m, _, _ in msgs["/imu/data"]} == {"imu_link"}
    odom = msgs["/odom"][0][1]
    assert odom.header.frame_id == "odom" and odom.child_frame_id == "base_link"
    info = msgs["/camera/front/camera_info"][0][1]
    K = truth.camera("camera_front")["K"]
    np.testing.assert_array_equal(info.k.reshape(3, 3), K)
    assert K[0, 0] == 500.0 * 160 / 640 and K[0, 2] == 80.0 and K[1, 2] == 60.0
    np.testing.assert_array_equal(info.d, [-0.05, 0.01, 0.0005, -0.0005, 0.0])
    assert info.distortion_model == "plumb_bob" and (info.width, info.height) == (160, 120)
    left = msgs["/camera/left/camera_info"][0][1]
    assert left.k[0] == 450.0 * 160 / 640 and not np.any(left.d)
    img = msgs["/camera/left/image_raw"][0][1]
    assert img.encoding == "bgr8" and img.step == 480 and img.data.size == 160 * 120 * 3
    jpg = msgs["/camera/front/image/compressed"][0][1]
    assert jpg.format == "jpeg" and cv2.imdecode(jpg.data, cv2.IMREAD_COLOR).shape == (120, 160, 3)


def test_tf_static_chain_equals_truth_extrinsics(log) -> None:
    out, truth = log
    from scipy.spatial.transform import Rotation

    tf = read_all(out.bags["bag"])["/tf_static"][0][1]
    edges = {}
    for t in tf.transforms:
        T = np.eye(4)
        q = t.transform.rotation
        T[:3, :3] = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()
        T[:3, 3] = [t.transform.translation.x, t.transform.translation.y, t.transform.translation.z]
        edges[t.child_frame_id] = (t.header.frame_id, T)

    def chain(frame: str) -> np.ndarray:
        parent, T = edges[frame]
        return T if parent == "base_link" else chain(parent) @ T

    assert edges["camera_front_optical"][0] == "camera_front"
    for name in truth.sensor_names:
        np.testing.assert_allclose(chain(truth.frame_id(name)), truth.T_base_sensor(name), atol=1e-12)
    # optical frame of the front camera: z = base x, x = -base y, y = -base z
    np.testing.assert_array_equal(truth.T_base_sensor("camera_front")[:3, :3],
                                  [[0, 0, 1], [-1, 0, 0], [0, -1, 0]])
    np.testing.assert_array_equal(truth.T_base_sensor("camera_left")[:3, :3], [[1, 0, 0], [0, 0, 1], [0, -1, 0]])
