"""Overlay helpers draw visible pixels exactly where points and box edges project."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import calibration as cal
from calibration.overlay import BOX_EDGES, colorize, draw_box_edges, draw_points

SYNTHETIC_YAML = Path(__file__).resolve().parents[1] / "configs" / "rigs" / "synthetic.yaml"


@pytest.fixture(scope="module")
def front() -> cal.CameraModel:
    cam = cal.load_rig(SYNTHETIC_YAML).sensor("camera_front").camera
    assert cam is not None
    return cam


def _box_corners(center: np.ndarray, size: tuple[float, float, float]) -> np.ndarray:
    """(8, 3) corners of an axis-aligned box in the optical frame, BOX_EDGES order."""
    dx, dy, dz = (s / 2.0 for s in size)
    face = np.array([[dx, dy, dz], [dx, -dy, dz], [-dx, -dy, dz], [-dx, dy, dz]])
    back = face * np.array([1.0, 1.0, -1.0])
    return np.concatenate([face, back]) + center


def test_draw_points_paints_colormap_colours_at_projected_pixels(front: cal.CameraModel) -> None:
    rig = cal.load_rig(SYNTHETIC_YAML)
    T_cam_lidar = rig.T_a_b("camera_front", "lidar_top")
    rng = np.random.default_rng(5)
    pts_lidar = np.column_stack([rng.uniform(5, 40, 400), rng.uniform(-8, 8, 400), rng.uniform(-1.5, 1.5, 400)])
    uv, valid = front.project(T_cam_lidar.apply(pts_lidar))
    ranges = np.linalg.norm(pts_lidar, axis=1)
    image = np.zeros((480, 640, 3), np.uint8)
    out = draw_points(image, uv, ranges, valid, vmin=0.0, vmax=50.0, radius_px=0)
    assert not image.any()  # input untouched
    assert valid.sum() > 100
    cols = colorize(ranges[valid], 0.0, 50.0)
    ui, vi = np.rint(uv[valid]).astype(int).T
    # the last point drawn on a pixel wins; check pixels hit exactly once
    keys = vi * 640 + ui
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    once = first[counts == 1]
    np.testing.assert_array_equal(out[vi[once], ui[once]], cols[once])
    assert np.count_nonzero(out.any(axis=2)) == np.unique(keys).size  # nothing else painted
    # colour scale: vmin maps to the bottom of JET (blue), vmax to the top (red)
    lo, hi = colorize(np.array([0.0, 50.0]), 0.0, 50.0)
    assert lo[0] > 100 and lo[2] == 0 and hi[2] > 100 and hi[0] == 0


def test_draw_points_radius_and_invalid_points() -> None:
    image = np.full((50, 60, 3), 7, np.uint8)
    uv = np.array([[10.0, 10.0], [30.2, 40.4], [-5.0, 3.0], [np.nan, 1.0]])
    out = draw_points(image, uv, np.array([1.0, 2.0, 3.0, 4.0]), np.array([True, False, True, True]), radius_px=2)
    changed = np.any(out != 7, axis=2)
    assert changed[10, 12] and changed[12, 10] and not changed[12, 12]  # disc of radius 2
    assert changed.sum() == 13  # one disc: 13 pixels; invalid / off-image / NaN points skipped


def test_draw_box_edges_projects_edges(front: cal.CameraModel) -> None:
    corners = _box_corners(np.array([0.0, 0.5, 10.0]), (4.0, 1.5, 2.0))
    out = draw_box_edges(np.zeros((480, 640, 3), np.uint8), corners[None], front, color=(0, 0, 255), thickness_px=1)
    red = out[:, :, 2] > 0
    assert red.any() and not out[:, :, :2].any()
    for i, j in BOX_EDGES:  # the projected midpoint of every edge is painted (within 1 px)
        uv, ok = front.project(((corners[i] + corners[j]) / 2.0)[None])
        assert ok[0]
        u, v = np.rint(uv[0]).astype(int)
        assert red[v - 1 : v + 2, u - 1 : u + 2].any(), (i, j)
    # nothing far from the box outline
    uv_all, _ = front.project(corners)
    lo, hi = uv_all.min(axis=0) - 3, uv_all.max(axis=0) + 3
    vv, uu = np.nonzero(red)
    assert uu.min() >= lo[0] and uu.max() <= hi[0] and vv.min() >= lo[1] and vv.max() <= hi[1]


def test_draw_box_edges_clips_edges_behind_the_camera(front: cal.CameraModel) -> None:
    # a long box straddling the camera: its rear face is behind the camera (z < 0)
    corners = _box_corners(np.array([0.0, 1.0, 2.0]), (2.0, 1.0, 10.0))
    assert (corners[:, 2] < 0).sum() == 4
    out = draw_box_edges(np.zeros((480, 640, 3), np.uint8), corners, front, thickness_px=1)
    assert out[:, :, 1].any()
    # the front face (z = 7) is drawn where it projects
    uv, ok = front.project(((corners[0] + corners[1]) / 2.0)[None])
    u, v = np.rint(uv[0]).astype(int)
    assert ok[0] and out[v - 1 : v + 2, u - 1 : u + 2, 1].any()
    # a box entirely behind the camera draws nothing
    behind = draw_box_edges(np.zeros((480, 640, 3), np.uint8), corners - [0, 0, 20.0], front)
    assert not behind.any()


def test_overlay_rejects_non_bgr_images(front: cal.CameraModel) -> None:
    gray = np.zeros((480, 640), np.uint8)
    with pytest.raises(cal.CalibrationError, match=r"\(H, W, 3\) uint8 BGR"):
        draw_points(gray, np.zeros((1, 2)), np.zeros(1))
    with pytest.raises(cal.CalibrationError, match=r"\(M, 8, 3\)"):
        draw_box_edges(np.zeros((480, 640, 3), np.uint8), np.zeros((2, 4, 3)), front)
