"""Property tests (hypothesis) of the sync primitives: interpolation, deskew inverse, nearest matching."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from fusion.sync import deskew_points, interpolate_poses, match_nearest, undeskew_points

FAST = settings(max_examples=60, deadline=None)


@st.composite
def trajectories(draw: st.DrawFn, min_n: int = 2, max_n: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strictly increasing times (ns), translations (m), unit quaternions x,y,z,w of a random trajectory."""
    n = draw(st.integers(min_n, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    times = 1_000_000_000 + np.cumsum(rng.integers(1, 50_000_000, n)).astype(np.int64)
    t = rng.normal(0.0, 20.0, (n, 3))
    q = Rotation.random(n, random_state=rng).as_quat()
    q *= np.where(rng.random(n) < 0.5, -1.0, 1.0)[:, None]  # either hemisphere
    return times, t, q


@FAST
@given(trajectories(), st.integers(0, 2**32 - 1))
def test_interpolation_exact_at_samples_unit_and_no_extrapolation(traj, seed) -> None:  # type: ignore[no-untyped-def]
    times, t, q = traj
    ti, qi, inside = interpolate_poses(times, t, q, times)
    assert inside.all()
    # translations at the sample times: to float64 rounding of the lerp a + s (b - a) at s = 1, i.e. not bit-exact
    # (seen: 1.8e-15 m = 1 ulp of the segment's largest coordinate); the bound is 2 ulp of the largest
    assert np.all(np.abs(ti - t) <= 2 * np.spacing(np.abs(t).max()))
    np.testing.assert_allclose(np.abs(np.sum(qi * q, axis=1)), 1.0, rtol=0, atol=1e-12)  # same rotation
    rng = np.random.default_rng(seed)
    query = rng.integers(times[0] - 100_000_000, times[-1] + 100_000_000, 50)
    ti, qi, inside = interpolate_poses(times, t, q, query)
    expect_inside = (query >= times[0]) & (query <= times[-1])
    np.testing.assert_array_equal(inside, expect_inside)
    assert np.isnan(ti[~inside]).all() and np.isnan(qi[~inside]).all()
    np.testing.assert_allclose(np.linalg.norm(qi[inside], axis=1), 1.0, rtol=0, atol=1e-12)
    # the translation is the linear interpolation of the bracketing samples
    np.testing.assert_allclose(ti[inside], np.stack([np.interp(query[inside], times, t[:, k]) for k in range(3)], 1),
                               rtol=0, atol=1e-9)  # fmt: skip


@FAST
@given(trajectories(min_n=3), st.integers(1, 60_000_000))
def test_interpolation_never_bridges_a_gap(traj, max_gap_ns) -> None:  # type: ignore[no-untyped-def]
    times, t, q = traj
    query = np.concatenate([times, (times[:-1] + times[1:]) // 2])
    _, qi, inside = interpolate_poses(times, t, q, query, max_gap_ns=max_gap_ns)
    k = np.clip(np.searchsorted(times, query, side="right") - 1, 0, times.size - 2)
    at_sample = np.isin(query, times)
    gap_ok = (times[k + 1] - times[k]) <= max_gap_ns
    assert np.all(inside[~at_sample] == gap_ok[~at_sample])  # strictly between samples: only across short gaps
    assert np.isnan(qi[~inside]).all()


@settings(max_examples=25, deadline=None)
@given(trajectories(min_n=4, max_n=8), st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_undeskew_inverts_deskew(traj, seed, ref_frac) -> None:  # type: ignore[no-untyped-def]
    times, t, q = traj
    rng = np.random.default_rng(seed)
    n = 200
    xyz = rng.uniform(-80.0, 80.0, (n, 3)).astype(np.float32)
    pt = rng.integers(times[0], times[-1] + 1, n).astype(np.int64)
    ref_ns = int(times[0] + ref_frac * (times[-1] - times[0]))
    T = np.eye(4)
    T[:3, :3] = Rotation.random(random_state=rng).as_matrix()
    T[:3, 3] = rng.normal(0.0, 1.0, 3)
    d = deskew_points(xyz, pt, times, t, q, T, ref_ns)
    back = undeskew_points(d, pt, times, t, q, T, ref_ns)
    # float32 precision: the deskewed intermediate is rounded at its own magnitude
    mag = np.maximum(np.linalg.norm(xyz, axis=1), np.linalg.norm(d, axis=1)).astype(np.float32)
    assert np.all(np.abs(back - xyz) <= 2 * np.spacing(mag)[:, None])


def brute_nearest(ref: np.ndarray, msg: np.ndarray, tol: int) -> np.ndarray:
    """Non-unique policy: nearest |Δt|, earlier message time on ties, first in input order on equal stamps."""
    out = np.full(ref.size, -1)
    for f, r in enumerate(ref):
        if msg.size == 0:
            continue
        d = np.abs(msg - r)
        best = np.flatnonzero(d == d.min())
        j = best[np.lexsort((best, msg[best]))[0]]
        out[f] = j if d[j] <= tol else -1
    return out


stamps = st.lists(st.integers(0, 400), max_size=15).map(lambda v: np.array(v, dtype=np.int64))


@settings(max_examples=200, deadline=None)
@given(stamps, stamps, st.integers(0, 60))
def test_match_nearest_agrees_with_brute_force(ref, msg, tol) -> None:  # type: ignore[no-untyped-def]
    idx, dt = match_nearest(ref, msg, tol, unique=False)
    np.testing.assert_array_equal(idx, brute_nearest(ref, msg, tol))
    ok = idx >= 0
    np.testing.assert_array_equal(dt[ok], msg[idx[ok]] - ref[ok])


@settings(max_examples=200, deadline=None)
@given(stamps, stamps, st.integers(0, 60))
def test_match_nearest_unique(ref, msg, tol) -> None:  # type: ignore[no-untyped-def]
    idx, dt = match_nearest(ref, msg, tol, unique=True)
    ok = idx >= 0
    assert np.all(np.abs(msg[idx[ok]] - ref[ok]) <= tol)  # every match within tolerance
    np.testing.assert_array_equal(dt[ok], msg[idx[ok]] - ref[ok])
    assert np.unique(idx[ok]).size == idx[ok].size  # no message used twice
    first = np.unique(msg, return_index=True)[1]  # equal stamps: only the first in input order is a candidate
    free = np.setdiff1d(first, idx[ok])
    # a reference that kept its unconstrained nearest message is optimal; one left without a match had no
    # unused candidate within tolerance (the unique rule only ever moves a loser to its next best)
    nearest = brute_nearest(ref, msg, tol)
    for f in np.flatnonzero(ok):
        d = abs(int(msg[idx[f]]) - int(ref[f]))
        if free.size:  # never a farther message while a nearer candidate stays unused
            assert d <= np.abs(msg[free] - ref[f]).min()
        if nearest[f] >= 0:
            assert d >= abs(int(msg[nearest[f]]) - int(ref[f]))
    for f in np.flatnonzero(~ok):
        if free.size:
            assert np.all(np.abs(msg[free] - ref[f]) > tol)
