"""The converter's fused deskew (fusion.sync.deskew_sweep) equals the checked public deskew_points,
and agrees with it on what is refused: trajectory gaps inside a sweep, spans not covered."""

from __future__ import annotations

import numpy as np
import pytest
from test_sync_deskew import DESKEW_BOUNDS_M, SWEEP, _row_major, scan_and_traj
from test_sync_groundtruth import CONSTANT, T0_NS, VARYING, T_base_lidar, world_to_lidar

from fusion.errors import ExtrapolationError
from fusion.sync import deskew_points
from fusion.sync.deskew_sweep import DESKEWED, GAP, NOT_COVERED, deskew_sweep

START = T0_NS + 1_234_567_890
NO_GAP = np.iinfo(np.int64).max


def _fused(xyz, t_sensor, offset_ns, ref_ns, times, tt, q, columns=0, max_gap_ns=NO_GAP):  # type: ignore[no-untyped-def]
    T = T_base_lidar()
    t_common = t_sensor + offset_ns
    lo, hi = min(int(t_common.min()), ref_ns), max(int(t_common.max()), ref_ns)
    out = np.full_like(xyz, 7.0)
    status = deskew_sweep(xyz, t_sensor, np.int64(offset_ns), np.int64(ref_ns), np.int64(lo), np.int64(hi), times,
                          tt, q, np.ascontiguousarray(T[:3, :3]), np.ascontiguousarray(T[:3, 3]),
                          np.int64(max_gap_ns), columns, out)  # fmt: skip
    return status, out


@pytest.mark.parametrize("name", ["constant", "varying"])
@pytest.mark.parametrize("organized", [False, True], ids=["per_point", "per_column"])
@pytest.mark.parametrize("ref", ["start", "mid", "end"])
def test_equals_deskew_points_and_truth(name, organized, ref):  # type: ignore[no-untyped-def]
    traj = {"constant": CONSTANT, "varying": VARYING}[name]
    xyz, t, world, times, tt, q = scan_and_traj(traj, START)
    if organized:
        xyz, t, world = _row_major(xyz), _row_major(t), _row_major(world)
    columns = 1024 if organized else 0
    ref_ns = {"start": START, "mid": START + SWEEP // 2, "end": int(t.max())}[ref]
    offset = -2_500_000  # the sensor clock runs 2.5 ms ahead of the common clock
    status, out = _fused(xyz, t - offset, offset, ref_ns, times, tt, q, columns)
    assert status == DESKEWED
    expected = deskew_points(xyz, t, times, tt, q, T_base_lidar(), ref_ns, columns=columns)
    ulp = np.spacing(np.float32(np.abs(expected).max()))
    assert np.max(np.abs(out - expected)) <= ulp  # measured 0 ulp
    err = np.linalg.norm(out - world_to_lidar(traj, world, ref_ns), axis=1)
    med_bound, p99_bound = DESKEW_BOUNDS_M[name]  # measured as deskew_points (test_sync_deskew)
    assert np.median(err) <= med_bound and np.percentile(err, 99) <= p99_bound


def test_a_gap_inside_the_sweep_is_refused_like_deskew_points():
    xyz, t, _, times, tt, q = scan_and_traj(VARYING, START)
    keep = (times < START + 30_000_000) | (times > START + 70_000_000)  # 40+ ms without a sample mid-sweep
    times, tt, q = times[keep], np.ascontiguousarray(tt[keep]), np.ascontiguousarray(q[keep])
    ref_ns = START + SWEEP // 2
    with pytest.raises(ExtrapolationError):
        deskew_points(xyz, t, times, tt, q, T_base_lidar(), ref_ns, max_gap_ns=30_000_000)
    status, out = _fused(xyz, t, 0, ref_ns, times, tt, q, max_gap_ns=30_000_000)
    assert status == GAP and np.all(out == 7.0)  # untouched
    status, out = _fused(xyz, t, 0, ref_ns, times, tt, q, max_gap_ns=60_000_000)  # bridged when allowed
    assert status == DESKEWED
    expected = deskew_points(xyz, t, times, tt, q, T_base_lidar(), ref_ns, max_gap_ns=60_000_000)
    assert np.max(np.abs(out - expected)) <= 2 * np.spacing(np.float32(np.abs(expected).max()))


def test_a_gap_just_outside_the_sweep_is_not_a_gap():
    """Samples exactly at the sweep's ends bound the window: a gap beyond them does not count."""
    xyz, t, _, times, _, _ = scan_and_traj(CONSTANT, START)
    lo, hi = int(t.min()), int(t.max())
    inside = (times >= lo) & (times <= hi)
    before, after = times[times < lo][-1:], times[times > hi][:1]
    pick = np.concatenate([before - 10_000_000_000, times[inside], [hi], after + 10_000_000_000])
    pick = np.unique(np.concatenate([[lo], pick]))
    tt2, q2 = CONSTANT.pose(pick)
    status, _ = _fused(xyz, t, 0, lo, pick, np.ascontiguousarray(tt2), np.ascontiguousarray(q2),
                       max_gap_ns=30_000_000)  # fmt: skip
    assert status == DESKEWED
    deskew_points(xyz, t, pick, tt2, q2, T_base_lidar(), lo, max_gap_ns=30_000_000)  # does not raise either


def test_spans_outside_the_trajectory_are_not_covered():
    xyz, t, _, times, tt, q = scan_and_traj(VARYING, START)
    inside = times <= START + 50_000_000  # the trajectory ends mid-sweep
    status, out = _fused(xyz, t, 0, START, times[inside], tt[inside], q[inside])
    assert status == NOT_COVERED and np.all(out == 7.0)
    status, _ = _fused(xyz, t, 0, START, times[:0], tt[:0], q[:0])
    assert status == NOT_COVERED
