"""LiDAR deskew against analytic ground truth; kernel == numpy reference; exact inverse."""

from __future__ import annotations

import numpy as np
import pytest
from test_sync_groundtruth import CONSTANT, T0_NS, VARYING, T_base_lidar, samples, spinning_scan, world_to_lidar

from fusion.errors import ExtrapolationError
from fusion.sync import deskew_points, deskew_points_reference, undeskew_points

SWEEP = 100_000_000
# Deskew error vs analytic truth (m), bounds at ~3x the worst measured over ref in {start, mid, end}:
# constant: median 6.3e-5, p99 2.04e-4; varying: median 1.27e-4, p99 4.90e-4 (odometry 50 Hz).
# A 0.3 ms per-point time error gives median 4.4e-3 / 6.5e-3 m: far above (test_time_error_exceeds_bound).
DESKEW_BOUNDS_M = {"constant": (2e-4, 6e-4), "varying": (4e-4, 1.5e-3)}  # (median, p99)


def scan_and_traj(traj, start=T0_NS + 1_234_567_890, rate_hz=50.0):
    xyz, t, world = spinning_scan(traj, start)
    times, tt, q = samples(traj, start - 50_000_000, start + SWEEP + 50_000_000, rate_hz)
    return xyz, t, world, times, tt, q


