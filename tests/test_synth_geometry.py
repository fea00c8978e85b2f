"""Synthetic LiDAR / radar / IMU / odometry content against the truth trajectory and world."""

from __future__ import annotations

import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from scipy.spatial.transform import Rotation

from fusion.testing.synth import SynthConfig, generate, load_truth
from fusion.testing.synth.lidar import beam_directions, column_times_ns
from fusion.testing.synth.world import NO_HIT, intersect_box, raycast

LIDAR_OFFSET_NS = 3_000_000
POINT_TOL_M = 1.6e-5  # float32 LiDAR coordinates: measured max 5.2e-6 m (all three conventions)


def read(path, topic):
    with AnyReader([path]) as reader:
        conns = [c for c in reader.connections if c.topic == topic]
        return [(ts, reader.deserialize(raw, c.msgtype)) for c, ts, raw in reader.messages(connections=conns)]


def cloud_fields(msg) -> dict[str, np.ndarray]:
    """Decode an unorganized PointCloud2 into a dict of field arrays (independent of the generator)."""
    types = {2: "u1", 4: "<u2", 6: "<u4", 7: "<f4", 8: "<f8"}
    dtype = np.dtype({"names": [f.name for f in msg.fields], "formats": [types[f.datatype] for f in msg.fields],
                      "offsets": [f.offset for f in msg.fields], "itemsize": msg.point_step})
    assert msg.data.size == msg.width * msg.height * msg.point_step
    arr = np.frombuffer(msg.data.tobytes(), dtype=dtype)
    return {n: arr[n] for n in arr.dtype.names}


