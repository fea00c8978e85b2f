"""Property tests of the one pose interpolator (``calibration.interpolate``) against scipy and its own rule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation, Slerp

import calibration as cal
from calibration.interpolate import COVERED, GAP, NOT_COVERED, interpolate_poses, locate, span_status
from fusion.errors import ExtrapolationError as FusionExtrapolationError
from fusion.sync import interpolate_poses as sync_interpolate_poses
from fusion.sync import lookup_poses


@st.composite
def trajectories(draw: st.DrawFn, max_n: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times (N,) int64 strictly increasing, translations (N, 3), unit quaternions (N, 4) x,y,z,w)."""
    n = draw(st.integers(2, max_n))
    times = np.array(sorted(draw(st.sets(st.integers(0, 1_000_000), min_size=n, max_size=n))), dtype=np.int64)
    finite = st.floats(-100.0, 100.0, allow_nan=False)
    tr = np.array(draw(st.lists(st.tuples(finite, finite, finite), min_size=n, max_size=n)), dtype=np.float64)
    comp = st.floats(-1.0, 1.0, allow_nan=False)
    q = np.array(draw(st.lists(st.tuples(comp, comp, comp, comp), min_size=n, max_size=n)), dtype=np.float64)
    norms = np.linalg.norm(q, axis=1)
    assume(bool(np.all(norms > 0.1)))
    return times, tr, q / norms[:, None]


