"""Clock offset / drift from (stamp, record) pairs: lower support line."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.errors import SyncError
from fusion.sync import estimate_clock_offset, relative_offset_ns

MS = 1_000_000
T0 = 1_700_000_000_000_000_000


def stream(rng, n, period_ns, offset_ns, drift_ppm=0.0, lat=(2 * MS, 30 * MS)):
    """Sensor stamps (own clock) and record times = true time + latency; own clock = true − offset."""
    true = T0 + np.arange(n) * period_ns + rng.integers(0, period_ns // 4, n)
    stamp = true - offset_ns - np.round((true - T0) * drift_ppm * 1e-6).astype(np.int64)
    record = true + rng.integers(lat[0], lat[1], n)
    return stamp, record, true


def test_camera_30ms_off_recovered_within_1ms():
    rng = np.random.default_rng(11)
    cam_stamp, cam_rec, cam_true = stream(rng, 1500, 33 * MS, offset_ns=30 * MS)
    lid_stamp, lid_rec, _ = stream(rng, 500, 100 * MS, offset_ns=0)
    fit_c = estimate_clock_offset(cam_stamp, cam_rec)
    fit_l = estimate_clock_offset(lid_stamp, lid_rec)
    # each absolute offset includes that sensor's minimum latency (~2 ms): observable only relatively
    assert abs(fit_c.offset_ns - 32 * MS) <= 120_000  # measured 4.0e4 ns
    rel = relative_offset_ns(fit_c, fit_l)
    assert abs(rel - 30 * MS) <= 20_000  # measured 6.8e3 ns
    span_s = (cam_stamp.max() - cam_stamp.min()) / 1e9
    assert abs(fit_c.drift_ppm) <= 2 * fit_c.uncertainty_ns / 1e9 / span_s * 1e6  # drift is weakly observable
    assert 0 <= fit_c.uncertainty_ns <= 2 * MS  # measured 1.05 ms (an upper bound, not an error)
    fixed = estimate_clock_offset(cam_stamp, cam_rec, fit_drift=False)
    assert fixed.drift_ppm == 0.0 and abs(fixed.offset_ns - 32 * MS) <= 10_000  # measured 3.3e3 ns
    # put on the common (LiDAR) clock: hardware time recovered within 1 ms
    assert np.max(np.abs(cam_stamp + rel - cam_true)) <= 20_000  # measured 6.8e3 ns


def test_drift_recovered():
    rng = np.random.default_rng(5)
    stamp, record, true = stream(rng, 3000, 50 * MS, offset_ns=-7 * MS, drift_ppm=40.0)
    fit = estimate_clock_offset(stamp, record)
    assert abs(fit.drift_ppm - 40.0) <= 0.41  # measured 0.137 ppm
    pred = stamp + fit.offset_at(stamp) - 2 * MS  # minus the (known, test-only) minimum latency
    assert np.max(np.abs(pred - true)) <= 60_000  # measured 1.95e4 ns


def test_latency_only_above_the_line_and_uncertainty_grows_with_sparse_support():
    rng = np.random.default_rng(2)
    stamp, record, _ = stream(rng, 400, 100 * MS, offset_ns=0, lat=(2 * MS, 60 * MS))
    fit = estimate_clock_offset(stamp, record)
    resid = record - stamp - fit.offset_at(stamp)
    assert resid.min() >= -1  # the support line lies below every point (int rounding)
    stamp2, record2, _ = stream(rng, 20, 100 * MS, offset_ns=0, lat=(2 * MS, 60 * MS))
    assert estimate_clock_offset(stamp2, record2).uncertainty_ns > fit.uncertainty_ns


def test_needs_two_stamps():
    with pytest.raises(SyncError, match="distinct stamps"):
        estimate_clock_offset(np.array([1, 1]), np.array([2, 3]))