@pytest.mark.parametrize("name", ["constant", "varying"])
@pytest.mark.parametrize("ref", ["start", "mid", "end"])
def test_deskew_matches_truth(name, ref):
    traj = {"constant": CONSTANT, "varying": VARYING}[name]
    start = T0_NS + 1_234_567_890
    xyz, t, world, times, tt, q = scan_and_traj(traj, start)
    ref_ns = {"start": start, "mid": start + SWEEP // 2, "end": int(t.max())}[ref]
    truth = world_to_lidar(traj, world, ref_ns)
    out = deskew_points(xyz, t, times, tt, q, T_base_lidar(), ref_ns)
    err = np.linalg.norm(out - truth, axis=1)
    med_bound, p99_bound = DESKEW_BOUNDS_M[name]
    assert np.median(err) <= med_bound  # measured 6.3e-5 (constant) / 1.27e-4 m (varying), worst ref
    assert np.percentile(err, 99) <= p99_bound  # measured 2.04e-4 / 4.90e-4 m
    raw_err = np.linalg.norm(xyz - truth, axis=1)
    assert np.percentile(raw_err, 99) > 0.1  # without deskew: decimetres (the test can fail)


@pytest.mark.parametrize("name", ["constant", "varying"])
def test_time_error_exceeds_bound(name):
    """The bounds above catch a 0.3 ms per-point time error (4-8 mm at 10 m/s), which the old 5 mm / 20 mm let pass."""
    traj = {"constant": CONSTANT, "varying": VARYING}[name]
    start = T0_NS + 1_234_567_890
    xyz, t, world, times, tt, q = scan_and_traj(traj, start)
    ref_ns = start + SWEEP // 2
    truth = world_to_lidar(traj, world, ref_ns)
    med_bound, p99_bound = DESKEW_BOUNDS_M[name]
    good = np.linalg.norm(deskew_points(xyz, t, times, tt, q, T_base_lidar(), ref_ns) - truth, axis=1)
    assert np.median(good) <= med_bound and np.percentile(good, 99) <= p99_bound
    late = t + 300_000  # every point stamped 0.3 ms late
    bad = np.linalg.norm(deskew_points(xyz, late, times, tt, q, T_base_lidar(), ref_ns) - truth, axis=1)
    assert np.median(bad) > med_bound  # measured 4.4e-3 (constant) / 6.5e-3 m (varying)
    assert np.percentile(bad, 99) > p99_bound  # measured 8.5e-3 / 1.2e-2 m


def test_sweep_end_mode_is_latest_point_time():
    xyz, t, _, times, tt, q = scan_and_traj(VARYING)
    a = deskew_points(xyz, t, times, tt, q, T_base_lidar(), mode="sweep_end")
    b = deskew_points(xyz, t, times, tt, q, T_base_lidar(), int(t.max()))
    np.testing.assert_array_equal(a, b)
    off = deskew_points(xyz, t, times, tt, q, T_base_lidar(), 0, mode="off")
    np.testing.assert_array_equal(off, xyz)


def test_kernel_equals_numpy_reference_unsorted_times():
    xyz, t, _, times, tt, q = scan_and_traj(VARYING, rate_hz=200.0)
    rng = np.random.default_rng(7)
    perm = rng.permutation(xyz.shape[0])  # do not rely on time-sorted points
    xyz, t = xyz[perm], t[perm]
    ref_ns = int(t.min()) + 37_000_000
    out64 = np.empty(xyz.shape, np.float64)
    deskew_points(xyz, t, times, tt, q, T_base_lidar(), ref_ns, out=out64)
    ref = deskew_points_reference(xyz, t, times, tt, q, T_base_lidar(), ref_ns)
    assert np.max(np.abs(out64 - ref)) <= 1e-13  # measured 3.6e-14 m
    out32 = deskew_points(xyz, t, times, tt, q, T_base_lidar(), ref_ns)
    assert np.max(np.abs(out32 - ref)) <= np.spacing(np.float32(np.abs(ref).max()))  # measured 0.5 ulp (rounding)


@pytest.mark.parametrize("order", ["columns", "shuffled"])
def test_undeskew_recovers_raw_points(order):
    xyz, t, _, times, tt, q = scan_and_traj(VARYING)
    if order == "shuffled":  # every point its own time run: exercises the per-point path
        perm = np.random.default_rng(3).permutation(xyz.shape[0])
        xyz, t = xyz[perm], t[perm]
    ref_ns = int(t.min()) + 50_000_000
    d = deskew_points(xyz, t, times, tt, q, T_base_lidar(), ref_ns)
    back = undeskew_points(d, t, times, tt, q, T_base_lidar(), ref_ns)
    # float32 precision: the deskewed intermediate is rounded to float32 at the point's magnitude
    mag = np.maximum(np.linalg.norm(xyz, axis=1), np.linalg.norm(d, axis=1)).astype(np.float32)
    tol = 2 * np.spacing(mag)[:, None]
    assert np.all(np.abs(back - xyz) <= tol)  # measured 1.0 spacing (both orders)
    assert np.max(np.abs(d - xyz)) > 0.1


def test_in_place_output_and_nan_passthrough():
    xyz, t, _, times, tt, q = scan_and_traj(CONSTANT)
    xyz[3] = np.nan
    expected = deskew_points(xyz, t, times, tt, q, T_base_lidar(), int(t[0]))
    buf = xyz.copy()
    res = deskew_points(buf, t, times, tt, q, T_base_lidar(), int(t[0]), out=buf)
    assert res is buf
    np.testing.assert_array_equal(buf, expected)
    assert np.isnan(buf[3]).all() and np.isfinite(buf[4]).all()


def test_no_extrapolation():
    xyz, t, _, times, tt, q = scan_and_traj(CONSTANT)
    with pytest.raises(ExtrapolationError, match="not covered by the trajectory"):
        deskew_points(xyz, t, times[3:], tt[3:], q[3:], T_base_lidar(), int(times[4]))
    with pytest.raises(ExtrapolationError, match="reference time"):
        deskew_points(xyz, t, times, tt, q, T_base_lidar(), int(times[-1]) + 1)
    # a gap in the trajectory inside the sweep is never bridged when max_gap_ns is given
    keep = np.ones(times.size, bool)
    inside = np.flatnonzero((times > t.min()) & (times < t.max()))
    keep[inside[:2]] = False
    with pytest.raises(ExtrapolationError, match="gap of 60000000 ns"):
        deskew_points(xyz, t, times[keep], tt[keep], q[keep], T_base_lidar(), int(t[0]), max_gap_ns=40_000_000)
    deskew_points(xyz, t, times[keep], tt[keep], q[keep], T_base_lidar(), int(t[0]))  # without: allowed
    with pytest.raises(ValueError, match="needs ref_time_ns"):
        deskew_points(xyz, t, times, tt, q, T_base_lidar())


def _row_major(a: np.ndarray, rows: int = 64, cols: int = 1024) -> np.ndarray:
    """spinning_scan's column-major points as an organized row-major cloud (rows x cols)."""
    return np.ascontiguousarray(a.reshape(cols, rows, *a.shape[1:]).swapaxes(0, 1).reshape(-1, *a.shape[1:]))


@pytest.mark.parametrize("name", ["constant", "varying"])
def test_column_path_equals_per_point_path_and_truth(name):
    traj = {"constant": CONSTANT, "varying": VARYING}[name]
    start = T0_NS + 1_234_567_890
    xyz, t, world, times, tt, q = scan_and_traj(traj, start)
    xyz, t, world = _row_major(xyz), _row_major(t), _row_major(world)
    ref_ns = start + SWEEP // 2
    per_point = deskew_points(xyz, t, times, tt, q, T_base_lidar(), ref_ns)
    by_column = deskew_points(xyz, t, times, tt, q, T_base_lidar(), ref_ns, columns=1024)
    ulp = np.spacing(np.float32(np.abs(per_point).max()))
    assert np.max(np.abs(by_column - per_point)) <= ulp  # measured 0 ulp
    err = np.linalg.norm(by_column - world_to_lidar(traj, world, ref_ns), axis=1)
    med_bound, p99_bound = DESKEW_BOUNDS_M[name]
    assert np.median(err) <= med_bound and np.percentile(err, 99) <= p99_bound  # measured as per-point, mid
    back = undeskew_points(by_column, t, times, tt, q, T_base_lidar(), ref_ns, columns=1024)
    assert np.max(np.abs(back - xyz)) <= 3 * ulp  # measured 1.0 ulp


def test_column_path_is_only_taken_when_columns_share_times():
    start = T0_NS + 1_234_567_890
    xyz, t, _, times, tt, q = scan_and_traj(VARYING, start)
    xyz, t = _row_major(xyz), _row_major(t)
    t[1024 + 5] += 1_000  # one point of row 1 fired 1 µs after its column
    ref_ns = start + SWEEP // 2
    plain = deskew_points(xyz, t, times, tt, q, T_base_lidar(), ref_ns)
    for columns in (1024, 1000, 0, 1):  # not periodic / not dividing N / off / degenerate
        np.testing.assert_array_equal(deskew_points(xyz, t, times, tt, q, T_base_lidar(), ref_ns, columns=columns),
                                      plain)  # fmt: skip
