"""OpenLABEL 1.0: schema validation with JSON paths, round trip, export validity (schema + Kognic)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest

from fusion.annotations.model import Cuboid, boxes_close
from fusion.annotations.openlabel import OpenLabelCodec, decode_openlabel, track_uid
from fusion.annotations.openlabel_encode import ExportContext, SensorInfo, encode_openlabel
from fusion.annotations.openlabel_schema import load_schema, validate_openlabel
from fusion.errors import AnnotationError

T0 = 1_700_000_000_000_000_000
RNG = np.random.default_rng(7)


def random_boxes(n_tracks: int = 4, n_frames: int = 5) -> list[Cuboid]:
    boxes = []
    for k in range(n_tracks):
        for f in range(n_frames):
            if (k + f) % 4 == 3:
                continue  # tracks with gaps → several frame intervals
            q = RNG.normal(size=4)
            q /= np.linalg.norm(q)
            boxes.append(Cuboid(
                RNG.uniform(-50, 50, 3), RNG.uniform(0.5, 6, 3), q, ["car", "pedestrian"][k % 2],
                ["12", "car_a", "7f8e9a0b-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "truck 3"][k],
                attributes={"occluded": bool(f % 2), "lane": f, "note": "x"} if k == 0 else {},
                velocity_mps=RNG.normal(size=3) if k == 1 else None, score=float(RNG.uniform()) if k == 2 else None,
                visibility="partly" if k == 3 else None, num_lidar_points=f * 3 if k < 2 else None,
                frame="world", time_ns=T0 + f * 100_000_000, source="interpolated" if f % 2 else "labelled",
            ))
    return boxes


def same(a: Cuboid, b: Cuboid, tol: float) -> None:
    assert boxes_close(a, b, tol), (a, b)
    assert (a.label, a.track_id, a.time_ns, a.source, a.score, a.visibility, a.num_lidar_points, a.attributes) == (
        b.label, b.track_id, b.time_ns, b.source, b.score, b.visibility, b.num_lidar_points, b.attributes)


def test_vendored_schema_is_openlabel_1_0_0() -> None:
    schema = load_schema()
    assert schema["$id"] == "https://openlabel.asam.net/V1-0-0/schema#"
    assert schema["definitions"]["metadata"]["properties"]["schema_version"]["enum"] == ["1.0.0"]


def test_round_trip_canonical_openlabel_canonical(tmp_path: Path) -> None:
    boxes = random_boxes()
    ctx = ExportContext(sensors=[SensorInfo("lidar_top", "lidar", np.eye(4))])
    doc = encode_openlabel(boxes, ctx)
    validate_openlabel(doc)
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(doc))
    decoded = OpenLabelCodec().decode(path).boxes
    key = {(b.track_id, b.time_ns): b for b in decoded}
    assert len(key) == len(boxes) == len(decoded)
    for b in boxes:
        same(key[(b.track_id, b.time_ns)], b, 1e-6)
    # and the second generation is identical to the first
    assert encode_openlabel(decoded, ctx) == doc


def test_uids_are_schema_valid_and_stable() -> None:
    assert track_uid("12") == "12"
    assert track_uid("car_a") == track_uid("car_a") != track_uid("car_b")
    doc = encode_openlabel(random_boxes())
    assert set(doc["openlabel"]["objects"]) == {track_uid(t) for t in
                                                ["12", "car_a", "7f8e9a0b-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "truck 3"]}
    intervals = doc["openlabel"]["objects"][track_uid("12")]["frame_intervals"]
    assert intervals == [{"frame_start": 0, "frame_end": 2}, {"frame_start": 4, "frame_end": 4}]


def base_doc() -> dict:
    return encode_openlabel(random_boxes(2, 13))


def test_schema_violation_names_json_path() -> None:
    doc = base_doc()
    uid = next(iter(doc["openlabel"]["frames"]["12"]["objects"]))
    doc["openlabel"]["frames"]["12"]["objects"][uid]["object_data"]["cuboid"][0]["val"] = [1, 2, 3]
    with pytest.raises(AnnotationError) as exc:
        decode_openlabel(doc, "labels.json")
    msg = str(exc.value)
    assert msg.startswith(f"labels.json: openlabel.frames.12.objects.{uid}.object_data.cuboid[0].val: ")
    assert "OpenLABEL 1.0.0 schema" in msg


def test_schema_violation_bad_uid_and_missing_type() -> None:
    doc = base_doc()
    doc["openlabel"]["objects"]["not a uid"] = {"name": "x", "type": "car"}
    with pytest.raises(AnnotationError, match=r"openlabel\.objects: .*not a uid"):
        validate_openlabel(doc, "f.json")
    doc = base_doc()
    del doc["openlabel"]["objects"][track_uid("12")]["type"]
    with pytest.raises(AnnotationError, match=rf"openlabel\.objects\.{track_uid('12')}: 'type' is a required"):
        validate_openlabel(doc, "f.json")


def test_semantic_errors_name_json_path() -> None:
    doc = base_doc()
    uid = next(iter(doc["openlabel"]["frames"]["3"]["objects"]))
    bad = copy.deepcopy(doc)
    bad["openlabel"]["frames"]["3"]["objects"][uid]["object_data"]["cuboid"][0]["val"][3:7] = [0, 0, 0, 2]
    with pytest.raises(AnnotationError, match=rf"f\.json: openlabel\.frames\.3\.objects\.{uid}\.object_data\."
                       r"cuboid\[0\]\.val: quaternion val\[3:7\] \(qx,qy,qz,qw\) is not unit"):
        decode_openlabel(bad, "f.json")
    bad = copy.deepcopy(doc)
    bad["openlabel"]["frames"]["3"]["frame_properties"]["timestamp"] = "yesterday"
    with pytest.raises(AnnotationError, match=r"openlabel\.frames\.3\.frame_properties\.timestamp: .*ISO 8601"):
        decode_openlabel(bad, "f.json")
    bad = copy.deepcopy(doc)
    del bad["openlabel"]["frames"]["3"]["frame_properties"]["timestamp"]
    with pytest.raises(AnnotationError, match=r"openlabel\.frames\.3\.frame_properties\.timestamp: missing"):
        decode_openlabel(bad, "f.json")
    assert len(decode_openlabel(bad, "f.json", frame_times_ns={3: T0}).boxes) == len(decode_openlabel(doc).boxes)


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"openlabel": {\n  "frames": [}\n')
    with pytest.raises(AnnotationError, match=r"broken\.json: not valid JSON: .* line 2"):
        OpenLabelCodec().decode(path)


def test_coordinate_systems_and_frame_transforms_are_read() -> None:
    doc = {"openlabel": {
        "metadata": {"schema_version": "1.0.0"},
        "coordinate_systems": {
            "odom": {"type": "scene_cs", "parent": ""},
            "base_link": {"type": "local", "parent": "odom"},
            "lidar": {"type": "sensor_cs", "parent": "base_link",
                      "pose_wrt_parent": {"matrix4x4": [0, -1, 0, 1, 1, 0, 0, 2, 0, 0, 1, 3, 0, 0, 0, 1]}},
            "cam": {"type": "sensor_cs", "parent": "base_link",
                    "pose_wrt_parent": {"quaternion": [0, 0, math.sin(0.25), math.cos(0.25)],
                                        "translation": [4, 5, 6]}},
        },
        "frames": {"0": {"frame_properties": {"timestamp": T0, "transforms": {"ego": {
            "src": "base_link", "dst": "odom",
            "transform_src_to_dst": {"quaternion": [0, 0, 0, 1], "translation": [7, 8, 9]}}}}}},
    }}
    s = decode_openlabel(doc)
    assert np.allclose(s.coordinate_systems["lidar"].T_parent_child[:3, 3], [1, 2, 3])
    assert s.coordinate_systems["lidar"].parent == "base_link"
    Tc = s.coordinate_systems["cam"].T_parent_child
    assert np.allclose(Tc[:2, :2], [[math.cos(0.5), -math.sin(0.5)], [math.sin(0.5), math.cos(0.5)]])
    assert s.coordinate_systems["base_link"].T_parent_child is None
    (tr,) = s.frame_transforms
    assert (tr.src, tr.dst, tr.time_ns) == ("base_link", "odom", T0) and np.allclose(tr.T_dst_src[:3, 3], [7, 8, 9])


def test_export_document_is_schema_valid_and_loads_with_kognic() -> None:
    from kognic.openlabel.models import OpenLabelAnnotation

    boxes = random_boxes()
    times = np.array([T0 + f * 100_000_000 for f in range(6)], dtype=np.int64)  # frame 5 has no boxes
    poses = np.stack([np.eye(4)] * 6)
    poses[:, 0, 3] = np.arange(6) * 1.5
    T_bl = np.eye(4)
    T_bl[:3, 3] = [1.0, 0.0, 1.8]
    ctx = ExportContext(frame_times_ns=times, T_world_base=poses,
                        sensors=[SensorInfo("lidar_top", "lidar", T_bl, "lidar_link"),
                                 SensorInfo("cam_front", "camera", T_bl, "cam"), SensorInfo("imu", "imu", np.eye(4))])
    doc = encode_openlabel(boxes, ctx)
    validate_openlabel(doc, "export")
    model = OpenLabelAnnotation.model_validate(json.loads(json.dumps(doc)))
    ol = model.openlabel
    assert set(ol.streams) == {"lidar_top", "cam_front", "imu"}
    assert ol.streams["imu"].type.value == "gps_imu"
    assert ol.coordinate_systems["lidar_top"].parent == "base_link"
    assert len(ol.frames) == 6
    for f in range(6):
        props = ol.frames[str(f)].frame_properties
        assert props.timestamp == int(times[f]) and isinstance(props.timestamp, int)
        ego = props.transforms["base_link_to_odom"]
        assert (ego.src, ego.dst) == ("base_link", "odom")
    raw = doc["openlabel"]["frames"]["4"]["frame_properties"]["transforms"]["base_link_to_odom"]
    raw = raw["transform_src_to_dst"]
    assert raw["translation"] == [6.0, 0.0, 0.0]
    vals = [c["val"] for fr in doc["openlabel"]["frames"].values() for o in fr["objects"].values()
            for c in o["object_data"]["cuboid"]]
    assert len(vals) == len(boxes) and all(len(v) == 10 for v in vals)


def test_export_rejects_box_at_unknown_time() -> None:
    box = random_boxes(1, 1)[0]
    with pytest.raises(AnnotationError, match="at no frame time"):
        encode_openlabel([box], ExportContext(frame_times_ns=np.array([T0 + 1])))