def same_rotation_err(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Per-row distance of quaternions up to sign (q and -q are one rotation)."""
    return np.minimum(np.abs(q - r).max(axis=1), np.abs(q + r).max(axis=1))


@settings(max_examples=200, deadline=None)
@given(trajectories())
def test_exact_at_samples(traj) -> None:
    times, tr, q = traj
    t, r, inside = interpolate_poses(times, tr, q, times, max_gap_ns=1)  # on a sample: inside whatever the gaps
    assert inside.all()
    assert np.array_equal(t, tr)
    assert np.array_equal(r, q)


@settings(max_examples=200, deadline=None)
@given(trajectories(), st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20))
def test_linear_translation_and_slerp_match_scipy(traj, fractions) -> None:
    times, tr, q = traj
    # the short way is ill-defined for rotations of ~180 degrees between samples; stay below 170
    rel = Rotation.from_quat(q[:-1]).inv() * Rotation.from_quat(q[1:])
    assume(bool(np.all(rel.magnitude() < np.deg2rad(170.0))))
    span = float(times[-1] - times[0])
    query = np.unique(times[0] + np.round(np.asarray(fractions) * span).astype(np.int64))
    t, r, inside = interpolate_poses(times, tr, q, query)
    assert inside.all()
    k = np.clip(np.searchsorted(times, query, side="right") - 1, 0, times.size - 2)
    a = (query - times[k]) / (times[k + 1] - times[k])
    expected_t = tr[k] + a[:, None] * (tr[k + 1] - tr[k])
    assert np.abs(t - expected_t).max() <= 1e-12  # measured 0 (same expression)
    expected_q = Slerp(times.astype(np.float64), Rotation.from_quat(q))(query.astype(np.float64)).as_quat()
    assert same_rotation_err(r, expected_q).max() <= 1e-12  # measured <= 5e-16
    assert np.abs(np.linalg.norm(r, axis=1) - 1.0).max() <= 7e-16  # unit; measured <= 2.2e-16


@settings(max_examples=200, deadline=None)
@given(trajectories(), st.integers(1, 200_000), st.lists(st.integers(-100_000, 1_100_000), min_size=1, max_size=30))
def test_outside_and_gap_are_nan(traj, max_gap_ns, query_list) -> None:
    times, tr, q = traj
    query = np.array(query_list, dtype=np.int64)
    t, r, inside = interpolate_poses(times, tr, q, query, max_gap_ns=max_gap_ns)
    on_sample = np.isin(query, times)
    within = (query >= times[0]) & (query <= times[-1])
    hi = np.clip(np.searchsorted(times, query, side="right"), 1, times.size - 1)
    in_gap = (times[hi] - times[hi - 1] > max_gap_ns) & ~on_sample
    assert np.array_equal(inside, within & ~in_gap)
    assert np.isnan(t[~inside]).all() and np.isnan(r[~inside]).all()
    assert np.isfinite(t[inside]).all() and np.isfinite(r[inside]).all()
    # locate() applies the same rule
    _, alpha, where = locate(times, query, max_gap_ns)
    assert np.array_equal(where, inside)
    assert np.isnan(alpha[~where]).all()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 60), min_size=1, max_size=8, unique=True),
    st.integers(0, 20), st.integers(-5, 65), st.integers(0, 20),
)  # fmt: skip
def test_span_rule_is_the_point_rule_on_every_time(sample_list, max_gap_ns, lo, width) -> None:
    """A span is covered iff every ns in it is covered as a single query (the deskew rule = the query rule)."""
    times = np.array(sorted(sample_list), dtype=np.int64)
    hi = lo + width
    status = span_status(times, lo, hi, max_gap_ns)
    each = np.arange(lo, hi + 1, dtype=np.int64)
    _, _, inside = interpolate_poses(times, np.zeros((times.size, 3)), np.tile([0.0, 0, 0, 1], (times.size, 1)),
                                     each, max_gap_ns=max_gap_ns)  # fmt: skip
    assert (status == COVERED) == bool(inside.all())
    if status != COVERED:
        outside_range = lo < times[0] or hi > times[-1]
        assert status == (NOT_COVERED if outside_range else GAP)


def test_extrapolation_is_explicit_hold_or_constant_twist() -> None:
    times = np.array([1_000, 2_000], dtype=np.int64)
    tr = np.array([[0.0, 0, 0], [1.0, 0, 0]])
    yaw = np.array([0.0, 0.5])
    q = np.stack([0 * yaw, 0 * yaw, np.sin(yaw / 2), np.cos(yaw / 2)], axis=1)
    query = np.array([900, 2_050, 2_101], dtype=np.int64)
    _, _, inside = interpolate_poses(times, tr, q, query)
    assert not inside.any()  # default: no extrapolation
    t, r, inside = interpolate_poses(times, tr, q, query, max_extrapolation_ns=100)
    assert inside.tolist() == [True, True, False]
    assert np.array_equal(t[:2], tr[[0, 1]]) and np.array_equal(r[:2], q[[0, 1]])  # held
    v = np.array([[2.0, 0, 0], [3.0, 1.0, 0]])  # base-frame twist per sample
    w = np.array([[0.0, 0, 0.1], [0.0, 0, 1e6]])  # rad/s (huge: 50 µs → 50 rad)
    t, r, inside = interpolate_poses(times, tr, q, query, max_extrapolation_ns=100, twist=(v, w))
    # truth: T_end · [Rz(ω dt) | v dt], dt = 50 ns after the end and 100 ns before the start
    dt = 50e-9
    R_end = Rotation.from_quat(q[1]).as_matrix()
    np.testing.assert_allclose(t[1], tr[1] + R_end @ (v[1] * dt), atol=1e-15)
    expected = Rotation.from_quat(q[1]) * Rotation.from_rotvec(w[1] * dt)
    assert same_rotation_err(r[1:2], expected.as_quat()[None]).max() <= 1e-12  # measured 1e-16
    np.testing.assert_allclose(t[0], tr[0] - v[0] * 100e-9, atol=1e-15)
    assert np.isnan(t[2]).all()


def test_trajectory_and_fusion_use_the_same_interpolator() -> None:
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.integers(1, 50_000_000, 30)).astype(np.int64)
    tr = rng.normal(size=(30, 3))
    q = Rotation.random(30, random_state=4).as_quat()
    query = rng.integers(times[0], times[-1], 500)
    traj = cal.Trajectory(times, tr, q)
    t_a, q_a = traj.interpolate(query)
    t_b, q_b, inside = sync_interpolate_poses(times, tr, q, query)
    assert inside.all() and np.array_equal(t_a, t_b) and np.array_equal(q_a, q_b)
    # one ExtrapolationError: fusion's is calibration's, so `except cal.ExtrapolationError` catches both
    with pytest.raises(cal.ExtrapolationError):
        lookup_poses(times, tr, q, np.array([times[-1] + 1]))
    with pytest.raises(FusionExtrapolationError):
        lookup_poses(times, tr, q, np.array([times[0] - 1]))
    with pytest.raises(cal.ExtrapolationError, match="gap"):
        traj.interpolate(np.array([times[0] + 1]), max_gap_ns=0)