def stamp(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def to_world(truth, xyz, times_ns, T_base_sensor):
    t, q = truth.pose_at(times_ns)
    T = np.zeros((len(times_ns), 4, 4))
    T[:, :3, :3] = Rotation.from_quat(q).as_matrix()
    T[:, :3, 3] = t
    T[:, 3, 3] = 1
    T = T @ T_base_sensor
    return np.einsum("nij,nj->ni", T[:, :3, :3], xyz) + T[:, :3, 3]


@pytest.fixture(scope="module", params=["ouster_t", "velodyne_time", "hesai_timestamp"])
def log(request, tmp_path_factory):
    cfg = SynthConfig(duration_s=0.5, seed=1, lidar_beams=16, lidar_columns=256, image_width=160,
                      image_height=120, lidar_time_convention=request.param,
                      clock_offsets_ns={"lidar_top": LIDAR_OFFSET_NS})
    out = generate(cfg, tmp_path_factory.mktemp(f"synth_geo_{request.param}"), formats=("mcap",))
    return out, load_truth(out.truth_path)


def point_times_ns(msg, convention: str) -> np.ndarray:
    """Absolute common-clock point times decoded per the documented convention."""
    f = cloud_fields(msg)
    if convention == "ouster_t":
        hw = stamp(msg) + f["t"].astype(np.int64)
    elif convention == "velodyne_time":
        hw = stamp(msg) + np.round(f["time"].astype(np.float64) * 1e9).astype(np.int64)
    else:
        hw = np.round(f["timestamp"] * 1e9).astype(np.int64)
    return hw + LIDAR_OFFSET_NS


def test_lidar_points_land_on_truth_with_per_point_pose(log) -> None:
    out, truth = log
    conv = truth.config.lidar_time_convention
    T_bl = truth.T_base_sensor("lidar_top")
    msgs = read(out.bags["mcap"], "/lidar/points")
    assert len(msgs) == truth.n_lidar_scans == 5
    # float64 seconds / float32 offsets round: measured 0, 3 and 244 ns
    time_tol = {"ouster_t": 0, "velodyne_time": 10, "hesai_timestamp": 250}[conv]
    table = truth.messages("/lidar/points")
    for i, (_, msg) in enumerate(msgs):
        scan = truth.lidar_scan(int(table.seq[i]))
        f = cloud_fields(msg)
        xyz = np.stack([f["x"], f["y"], f["z"]], axis=-1).astype(np.float64)
        assert xyz.shape[0] == scan.world_xyz.shape[0] > 1000
        times = point_times_ns(msg, conv)
        assert np.abs(times - scan.time_ns).max() <= time_tol
        world = to_world(truth, xyz, scan.time_ns, T_bl)
        err = np.linalg.norm(world - scan.world_xyz, axis=1)
        assert err.max() < POINT_TOL_M
        np.testing.assert_array_equal(f["ring"], scan.ring)
        assert stamp(msg) == scan.stamp_ns
        # header stamp semantics: sweep start (ouster, hesai) or last column (velodyne), hardware clock
        if conv != "velodyne_time":
            assert stamp(msg) + LIDAR_OFFSET_NS == scan.start_ns
        else:
            last_col = column_times_ns(scan.start_ns, 100_000_000, 256)[-1]
            assert stamp(msg) + LIDAR_OFFSET_NS == last_col
            assert f["time"].max() <= 0.0 and f["time"].min() >= -0.1
        # motion distortion is real: one pose for the whole sweep misplaces points by ~ speed * 0.1 s
        one_pose = to_world(truth, xyz, np.full(xyz.shape[0], scan.start_ns), T_bl)
        d = np.linalg.norm(one_pose - scan.world_xyz, axis=1)
        late = scan.time_ns - scan.start_ns > 90_000_000
        speed = np.linalg.norm(truth.velocity_at([scan.start_ns])[0])
        assert d[late].min() > 0.8 * speed * 0.09 and d.max() > 0.1
        assert np.median(d) > 0.2


def test_lidar_hits_lie_on_surfaces(log) -> None:
    _, truth = log
    scan = truth.lidar_scan(2)
    ground = scan.object_id == -1
    assert ground.any() and (scan.object_id >= 0).any()
    assert (scan.object_id >= truth.n_static_boxes).any()  # moving objects are hit at their own times
    assert np.abs(scan.world_xyz[ground, 2]).max() < 1e-9
    boxes = truth.boxes_at(scan.time_ns)
    for obj in np.unique(scan.object_id[scan.object_id >= 0]):
        sel = scan.object_id == obj
        c = boxes.centers[sel, obj]
        yaw = boxes.yaws[obj]
        rel = scan.world_xyz[sel] - c
        local = np.stack([np.cos(yaw) * rel[:, 0] + np.sin(yaw) * rel[:, 1],
                          -np.sin(yaw) * rel[:, 0] + np.cos(yaw) * rel[:, 1], rel[:, 2]], axis=-1)
        outside = np.abs(local) / (boxes.sizes[obj] / 2) - 1
        # on the surface: one coordinate at the face, the others inside
        assert np.abs(outside.max(axis=1)).max() < 1e-9


def test_raycast_culling_equals_brute_force(log) -> None:
    _, truth = log
    cfg = truth.config
    dirs_l = beam_directions(cfg.lidar_beams, cfg.lidar_columns)
    start = truth.lidar_scan(1).start_ns
    col_t = column_times_ns(start, 100_000_000, cfg.lidar_columns)
    T = truth.T_odom_base(col_t) @ truth.T_base_sensor("lidar_top")
    d = np.matmul(dirs_l, np.transpose(T[:, :3, :3], (0, 2, 1)))
    r, ids, _ = raycast(truth.world, T[:, :3, 3], d, col_t, 100.0)
    flat, o = d.reshape(-1, 3), np.repeat(T[:, :3, 3], cfg.lidar_beams, axis=0)
    t_rays = np.repeat(col_t, cfg.lidar_beams)
    best = np.where(flat[:, 2] < 0, -o[:, 2] / np.minimum(flat[:, 2], -1e-300), np.inf)
    bid = np.where(np.isfinite(best), -1, NO_HIT)
    centers = truth.boxes_at(t_rays).centers
    for m in range(truth.world.n_boxes):
        t, _ = intersect_box(o, flat, centers[:, m], truth.world.sizes[m] / 2, truth.world.yaws[m])
        better = t < best
        best[better], bid[better] = t[better], m
    bid[best > 100.0] = NO_HIT
    np.testing.assert_array_equal(ids, bid)
    hit = ids != NO_HIT
    np.testing.assert_allclose(r[hit], best[hit], rtol=0, atol=1e-9)
    assert hit.sum() == truth.lidar_scan(1).time_ns.size


def test_radar_doppler(log) -> None:
    out, truth = log
    T_br = truth.T_base_sensor("radar_front")
    msgs = read(out.bags["mcap"], "/radar/front/points")
    assert len(msgs) == truth.n_radar_scans
    n_static_seen = n_moving_seen = 0
    for i, (_, msg) in enumerate(msgs):
        f = cloud_fields(msg)
        scan = truth.radar_scan(int(truth.messages("/radar/front/points").seq[i]))
        xyz = np.stack([f["x"], f["y"], f["z"]], axis=-1).astype(np.float64)
        np.testing.assert_allclose(xyz, scan.xyz_radar, rtol=0, atol=6e-6)  # float32: measured 1.9e-6 m
        t_ns = scan.time_ns
        _, qb = truth.pose_at([t_ns])
        R_wb = Rotation.from_quat(qb[0]).as_matrix()
        w_world = R_wb @ truth.angular_velocity_at([t_ns])[0]
        v_sensor = truth.velocity_at([t_ns])[0] + np.cross(w_world, R_wb @ T_br[:3, 3])
        u = (R_wb @ T_br[:3, :3] @ scan.xyz_radar.T).T
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        expected = ((scan.target_velocity - v_sensor) * u).sum(axis=1)
        np.testing.assert_allclose(f["doppler_mps"], expected, rtol=0, atol=1.5e-6)  # float32: measured 4.7e-7 m/s
        static = scan.object_id < truth.n_static_boxes
        static_expected = -(u[static] @ v_sensor)
        np.testing.assert_allclose(f["doppler_mps"][static], static_expected, rtol=0, atol=1.5e-6)  # measured 4.7e-7
        np.testing.assert_array_equal(np.linalg.norm(scan.target_velocity[static], axis=1), 0.0)
        n_static_seen += int(static.sum())
        n_moving_seen += int((~static).sum())
        world = to_world(truth, scan.xyz_radar, np.full(len(xyz), t_ns), T_br)
        np.testing.assert_allclose(world, scan.world_xyz, atol=1e-9)
    assert n_static_seen > 0 and n_moving_seen > 0


def test_imu_matches_finite_differences(log) -> None:
    out, truth = log
    msgs = read(out.bags["mcap"], "/imu/data")
    table = truth.messages("/imu/data")
    t = table.true_time_ns
    gyro = np.array([[m.angular_velocity.x, m.angular_velocity.y, m.angular_velocity.z] for _, m in msgs])
    acc = np.array([[m.linear_acceleration.x, m.linear_acceleration.y, m.linear_acceleration.z] for _, m in msgs])
    quat = np.array([[m.orientation.x, m.orientation.y, m.orientation.z, m.orientation.w] for _, m in msgs])
    r_bi = truth.T_base_sensor("imu")[:3, 3]
    h = 1_000_000  # 1 ms central differences

    def imu_pose(times):
        tt, qq = truth.pose_at(times)
        Rm = Rotation.from_quat(qq).as_matrix()
        return tt + Rm @ r_bi, Rm

    p_m, _ = imu_pose(t - h)
    p_0, R0 = imu_pose(t)
    p_p, _ = imu_pose(t + h)
    a_world = (p_p - 2 * p_0 + p_m) / (h * 1e-9) ** 2
    f_expected = np.einsum("nji,nj->ni", R0, a_world - np.array([0.0, 0.0, -9.80665]))
    assert np.abs(acc - f_expected).max() < 5e-6  # 2nd differences, h = 1 ms: measured 1.7e-6 m/s²
    _, Rm = imu_pose(t - h)
    _, Rp = imu_pose(t + h)
    w_fd = Rotation.from_matrix(np.einsum("nji,njk->nik", Rm, Rp)).as_rotvec() / (2 * h * 1e-9)
    assert np.abs(gyro - w_fd).max() < 1.2e-6  # measured 3.8e-7 rad/s
    # orientation = R_odom_imu, quaternion x, y, z, w
    dots = np.abs((Rotation.from_matrix(R0).as_quat() * quat).sum(axis=1))
    assert np.abs(dots - 1).max() < 1e-12


def test_odometry_and_tf_equal_truth(log) -> None:
    out, truth = log
    odom = read(out.bags["mcap"], "/odom")
    t = truth.messages("/odom").true_time_ns
    tt, qq = truth.pose_at(t)
    pos = np.array([[m.pose.pose.position.x, m.pose.pose.position.y, m.pose.pose.position.z] for _, m in odom])
    q = np.array([[m.pose.pose.orientation.x, m.pose.pose.orientation.y, m.pose.pose.orientation.z,
                   m.pose.pose.orientation.w] for _, m in odom])
    np.testing.assert_allclose(pos, tt, atol=1e-12)
    assert np.abs(np.abs((q * qq).sum(axis=1)) - 1).max() < 1e-12
    v = np.array([[m.twist.twist.linear.x, m.twist.twist.linear.y, m.twist.twist.linear.z] for _, m in odom])
    R = Rotation.from_quat(qq).as_matrix()
    np.testing.assert_allclose(np.einsum("nij,nj->ni", R, v), truth.velocity_at(t), atol=1e-12)
    w = np.array([[m.twist.twist.angular.x, m.twist.twist.angular.y, m.twist.twist.angular.z] for _, m in odom])
    np.testing.assert_allclose(w, truth.angular_velocity_at(t), atol=1e-12)
    tf = read(out.bags["mcap"], "/tf")
    tf_pos = np.array([[m.transforms[0].transform.translation.x, m.transforms[0].transform.translation.y,
                        m.transforms[0].transform.translation.z] for _, m in tf])
    np.testing.assert_allclose(tf_pos, truth.pose_at(truth.messages("/tf").true_time_ns)[0], atol=1e-12)
    assert {(m.transforms[0].header.frame_id, m.transforms[0].child_frame_id) for _, m in tf} == {
        ("odom", "base_link")}
