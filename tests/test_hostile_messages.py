"""Messages that are well-formed bytes but not valid data: a zero quaternion in odometry, a 0 × 0 image, a
topic that was advertised but never published. Each is skipped (and counted) or left out with a warning,
never a traceback (they were ZeroDivisionError / IndexError before)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag1 import Writer
from rosbags.typesys import Stores, get_typestore

import fusion
from fusion.cli.main import main
from fusion.errors import DecodeError, NothingStoredError
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.convert import convert
from fusion.readers.records import CameraImage, MessageMeta, PoseSample

TS = get_typestore(Stores.ROS1_NOETIC)
T = TS.types
T0 = 1_700_000_000_000_000_000


def _hdr(k: int, t_ns: int, frame: str) -> object:
    return T["std_msgs/msg/Header"](seq=k, stamp=T["builtin_interfaces/msg/Time"](sec=t_ns // 10**9,
                                    nanosec=t_ns % 10**9), frame_id=frame)  # fmt: skip


def _bag(path: Path, *, quat_w: float = 1.0, camera: str | None = None) -> Path:
    """10 LiDAR sweeps at 10 Hz, odometry at 50 Hz (rotation w = ``quat_w``), optionally a camera topic:
    ``"empty"`` (advertised, no message) or ``"zero"`` (0 x 0 images)."""
    pf, pc2 = T["sensor_msgs/msg/PointField"], T["sensor_msgs/msg/PointCloud2"]
    g = "geometry_msgs/msg/"
    fields = [pf(name=n, offset=4 * i, datatype=7, count=1) for i, n in enumerate("xyz")]
    rng = np.random.default_rng(0)
    with Writer(path) as w:
        cloud = w.add_connection("/points", pc2.__msgtype__, typestore=TS)
        odom = w.add_connection("/odom", "nav_msgs/msg/Odometry", typestore=TS)
        cam = w.add_connection("/cam/image_raw", "sensor_msgs/msg/Image", typestore=TS) if camera else None
        for k in range(10):
            t = T0 + k * 100_000_000
            pts = rng.uniform(1, 20, size=(100, 3)).astype(np.float32)
            w.write(cloud, t, TS.serialize_ros1(pc2(header=_hdr(k, t, "lidar"), height=1, width=100, fields=fields,
                    is_bigendian=False, point_step=12, row_step=1200, data=pts.view(np.uint8).reshape(-1),
                    is_dense=True), pc2.__msgtype__))  # fmt: skip
            for j in range(5):
                tj = t + j * 20_000_000
                pose = T[g + "PoseWithCovariance"](pose=T[g + "Pose"](
                    position=T[g + "Point"](x=(tj - T0) / 1e9, y=0.0, z=0.0),
                    orientation=T[g + "Quaternion"](x=0.0, y=0.0, z=0.0, w=quat_w)), covariance=np.zeros(36))
                zero = T[g + "Vector3"](x=0.0, y=0.0, z=0.0)
                twist = T[g + "TwistWithCovariance"](twist=T[g + "Twist"](linear=zero, angular=zero),
                                                     covariance=np.zeros(36))
                w.write(odom, tj, TS.serialize_ros1(T["nav_msgs/msg/Odometry"](header=_hdr(k, tj, "odom"),
                        child_frame_id="base_link", pose=pose, twist=twist), "nav_msgs/msg/Odometry"))  # fmt: skip
            if camera == "zero":
                img = T["sensor_msgs/msg/Image"](header=_hdr(k, t, "cam_optical"), height=0, width=0, encoding="rgb8",
                                                 is_bigendian=0, step=0, data=np.zeros(0, np.uint8))
                w.write(cam, t, TS.serialize_ros1(img, "sensor_msgs/msg/Image"))
    return path


def test_a_zero_quaternion_is_not_a_pose() -> None:
    meta = MessageMeta("/odom", 0, T0, T0, "odom")
    with pytest.raises(DecodeError, match="norm 0"):
        PoseSample(meta, "odom", "base_link", np.zeros(3), np.zeros(4))
    with pytest.raises(DecodeError, match="non-finite"):
        PoseSample(meta, "odom", "base_link", np.array([np.nan, 0, 0]), np.array([0, 0, 0, 1.0]))
    p = PoseSample(meta, "odom", "base_link", np.zeros(3), np.array([0, 0, 0, 1.0001]))
    assert np.linalg.norm(p.rotation_xyzw) == pytest.approx(1.0, abs=1e-12)  # a slightly off quaternion is normalised
    with pytest.raises(DecodeError, match="empty image"):
        CameraImage(meta, "rgb8", False, np.zeros((0, 0, 3), np.uint8), 0, 0)


def test_zero_quaternion_odometry_is_skipped_and_counted(tmp_path: Path) -> None:
    bag = _bag(tmp_path / "q.bag", quat_w=0.0)
    res = convert([bag], str(tmp_path / "s.zarr"), ConvertConfig())
    report = fusion.open(str(tmp_path / "s.zarr")).report
    assert report["topics"]["/odom"]["skipped"] == {"decode_error": 50} and report["topics"]["/odom"]["stored"] == 0
    assert "norm 0" in report["skipped"][0]["detail"]
    assert any("no usable ego trajectory" in w for w in res.warnings)


def test_an_advertised_topic_without_messages_is_left_out(tmp_path: Path) -> None:
    bag = _bag(tmp_path / "e.bag", camera="empty")
    res = convert([bag], str(tmp_path / "s.zarr"), ConvertConfig())
    assert res.frames == 10 and "cam" not in fusion.open(str(tmp_path / "s.zarr")).sensors
    assert any("/cam/image_raw: no message in the bag; left out" in w for w in res.warnings)
    # named in a sensor map, the empty topic is required: nothing stored fails
    smap = tmp_path / "sensors.yaml"
    smap.write_text("sensors:\n  cam:\n    topic: /cam/image_raw\n    kind: camera\n")
    with pytest.raises(NothingStoredError):
        convert([bag], str(tmp_path / "t.zarr"), ConvertConfig(sensors=str(smap)))
    assert not (tmp_path / "t.zarr").exists()


def test_zero_size_images_are_skipped_and_the_sensor_fails(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    bag = _bag(tmp_path / "z.bag", camera="zero")
    with pytest.raises(SystemExit) as exc:
        main(["convert", str(bag), "-o", str(tmp_path / "s.zarr")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "0 of 10 message(s) stored" in err[0] and "empty image (0 x 0 px" in err[0]
    res = convert([bag], str(tmp_path / "s.zarr"), ConvertConfig(exclude_topics=("/cam/image_raw",)))
    assert res.frames == 10


def test_a_fix_outside_wgs84_is_skipped_not_stored(tmp_path: Path) -> None:
    """A NavSatFix whose latitude/longitude cannot be a position (a damaged byte; found by tools/fuzz.py) is
    skipped as undecodable; a fix with NaN (no fix) is kept, as receivers publish it."""
    from fusion.store.validate import validate_store

    fix_t, status_t = T["sensor_msgs/msg/NavSatFix"], T["sensor_msgs/msg/NavSatStatus"]
    path = tmp_path / "gps.bag"
    with Writer(path) as w:
        conn = w.add_connection("/fix", fix_t.__msgtype__, typestore=TS)
        for k in range(20):
            t = T0 + k * 100_000_000
            lat = 1e30 if k == 7 else (float("nan") if k == 9 else 48.0 + k * 1e-6)
            msg = fix_t(header=_hdr(k, t, "gps"), status=status_t(status=0, service=1), latitude=lat,
                        longitude=9.0, altitude=300.0, position_covariance=np.eye(3).reshape(-1),
                        position_covariance_type=2)
            w.write(conn, t, TS.serialize_ros1(msg, fix_t.__msgtype__))
    store = tmp_path / "s.zarr"
    convert([path], str(store), ConvertConfig())
    report = fusion.open(str(store)).report
    assert report["topics"]["/fix"]["skipped"] == {"decode_error": 1} and report["topics"]["/fix"]["stored"] == 19
    assert "outside WGS-84" in report["skipped"][0]["detail"]
    assert validate_store(str(store)).ok
