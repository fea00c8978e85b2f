"""Every real bag and edge fixture in ../shared/data is read or fails with one clear FusionError."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fusion.errors import (
    BagError,
    DecodeError,
    EmptyBagError,
    FusionError,
    UnsupportedBagError,
)
from fusion.readers import open_bags
from fusion.readers.records import CameraImage, PointCloud, RadarDetections, SensorKind

REAL = [
    "embag_luminar_lidar.bag",
    "fiducials_aruco_marker_clock_skew.bag",
    "fiducials_board_camera_jpeg.bag",
    "fiducials_camera_jpeg.bag",
    "husky_imu_odom_gps.bag",
    "jsk_watercan_tf_rgb_pointcloud.bag",
    "nobleo_gps.bag",
    "rio_ti_mmwave_radar_imu.bag",
    "sick_rms1xxx_radar_lms1xx_lidar2d.bag",
]


def read_all(path: Path) -> tuple[int, dict[str, int], dict[str, str]]:
    """Decode every message: (messages, per-topic counts, topic -> first failure reason)."""
    counts: dict[str, int] = {}
    failures: dict[str, str] = {}
    n = 0
    with open_bags(path) as src:
        for raw in src.messages():
            n += 1
            counts[raw.topic] = counts.get(raw.topic, 0) + 1
            try:
                src.decode(raw)
            except DecodeError as exc:
                failures.setdefault(raw.topic, str(exc))
        for topic, info in src.topics.items():
            assert counts.get(topic, 0) == info.count, f"{path}: {topic} index says {info.count}"
    return n, counts, failures


@pytest.mark.parametrize("name", REAL)
def test_real_bags_decode_completely(shared_data: Path, name: str) -> None:
    n, _counts, failures = read_all(shared_data / "real" / name)
    assert n > 0
    assert failures == {}


def test_real_bag_specifics(shared_data: Path) -> None:
    real = shared_data / "real"
    with open_bags(real / "rio_ti_mmwave_radar_imu.bag") as src:
        info = src.topics["/ti_mmwave/radar_scan_pcl"]
        assert info.kind is SensorKind.RADAR and info.count == 412
        stamps, rec = src.stamps(["/ti_mmwave/radar_scan_pcl"])["/ti_mmwave/radar_scan_pcl"]
        assert (stamps == 0).all() and (rec > 1.6e18).all()
        radar = src.decode(next(src.messages(["/ti_mmwave/radar_scan_pcl"])))
        assert isinstance(radar, RadarDetections) and radar.xyz.shape[1] == 3 and "intensity" in radar.fields
        trig, trig_rec = src.stamps(["/sensor_platform/radar_right/trigger"])["/sensor_platform/radar_right/trigger"]
        lag_days = np.median(trig_rec - trig) / 86400e9
        assert 3.9 < lag_days < 3.95  # the platform clock ~3.92 days behind record time
    with open_bags(real / "embag_luminar_lidar.bag") as src:
        pc = src.decode(next(src.messages(["/luminar_pointcloud"])))
        assert isinstance(pc, PointCloud) and pc.time_convention == "luminar_time_sec_nsec"
        assert pc.point_time_ns is not None
        sweep = pc.point_time_ns.max() - pc.point_time_ns.min()
        assert 0 < sweep < 200_000_000  # one sweep, < 0.2 s
        np.testing.assert_array_equal(
            pc.point_time_ns, pc.fields["time_sec"].astype(np.int64) * 10**9 + pc.fields["time_nsec"]
        )
    with open_bags(real / "husky_imu_odom_gps.bag") as src:
        assert src.topics["/fix"].frame_id == "gps"  # leading slash removed
        stamp, rec = src.stamps(["/imu/data"])["/imu/data"]
        assert 0.015 < np.median(rec - stamp) / 1e9 < 0.035  # IMU stamps ~25 ms before record time
    with open_bags(real / "fiducials_board_camera_jpeg.bag") as src:
        assert "raspicam_node/camera/image/compressed" in src.topics  # no leading slash, kept as is
        img = src.decode(next(src.messages(["raspicam_node/camera/image/compressed"])))
        assert isinstance(img, CameraImage) and img.compressed and bytes(img.data[:2]) == b"\xff\xd8"
    with open_bags(real / "jsk_watercan_tf_rgb_pointcloud.bag") as src:
        tf = src.topics["/tf"]
        assert tf.connections == 6 and set(tf.msgtype.split("|")) == {"tf/msg/tfMessage", "tf2_msgs/msg/TFMessage"}
        stamp, _ = src.stamps(["/tf"])["/tf"]
        assert int(np.sum(np.diff(stamp) < 0)) > 500  # the documented non-monotonic stamps


EDGE_OK = {
    "ros1/embag_two_connections_no_slash.bag": 2,
    "ros1/robot_localization_simtime.bag": 6121,
    "ros1/rosbagjs_example-bz2.bag": 8647,
    "ros1/rosbagjs_example-lz4.bag": 8647,
    "ros1/rosbagjs_example-unsorted-chunks.bag": 3,
    "ros1/rosbagjs_example.bag": 8647,
    "ros1/trajectory_toolkit_transforms.bag": 2130,
    "ros2/cdr_test_topic_order_mismatch": 7,
    "ros2/file_compression_zstd": 775,
    "ros2/message_compression_zstd": 1127,
    "ros2/only_services.mcap": 12,
    "ros2/ros2_dir_named_images.bag": 3,
    "ros2/service_events_mcap": 10,
    "ros2/split_no_metadata_mcap": 3177,
    "ros2/split_no_metadata_sqlite3": 3177,
    "ros2/split_wbag_mcap": 6074,
}
EDGE_ERR = {
    "ros1/rosbagjs_empty-file.bag": (EmptyBagError, "empty"),
    "ros1/rosbagjs_no-messages.bag": (EmptyBagError, "no messages"),
    "ros2/empty_bag": (EmptyBagError, "no messages"),
    "ros2/wrong_serialization_format_mcap": (UnsupportedBagError, "wrong_format"),
    "ros2/wrong_serialization_format_sqlite3": (UnsupportedBagError, "wrong_format"),
    "mcap/keelson_crlf_corrupted.mcap": (BagError, "damaged MCAP"),
    "mcap/keelson_valid_protobuf.mcap": (UnsupportedBagError, r"holds no ROS messages \(message encoding protobuf"),
}


@pytest.mark.parametrize("rel", sorted(EDGE_OK))
def test_edge_fixtures_read(shared_data: Path, rel: str) -> None:
    n, _counts, failures = read_all(shared_data / "edge" / rel)
    assert n == EDGE_OK[rel]
    for topic, why in failures.items():  # only types without any definition may fail, with a reason
        assert "cannot be decoded" in why and topic in why


def test_edge_fixture_quirks(shared_data: Path) -> None:
    edge = shared_data / "edge"
    _n, _c, failures = read_all(edge / "ros2/cdr_test_topic_order_mismatch")
    assert set(failures) == {"/array_topic", "/test_topic"}  # test_msgs defined nowhere: reported per topic
    _n, _c, failures = read_all(edge / "ros2/ros2_dir_named_images.bag")
    assert failures == {}
    with open_bags(edge / "ros1/robot_localization_simtime.bag") as src:
        _s, rec = src.stamps(["/imu/data"])["/imu/data"]
        assert 47e9 < rec[0] < 48e9  # simulated-time record clock starting at 47.6 s


@pytest.mark.parametrize("rel", sorted(EDGE_ERR))
def test_edge_fixtures_fail_clearly(shared_data: Path, rel: str) -> None:
    cls, pattern = EDGE_ERR[rel]
    path = shared_data / "edge" / rel
    with pytest.raises(cls, match=pattern) as err:
        open_bags(path)
    assert str(path) in str(err.value)


def test_mcap_conformance_suite(shared_data: Path) -> None:
    """NoData → EmptyBagError; files with messages are read and reported as holding no ROS messages,
    with the exact message count from the suite's expected records."""
    files = sorted((shared_data / "edge" / "mcap-conformance").glob("*/*.mcap"))
    assert len(files) > 400
    for path in files:
        expected = json.loads(path.with_suffix(".json").read_text())["records"]
        n_msgs = sum(r["type"] == "Message" for r in expected)
        with pytest.raises(FusionError) as err:
            open_bags(path)
        assert str(path) in str(err.value)
        if n_msgs == 0:
            assert isinstance(err.value, EmptyBagError), (path, err.value)
        else:
            assert isinstance(err.value, UnsupportedBagError), (path, err.value)
            assert f"message encoding a; {n_msgs} message(s)" in str(err.value), (path, err.value)
