"""Store I/O, the import pipeline (frames → world, issues) and the CLI on a real fusion store."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import zarr

from calibration.rotation import quat_xyzw_from_yaw, quat_xyzw_to_matrix
from calibration.se3 import invert_transform
from fusion.annotations.annotation_set import AnnotationSet, CoordinateSystem
from fusion.annotations.importer import prepare_import
from fusion.annotations.model import Cuboid, boxes_close, to_base, to_sensor
from fusion.annotations.openlabel import decode_openlabel
from fusion.annotations.openlabel_encode import SensorInfo, encode_openlabel
from fusion.annotations.scene import Scene
from fusion.annotations.store_io import read_all_frames, read_frame_boxes, read_keyframes, write_annotations
from fusion.kinds.lidar import add_lidar_stream
from fusion.store.sink import EgoColumns, FrameTable, RootAttrs, SensorMatches

T0 = 1_700_000_000_000_000_000
DT = 100_000_000
F = 5
T_BASE_CAM = np.array([[0, 0, 1, 1.5], [-1, 0, 0, 0], [0, -1, 0, 1.2], [0, 0, 0, 1]], dtype=np.float64)
T_BASE_LIDAR = np.array([[1, 0, 0, 1.0], [0, 1, 0, 0], [0, 0, 1, 1.8], [0, 0, 0, 1]], dtype=np.float64)


def poses() -> np.ndarray:
    """Ego drives +x at 10 m/s while turning 0.1 rad per frame."""
    P = np.tile(np.eye(4), (F, 1, 1))
    P[:, :3, :3] = quat_xyzw_to_matrix(quat_xyzw_from_yaw(0.1 * np.arange(F)))
    P[:, 0, 3] = np.arange(F) * 1.0
    return P


def lidar_world(i: int) -> list[np.ndarray]:
    xyz = np.random.default_rng(i).uniform(-5, 5, (400, 3)).astype(np.float32)
    return [(poses()[i] @ T_BASE_LIDAR @ np.c_[xyz, np.ones(len(xyz))].T).T[:, :3]]


def scene() -> Scene:
    return Scene(T0 + DT * np.arange(F, dtype=np.int64), poses(),
                 [SensorInfo("lidar_top", "lidar", T_BASE_LIDAR, "lidar_link")], lidar_world)


def world_box(track: str, t: int, x: float) -> Cuboid:
    return Cuboid.from_yaw([x, 0.5, 0.2], [3.0, 2.0, 3.0], 0.25, "car", track, time_ns=t, frame="odom")


# ---- model helpers ----------------------------------------------------------------------


def test_to_base_and_to_sensor_golden() -> None:
    # ego at (10, 0, 0) facing +y (yaw 90°); box at world (10, 5, 1) with yaw 90° → 5 m straight ahead, yaw 0.
    T_wb = np.array([[0, -1, 0, 10], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float64)
    box = Cuboid.from_yaw([10, 5, 1], [4, 2, 1.5], math.pi / 2, "car", "1", velocity_mps=[0, 3, 0])
    b = to_base(box, T_wb)
    assert b.frame == "base_link"
    assert np.allclose(b.center_m, [5, 0, 1], atol=1e-12) and abs(b.yaw_rad) <= 1e-12
    assert np.allclose(b.velocity_mps, [3, 0, 0], atol=1e-12)
    s = to_sensor(box, T_wb, T_BASE_LIDAR, "lidar_top")
    assert np.allclose(s.center_m, [4, 0, -0.8], atol=1e-12) and s.frame == "lidar_top"
    assert np.allclose(box.corners()[0], [9, 7, 0.25])  # front-left-bottom: +l/2 along world +y, +w/2 along -x


# ---- store_io ---------------------------------------------------------------------------


def test_store_io_round_trip_plain_zarr_group() -> None:
    root = zarr.open_group(zarr.storage.MemoryStore(), mode="w")
    a = Cuboid.from_yaw([1, 2, 3], [4, 2, 1.5], 0.3, "car", "a", attributes={"parked": True, "n": [1, 2]},
                        velocity_mps=[1, 0, 0],
                        score=0.5, visibility="v80-100", num_lidar_points=12, num_radar_points=0, time_ns=T0)
    b = Cuboid.from_yaw([5, 6, 7], [1, 1, 2], -3.0, "pedestrian", "b", time_ns=T0, source="interpolated")
    c = a.with_(time_ns=T0 + 2 * DT, center_m=np.array([3.0, 2, 3]))
    write_annotations(root, [[a, b], [], [c]], [T0, T0 + DT, T0 + 2 * DT], [a, c])
    assert read_frame_boxes(root, 1) == []
    got = read_frame_boxes(root, 0) + read_frame_boxes(root, -1)
    for x, y in zip(got, [a, b, c]):
        assert boxes_close(x, y, 0.0)
        assert (x.label, x.track_id, x.attributes, x.score, x.visibility, x.num_lidar_points, x.num_radar_points,
                x.time_ns, x.source, x.frame) == (y.label, y.track_id, y.attributes, y.score, y.visibility,
                                                  y.num_lidar_points, y.num_radar_points, y.time_ns, y.source, "world")
    assert got[1].velocity_mps is None and got[1].score is None and got[1].num_lidar_points is None
    times, frames = read_all_frames(root)
    assert times.tolist() == [T0, T0 + DT, T0 + 2 * DT] and [len(f) for f in frames] == [2, 0, 1]
    assert [k.time_ns for k in read_keyframes(root)] == [T0, T0 + 2 * DT]
    g = root["annotations"]
    assert g["offsets"][:].tolist() == [0, 2, 2, 3] and g["rotation_xyzw"].shape == (3, 4)
    assert g.attrs["vocabularies"]["labels"] == ["car", "pedestrian"]
    with pytest.raises(IndexError):
        read_frame_boxes(root, 3)
    assert read_frame_boxes(zarr.open_group(zarr.storage.MemoryStore(), mode="w"), 0) == []


# ---- import pipeline (in-memory scene) --------------------------------------------------


def test_labels_in_sensor_and_custom_frames_reach_the_world() -> None:
    truth = world_box("1", T0 + 2 * DT, 6.0)
    T_wb = poses()[2]
    in_lidar = to_sensor(truth, T_wb, T_BASE_LIDAR, "lidar_link")
    # a file-declared frame "roof" = 0.5 m above lidar_top, chained roof → lidar_top → base_link
    T_lidar_roof = np.eye(4)
    T_lidar_roof[2, 3] = 0.5
    in_roof = in_lidar.transformed(invert_transform(T_lidar_roof), "roof").with_(track_id="2")
    in_base = to_base(truth, T_wb).with_(track_id="3")
    aset = AnnotationSet((in_lidar, in_roof, in_base),
                         coordinate_systems={"roof": CoordinateSystem("roof", "lidar_top", T_lidar_roof)})
    res = prepare_import(aset, scene(), count=False)
    assert not res.issues
    for k in res.keyframes:
        assert boxes_close(k.with_(track_id="1"), truth.with_(frame="world"), 1e-9) and k.frame == "world"


def test_unknown_frame_and_out_of_range_are_reported() -> None:
    good = world_box("1", T0, 2.0)
    late = world_box("2", T0 + F * DT, 2.0)  # after the last frame
    alien = world_box("3", T0, 2.0).with_(frame="radar_rear")
    aset = AnnotationSet((good, late, alien), origins=("f.json: a", "f.json: b", "f.json: c"))
    res = prepare_import(aset, scene(), count=False)
    assert [k.track_id for k in res.keyframes] == ["1"]
    assert [(i.kind, i.where) for i in res.issues] == [("outside_time_range", "f.json: b"),
                                                       ("unknown_frame", "f.json: c")]
    assert "radar_rear" in res.issues[1].message and "lidar_top" in res.issues[1].message
    assert "not imported" in res.summary()


def test_point_counts_from_world_lidar() -> None:
    keys = [world_box("1", T0, 3.0), world_box("1", T0 + 4 * DT, 7.0)]
    res = prepare_import(AnnotationSet(tuple(keys)), scene())
    for f, boxes in enumerate(res.frames):
        (box,) = boxes
        assert abs(box.center_m[0] - (3.0 + f)) <= 1e-12  # measured 0
        pts = lidar_world(f)[0]
        local = (pts - box.center_m) @ box.rotation_matrix
        assert box.num_lidar_points == int(np.all(np.abs(local) <= box.size_lwh_m / 2, axis=1).sum())
    assert sum(b.num_lidar_points for f in res.frames for b in f) > 20


# ---- real store + CLI -------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Path:
    cal = pytest.importorskip("calibration")
    from fusion.store import StoreWriter

    path = tmp_path / "drive.zarr"
    times = T0 + DT * np.arange(F, dtype=np.int64)
    P = poses()
    rig = cal.Rig({
        "lidar_top": cal.Sensor("lidar_top", "lidar", "lidar_link", cal.SE3.from_matrix(T_BASE_LIDAR)),
        "cam_front": cal.Sensor("cam_front", "camera", "cam_front_optical", cal.SE3.from_matrix(T_BASE_CAM)),
    })
    w = StoreWriter.create(str(path))
    w.set_root_attrs(RootAttrs(base_frame="base_link", world_frame="odom"))
    w.write_rig(rig.to_dict())
    lid = add_lidar_stream(w, "lidar_top", topic="/points", frame_id="lidar_link", fields={}, expected_messages=F,
                      expected_points=F * 400)
    for i, t in enumerate(times):
        xyz = np.random.default_rng(i).uniform(-5, 5, (400, 3)).astype(np.float32)
        lid.append(int(t), int(t), int(t), int(t), xyz, np.zeros(400, np.int32), {})
    w.write_ego(EgoColumns(times, P[:, :3, 3], quat_xyzw_from_yaw(0.1 * np.arange(F)), np.zeros((F, 3)),
                           np.zeros((F, 3))))
    w.write_frames(FrameTable(times, P, np.zeros(F, np.uint32), np.zeros((F, 2), np.int64),
                              {"lidar_top": SensorMatches(np.arange(F, dtype=np.int64), np.zeros(F, np.int64),
                                                          np.ones(F, bool))}))
    w.write_report({})
    w.finalize()
    return path


def run_cli(*args: str) -> str:
    from click.testing import CliRunner

    from fusion.cli.annotate import annotate

    result = CliRunner().invoke(annotate, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_openlabel_store_openlabel_round_trip_via_cli(store: Path, tmp_path: Path) -> None:
    from kognic.openlabel.models import OpenLabelAnnotation

    import fusion.store as fs

    keys = [world_box("car_1", T0, 3.0), world_box("car_1", T0 + 4 * DT, 7.0),
            Cuboid.from_yaw([0.5, -1.0, 0.0], [1, 1, 2], 1.0, "pedestrian", "9", time_ns=T0 + 2 * DT,
                            frame="lidar_top"),
            world_box("ghost", T0 + 9 * DT, 1.0), world_box("alien", T0, 1.0).with_(frame="sonar")]
    src = tmp_path / "labels.json"
    src.write_text(json.dumps(encode_openlabel(keys)))
    out = run_cli("import", str(store), str(src))
    assert "5 labels decoded, 3 imported" in out and "outside_time_range" in out and "'sonar'" in out
    ds = fs.open_dataset(str(store))
    frames = [ds[i].boxes for i in range(F)]
    assert [len(b) for b in frames] == [1, 1, 2, 1, 1]
    for i, boxes in enumerate(frames):
        car = next(b for b in boxes if b.track_id == "car_1")
        assert abs(car.center_m[0] - (3.0 + i)) <= 1e-12  # measured 0
        assert car.source == ("labelled" if i in (0, 4) else "interpolated")
        pts = ds[i].lidar["lidar_top"].in_world()
        local = (pts - car.center_m) @ car.rotation_matrix
        assert car.num_lidar_points == int(np.all(np.abs(local) <= car.size_lwh_m / 2, axis=1).sum())
    issues = zarr.open_group(str(store), mode="r")["annotations"].attrs["issues"]
    assert sorted(i["kind"] for i in issues) == ["outside_time_range", "unknown_frame"]

    exported = tmp_path / "export.json"
    assert "5 frames, 2 objects, 6 cuboids" in run_cli("export", str(store), "-o", str(exported))
    doc = json.loads(exported.read_text())
    OpenLabelAnnotation.model_validate(doc)
    assert doc["openlabel"]["frames"]["3"]["frame_properties"]["timestamp"] == T0 + 3 * DT
    back = decode_openlabel(doc, str(exported))
    by_key = {(b.track_id, b.time_ns): b for b in back.boxes}
    for k in keys[:2]:  # keyframes in the world survive OpenLABEL → store → OpenLABEL to 1e-6
        assert boxes_close(by_key[(k.track_id, k.time_ns)], k, 1e-6)
    ped = by_key[("9", T0 + 2 * DT)]  # the lidar-frame label comes back in the world ...
    assert ped.frame == "odom"
    assert boxes_close(to_sensor(ped, poses()[2], T_BASE_LIDAR, "lidar_top"), keys[2], 1e-9)  # ... exactly


def test_cli_error_is_one_line(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fusion.cli.main import main

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"openlabel": {"metadata": {"schema_version": "1.0.0"},
                                             "frames": {"0": {"frame_properties": {"timestamp": []}}}}}))
    with pytest.raises(SystemExit) as exc:
        main(["annotate", "import", str(store), str(bad)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: {bad}: openlabel.frames.0.frame_properties.timestamp: ")


def test_cli_help_has_examples() -> None:
    out = run_cli("import", "--help")
    assert "fusion annotate import drive.zarr labels.json" in out
    assert "fusion annotate export drive.zarr -o labels.json" in run_cli("--help")


def test_kitti_import_with_camera_extrinsic(store: Path, tmp_path: Path) -> None:
    import fusion.store as fs

    # The golden KITTI line of test_annotations_codecs: in base_link it is centre (10, 5, 1), 4.5×1.8×1.6, yaw 30°.
    labels = tmp_path / "0000.txt"
    labels.write_text(f"2 17 Car 0 1 -1.0 100 120 300 260 1.6 1.8 4.5 -5 1.0 8.5 {-2 * math.pi / 3!r}\n"
                      f"7 17 Car 0 1 -1.0 100 120 300 260 1.6 1.8 4.5 -5 1.0 8.5 0.0\n")
    out = run_cli("import", str(store), str(labels), "--format", "kitti", "--camera", "cam_front")
    assert "KITTI frame 7 has no time" in out
    (box,) = fs.open_dataset(str(store))[2].boxes
    ref = Cuboid.from_yaw([10, 5, 1], [4.5, 1.8, 1.6], math.radians(30), "Car", "17").transformed(poses()[2], "world")
    assert boxes_close(box, ref, 1e-9) and box.time_ns == T0 + 2 * DT


def test_bag_import_in_lidar_frame_id(store: Path, tmp_path: Path) -> None:
    import fusion.store as fs
    from fusion.annotations.bag import encode_bag

    label = Cuboid.from_yaw([4.0, 1.0, -1.0], [4, 2, 1.5], 0.2, "car", "t1", score=0.8, time_ns=T0 + DT,
                            frame="lidar_link")
    bag = tmp_path / "dets"
    encode_bag([label], bag, topic="/objects")
    run_cli("import", str(store), str(bag), "--format", "bag", "--topic", "/objects")
    (box,) = fs.open_dataset(str(store))[1].boxes
    assert boxes_close(box, label.transformed(poses()[1] @ T_BASE_LIDAR, "world"), 1e-9)
    assert box.score == 0.8 and box.source == "labelled"


def test_duplicate_labels_are_reported() -> None:
    a = world_box("1", T0, 2.0)
    res = prepare_import(AnnotationSet((a, a.with_(center_m=np.array([9.0, 0, 0])))), scene(), count=False)
    assert len(res.keyframes) == 1 and res.keyframes[0].center_m[0] == 2.0
    assert [i.kind for i in res.issues] == ["duplicate"]


def test_export_without_annotations_fails_clearly(store: Path, tmp_path: Path) -> None:
    from fusion.annotations.exporter import export_store
    from fusion.errors import AnnotationError

    with pytest.raises(AnnotationError, match="has no annotations; run `fusion annotate import` first"):
        export_store(store, tmp_path / "x.json")


def test_frame_without_ego_pose() -> None:
    P = poses()
    P[1] = np.nan  # the store marks an ego gap with NaN poses
    sc = Scene(T0 + DT * np.arange(F, dtype=np.int64), P, scene().sensors, lidar_world)
    in_world = world_box("w", T0 + DT, 2.0)
    in_base = world_box("b", T0 + DT, 2.0).with_(frame="base_link")
    between = world_box("c", T0 + DT // 2, 2.0).with_(frame="base_link")  # interpolates into the gap
    res = prepare_import(AnnotationSet((in_world, in_base, between)), sc, count=False)
    assert [k.track_id for k in res.keyframes] == ["w"]
    assert [i.kind for i in res.issues] == ["no_ego_pose", "no_ego_pose"]
    assert "ego gap" in res.issues[0].message


def test_counts_unset_in_frame_without_ego_pose() -> None:
    P = poses()
    P[2] = np.nan
    sc = Scene(T0 + DT * np.arange(F, dtype=np.int64), P, scene().sensors, lidar_world)
    res = prepare_import(AnnotationSet((world_box("1", T0, 3.0), world_box("1", T0 + 4 * DT, 7.0))), sc)
    assert [b[0].num_lidar_points is None for b in res.frames] == [False, False, True, False, False]
    assert [(i.kind, i.where) for i in res.issues] == [("points_unavailable", "store frame 2")]
