"""`fusion export nuscenes`: the tables and files read back with numpy and compared with the store;
then nuscenes-devkit itself (in its own venv: it pins numpy<2) loads the export, and its boxes,
ego poses and multi-sweep clouds are compared with fusion's."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
from devkits import devkit_python
from exportcheck import pinhole_shift_cv2, pose_matrix, read_binary_pcd, run_export
from scipy.spatial.transform import Rotation, Slerp

import fusion

TABLES = ("category", "attribute", "visibility", "instance", "sensor", "calibrated_sensor", "ego_pose", "log",
          "scene", "sample", "sample_data", "sample_annotation", "map")


CATS = {"car": "vehicle.car", "static": "movable_object.barrier"}  # fusion label -> nuScenes category


def wxyz_pose(rec: dict) -> np.ndarray:
    w, x, y, z = rec["rotation"]
    return pose_matrix(rec["translation"], [x, y, z, w])


def load(out: Path) -> dict[str, dict[str, dict]]:
    return {t: {r["token"]: r for r in json.loads((out / "v1.0-fusion" / f"{t}.json").read_text())} for t in TABLES}


@pytest.fixture(scope="module")
def export(annotated_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("nus")
    out = tmp / "nus"
    (tmp / "cats.yaml").write_text("\n".join(f"{k}: {v}" for k, v in CATS.items()))
    res = run_export("nuscenes", str(annotated_store), "-o", str(out), "--frames", "1:", "--every", "2",
                     "--category-map", str(tmp / "cats.yaml"))
    assert res.returncode == 0, res.stderr
    return out


@pytest.mark.slow
def test_nuscenes_tables_and_files(export: Path, annotated_store: Path) -> None:
    ds = fusion.open(str(annotated_store))
    rig = ds.calibration
    t = load(export)
    channel = {s["token"]: s["channel"] for s in t["sensor"].values()}
    cs = t["calibrated_sensor"]
    frames = list(range(1, len(ds)))
    assert len(t["sample"]) == len(frames[::2]) and len(t["scene"]) == 1 and len(t["map"]) == 1
    assert (export / next(iter(t["map"].values()))["filename"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    by_time = {ds[i].time_ns // 1000: i for i in frames}
    ego = ds.ego
    n_lidar = n_cam = n_radar = 0
    for sd in t["sample_data"].values():
        name = channel[cs[sd["calibrated_sensor_token"]]["sensor_token"]].lower()
        c = cs[sd["calibrated_sensor_token"]]
        np.testing.assert_allclose(wxyz_pose(c), rig.sensor(name).T_base_sensor.matrix, atol=1e-12)
        pose = t["ego_pose"][sd["ego_pose_token"]]
        assert pose["timestamp"] == sd["timestamp"]
        if name.startswith("camera"):
            fr = next(ds[i] for i in frames if name in ds[i].cameras and ds[i].cameras[name].time_ns // 1000
                      == sd["timestamp"])
            view = fr.cameras[name]
            np.testing.assert_array_equal(c["camera_intrinsic"], rig.sensor(name).camera.K)
            # the camera's own ego pose at its image time: linear translation, slerp rotation (scipy)
            # (times relative to the first sample: epoch ns in float64 would be 256 ns coarse);
            # measured 1.7e-18 m and 3.3e-16 against scipy
            T_cam = wxyz_pose(pose)
            tq = float(view.time_ns - ego.time_ns[0])
            ts = (ego.time_ns - ego.time_ns[0]).astype(np.float64)
            np.testing.assert_allclose(T_cam[:3, 3], [np.interp(tq, ts, ego.translation_m[:, k]) for k in range(3)],
                                       atol=1e-9)
            slerp = Slerp(ts, Rotation.from_quat(ego.rotation_xyzw))
            np.testing.assert_allclose(T_cam[:3, :3], slerp([tq]).as_matrix()[0], atol=1e-9)
            if view.compressed:
                assert (export / sd["filename"]).read_bytes() == view.data  # the JPEG as recorded
            else:
                import cv2
                img = cv2.imread(str(export / sd["filename"]))
                # raw image encoded once as JPEG q95: mean error measured 0.9 grey levels
                assert np.abs(img.astype(float) - view.image).mean() < 3
            n_cam += 1
            continue
        fr = ds[by_time[sd["timestamp"]]]
        np.testing.assert_allclose(wxyz_pose(pose), fr.ego_pose, atol=1e-12)
        assert sd["is_key_frame"] == ((by_time[sd["timestamp"]] - 1) % 2 == 0)
        if name.startswith("lidar"):
            pts = np.fromfile(export / sd["filename"], dtype="<f4").reshape(-1, 5)
            lid = fr.lidar[name]
            np.testing.assert_array_equal(pts[:, :3], lid.xyz)
            np.testing.assert_array_equal(pts[:, 3], lid.fields["intensity"])
            np.testing.assert_array_equal(pts[:, 4], lid.fields["ring"].astype(np.float32))
            n_lidar += 1
        else:
            header, rec = read_binary_pcd_trailing(export / sd["filename"])
            assert len(header["FIELDS"]) == 18
            radar = fr.radar[name]
            np.testing.assert_array_equal(np.stack([rec["x"], rec["y"], rec["z"]], 1), radar.xyz)
            np.testing.assert_array_equal(rec["rcs"], radar.fields["rcs"])
            n_radar += 1
    assert n_lidar == len(frames) and n_radar > 10 and n_cam > 20
    # annotations against the store's boxes (global frame, [w, l, h], scalar-first rotation)
    samples = {s["token"]: s for s in t["sample"].values()}
    n_ann = 0
    for ann in t["sample_annotation"].values():
        fr = ds[by_time[samples[ann["sample_token"]]["timestamp"]]]
        inst = t["instance"][ann["instance_token"]]
        label = t["category"][inst["category_token"]]["name"]
        box = min(fr.boxes, key=lambda b: np.linalg.norm(b.center_m - ann["translation"]))
        assert CATS[box.label] == label
        np.testing.assert_allclose(ann["translation"], box.center_m, atol=1e-12)
        np.testing.assert_allclose(ann["size"], box.size_lwh_m[[1, 0, 2]], atol=1e-12)
        np.testing.assert_allclose(wxyz_pose(ann)[:3, :3], box.rotation_matrix, atol=1e-12)
        n_ann += 1
    assert n_ann == sum(len(ds[i].boxes) for i in frames[::2]) > 50


def read_binary_pcd_trailing(path: Path) -> tuple[dict[str, list[str]], np.ndarray]:
    """A nuScenes radar PCD: the binary rows followed by one newline."""
    tmp = path.with_suffix(".strip.pcd")
    tmp.write_bytes(path.read_bytes()[:-1])
    try:
        return read_binary_pcd(tmp)
    finally:
        tmp.unlink()


DEVKIT_SCRIPT = textwrap.dedent("""
    import json, os, sys
    import matplotlib
    matplotlib.use("Agg")
    import numpy as np
    from nuscenes.nuscenes import NuScenes
    from nuscenes.utils.data_classes import LidarPointCloud, RadarPointCloud
    nusc = NuScenes(version="v1.0-fusion", dataroot=sys.argv[1], verbose=False)
    out = {"boxes": [], "poses": [], "sweeps": []}
    for s in nusc.sample:
        sd = nusc.get("sample_data", s["data"]["LIDAR_TOP"])
        path, boxes, _ = nusc.get_sample_data(sd["token"])
        out["boxes"].append({"timestamp": sd["timestamp"],
                             "centres": [b.center.tolist() for b in boxes], "wlh": [b.wlh.tolist() for b in boxes]})
        pc, times = LidarPointCloud.from_file_multisweep(nusc, s, "LIDAR_TOP", "LIDAR_TOP", nsweeps=5)
        out["sweeps"].append([int(pc.points.shape[1]), int(len(np.unique(times)))])
        RadarPointCloud.from_file(nusc.get_sample_data_path(s["data"]["RADAR_FRONT"]))
    renders = out["renders"] = {}
    s = nusc.sample[1]
    for channel, token in sorted(s["data"].items()):
        path = os.path.join(sys.argv[2], channel + ".png")
        nusc.render_sample_data(token, out_path=path, verbose=False)
        renders[channel] = [path, nusc.get("sample_data", token)["filename"]]
    for sd in nusc.sample_data:
        if sd["channel"] == "LIDAR_TOP":
            p = nusc.get("ego_pose", sd["ego_pose_token"])
            out["poses"].append({"timestamp": sd["timestamp"], "translation": p["translation"],
                                 "rotation": p["rotation"]})
    print(json.dumps(out))
