"""`fusion calib check`: LiDAR points land on the right pixels of every camera (rig, deskew, timing, projection)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from synthlog import make_log

import fusion
from fusion.export.preview import lidar_in_camera
from fusion.pipeline.config import ConvertConfig, FramesConfig
from fusion.pipeline.convert import convert
from fusion.sync import FrameReference
from fusion.testing.synth.camera import box_color_bgr

TOP = FrameReference("lidar", sensor="lidar_top")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    tmp = tmp_path_factory.mktemp("check")
    bags, truth, rig = make_log(tmp, lidar_beams=32, lidar_columns=512, image_width=320, image_height=240)
    path = tmp / "s.zarr"
    convert([bags["mcap"]], str(path), ConvertConfig(rig=str(rig), frames=FramesConfig(reference=TOP)))
    return path, truth


def calib_check(store: Path, frame: int, png: Path) -> subprocess.CompletedProcess[str]:
    """Run ``fusion calib check STORE --frame N -o PNG`` as a user would."""
    cmd = [sys.executable, "-m", "fusion", "calib", "check", str(store), "--frame", str(frame), "-o", str(png)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def _box_hits(store_path: Path, truth: object, shift_px: float = 0.0) -> float:
    """Fraction of LiDAR hits on boxes whose pixel in the raw left camera has that box's colour."""
    ds = fusion.open(str(store_path))
    tab = truth.messages("/lidar/points")
    scores = []
    for i in range(3, len(ds) - 3, 3):
        fr = ds[i]
        seq = int(tab.seq[tab.index == fr.lidar["lidar_top"].message_index][0])
        obj = truth.lidar_scan(seq).object_id
        uv, valid, _ = lidar_in_camera(ds, fr, "camera_left", "lidar_top")
        img = fr.cameras["camera_left"].image
        sel = valid & (obj >= 0)
        u = np.round(uv[sel] + shift_px).astype(int)
        inside = (u[:, 0] >= 0) & (u[:, 0] < img.shape[1]) & (u[:, 1] >= 0) & (u[:, 1] < img.shape[0])
        c = img[u[inside, 1], u[inside, 0]].astype(float)
        ref = np.stack([box_color_bgr(int(k)) for k in obj[sel][inside]]).astype(float)
        cos = (c * ref).sum(1) / (np.linalg.norm(c, axis=1) * np.linalg.norm(ref, axis=1) + 1e-9)
        scores.append(cos > 0.99)  # faces are shaded: same hue, other brightness
    return float(np.concatenate(scores).mean())


def test_points_land_on_their_objects_in_the_image(store: tuple[Path, object]) -> None:
    path, truth = store
    assert _box_hits(path, truth) >= 0.9
    assert _box_hits(path, truth, shift_px=20.0) < 0.75  # a 20 px misalignment (about 3 degrees) is caught


def test_calib_check_writes_png(store: tuple[Path, object], tmp_path: Path) -> None:
    path, _ = store
    png = tmp_path / "check.png"
    res = calib_check(path, 5, png)
    assert res.returncode == 0, res.stderr
    img = cv2.imread(str(png))
    assert img is not None and img.shape[1] == 960 and img.shape[0] == 2 * 720  # two 4:3 cameras stacked
    ds = fusion.open(str(path))
    plain = cv2.resize(ds[5].cameras["camera_front"].image, (960, 720), interpolation=cv2.INTER_AREA)
    changed = np.abs(img[:720].astype(int) - plain.astype(int)).max(axis=2) > 60
    assert changed.mean() > 0.01  # points are drawn
    bad = calib_check(path, 999, png)
    assert bad.returncode == 2 and "out of range" in bad.stderr


def test_calib_check_draws_annotation_boxes(store: tuple[Path, object], tmp_path: Path) -> None:
    import shutil

    import zarr

    from fusion.annotations.model import Cuboid
    from fusion.annotations.store_io import write_annotations

    path, truth = store
    copy = tmp_path / "boxed.zarr"
    shutil.copytree(path, copy)
    ds = fusion.open(str(copy))
    boxes_t = truth.boxes_at(ds.times_ns)
    frames = [
        [
            Cuboid.from_yaw(
                boxes_t.centers[f, k],
                boxes_t.sizes[k],
                float(boxes_t.yaws[k]),
                "box",
                str(k),
                time_ns=int(ds.times_ns[f]),
                source="labelled",
            )
            for k in range(len(boxes_t.ids))
        ]
        for f in range(len(ds))
    ]
    write_annotations(zarr.open_group(str(copy), mode="r+"), frames, ds.times_ns, [b for fr in frames for b in fr])
    assert len(fusion.open(str(copy))[5].boxes) == len(boxes_t.ids)
    png = tmp_path / "boxes.png"
    res = calib_check(copy, 5, png)
    assert res.returncode == 0, res.stderr
    plain = tmp_path / "plain.png"
    res = calib_check(path, 5, plain)
    assert res.returncode == 0, res.stderr

    def green(p: Path) -> int:  # box edges are drawn in (0, 255, 0)
        img = cv2.imread(str(p)).astype(int)
        return int(((img[..., 1] > 200) & (img[..., 0] < 60) & (img[..., 2] < 60)).sum())

    assert green(png) > green(plain) + 500


def test_default_frame_is_the_first_with_an_ego_pose(store: tuple[Path, object], tmp_path: Path) -> None:
    from fusion.export.preview import default_frame

    path, _ = store
    ds = fusion.open(str(path))
    posed = [bool(np.isfinite(ds[i].ego_pose).all()) for i in range(len(ds))]
    assert not posed[0]  # the log starts before the first odometry sample: frame 0 has no pose
    first = posed.index(True)
    assert default_frame(ds) == first
    png = tmp_path / "d.png"
    cmd = [sys.executable, "-m", "fusion", "calib", "check", str(path), "-o", str(png)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().endswith(f"(frame {first})") and cv2.imread(str(png)) is not None


def test_title_says_when_not_motion_compensated_and_a_colour_bar_is_drawn(store: tuple[Path, object]) -> None:
    from calibration.overlay import colorize
    from fusion.export.preview import render_frame

    path, _ = store
    ds = fusion.open(str(path))
    posed = [bool(np.isfinite(ds[i].ego_pose).all()) for i in range(len(ds))]
    red_text = {}
    for index in (0, posed.index(True)):
        img = render_frame(ds, index)["camera_front"]
        band = img[30:52, 8:200]
        red_text[index] = int((np.abs(band.astype(int) - (0, 0, 255)).sum(axis=2) < 60).sum())
        h, w = img.shape[:2]
        x = w - 8 - 7  # the middle of the 14 px bar, 8 px from the right edge
        np.testing.assert_array_equal(img[h // 4, x], colorize([60.0], 0.0, 60.0)[0])  # far at the top
        np.testing.assert_array_equal(img[3 * h // 4 - 1, x], colorize([0.0], 0.0, 60.0)[0])  # near at the bottom
    assert red_text[0] > 200 and red_text[posed.index(True)] < 10  # measured: 683 vs 0 pixels
