"""SE(3), quaternion helpers, trajectories and the frame tree against scipy and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

import calibration as cal
from calibration.rotation import (
    matrix_to_quat_xyzw,
    matrix_to_rpy,
    quat_multiply_xyzw,
    quat_xyzw_to_matrix,
    rpy_to_matrix,
    slerp_xyzw,
    yaw_from_quat_xyzw,
)

RNG_SEED = 1234


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(RNG_SEED)


def _random_se3(rng: np.random.Generator) -> tuple[cal.SE3, Rotation, np.ndarray]:
    r = Rotation.random(random_state=rng)
    t = rng.uniform(-5.0, 5.0, 3)
    return cal.SE3.from_quat_xyzw(r.as_quat(), t), r, t


# ---------------------------------------------------------------- rotation helpers
def test_quat_matrix_conversions_match_scipy(rng: np.random.Generator) -> None:
    r = Rotation.random(500, random_state=rng)
    q = r.as_quat()  # scipy: x, y, z, w
    np.testing.assert_allclose(quat_xyzw_to_matrix(q), r.as_matrix(), atol=1e-12)
    q_back = matrix_to_quat_xyzw(r.as_matrix())
    assert np.all(q_back[:, 3] >= 0.0)
    sign = np.sign(np.sum(q_back * q, axis=1))[:, None]
    np.testing.assert_allclose(q_back, sign * q, atol=1e-12)
    # batched over extra leading axes
    assert quat_xyzw_to_matrix(q.reshape(5, 100, 4)).shape == (5, 100, 3, 3)


def test_matrix_to_quat_handles_every_branch() -> None:
    # 180° about x, y, z and identity exercise the four largest-component branches.
    for rv in ([np.pi, 0, 0], [0, np.pi, 0], [0, 0, np.pi], [0, 0, 0], [2.0, -1.0, 0.5]):
        r = Rotation.from_rotvec(rv)
        q = matrix_to_quat_xyzw(r.as_matrix())
        np.testing.assert_allclose(quat_xyzw_to_matrix(q), r.as_matrix(), atol=1e-12)


def test_quat_multiply_matches_scipy(rng: np.random.Generator) -> None:
    a, b = Rotation.random(200, random_state=rng), Rotation.random(200, random_state=rng)
    prod = quat_multiply_xyzw(a.as_quat(), b.as_quat())
    np.testing.assert_allclose(quat_xyzw_to_matrix(prod), (a * b).as_matrix(), atol=1e-12)


def test_rpy_matches_scipy_extrinsic_xyz_and_yaw(rng: np.random.Generator) -> None:
    rpy = rng.uniform([-np.pi, -1.5, -np.pi], [np.pi, 1.5, np.pi], (300, 3))
    R = rpy_to_matrix(rpy)
    np.testing.assert_allclose(R, Rotation.from_euler("xyz", rpy).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(matrix_to_rpy(R), rpy, rtol=0, atol=1e-12)  # measured 6.7e-16 rad
    yaw = yaw_from_quat_xyzw(Rotation.from_euler("z", rpy[:, 2:3]).as_quat())
    np.testing.assert_allclose(yaw, rpy[:, 2], atol=1e-12)


def test_slerp_matches_scipy_and_takes_short_way(rng: np.random.Generator) -> None:
    r0, r1 = Rotation.random(random_state=rng), Rotation.random(random_state=rng)
    q0, q1 = r0.as_quat(), r1.as_quat()
    alphas = np.linspace(0.0, 1.0, 11)
    ref = Slerp([0.0, 1.0], Rotation.concatenate([r0, r1]))(alphas).as_matrix()
    for q1_signed in (q1, -q1):  # −q is the same rotation: must interpolate identically
        ours = quat_xyzw_to_matrix(slerp_xyzw(np.tile(q0, (11, 1)), np.tile(q1_signed, (11, 1)), alphas))
        np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_slerp_small_angles_is_true_slerp() -> None:
    r0 = Rotation.from_rotvec([0.3, -0.2, 0.1])
    alphas = np.linspace(0.0, 1.0, 7)
    for angle in (1e-2, 1e-5, 1e-8):
        r1 = r0 * Rotation.from_rotvec([angle, 0.0, 0.0])
        ref = Slerp([0.0, 1.0], Rotation.concatenate([r0, r1]))(alphas)
        ours = slerp_xyzw(np.tile(r0.as_quat(), (7, 1)), np.tile(r1.as_quat(), (7, 1)), alphas)
        err = (Rotation.from_quat(ours) * ref.inv()).magnitude()
        assert np.max(err) < 1e-13, angle


# ---------------------------------------------------------------- SE3
def test_yaw_90_maps_x_to_y() -> None:
    T = cal.SE3.from_quat_xyzw([0.0, 0.0, np.sin(np.pi / 4), np.cos(np.pi / 4)], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(T.apply(np.array([[1.0, 0.0, 0.0]])), [[0.0, 1.0, 0.0]], atol=1e-15)
    # translation applied after rotation: T_base_lidar with lidar at (1, 0, 1.8)
    T_base_lidar = cal.SE3(T.rotation, np.array([1.0, 0.0, 1.8]))
    np.testing.assert_allclose(T_base_lidar.apply(np.array([2.0, 0.0, 0.0])), [1.0, 2.0, 1.8], atol=1e-15)


def test_se3_compose_inverse_apply_match_scipy(rng: np.random.Generator) -> None:
    pts = rng.normal(size=(1000, 3))
    for _ in range(20):
        A, ra, ta = _random_se3(rng)
        B, rb, tb = _random_se3(rng)
        np.testing.assert_allclose(A.apply(pts), ra.apply(pts) + ta, atol=1e-12)
        AB = A @ B
        np.testing.assert_allclose(AB.apply(pts), ra.apply(rb.apply(pts) + tb) + ta, atol=1e-12)
        np.testing.assert_allclose(AB.matrix, A.matrix @ B.matrix, atol=1e-12)
        np.testing.assert_allclose(A.inverse().apply(A.apply(pts)), pts, atol=1e-12)
        np.testing.assert_allclose((A @ A.inverse()).matrix, np.eye(4), atol=1e-12)
        np.testing.assert_allclose(A.inverse().matrix, np.linalg.inv(A.matrix), atol=1e-12)
        q = A.quat_xyzw
        assert abs(abs(np.dot(q, ra.as_quat())) - 1.0) < 1e-12


def test_se3_from_matrix_and_quat_round_trip(rng: np.random.Generator) -> None:
    A, _, _ = _random_se3(rng)
    B = cal.SE3.from_matrix(A.matrix)
    assert B.allclose(A, atol=1e-15)
    C = cal.SE3.from_quat_xyzw(B.quat_xyzw, B.translation)
    assert C.allclose(A, atol=1e-12)
    assert cal.SE3.identity() == cal.SE3(np.eye(3), np.zeros(3))
    with pytest.raises(ValueError):
        A.translation[0] = 1.0  # read-only


def test_se3_rejects_bad_rotation_and_quaternion() -> None:
    with pytest.raises(cal.TransformError, match="not orthonormal"):
        cal.SE3(np.diag([1.0, 1.0, 1.01]), np.zeros(3))
    with pytest.raises(cal.TransformError, match="not orthonormal"):
        cal.SE3(np.diag([1.0, 1.0, -1.0]), np.zeros(3))  # reflection
    with pytest.raises(cal.TransformError, match="not unit"):
        cal.SE3.from_quat_xyzw([0.0, 0.0, 0.0, 2.0], np.zeros(3))
    with pytest.raises(cal.TransformError, match="last row"):
        cal.SE3.from_matrix(np.ones((4, 4)))


def test_interpolate_se3_midpoint() -> None:
    a = cal.SE3.identity()
    b = cal.SE3(rpy_to_matrix([0.0, 0.0, np.pi / 2]), np.array([2.0, 0.0, 0.0]))
    mid = cal.interpolate_se3(a, b, 0.5)
    np.testing.assert_allclose(mid.translation, [1.0, 0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(mid.rotation, rpy_to_matrix([0.0, 0.0, np.pi / 4]), atol=1e-12)
    assert cal.interpolate_se3(a, b, 1.0).allclose(b, atol=1e-12)


# ---------------------------------------------------------------- Trajectory
def _yaw_traj(yaws: np.ndarray, times_ns: np.ndarray, flip_every_other: bool = False) -> cal.Trajectory:
    q = Rotation.from_euler("z", yaws[:, None]).as_quat()
    if flip_every_other:
        q[1::2] *= -1.0  # same rotations, opposite hemisphere
    trans = np.stack([times_ns * 1e-9, np.zeros_like(yaws), np.zeros_like(yaws)], axis=1)
    return cal.Trajectory(times_ns.astype(np.int64), trans, q, parent="odom", child="base_link")


def test_trajectory_interpolation_matches_scipy_slerp_vectorized(rng: np.random.Generator) -> None:
    times = np.arange(0, 11, dtype=np.int64) * 100_000_000 + 1_700_000_000_000_000_000
    rots = Rotation.random(11, random_state=rng)
    trans = rng.normal(size=(11, 3))
    traj = cal.Trajectory(times, trans, rots.as_quat())
    query = np.sort(rng.integers(times[0], times[-1] + 1, 5000))
    t, q = traj.interpolate(query)
    ref_r = Slerp((times - times[0]) * 1e-9, rots)((query - times[0]) * 1e-9)
    np.testing.assert_allclose(quat_xyzw_to_matrix(q), ref_r.as_matrix(), rtol=0, atol=1e-12)  # measured 2.5e-15
    ref_t = np.stack([np.interp(query - times[0], times - times[0], trans[:, k]) for k in range(3)], axis=1)
    np.testing.assert_allclose(t, ref_t, atol=1e-12)
    # samples are reproduced exactly at the knots
    t_k, q_k = traj.interpolate(times)
    np.testing.assert_allclose(t_k, trans, atol=1e-15)
    np.testing.assert_allclose(np.abs(np.sum(q_k * rots.as_quat(), axis=1)), 1.0, atol=1e-12)


def test_trajectory_hemisphere_mixed_signs_interpolate_short_way() -> None:
    times = np.arange(6, dtype=np.int64) * 1_000_000
    yaws = np.deg2rad(np.array([170.0, 175.0, 179.0, -179.0, -175.0, -170.0]))  # crosses ±180°
    traj = _yaw_traj(yaws, times, flip_every_other=True)
    query = np.arange(0, 5_000_001, 10_000, dtype=np.int64)
    _, q = traj.interpolate(query)
    yaw = np.unwrap(yaw_from_quat_xyzw(q))
    expected = np.interp(query, times, np.unwrap(yaws))
    # slerp vs linear yaw: the same for pure yaw
    np.testing.assert_allclose(yaw, expected, rtol=0, atol=1e-12)  # measured 4.4e-16 rad
    # continuity: no jump larger than the yaw rate allows (5°/ms → 0.05° per 10 µs)
    assert np.max(np.abs(np.diff(yaw))) < np.deg2rad(0.0501)


def test_trajectory_extrapolation() -> None:
    times = np.array([1_000, 2_000, 3_000], dtype=np.int64)
    traj = _yaw_traj(np.array([0.0, 0.1, 0.2]), times)
    with pytest.raises(cal.ExtrapolationError, match=r"odom->base_link.*\[1000, 3000\]"):
        traj.interpolate(np.array([999]))
    with pytest.raises(cal.ExtrapolationError):
        traj.at(3_001)
    t, q = traj.interpolate(np.array([0, 5_000]), allow_extrapolation=True)
    np.testing.assert_allclose(t, traj.translations_m[[0, -1]], atol=0)
    np.testing.assert_allclose(q, traj.rotations_xyzw[[0, -1]], atol=0)
    assert traj.at(3_000).allclose(cal.SE3.from_quat_xyzw(traj.rotations_xyzw[2], traj.translations_m[2]))


def test_trajectory_rejects_unsorted_times_and_bad_quaternions() -> None:
    with pytest.raises(cal.TransformError, match="strictly increasing"):
        cal.Trajectory(np.array([0, 2, 2]), np.zeros((3, 3)), np.tile([0, 0, 0, 1.0], (3, 1)))
    with pytest.raises(cal.TransformError, match="int64"):
        cal.Trajectory(np.array([0.0, 1.0]), np.zeros((2, 3)), np.tile([0, 0, 0, 1.0], (2, 1)))
    with pytest.raises(cal.TransformError, match="not unit"):
        cal.Trajectory(np.array([0, 1]), np.zeros((2, 3)), np.array([[0, 0, 0, 1.0], [0, 0, 0, 0.5]]))


# ---------------------------------------------------------------- FrameTree
def test_frame_tree_static_and_dynamic_lookup() -> None:
    times = np.array([0, 1_000_000_000], dtype=np.int64)
    traj = cal.Trajectory(
        times,
        np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]]),
        Rotation.from_euler("z", [[0.0], [np.pi / 2]]).as_quat(),
        parent="odom",
        child="base_link",
    )
    T_base_lidar = cal.SE3(rpy_to_matrix([0.0, 0.0, np.pi / 2]), np.array([1.0, 0.0, 2.0]))
    T_base_cam = cal.SE3(np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]), np.array([2.0, 0, 1]))
    tree = cal.FrameTree()
    tree.add_dynamic("odom", "base_link", traj)
    tree.add_static("base_link", "lidar", T_base_lidar)
    tree.add_static("base_link", "cam_optical", T_base_cam)

    # static-only path needs no time
    T_cam_lidar = tree.lookup("cam_optical", "lidar")
    assert T_cam_lidar.allclose(T_base_cam.inverse() @ T_base_lidar, atol=1e-12)
    # lidar x axis points along base +y, i.e. camera −x (left in the image)
    np.testing.assert_allclose(T_cam_lidar.rotate(np.array([1.0, 0.0, 0.0])), [-1.0, 0.0, 0.0], atol=1e-12)
    assert tree.is_static_path("cam_optical", "lidar") and not tree.is_static_path("odom", "lidar")

    # through the dynamic edge at t = 0.5 s: base at x = 5, yawed 45°
    T_odom_lidar = tree.lookup("odom", "lidar", time_ns=500_000_000)
    p = T_odom_lidar.apply(np.zeros(3))
    c = np.cos(np.pi / 4)
    np.testing.assert_allclose(p, [5.0 + c * 1.0, c * 1.0, 2.0], atol=1e-12)
    T_lidar_odom = tree.lookup("lidar", "odom", time_ns=500_000_000)
    assert (T_lidar_odom @ T_odom_lidar).allclose(cal.SE3.identity(), atol=1e-12)
    assert tree.lookup("lidar", "lidar").allclose(cal.SE3.identity())

    # batched lookups equal the one-at-a-time ones (through static and dynamic edges, both directions)
    query = np.linspace(0, 1_000_000_000, 57).astype(np.int64)
    for target, source in (("odom", "lidar"), ("cam_optical", "odom"), ("lidar", "cam_optical")):
        t_b, q_b = tree.lookup_batch(target, source, query)
        for k in (0, 13, 56):
            single = tree.lookup(target, source, time_ns=int(query[k]))
            np.testing.assert_allclose(t_b[k], single.translation, atol=1e-12)
            np.testing.assert_allclose(quat_xyzw_to_matrix(q_b[k]), single.rotation, atol=1e-12)
    with pytest.raises(cal.ExtrapolationError):
        tree.lookup_batch("odom", "lidar", np.array([0, 1_000_000_001]))

    with pytest.raises(cal.FrameTreeError, match="time-varying"):
        tree.lookup("odom", "lidar")
    with pytest.raises(cal.ExtrapolationError):
        tree.lookup("odom", "lidar", time_ns=2_000_000_000)
    held = tree.lookup("odom", "lidar", time_ns=2_000_000_000, allow_extrapolation=True)
    assert held.allclose(tree.lookup("odom", "lidar", time_ns=1_000_000_000), atol=1e-12)


def test_frame_tree_disconnected_cyclic_and_unknown() -> None:
    tree = cal.FrameTree()
    tree.add_static("base_link", "lidar", cal.SE3.identity())
    tree.add_static("map", "gps", cal.SE3.identity())
    with pytest.raises(cal.FrameTreeError, match="not connected"):
        tree.lookup("lidar", "gps")
    with pytest.raises(cal.FrameTreeError, match=r"disconnected.*\['gps', 'map'\]"):
        tree.validate_connected("base_link")
    with pytest.raises(cal.FrameTreeError, match="unknown frame 'radar'"):
        tree.lookup("radar", "lidar")
    with pytest.raises(cal.FrameTreeError, match="cycle"):
        tree.add_static("lidar", "base_link", cal.SE3.identity())
    with pytest.raises(cal.FrameTreeError, match="cycle"):
        tree.add_static("lidar", "lidar", cal.SE3.identity())
    with pytest.raises(cal.FrameTreeError, match="already has parent 'base_link'"):
        tree.add_static("map", "lidar", cal.SE3.identity())
    tree.add_static("base_link", "map", cal.SE3.identity())
    tree.validate_connected("base_link")
