"""`fusion export package`: every file read back with independent code (numpy, cv2, the shipped JSON
Schema) and compared with the store: points (float32), per-point time, images (bytes / pixels),
calibration, ego poses; refusals are one `error:` line with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import jsonschema
import numpy as np
import pytest
from exportcheck import pose_matrix, read_binary_pcd, run_export
from scipy.spatial.transform import Rotation, Slerp

import fusion

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "fusion" / "export" / "schema" / "package.schema.json"


def validate(doc: object, part: str | None = None) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    if part is not None:
        schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{part}"}
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(doc)


def check_package(out: Path, store: Path, in_frame: str) -> int:
    """Validate every JSON file and compare every frame with the store; returns frames checked."""
    ds = fusion.open(str(store))
    rig = ds.calibration
    manifest = json.loads((out / "manifest.json").read_text())
    validate(manifest)
    segments = json.loads((out / "segments_sequence.json").read_text())
    validate(segments, "segments_sequence")
    origin = manifest["world_origin"]
    T_origin = pose_matrix(origin["position"], origin["orientation_xyzw"])
    np.testing.assert_allclose(T_origin, ds[manifest["frames"][0]["index"]].ego_pose, atol=1e-12)
    T_bl = rig.sensor("lidar_top").T_base_sensor.matrix
    traj = ds.ego
    ts = (traj.time_ns - traj.time_ns[0]).astype(np.float64)  # relative: epoch ns in float64 is 256 ns coarse
    slerp = Slerp(ts, Rotation.from_quat(traj.rotation_xyzw))
    for entry, seg in zip(manifest["frames"], segments["frames"], strict=True):
        doc = json.loads((out / entry["frame"]).read_text())
        validate(doc, "frame")
        calib = json.loads((out / doc["calibration"]).read_text())
        validate(calib, "calibration")
        fr = ds[entry["index"]]
        assert doc["time_ns"] == entry["time_ns"] == fr.time_ns == seg["timestamp"]
        T_ob = np.linalg.inv(T_origin) @ fr.ego_pose
        ego = doc["ego_pose"]
        np.testing.assert_allclose(pose_matrix(ego["position"], ego["orientation_xyzw"]), T_ob, atol=1e-12)
        T_cloud_base = {"world": T_ob, "ego": np.eye(4), "sensor": np.linalg.inv(T_bl)}[in_frame]
        lid = fr.lidar["lidar_top"]
        expect = lid.xyz.astype(np.float64) @ (T_cloud_base @ T_bl)[:3, :3].T + (T_cloud_base @ T_bl)[:3, 3]
        header, rec = read_binary_pcd(out / doc["points"]["file"])
        assert header["FIELDS"] == ["x", "y", "z", "intensity", "t_ns"] and len(rec) == len(expect) > 1000
        xyz = np.stack([rec["x"], rec["y"], rec["z"]], axis=1)
        assert xyz.dtype == np.float32
        if in_frame == "sensor":
            np.testing.assert_array_equal(xyz, lid.xyz)  # the stored float32 points, untouched
        # float32 rounding once: within half a float32 ulp of the float64 value (measured: all within)
        assert np.all(np.abs(xyz - expect) <= 0.5 * np.spacing(np.abs(expect).astype(np.float32)) + 1e-12)
        np.testing.assert_array_equal(rec["intensity"], lid.fields["intensity"])
        np.testing.assert_array_equal(rec["t_ns"], lid.time_ns - fr.time_ns)
        for name, cam in fr.cameras.items():
            img = doc["images"][name]
            data = (out / img["file"]).read_bytes()
            assert img["time_ns"] == cam.time_ns
            if cam.compressed:
                assert data == cam.data  # the JPEG as recorded
            else:  # raw bgr8 encoded once as lossless PNG
                decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
                np.testing.assert_array_equal(decoded, cam.image)
            sensor = rig.sensor(name)
            c = calib["sensors"][name]
            np.testing.assert_array_equal(c["intrinsics"]["K"], sensor.camera.K)
            np.testing.assert_array_equal(c["intrinsics"]["distortion"], sensor.camera.D)
            assert c["intrinsics"]["distortion_model"] == sensor.camera.distortion_model
            sb = c["sensor_to_base"]
            np.testing.assert_allclose(pose_matrix(sb["position"], sb["orientation_xyzw"]),
                                       sensor.T_base_sensor.matrix, atol=1e-12)
            seg_img = next(i for i in seg["images"] if i["name"] == name)
            np.testing.assert_array_equal(seg_img["intrinsics"]["intrinsic_matrix"], sensor.camera.K)
            assert seg_img["url"] == img["file"]
            # the camera in the points' frame where it was at its image time (ego pose interpolated
            # independently: linear translation, scipy slerp); measured 5.3e-15
            tq = float(cam.time_ns - traj.time_ns[0])
            T_w_cam_t = np.eye(4)
            T_w_cam_t[:3, 3] = [np.interp(tq, ts, traj.translation_m[:, k]) for k in range(3)]
            T_w_cam_t[:3, :3] = slerp([tq]).as_matrix()[0]
            expect_cam = T_cloud_base @ np.linalg.inv(fr.ego_pose) @ T_w_cam_t @ sensor.T_base_sensor.matrix
            sp = c["sensor_to_points"]
            np.testing.assert_allclose(pose_matrix(sp["position"], sp["orientation_xyzw"]), expect_cam, atol=1e-9)
            ex = seg_img["extrinsics"]
            r = ex["rotation"]
            np.testing.assert_allclose(pose_matrix([ex["translation"][a] for a in "xyz"],
                                                   [r["qx"], r["qy"], r["qz"], r["qw"]]), expect_cam, atol=1e-9)
    return len(manifest["frames"])


@pytest.mark.slow
@pytest.mark.parametrize("in_frame", ["world", "ego", "sensor"])
def test_package_round_trip(annotated_store: Path, tmp_path: Path, in_frame: str) -> None:
    out = tmp_path / "pkg"
    res = run_export("package", str(annotated_store), "-o", str(out), "--frames", "1:", "--in", in_frame)
    assert res.returncode == 0, res.stderr
    assert check_package(out, annotated_store, in_frame) == len(fusion.open(str(annotated_store))) - 1


@pytest.mark.slow
def test_package_refusals(annotated_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    cases = [
        (["--in", "world"], "frame 0 has no ego pose"),  # frame 0 precedes the first odometry sample
        (["--frames", "500:600"], "selects no frame"),
        (["--frames", "x"], "--frames"),
        (["--sensors", "nope"], "--sensors: nope not in the store"),
        (["--sensors", "camera_front"], "needs a LiDAR"),
    ]
    for extra, words in cases:
        res = run_export("package", str(annotated_store), "-o", str(out), *extra)
        lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
        assert res.returncode == 2 and len(lines) == 1 and words in lines[0], (extra, res.stderr)
        assert not out.exists()  # a refused export leaves no folder
    ok = run_export("package", str(annotated_store), "-o", str(out), "--frames", "3:5")
    assert ok.returncode == 0, ok.stderr
    again = run_export("package", str(annotated_store), "-o", str(out), "--frames", "3:5")
    assert again.returncode == 2 and "--overwrite" in again.stderr


@pytest.mark.slow
def test_package_ego_frame_with_an_unposed_first_frame(annotated_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    res = run_export("package", str(annotated_store), "-o", str(out), "--frames", "0:4", "--in", "ego")
    assert res.returncode == 0, res.stderr
    ds = fusion.open(str(annotated_store))
    manifest = json.loads((out / "manifest.json").read_text())
    validate(manifest)
    origin = manifest["world_origin"]  # frame 0 has no pose: the origin is frame 1's
    np.testing.assert_allclose(pose_matrix(origin["position"], origin["orientation_xyzw"]), ds[1].ego_pose, atol=1e-12)
    docs = [json.loads((out / f["frame"]).read_text()) for f in manifest["frames"]]
    for doc in docs:
        validate(doc, "frame")
    assert docs[0]["ego_pose"] is None
    np.testing.assert_allclose(pose_matrix(docs[1]["ego_pose"]["position"], docs[1]["ego_pose"]["orientation_xyzw"]),
                               np.eye(4), atol=1e-12)
    segments = json.loads((out / "segments_sequence.json").read_text())
    validate(segments, "segments_sequence")
    assert "ego_pose" not in segments["frames"][0] and "ego_pose" in segments["frames"][1]
