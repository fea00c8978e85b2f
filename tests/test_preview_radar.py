"""Radar in ``fusion preview``: returns drawn where they project, computed here independently from
the rig, the ego trajectory and the stored scan (sensor frame, message time)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from test_preview import _near, _png, env  # noqa: F401  (env: the module-scoped store fixture)

import fusion
from calibration import Trajectory
from fusion.cli.main import main
from fusion.export.preview import render_frame
from fusion.export.preview_radar import RADAR_BGR
from fusion.export.preview_video import make_layout

FRAME = 5


def _radar_world(ds: fusion.Dataset, i: int) -> tuple[np.ndarray, np.ndarray, Trajectory]:
    """Frame ``i``'s radar returns in the world frame (4x4 algebra, not the SE3 class) and their
    compensated radial velocities."""
    ego = ds.ego
    traj = Trajectory(ego.time_ns, ego.translation_m, ego.rotation_xyzw)
    scan = ds[i].radar["radar_front"]
    T_wb = traj.at(int(scan.message_time_ns)).matrix
    T_br = ds.calibration.sensor("radar_front").T_base_sensor.matrix
    p = np.c_[np.asarray(scan.xyz, np.float64), np.ones(len(scan))]
    return (p @ (T_wb @ T_br).T)[:, :3], np.asarray(scan.radial_velocity_comp_mps), traj


def test_radar_in_birds_eye_view(env: dict[str, Path]) -> None:  # noqa: F811
    ds = fusion.open(str(env["store"]))
    assert ds[FRAME].valid["radar_front"]
    world, _, traj = _radar_world(ds, FRAME)
    T_bw = np.linalg.inv(traj.at(int(ds[FRAME].time_ns)).matrix)
    base = (np.c_[world, np.ones(len(world))] @ T_bw.T)[:, :3]
    lay = make_layout(ds)
    k = lay.bev_px / 80.0
    px = np.stack([lay.grid_wh[0] + lay.bev_px / 2 - base[:, 1] * k, lay.bev_px / 2 - base[:, 0] * k], axis=1)
    inside = (np.abs(base[:, :2]) < 38).all(axis=1) & (np.hypot(base[:, 0], base[:, 1]) > 3)  # off the ego mark
    assert inside.sum() > 20, inside.sum()  # measured 67 of the 68 returns
    img = _png(env, FRAME)
    hit = _near(img, px[inside], RADAR_BGR, r=1, tol=10).mean()
    assert hit > 0.9, hit  # measured 1.0 (67 returns)
    # the LiDAR-only store has no radar: no pixel of the radar colour in its bird's-eye view
    out = env["tmp"] / "nocam_radar.png"
    assert main(["preview", str(env["nocam"]), "--png", str(FRAME), "-o", str(out)]) is None
    import cv2

    still = cv2.imread(str(out))
    assert still is not None
    bev = still.astype(int)[: make_layout(fusion.open(str(env["nocam"]))).bev_px]
    assert ((np.abs(bev - np.array(RADAR_BGR)).max(axis=-1) <= 10).sum()) == 0
    # the radar store's bird's-eye view has many pixels of it
    gw = lay.grid_wh[0]
    ours = img[: lay.bev_px, gw:gw + lay.bev_px].astype(int)
    pink = int((np.abs(ours - np.array(RADAR_BGR)).max(axis=-1) <= 10).sum())
    assert pink > 220, pink  # discs of radius 2 and the arrows: measured 667 pixels


def test_radar_in_camera(env: dict[str, Path]) -> None:  # noqa: F811
    ds = fusion.open(str(env["store"]))
    world, _, traj = _radar_world(ds, FRAME)
    cam = "camera_front"
    sensor = ds.calibration.sensor(cam)
    T_cw = np.linalg.inv(traj.at(int(ds[FRAME].cameras[cam].time_ns)).matrix @ sensor.T_base_sensor.matrix)
    p_cam = (np.c_[world, np.ones(len(world))] @ T_cw.T)[:, :3]
    front = p_cam[:, 2] > 0.5
    assert sensor.camera.distortion_model == "plumb_bob"
    k1, k2, p1, p2, k3 = sensor.camera.D  # radtan, written out here (not the camera model's code)
    x, y = p_cam[front, 0] / p_cam[front, 2], p_cam[front, 1] / p_cam[front, 2]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    K = sensor.camera.K
    uv = np.stack([K[0, 0] * xd + K[0, 2], K[1, 1] * yd + K[1, 2]], axis=1)
    w, h = sensor.camera.width, sensor.camera.height
    on = (uv[:, 0] > 4) & (uv[:, 0] < w - 4) & (uv[:, 1] > 4) & (uv[:, 1] < h - 4)
    on &= uv[:, 0] < w - 30  # the range colour bar (14 px wide, 8 px from the right edge) is drawn on top
    assert on.sum() > 7, on.sum()  # measured 23 returns in camera_front, off the colour bar
    with_radar = render_frame(ds, FRAME, radar=True)[cam]
    without = render_frame(ds, FRAME)[cam]  # fusion calib check's overlay draws no radar
    hit = _near(with_radar, uv[on], RADAR_BGR, r=4, tol=10).mean()
    miss = _near(without, uv[on], RADAR_BGR, r=4, tol=10).mean()
    assert hit > 0.9, hit  # measured 1.0 (a ring of radius 3 px around each return)
    assert miss == 0.0, miss
