"""Pose / IMU interpolation against analytic ground truth; tf2 no-extrapolation semantics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from test_sync_groundtruth import CONSTANT, T0_NS, VARYING, samples

from fusion.errors import ExtrapolationError
from fusion.sync import interpolate_imu, interpolate_poses, lookup_poses


def yaw_quats(yaw_rad) -> np.ndarray:
    yaw = np.asarray(yaw_rad, dtype=np.float64)
    return Rotation.from_rotvec(np.stack([0 * yaw, 0 * yaw, yaw], axis=1)).as_quat()


def angle_deg(q_a: np.ndarray, q_b: np.ndarray) -> np.ndarray:
    return np.rad2deg((Rotation.from_quat(q_a).inv() * Rotation.from_quat(q_b)).magnitude())


# (position m, angle deg) bounds: constant measured 2.6e-4 m / 5.1e-14 deg (pure yaw: slerp is exact),
# varying measured 5.1e-4 m / 1.45e-3 deg (the position bound stays at the former 1e-3, 2x)
INTERP_BOUNDS = {"constant": (8e-4, 2e-13), "varying": (1e-3, 4.5e-3)}


@pytest.mark.parametrize("name", ["constant", "varying"])
def test_pose_from_50hz_matches_truth(name):
    traj = {"constant": CONSTANT, "varying": VARYING}[name]
    times, t, q = samples(traj, T0_NS, T0_NS + 5_000_000_000)
    rng = np.random.default_rng(1)
    query = np.sort(rng.integers(times[0], times[-1], 20_000))
    ti, qi, inside = interpolate_poses(times, t, q, query)
    tt, qt = traj.pose(query)
    assert inside.all()
    pos_bound, ang_bound = INTERP_BOUNDS[name]
    assert np.max(np.linalg.norm(ti - tt, axis=1)) <= pos_bound
    assert np.max(angle_deg(qi, qt)) <= ang_bound
    # and it is not trivially exact: without interpolation (nearest sample) the error is cm-level
    nearest = np.clip(np.searchsorted(times, query), 0, times.size - 1)
    assert np.max(np.linalg.norm(t[nearest] - tt, axis=1)) > 0.05


def test_exact_at_samples_and_hemisphere_check():
    times = np.array([0, 10, 20], dtype=np.int64)
    t = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]])
    yaw = np.deg2rad([0.0, 10.0, 20.0])
    q = yaw_quats(yaw)
    q[1] *= -1  # same rotation, other hemisphere: slerp must still take the short way
    ti, qi, inside = interpolate_poses(times, t, q, np.array([0, 5, 10, 15, 20]))
    assert inside.all()
    np.testing.assert_allclose(ti[:, 0], [0, 0.5, 1, 1.5, 2], rtol=0, atol=1e-15)  # measured 0
    np.testing.assert_allclose(angle_deg(qi, yaw_quats(np.deg2rad([0, 5, 10, 15, 20]))),
                               0, atol=1e-12)  # fmt: skip  # measured 0 deg


def test_no_extrapolation_mask_and_error():
    times = np.array([100, 200], dtype=np.int64)
    t = np.zeros((2, 3))
    q = np.tile([0.0, 0, 0, 1], (2, 1))
    ti, qi, inside = interpolate_poses(times, t, q, np.array([99, 100, 200, 201]))
    assert inside.tolist() == [False, True, True, False]
    assert np.isnan(ti[0]).all() and np.isnan(qi[3]).all()
    with pytest.raises(ExtrapolationError, match=r"first at 201 ns, samples cover \[100, 200\]"):
        lookup_poses(times, t, q, np.array([150, 201]))


def test_gap_is_never_bridged():
    times = np.array([0, 10, 500, 510], dtype=np.int64)
    t = np.zeros((4, 3))
    q = np.tile([0.0, 0, 0, 1], (4, 1))
    _, _, inside = interpolate_poses(times, t, q, np.array([5, 10, 11, 499, 505]), max_gap_ns=100)
    assert inside.tolist() == [True, True, False, False, True]


def test_imu_interpolation_linear_and_slerp():
    times = np.array([0, 1_000_000, 2_000_000], dtype=np.int64)
    w = np.array([[0.0, 0, 0], [0, 0, 1.0], [0, 0, 3.0]])
    a = np.array([[9.81, 0, 0], [9.81, 1, 0], [9.81, 2, 0]])
    q = yaw_quats([0.0, 0.2, 0.4])
    wi, ai, qi, inside = interpolate_imu(times, w, a, np.array([500_000, 1_500_000, 3_000_000]), orientation_xyzw=q)
    assert inside.tolist() == [True, True, False]
    np.testing.assert_allclose(wi[:2, 2], [0.5, 2.0], atol=1e-12)
    np.testing.assert_allclose(ai[:2, 1], [0.5, 1.5], atol=1e-12)
    assert qi is not None
    np.testing.assert_allclose(Rotation.from_quat(qi[:2]).as_rotvec()[:, 2], [0.1, 0.3], atol=1e-12)
    _, _, none_q, _ = interpolate_imu(times, w, a, np.array([0]))
    assert none_q is None


def test_rejects_unsorted_samples():
    with pytest.raises(ValueError, match="strictly increasing"):
        interpolate_poses(np.array([0, 0]), np.zeros((2, 3)), np.tile([0.0, 0, 0, 1], (2, 1)), np.array([0]))