""")


@pytest.mark.slow
def test_nuscenes_devkit_loads_export(export: Path, annotated_store: Path, tmp_path: Path) -> None:
    py = devkit_python("nuscenes-devkit-venv", ["nuscenes-devkit"], "nuscenes.nuscenes")
    res = subprocess.run([str(py), "-c", DEVKIT_SCRIPT, str(export), str(tmp_path)], capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    ds = fusion.open(str(annotated_store))
    by_time = {ds[i].time_ns // 1000: ds[i] for i in range(1, len(ds))}
    T_bl = ds.calibration.sensor("lidar_top").T_base_sensor.matrix
    worst = 0.0
    n_boxes = 0
    for rec in got["boxes"]:
        fr = by_time[rec["timestamp"]]
        T_lw = np.linalg.inv(fr.ego_pose @ T_bl)
        expect = sorted((T_lw[:3, :3] @ b.center_m + T_lw[:3, 3]).tolist() for b in fr.boxes)
        assert len(expect) == len(rec["centres"])
        n_boxes += len(expect)
        if expect:
            worst = max(worst, float(np.max(np.abs(np.array(sorted(rec["centres"])) - np.array(expect)))))
    assert n_boxes > 50 and worst <= 1e-3  # the 1 mm; measured 2.8e-14 m over 144 boxes
    for rec in got["poses"]:
        T = by_time[rec["timestamp"]].ego_pose
        np.testing.assert_allclose(wxyz_pose(rec), T, atol=1e-6)  # measured 4e-16
    # sweeps chain through the non-keyframes (--every 2): 1, 3, then 5 distinct sweep times
    assert [k for _, k in got["sweeps"][:3]] == [1, 3, 5] and all(n > 1000 for n, _ in got["sweeps"])
    # render_sample_data of every channel of sample 1 (matplotlib Agg): a real picture per channel
    import cv2
    channels = {s["channel"] for s in load(export)["sensor"].values()}
    assert set(got["renders"]) == channels == {"LIDAR_TOP", "RADAR_FRONT", "CAMERA_FRONT", "CAMERA_LEFT"}
    for channel, (path, filename) in got["renders"].items():
        img = cv2.imread(path)
        assert img is not None and Path(path).stat().st_size > 10_000, channel
        assert img.shape[0] > 200 and img.shape[1] > 200 and float(img.std()) > 5, (channel, img.shape, img.std())
        if channel.startswith("CAMERA"):  # the camera's own image, drawn at its aspect ratio
            src = cv2.imread(str(export / filename))
            h, w = src.shape[:2]
            rows, cols = np.nonzero((img < 250).any(axis=2))
            aspect = (cols.max() - cols.min() + 1) / (rows.max() - rows.min() + 1)
            assert abs(aspect - w / h) < 0.05 * w / h, (channel, aspect, w / h)


@pytest.mark.slow
def test_nuscenes_readme_says_which_tables_assume_a_pinhole(export: Path, annotated_store: Path,
                                                              tmp_path: Path) -> None:
    text = (export / "README.md").read_text()
    assert "`v1.0-fusion/calibrated_sensor.json`: `camera_intrinsic` is the camera matrix K of a **pinhole**" in text
    assert "render_pointcloud_in_image" in text and "nothing is rectified" in text
    rig = fusion.open(str(annotated_store)).calibration
    for name in ("camera_front", "camera_left"):
        cam = rig.sensor(name).camera
        m = re.search(rf"- {name.upper()}: plumb_bob, the pinhole K misplaces pixels by up to ([0-9.]+) px", text)
        assert m is not None, text
        # printed to 0.1 px; OpenCV: 3.147 px front, 0 left
        assert abs(float(m.group(1)) - pinhole_shift_cv2(cam)) <= 0.05
    # the user is told too, and told when the labels are not nuScenes categories (the devkit cannot render them)
    res = run_export("nuscenes", str(annotated_store), "-o", str(tmp_path / "n"), "--frames", "1:3",
                     "--sensors", "lidar_top,camera_front")
    assert res.returncode == 0, res.stderr
    assert "note: camera camera_front: the images are distorted (plumb_bob); nuScenes assumes a pinhole, off by " \
           "up to 3.1 px at the border (README.md)" in res.stderr
    assert "note: categories car, static: not nuScenes names" in res.stderr
