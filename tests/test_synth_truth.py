"""Truth API, rig, trajectory derivatives, world visibility and camera rendering geometry."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from scipy.spatial.transform import Rotation

from fusion.testing.synth import SynthConfig, generate, load_truth
from fusion.testing.synth.camera import FACE_SHADE, box_color_bgr
from fusion.testing.synth.rig import SENSORS
from fusion.testing.synth.trajectory import AnalyticTrajectory, TrajectoryParams
from fusion.testing.synth.world import intersect_box, make_world

REPO = Path(__file__).resolve().parents[1]
FACE_NORMALS = np.array([[-1, 0, 0], [1, 0, 0], [0, -1, 0], [0, 1, 0], [0, 0, -1], [0, 0, 1]], dtype=float)


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    cfg = SynthConfig(duration_s=1.0, seed=5, lidar_beams=8, lidar_columns=128, image_width=320, image_height=240,
                      clock_offsets_ns={"camera_left": 2_000_000})
    out = generate(cfg, tmp_path_factory.mktemp("synth_truth"), formats=("mcap",))
    return out, load_truth(out.truth_path)


def test_rig_equals_config_yaml(log) -> None:
    import calibration as cal

    _, truth = log
    rig = truth.rig()
    assert rig.sensor("camera_left").time_offset_ns == 2_000_000
    assert rig.sensor("camera_front").camera.K[0, 0] == 500.0 * 320 / 640
    reference = cal.load_rig(REPO / "configs" / "rigs" / "synthetic.yaml")
    assert sorted(reference.names) == sorted(rig.names)
    for name in rig.names:
        np.testing.assert_allclose(reference.sensor(name).T_base_sensor.matrix, truth.T_base_sensor(name), atol=1e-12)
        assert reference.sensor(name).frame_id == rig.sensor(name).frame_id
        assert reference.sensor(name).topic == rig.sensor(name).topic
    full = load_truth(log[0].truth_path)
    assert full.camera("camera_left")["width"] == 320


def test_trajectory_derivatives_match_finite_differences() -> None:
    traj = AnalyticTrajectory(TrajectoryParams.make(0, 10.0, 30.0, np.random.default_rng(4)))
    t = np.arange(0, 20_000_000_000, 37_000_000, dtype=np.int64)
    h = 100_000  # 0.1 ms
    hs = h * 1e-9
    v_fd = (traj.position(t + h) - traj.position(t - h)) / (2 * hs)
    assert np.abs(v_fd - traj.velocity(t)).max() < 6e-8  # measured 2.0e-8 m/s
    a_fd = (traj.velocity(t + h) - traj.velocity(t - h)) / (2 * hs)
    assert np.abs(a_fd - traj.acceleration(t)).max() < 1.5e-7  # measured 4.9e-8 m/s²
    Rm, Rp = traj.rotation_matrices(t - h), traj.rotation_matrices(t + h)
    w_fd = Rotation.from_matrix(np.einsum("nji,njk->nik", Rm, Rp)).as_rotvec() / (2 * hs)
    assert np.abs(w_fd - traj.angular_velocity_body(t)).max() < 2e-8  # measured 6.3e-9 rad/s
    al_fd = (traj.angular_velocity_body(t + h) - traj.angular_velocity_body(t - h)) / (2 * hs)
    assert np.abs(al_fd - traj.angular_acceleration_body(t)).max() < 5e-8  # measured 1.5e-8 rad/s²
    # yaw = heading of the velocity (no side slip); speeds and yaw rate reach the configured values
    yaw = Rotation.from_matrix(traj.rotation_matrices(t)).as_euler("ZYX")[:, 0]
    v = traj.velocity(t)
    np.testing.assert_allclose(yaw, np.arctan2(v[:, 1], v[:, 0]), atol=1e-12)
    speed = np.linalg.norm(v[:, :2], axis=1)
    assert 9.5 < speed.mean() < 10.5 and speed.min() > 8.0 and speed.max() < 12.5
    assert 25.0 < np.rad2deg(np.abs(traj.yaw_rate(t)).max()) <= 30.0 + 1e-9


def test_pose_quaternion_order_and_boxes(log) -> None:
    _, truth = log
    t = truth.messages("/odom").true_time_ns
    tr, q = truth.pose_at(t)
    np.testing.assert_allclose(Rotation.from_quat(q).as_matrix(), truth.T_odom_base(t)[:, :3, :3], atol=1e-12)
    np.testing.assert_array_equal(tr, truth.T_odom_base(t)[:, :3, 3])
    start, _ = truth.pose_at([truth.config.start_time_ns])
    assert abs(start[0, 0]) < 1e-12 and abs(start[0, 1]) < 1.5 and abs(start[0, 2]) <= 0.02  # x = 0, on the weave
    boxes = truth.boxes_at(t[[0, -1]])
    dt = (t[-1] - t[0]) * 1e-9
    np.testing.assert_allclose(boxes.centers[1] - boxes.centers[0], boxes.velocities * dt, atol=1e-9)
    assert boxes.is_static.sum() == truth.n_static_boxes == 12
    assert np.all(boxes.velocities[boxes.is_static] == 0)
    assert np.all(np.linalg.norm(boxes.velocities[~boxes.is_static], axis=1) > 5)
    np.testing.assert_allclose(boxes.centers[0, :, 2], boxes.sizes[:, 2] / 2, atol=1e-12)


@pytest.mark.parametrize("duration_s", [10.0, 20.0])
def test_moving_objects_stay_in_view(duration_s: float) -> None:
    """Default world: every moving object in LiDAR range and in the front or left camera FOV all along."""
    cfg = SynthConfig(duration_s=duration_s)
    traj = AnalyticTrajectory(TrajectoryParams.make(cfg.start_time_ns, 10.0, 30.0, np.random.default_rng([0, 2])))
    world = make_world(cfg.start_time_ns, duration_s, 10.0, 12, 6, np.random.default_rng([0, 1]))
    times = cfg.start_time_ns + np.arange(0, int(duration_s * 1e9), 50_000_000, dtype=np.int64)
    T_wb = traj.matrices(times)
    centers = world.centers_at(times)[:, world.n_static:]  # (T, 6, 3)
    seen_by = []
    for name in ("camera_front", "camera_left"):
        T_wc = T_wb @ SENSORS[name].T_base_sensor
        rel = centers - T_wc[:, None, :3, 3]
        pc = np.einsum("tji,tmj->tmi", T_wc[:, :3, :3], rel)
        half_fov = np.arctan(320.0 / (500.0 if name == "camera_front" else 450.0))
        ok = (pc[..., 2] > 1.0) & (np.abs(np.arctan2(pc[..., 0], pc[..., 2])) < half_fov)
        seen_by.append(ok.all(axis=0))
    assert np.all(seen_by[0] | seen_by[1]), seen_by
    dist = np.linalg.norm(centers - T_wb[:, None, :3, 3], axis=-1)
    assert dist.max() < 60.0
    # moving objects never overlap the ego (a 4.5 x 2 m footprint around base_link + 1.5 m)
    rel_b = np.einsum("tji,tmj->tmi", T_wb[:, :3, :3], centers - T_wb[:, None, :3, 3])
    assert np.all((np.abs(rel_b[..., 1]) > 2.5) | (np.abs(rel_b[..., 0] - 1.5) > 5.0))


def _read_images(path, topic):
    with AnyReader([path]) as reader:
        conns = [c for c in reader.connections if c.topic == topic]
        out = []
        for c, _, raw in reader.messages(connections=conns):
            m = reader.deserialize(raw, c.msgtype)
            if topic.endswith("compressed"):
                out.append(cv2.imdecode(m.data, cv2.IMREAD_COLOR))
            else:
                out.append(m.data.reshape(m.height, m.width, 3))
        return out


@pytest.mark.parametrize(("name", "topic", "tol", "min_px"), [
    ("camera_left", "/camera/left/image_raw", 0, 12),
    ("camera_front", "/camera/front/image/compressed", 40, 20),
])
def test_rendered_boxes_where_projection_says(log, name: str, topic: str, tol: int, min_px: int) -> None:
    """Box face points projected with cv2.projectPoints at the image time land on that face's colour.

    Raw bgr8 pixels must be exact; JPEG (chroma subsampled) within ``tol`` on faces ≥ ``min_px``.
    """
    out, truth = log
    images = _read_images(out.bags["mcap"], topic)
    table = truth.messages(topic)
    cam = truth.camera(name)
    T_bc = truth.T_base_sensor(name)
    g = np.linspace(-0.7, 0.7, 5)
    checked = 0
    for img, t_ns in zip(images, table.true_time_ns):
        T_wc = truth.T_odom_base([t_ns])[0] @ T_bc
        o = T_wc[:3, 3]
        boxes = truth.boxes_at([t_ns])
        for m in boxes.ids:
            c, size, yaw = boxes.centers[0, m], boxes.sizes[m], boxes.yaws[m]
            Rz = Rotation.from_euler("z", yaw).as_matrix()
            for face, n in enumerate(FACE_NORMALS):
                face_center = c + Rz @ (n * size / 2)
                if (Rz @ n) @ (o - face_center) <= 0:
                    continue  # back face
                axis = int(np.argmax(np.abs(n)))
                others = [a for a in range(3) if a != axis]
                local = np.zeros((g.size**2, 3))
                local[:, axis] = n[axis]
                local[:, others[0]], local[:, others[1]] = (a.ravel() for a in np.meshgrid(g, g))
                pw = (local * size / 2) @ Rz.T + c
                T_cw = np.linalg.inv(T_wc)
                pc = pw @ T_cw[:3, :3].T + T_cw[:3, 3]
                if np.any(pc[:, 2] < 1.0):
                    continue
                uv, _ = cv2.projectPoints(pc, np.zeros(3), np.zeros(3), cam["K"], cam["D"])
                uv = uv.reshape(-1, 2)
                if np.ptp(uv[:, 0]) < min_px or np.ptp(uv[:, 1]) < min_px:
                    continue  # too small to sample away from edges
                px = np.round(uv).astype(int)
                inside = (px[:, 0] >= 0) & (px[:, 0] < cam["width"]) & (px[:, 1] >= 0) & (px[:, 1] < cam["height"])
                expected = np.clip(FACE_SHADE[face] * box_color_bgr(int(m)).astype(float), 0, 255).astype(np.uint8)
                for k in np.flatnonzero(inside):
                    d = pw[k] - o
                    occluded = False
                    for other in boxes.ids[boxes.ids != m]:
                        t_hit, _ = intersect_box(o[None], d[None], boxes.centers[0, other], boxes.sizes[other] / 2,
                                                 boxes.yaws[other])
                        occluded |= bool(t_hit[0] < 1.0)
                    if occluded:
                        continue
                    got = img[px[k, 1], px[k, 0]].astype(int)
                    assert np.abs(got - expected).max() <= tol, (t_ns, m, face, k, got, expected)
                    checked += 1
    assert checked >= 40, checked


def test_boxes_never_overlap() -> None:
    """24 moving objects and 30 static boxes over 20 s: axis-aligned bounds of every pair stay apart."""
    world = make_world(0, 20.0, 10.0, 30, 24, np.random.default_rng([3, 1]))
    times = np.arange(0, 20_000_000_000, 100_000_000, dtype=np.int64)
    c = world.centers_at(times)  # (T, M, 3)
    cy, sy = np.abs(np.cos(world.yaws)), np.abs(np.sin(world.yaws))
    hx = cy * world.sizes[:, 0] / 2 + sy * world.sizes[:, 1] / 2
    hy = sy * world.sizes[:, 0] / 2 + cy * world.sizes[:, 1] / 2
    apart_x = np.abs(c[:, :, None, 0] - c[:, None, :, 0]) > hx[:, None] + hx[None, :]
    apart_y = np.abs(c[:, :, None, 1] - c[:, None, :, 1]) > hy[:, None] + hy[None, :]
    apart = apart_x | apart_y
    np.fill_diagonal(apart[0], True)
    assert np.all(apart | np.eye(world.n_boxes, dtype=bool)[None])
