"""Golden conversions: one hand-computed box written in every format → the same canonical Cuboid.

Canonical box (world = base_link here): centre (10, 5, 1) m, length 4.5, width 1.8, height
1.6 m, yaw 30° about +z → quaternion x,y,z,w = (0, 0, sin 15°, cos 15°).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from fusion.annotations.bag import decode_bag, encode_bag
from fusion.annotations.kitti import decode_kitti, encode_kitti, kitti_rotation_cam_obj
from fusion.annotations.model import Cuboid, boxes_close
from fusion.annotations.nuscenes import decode_nuscenes, encode_nuscenes
from fusion.annotations.openlabel import OpenLabelCodec, decode_openlabel
from fusion.errors import AnnotationError

T0 = 1_700_000_000_123_456_000  # ns, a whole microsecond (nuScenes)
S15, C15 = math.sin(math.radians(15)), math.cos(math.radians(15))
CENTER, LWH, Q = np.array([10.0, 5.0, 1.0]), np.array([4.5, 1.8, 1.6]), np.array([0.0, 0.0, S15, C15])
# Camera 1.5 m ahead, 1.2 m up, optical axes (z forward = base x, x right = base -y, y down = base -z).
T_BASE_CAM = np.array([[0, 0, 1, 1.5], [-1, 0, 0, 0], [0, -1, 0, 1.2], [0, 0, 0, 1]], dtype=np.float64)


def canonical(**kw: object) -> Cuboid:
    return Cuboid(CENTER, LWH, Q, "car", "17", time_ns=T0, **kw)  # type: ignore[arg-type]


def assert_golden(box: Cuboid) -> None:
    ref = canonical()
    # every codec round-trips to the float64 floor: measured 0 m, 0 m, 2.8e-16, 3.3e-16 rad
    assert np.max(np.abs(box.center_m - ref.center_m)) <= 1e-12
    assert np.max(np.abs(box.size_lwh_m - ref.size_lwh_m)) <= 1e-12
    assert np.max(np.abs(box.rotation_matrix - ref.rotation_matrix)) <= 1e-12
    assert abs(box.yaw_rad - math.radians(30)) <= 1e-12
    assert box.time_ns == T0


def openlabel_doc(val: list[float], timestamp: object = T0, cs: str = "odom") -> dict:
    return {"openlabel": {
        "metadata": {"schema_version": "1.0.0"},
        "coordinate_systems": {"odom": {"type": "scene_cs", "parent": ""}},
        "objects": {"17": {"name": "17", "type": "car"}},
        "frames": {"0": {"frame_properties": {"timestamp": timestamp},
                         "objects": {"17": {"object_data": {"cuboid": [
                             {"name": "box", "val": val, "coordinate_system": cs}]}}}}},
    }}


def test_openlabel_quaternion_form() -> None:
    s = decode_openlabel(openlabel_doc([10, 5, 1, 0, 0, S15, C15, 4.5, 1.8, 1.6]))
    assert len(s.boxes) == 1
    assert_golden(s.boxes[0])
    assert s.boxes[0].label == "car" and s.boxes[0].track_id == "17" and s.boxes[0].frame == "odom"


def test_openlabel_euler_form() -> None:
    s = decode_openlabel(openlabel_doc([10, 5, 1, 0, 0, math.radians(30), 4.5, 1.8, 1.6]))
    assert_golden(s.boxes[0])


def test_openlabel_euler_order_is_rz_ry_rx() -> None:
    rx, ry, rz = 0.1, -0.2, 0.3
    box = decode_openlabel(openlabel_doc([0, 0, 0, rx, ry, rz, 1, 1, 1])).boxes[0]
    Rx = np.array([[1, 0, 0], [0, math.cos(rx), -math.sin(rx)], [0, math.sin(rx), math.cos(rx)]])
    Ry = np.array([[math.cos(ry), 0, math.sin(ry)], [0, 1, 0], [-math.sin(ry), 0, math.cos(ry)]])
    Rz = np.array([[math.cos(rz), -math.sin(rz), 0], [math.sin(rz), math.cos(rz), 0], [0, 0, 1]])
    assert np.max(np.abs(box.rotation_matrix - Rz @ Ry @ Rx)) <= 1e-12


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        (T0, T0),
        (1_700_000_000.5, 1_700_000_000_500_000_000),
        ("1700000000.123456789", 1_700_000_000_123_456_789),
        ("1700000000123456789", 1_700_000_000_123_456_789),
        ("2023-11-14T22:13:20.123456789Z", 1_700_000_000_123_456_789),
        ("2023-11-14T23:13:20.5+01:00", 1_700_000_000_500_000_000),
        ("2023-11-14T22:13:20", 1_700_000_000_000_000_000),
    ],
)
def test_openlabel_timestamp_forms(stamp: object, expected: int) -> None:
    box = decode_openlabel(openlabel_doc([10, 5, 1, 0, 0, S15, C15, 4.5, 1.8, 1.6], stamp)).boxes[0]
    assert box.time_ns == expected


def test_nuscenes_golden(tmp_path: Path) -> None:
    tables = {
        "sample.json": [{"token": "s0", "timestamp": T0 // 1000, "scene_token": "sc", "prev": "", "next": ""}],
        "category.json": [{"token": "c0", "name": "car", "description": ""}],
        "instance.json": [{"token": "17", "category_token": "c0"}],
        "visibility.json": [{"token": "4", "level": "v80-100", "description": ""}],
        "sample_annotation.json": [{
            "token": "a0", "sample_token": "s0", "instance_token": "17", "attribute_tokens": [],
            "visibility_token": "4", "translation": [10, 5, 1], "size": [1.8, 4.5, 1.6],  # w, l, h
            "rotation": [C15, 0, 0, S15],  # w, x, y, z
            "num_lidar_pts": 42, "num_radar_pts": 3, "prev": "", "next": "",
        }],
    }
    for name, rows in tables.items():
        (tmp_path / name).write_text(json.dumps(rows))
    s = decode_nuscenes(tmp_path)
    box = s.boxes[0]
    assert_golden(box)
    assert (box.label, box.track_id, box.visibility, box.num_lidar_points, box.num_radar_points) == (
        "car", "17", "v80-100", 42, 3)
    assert box.frame == "world"


def test_nuscenes_round_trip(tmp_path: Path) -> None:
    encode_nuscenes([canonical(), canonical().with_(time_ns=T0 + 500_000_000, center_m=CENTER + 1)], tmp_path)
    boxes = decode_nuscenes(tmp_path).boxes
    assert len(boxes) == 2
    assert_golden(boxes[0])
    assert boxes_close(boxes[1], canonical().with_(center_m=CENTER + 1), 1e-9)


def kitti_line(frame: int = 3) -> str:
    # Hand computation: in the camera, centre = R_cam_base (p - t) = (-5, 0.2, 8.5); bottom centre
    # y = 0.2 + h/2 = 1.0; object x = base (cos30, sin30, 0) = cam (-sin30, 0, cos30) = (cos ry, 0, -sin ry)
    # → rotation_y = atan2(-cos30, -sin30) = -120°.
    return f"{frame} 17 car 0 1 -1.0 100 120 300 260 1.6 1.8 4.5 -5 1.0 8.5 {-2 * math.pi / 3!r} 0.9\n"


def test_kitti_golden_in_base_frame(tmp_path: Path) -> None:
    path = tmp_path / "0000.txt"
    path.write_text(kitti_line() + "3 -1 DontCare -1 -1 -10 0 0 10 10 -1 -1 -1 -1000 -1000 -1000 -10\n")
    s = decode_kitti(path, frame_times_ns={3: T0}, T_base_cam=T_BASE_CAM)
    assert len(s.boxes) == 1 and not s.issues
    box = s.boxes[0]
    assert_golden(box)
    assert (box.frame, box.label, box.track_id, box.score) == ("base_link", "car", "17", 0.9)
    assert box.attributes["kitti_occluded"] == 1


def test_kitti_camera_frame_conventions(tmp_path: Path) -> None:
    path = tmp_path / "0000.txt"
    path.write_text("0 5 car 0 0 0 0 0 0 0 2.0 1.5 4.0 1 3 10 0\n")  # rotation_y = 0
    box = decode_kitti(path, frame_times_ns=[T0]).boxes[0]
    assert box.frame == "camera"
    assert np.allclose(box.center_m, [1, 2, 10], atol=1e-12)  # bottom centre y=3 → centre y = 3 - h/2
    R = box.rotation_matrix
    assert np.allclose(R[:, 0], [1, 0, 0], atol=1e-12)  # length axis along camera +x
    assert np.allclose(R[:, 2], [0, -1, 0], atol=1e-12)  # object up = camera -y
    assert np.isclose(np.linalg.det(kitti_rotation_cam_obj(0.7)), 1.0)
    corners = box.corners()
    assert np.isclose(corners[:, 1].max(), 3.0) and np.isclose(corners[:, 1].min(), 1.0)  # bottom at y=3


def test_kitti_unmapped_frame_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "0000.txt"
    path.write_text(kitti_line(3) + kitti_line(9))
    s = decode_kitti(path, frame_times_ns={3: T0}, T_base_cam=T_BASE_CAM)
    assert len(s.boxes) == 1
    assert [i.kind for i in s.issues] == ["outside_time_range"]
    assert s.issues[0].where.endswith("0000.txt:2")


def test_kitti_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    encode_kitti([canonical(score=0.9)], path, frame_times_ns=[T0 - 1, T0], T_base_cam=T_BASE_CAM)
    box = decode_kitti(path, frame_times_ns=[T0 - 1, T0], T_base_cam=T_BASE_CAM).boxes[0]
    assert_golden(box)


def test_kitti_bad_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(kitti_line() + "3 17 car 0 1\n")
    with pytest.raises(AnnotationError, match=r"bad\.txt:2: expected 17 or 18 fields"):
        decode_kitti(path, frame_times_ns={3: T0})


def test_bag_detection3d_array_golden(tmp_path: Path) -> None:
    bag = tmp_path / "dets"
    other = canonical().with_(track_id="18", label="pedestrian", center_m=np.array([1.0, 2.0, 0.9]),
                              time_ns=T0 + 100_000_000, score=0.25, frame="lidar_top")
    encode_bag([canonical(score=0.75).with_(frame="base_link"), other], bag, topic="/perception/objects")
    # the bag really is a rosbag2 with a vision_msgs topic
    assert (bag / "metadata.yaml").read_text().count("vision_msgs/msg/Detection3DArray") >= 1
    s = decode_bag(bag)
    assert len(s.boxes) == 2
    a, b = s.boxes
    assert_golden(a)
    assert (a.label, a.track_id, a.score, a.frame) == ("car", "17", 0.75, "base_link")
    assert (b.label, b.track_id, b.score, b.frame) == ("pedestrian", "18", 0.25, "lidar_top")
    assert b.time_ns == T0 + 100_000_000
    assert s.origins[1].endswith("/perception/objects[1].detections[0]")


def test_bag_without_detections_topic(tmp_path: Path) -> None:
    bag = tmp_path / "dets"
    encode_bag([canonical()], bag)
    with pytest.raises(AnnotationError, match="no vision_msgs/msg/Detection3DArray topic"):
        decode_bag(bag, topics=["/other"])


def test_openlabel_codec_file_round_trip(tmp_path: Path) -> None:
    codec = OpenLabelCodec()
    src = tmp_path / "in.json"
    src.write_text(json.dumps(openlabel_doc([10, 5, 1, 0, 0, S15, C15, 4.5, 1.8, 1.6])))
    s = codec.decode(src)
    codec.encode(s, tmp_path / "out.json")
    again = codec.decode(tmp_path / "out.json")
    assert_golden(again.boxes[0])
    assert again.boxes[0].track_id == "17"


def test_nuscenes_errors_name_table_and_path(tmp_path: Path) -> None:
    test_nuscenes_golden(tmp_path)
    anns = json.loads((tmp_path / "sample_annotation.json").read_text())
    anns[0]["size"] = [1.8, 4.5]
    (tmp_path / "sample_annotation.json").write_text(json.dumps(anns))
    with pytest.raises(AnnotationError, match=r"sample_annotation\.json: sample_annotation\[0\]\.size: expected 3"):
        decode_nuscenes(tmp_path)
    anns[0]["size"], anns[0]["rotation"] = [1.8, 4.5, 1.6], [0, 0, 0, 2]
    (tmp_path / "sample_annotation.json").write_text(json.dumps(anns))
    with pytest.raises(AnnotationError, match=r"sample_annotation\[0\]\.rotation: quaternion \[w,x,y,z\] is not unit"):
        decode_nuscenes(tmp_path)
    (tmp_path / "instance.json").unlink()
    with pytest.raises(AnnotationError, match=r"instance\.json: nuScenes table not found"):
        decode_nuscenes(tmp_path)


def test_codec_registry_and_format_guess(tmp_path: Path) -> None:
    from fusion.annotations.codec import get_codec, guess_format

    assert {get_codec(n).name for n in ("openlabel", "nuscenes", "kitti", "bag")} == {
        "openlabel", "nuscenes", "kitti", "bag"}
    with pytest.raises(AnnotationError, match="unknown annotation format 'yaml'"):
        get_codec("yaml")
    (tmp_path / "sample_annotation.json").write_text("[]")
    assert guess_format(tmp_path) == "nuscenes"
    assert guess_format(Path("x.json")) == "openlabel" and guess_format(Path("a.txt")) == "kitti"
    assert guess_format(Path("a.mcap")) == "bag"
    with pytest.raises(AnnotationError, match="cannot guess"):
        guess_format(Path("labels.xml"))
