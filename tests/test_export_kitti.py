"""`fusion export kitti`: the KITTI raw layout read back with numpy and compared with the store
(velodyne points exactly, images, calibration, OXTS poses through the devkit's Mercator inversion,
tracking labels in the reference camera)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from exportcheck import run_export

import fusion

ORIGIN = (48.5, 9.0, 300.0)
ER = 6378137.0


def read_calib(path: Path) -> dict[str, np.ndarray]:
    out = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(":")
        try:
            out[key] = np.array([float(v) for v in value.split()])
        except ValueError:
            continue
    return out


def parse_stamp(text: str) -> int:
    day, frac = text.strip().split(".")
    sec = datetime.strptime(day, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
    return int(sec) * 1_000_000_000 + int(frac)


def rt(calib: dict[str, np.ndarray]) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = calib["R"].reshape(3, 3)
    T[:3, 3] = calib["T"]
    return T


@pytest.mark.slow
def test_kitti_round_trip(annotated_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "kitti"
    res = run_export("kitti", str(annotated_store), "-o", str(out), "--frames", "1:",
                     "--origin", ",".join(map(str, ORIGIN)))
    assert res.returncode == 0, res.stderr
    ds = fusion.open(str(annotated_store))
    rig = ds.calibration
    frames = list(range(1, len(ds)))
    day = out / datetime.fromtimestamp(ds[1].time_ns // 10**9, tz=UTC).strftime("%Y_%m_%d")
    drive = day / f"{day.name}_drive_0001_sync"  # the KITTI raw layout: calib in the date folder
    cams = ["camera_front", "camera_left"]
    T_bl = rig.sensor("lidar_top").T_base_sensor.matrix
    T_bc0 = rig.sensor(cams[0]).T_base_sensor.matrix
    # calibration
    c2c = read_calib(day / "calib_cam_to_cam.txt")
    for j, c in enumerate(cams):
        cam = rig.sensor(c).camera
        np.testing.assert_allclose(c2c[f"K_{j:02d}"].reshape(3, 3), cam.K, rtol=1e-12)
        np.testing.assert_allclose(c2c[f"D_{j:02d}"], cam.D, rtol=1e-12)
        T_cj_c0 = np.linalg.inv(rig.sensor(c).T_base_sensor.matrix) @ T_bc0
        np.testing.assert_allclose(c2c[f"R_{j:02d}"].reshape(3, 3), T_cj_c0[:3, :3], atol=1e-12)
        np.testing.assert_allclose(c2c[f"T_{j:02d}"], T_cj_c0[:3, 3], atol=1e-12)
    T_c0_velo = rt(read_calib(day / "calib_velo_to_cam.txt"))
    np.testing.assert_allclose(T_c0_velo, np.linalg.inv(T_bc0) @ T_bl, atol=1e-12)
    T_velo_imu = rt(read_calib(day / "calib_imu_to_velo.txt"))
    np.testing.assert_allclose(T_velo_imu, np.linalg.inv(T_bl), atol=1e-12)
    velo_t = (drive / "velodyne_points" / "timestamps.txt").read_text().splitlines()
    img_t = [(drive / f"image_{j:02d}" / "timestamps.txt").read_text().splitlines() for j in range(2)]
    s = math.cos(math.radians(ORIGIN[0]))
    mx0 = s * math.radians(ORIGIN[1]) * ER
    my0 = s * ER * math.log(math.tan(math.radians(90 + ORIGIN[0]) / 2))
    err = 0.0
    for k, i in enumerate(frames):
        fr = ds[i]
        name = f"{k:010d}"
        assert parse_stamp(velo_t[k]) == fr.time_ns
        pts = np.fromfile(drive / "velodyne_points" / "data" / f"{name}.bin", dtype="<f4").reshape(-1, 4)
        lid = fr.lidar["lidar_top"]
        np.testing.assert_array_equal(pts[:, :3], lid.xyz)  # sensor frame: exact
        np.testing.assert_array_equal(pts[:, 3], lid.fields["intensity"])
        for j, c in enumerate(cams):
            view = fr.cameras[c]
            assert parse_stamp(img_t[j][k]) == view.time_ns
            if view.compressed:
                assert (drive / f"image_{j:02d}" / "data" / f"{name}.jpg").read_bytes() == view.data
            else:
                png = cv2.imread(str(drive / f"image_{j:02d}" / "data" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
                np.testing.assert_array_equal(png, view.image)
        ox = np.array([float(v) for v in (drive / "oxts" / "data" / f"{name}.txt").read_text().split()])
        assert ox.size == 30
        lat, lon, alt, roll, pitch, yaw = ox[:6]
        x = s * math.radians(lon) * ER - mx0
        y = s * ER * math.log(math.tan(math.radians(90 + lat) / 2)) - my0
        T = fr.ego_pose
        err = max(err, float(np.max(np.abs(np.array([x, y, alt - ORIGIN[2]]) - T[:3, 3]))))
        cr, sr, cp, sp = math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch)
        cy, sy = math.cos(yaw), math.sin(yaw)
        R = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]]) @ np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]]) \
            @ np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
        np.testing.assert_allclose(R, T[:3, :3], atol=1e-12)
    assert err <= 1e-8  # Mercator round trip of 17-digit degrees at 48.5° N: measured 3.2e-9 m
    # tracking labels: bottom centre, h w l, rotation_y in camera 0 → world boxes of the store
    ids = dict(line.split() for line in (out / "track_ids.txt").read_text().splitlines())
    rows = [line.split() for line in (out / "label_02" / "0000.txt").read_text().splitlines()]
    n_checked = 0
    for r in rows:
        k, tid, label = int(r[0]), r[1], r[2]
        h, w, l, x, y, z, ry = (float(v) for v in r[10:17])
        fr = ds[frames[k]]
        box = next(b for b in fr.boxes if b.track_id == ids[tid])
        assert label == box.label
        np.testing.assert_allclose([l, w, h], box.size_lwh_m, rtol=1e-12)
        T_w_c0 = fr.ego_pose @ T_bc0
        centre = T_w_c0[:3, :3] @ np.array([x, y - h / 2, z]) + T_w_c0[:3, 3]
        np.testing.assert_allclose(centre, box.center_m, atol=1e-9)  # measured 3.6e-15 m
        # KITTI keeps the yaw about camera y only (the ego's roll/pitch tilt is the documented loss):
        # the box's x axis in the camera, projected on the camera's x-z plane, is (cos ry, 0, -sin ry)
        axis = T_w_c0[:3, :3].T @ box.rotation_matrix[:, 0]
        axis[1] = 0.0
        np.testing.assert_allclose(axis / np.linalg.norm(axis), [math.cos(ry), 0.0, -math.sin(ry)], atol=1e-9)
        n_checked += 1
    assert n_checked == sum(len(ds[i].boxes) for i in frames) > 100
    assert "What this export loses" in (out / "README.md").read_text()


@pytest.mark.slow
def test_kitti_refusals(annotated_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "k"
    for extra, words in [((), "frame 0 has no ego pose"), (("--frames", "1:", "--sensors", "camera_front"),
                                                             "exactly one LiDAR"),
                         (("--frames", "1:", "--origin", "95,0,0"), "--origin")]:
        res = run_export("kitti", str(annotated_store), "-o", str(out), *extra)
        lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
        assert res.returncode == 2 and len(lines) == 1 and words in lines[0], res.stderr
        assert not out.exists()


@pytest.mark.slow
def test_kitti_without_camera_says_labels_are_left_out(annotated_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "k"
    res = run_export("kitti", str(annotated_store), "-o", str(out), "--frames", "1:4", "--sensors", "lidar_top")
    assert res.returncode == 0, res.stderr
    assert "note: the store has annotations but no camera is selected" in res.stderr
    assert not (out / "label_02").exists() and not list(out.glob("*/calib_velo_to_cam.txt"))
    assert "label_02 is not written" in (out / "README.md").read_text()
    assert len(list(out.glob("*/*_drive_0001_sync/velodyne_points/data/*.bin"))) == 3
