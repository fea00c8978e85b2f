"""Nearest matching: truly-nearest in hardware time, unique-assignment rule, duplicates."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.errors import SyncError
from fusion.sync import default_tolerance_ns, estimate_clock_offset, match_nearest, relative_offset_ns

MS = 1_000_000
T0 = 1_700_000_000_000_000_000


def brute_nearest(ref, msg, tol):
    """Index of the truly nearest message (earlier wins ties), -1 if beyond tol."""
    out = np.full(ref.size, -1)
    for f, r in enumerate(ref):
        d = np.abs(msg - r)
        best = np.flatnonzero(d == d.min())
        j = best[np.argmin(msg[best])]
        out[f] = j if d[j] <= tol else -1
    return out


def rig(seed=0, n_lidar=300, cam_offset_ns=0):
    """Hardware times: LiDAR 10 Hz, camera 30 Hz free-running (jittered); camera stamps off by an offset."""
    rng = np.random.default_rng(seed)
    lidar_hw = T0 + np.arange(n_lidar) * 100 * MS + rng.integers(-200_000, 200_000, n_lidar)
    cam_hw = T0 - 20 * MS + np.cumsum(rng.integers(32 * MS, 35 * MS, 3 * n_lidar + 20))
    cam_stamp = cam_hw - cam_offset_ns  # the camera's own clock runs `cam_offset_ns` behind
    perm = rng.permutation(cam_hw.size)  # message order is not stamp order
    return lidar_hw, cam_hw[perm], cam_stamp[perm], rng


@pytest.mark.parametrize("unique", [True, False])
def test_nearest_in_hardware_time_all_frames(unique):
    lidar, cam_hw, _, _ = rig()
    idx, dt = match_nearest(lidar, cam_hw, 17 * MS, unique=unique)
    truth = brute_nearest(lidar, cam_hw, 17 * MS)
    assert np.array_equal(idx, truth)
    ok = idx >= 0
    assert ok.mean() > 0.99  # measured 0.9967 (a coverage count, not an error)
    np.testing.assert_array_equal(dt[ok], cam_hw[idx[ok]] - lidar[ok])


def test_offset_camera_matches_after_estimated_offset():
    off = 43 * MS
    lidar, cam_hw, cam_stamp, rng = rig(seed=4, cam_offset_ns=off)
    # record times on the host: hardware time + latency 2-30 ms, for both sensors
    lidar_rec = lidar + rng.integers(2 * MS, 30 * MS, lidar.size)
    cam_rec = cam_hw + rng.integers(2 * MS, 30 * MS, cam_hw.size)
    fit_cam = estimate_clock_offset(cam_stamp, cam_rec)
    fit_lidar = estimate_clock_offset(lidar, lidar_rec)
    rel = relative_offset_ns(fit_cam, fit_lidar)
    assert abs(rel - off) <= 5_500  # measured 1.8e3 ns
    truth = brute_nearest(lidar, cam_hw, 17 * MS)
    idx, _ = match_nearest(lidar, cam_stamp + rel, 17 * MS)
    assert np.array_equal(idx, truth)
    raw, _ = match_nearest(lidar, cam_stamp, 17 * MS)  # without the offset: mostly wrong
    assert np.mean(raw != truth) > 0.5


def test_unique_conflict_rule():
    # msg 100 is nearest for both refs 98 (|2|) and 101 (|1|): 101 wins, 98 takes its next best 95 (|3|)
    idx, dt = match_nearest(np.array([98, 101]), np.array([100, 95, 200]), 5, unique=True)
    assert idx.tolist() == [1, 0] and dt.tolist() == [-3, -1]
    # loser without another candidate within tolerance is missing
    idx, dt = match_nearest(np.array([98, 101]), np.array([100, 200]), 5, unique=True)
    assert idx.tolist() == [-1, 0] and dt.tolist() == [0, -1]
    # non-unique: both take 100
    idx, _ = match_nearest(np.array([98, 101]), np.array([100, 200]), 5, unique=False)
    assert idx.tolist() == [0, 0]
    # equal |Δt|: the earlier reference wins the shared message
    idx, _ = match_nearest(np.array([99, 101]), np.array([100]), 5, unique=True)
    assert idx.tolist() == [0, -1]


def test_ties_duplicates_and_tolerance_edges():
    # tie between a message before and after: the earlier one
    idx, dt = match_nearest(np.array([100]), np.array([110, 90]), 10, unique=False)
    assert idx.tolist() == [1] and dt.tolist() == [-10]
    # duplicates: the first in input order is the only candidate; tolerance is inclusive
    idx, dt = match_nearest(np.array([100, 300]), np.array([105, 105, 290, 500]), 10)
    assert idx.tolist() == [0, 2] and dt.tolist() == [5, -10]
    idx, _ = match_nearest(np.array([100]), np.array([111]), 10)
    assert idx.tolist() == [-1]
    idx, dt = match_nearest(np.array([], np.int64), np.array([1, 2]), 5)
    assert idx.size == 0 and dt.size == 0


def test_default_tolerance_is_half_median_period():
    msg = np.array([0, 100, 200, 300, 300, 420, 500]) * MS
    assert default_tolerance_ns(msg) == 50 * MS
    idx, _ = match_nearest(np.array([150 * MS + 1]), msg)  # None → default tolerance
    assert idx.tolist() == [2]
    with pytest.raises(SyncError, match="distinct stamp"):
        default_tolerance_ns(np.array([5, 5]))


def test_default_tolerance_of_a_bursty_stream_is_half_its_mean_period() -> None:
    """Messages recorded three at a time (0.1 ms apart) every 30 ms: the median spacing is 0.1 ms, the
    period 10 ms on average; half the mean period is the tolerance (half the median would match nothing)."""
    from fusion.sync.matching import default_tolerance_ns

    base = np.arange(50, dtype=np.int64) * 30_000_000
    bursty = np.sort(np.concatenate([base, base + 100_000, base + 200_000]))
    tol = default_tolerance_ns(bursty)
    assert abs(tol - (bursty[-1] - bursty[0]) / (bursty.size - 1) / 2) < 1  # 4.97 ms
    regular = np.arange(50, dtype=np.int64) * 10_000_000
    assert default_tolerance_ns(regular) == 5_000_000  # unchanged for a regular stream
