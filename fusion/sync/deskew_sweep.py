"""One call per sweep: the converter's deskew, fused into a single numba kernel.

:func:`fusion.sync.deskew_points` is the checked public function: it validates its arguments,
looks the reference pose up, checks trajectory gaps, chooses the per-column or per-point path and
dispatches four kernels, each step in Python. Inside a conversion the arguments are known good
(the plan's trajectory, a decoded sweep) and the same steps cost 0.1–0.2 ms of Python per sweep,
more than the deskew itself (≈ 0.3 ms for 40 k points). :func:`deskew_sweep` runs all of them in
one kernel with the same math — the same segment preparation and per-point/per-column kernels —
so its result equals :func:`~fusion.sync.deskew_points` (``tests/test_sync_deskew_sweep.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from calibration.interpolate import COVERED, bracket, first_at_or_after, interp_row, span_status
from calibration.interpolate import GAP as SPAN_GAP
from fusion.sync._quat import quat_to_mat
from fusion.sync.kernels_deskew import apply_column_affines, column_affines, deskew_kernel, prepare_segments

#: :func:`deskew_sweep` results.
DESKEWED = 0
GAP = 1  # the trajectory has a gap longer than ``max_gap_ns`` inside the sweep: ``out`` untouched
# (the rule is :func:`calibration.interpolate.span_status`, the pose interpolator's)
NOT_COVERED = 2  # a point time or the reference time is outside the trajectory: ``out`` untouched
NOT_ORGANIZED = 3  # internal: the organized kernel's answer for a cloud it does not handle


@njit(cache=True)
def _organized(pt, columns):  # type: ignore[no-untyped-def]
    """True when point i shares its time with point i + columns for every i (one time per column)."""
    n = pt.shape[0]
    if columns < 2 or n <= columns or n % columns:
        return False
    for i in range(columns, n):  # noqa: SIM110 (a loop: numba)
        if pt[i] != pt[i - columns]:
            return False
    return True


@njit(cache=True)  # not inlined: compiled once for both kernels
def _segments(lo_ns, hi_ns, ref_ns, times, traj_t, traj_q, R_bl, t_bl):  # type: ignore[no-untyped-def]
    """The trajectory window over [lo_ns, hi_ns] and its per-segment arrays, folded to ``ref_ns``."""
    # the samples bracketing [lo, hi]: j0 = last at or before lo, j1 = first at or after hi
    K = times.shape[0]
    j0 = max(first_at_or_after(times, lo_ns + 1) - 1, 0)
    j1 = min(first_at_or_after(times, hi_ns), K - 1)
    w_times = times[j0 : j1 + 1]
    w_t = traj_t[j0 : j1 + 1]
    w_q = traj_q[j0 : j1 + 1]
    # T_world_base at the reference time: the pose interpolator's row (linear translation, slerp rotation)
    W = w_times.shape[0]
    ref_t = np.empty((1, 3))
    ref_q = np.empty((1, 4))
    interp_row(w_times, w_t, w_q, ref_ns, bracket(w_times, ref_ns), ref_t, ref_q, 0)
    t_ref = ref_t[0]
    r = quat_to_mat(ref_q[0, 0], ref_q[0, 1], ref_q[0, 2], ref_q[0, 3])
    R_ref = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            R_ref[i, j] = r[i * 3 + j]
    S = max(W - 1, 1)
    seg_M = np.empty((S, 3, 3))
    seg_c = np.empty((S, 3))
    seg_d = np.empty((S, 3))
    seg_axis = np.empty((S, 4))
    prepare_segments(w_t, w_q, R_ref, t_ref, R_bl, t_bl, seg_M, seg_c, seg_d, seg_axis)
    return w_times, seg_M, seg_c, seg_d, seg_axis


@njit(cache=True, nogil=True)  # nogil: the shard pool's threads go on while a sweep is deskewed
def _deskew_organized(  # type: ignore[no-untyped-def]
    xyz, pt, offset_ns, ref_ns, lo_ns, hi_ns, times, traj_t, traj_q, R_bl, t_bl, max_gap_ns, columns, out
):
    """:func:`deskew_sweep` of an organized cloud (one time per column); NOT_ORGANIZED otherwise."""
    if not _organized(pt, columns):
        return NOT_ORGANIZED
    status = span_status(times, lo_ns, hi_ns, max_gap_ns)  # the pose interpolator's gap rule
    if status != COVERED:
        return GAP if status == SPAN_GAP else NOT_COVERED
    w_times, seg_M, seg_c, seg_d, seg_axis = _segments(lo_ns, hi_ns, ref_ns, times, traj_t, traj_q, R_bl, t_bl)
    col_t = pt[:columns] + offset_ns
    affines = np.empty((columns, 12))
    column_affines(col_t, w_times, seg_M, seg_c, seg_d, seg_axis, R_bl, t_bl, affines)
    apply_column_affines(xyz, affines, False, out)
    return DESKEWED


@njit(cache=True, nogil=True)
def _deskew_per_point(  # type: ignore[no-untyped-def]
    xyz, pt, offset_ns, ref_ns, lo_ns, hi_ns, times, traj_t, traj_q, R_bl, t_bl, max_gap_ns, out
):
    """:func:`deskew_sweep` of any cloud, one pose per point time (the per-point kernel)."""
    status = span_status(times, lo_ns, hi_ns, max_gap_ns)
    if status != COVERED:
        return GAP if status == SPAN_GAP else NOT_COVERED
    w_times, seg_M, seg_c, seg_d, seg_axis = _segments(lo_ns, hi_ns, ref_ns, times, traj_t, traj_q, R_bl, t_bl)
    deskew_kernel(xyz, pt + offset_ns, w_times, seg_M, seg_c, seg_d, seg_axis, R_bl, t_bl, False, out)
    return DESKEWED


def deskew_sweep(
    xyz: np.ndarray,
    pt: np.ndarray,
    offset_ns: int | np.int64,
    ref_ns: int | np.int64,
    lo_ns: int | np.int64,
    hi_ns: int | np.int64,
    times: np.ndarray,
    traj_t: np.ndarray,
    traj_q: np.ndarray,
    R_bl: np.ndarray,
    t_bl: np.ndarray,
    max_gap_ns: int | np.int64,
    columns: int,
    out: np.ndarray,
) -> int:
    """Deskew one sweep to the LiDAR pose at ``ref_ns`` (as :func:`fusion.sync.deskew_points`).

    Two kernels, so that a log of organized clouds never compiles the per-point kernel (its
    first-run compile cost several seconds): the organized one answers NOT_ORGANIZED when the
    point times are not one per column, and the per-point one then runs.

    Args:
        xyz: (N, 3) float32 finite points in the LiDAR frame, m.
        pt: (N,) int64 per-point times on the sensor clock, ns.
        offset_ns: Sensor clock -> common clock, ns (``pt + offset_ns`` is on the common clock).
        ref_ns: Reference time (common clock), ns.
        lo_ns, hi_ns: Earliest and latest of the point times (common clock) and ``ref_ns``, ns.
        times: (K,) int64 trajectory sample times (common clock), strictly increasing, ns.
        traj_t: (K, 3) float64 translations of ``T_world_base``, m.
        traj_q: (K, 4) float64 rotations of ``T_world_base``, x, y, z, w.
        R_bl, t_bl: (3, 3), (3,) float64 ``T_base_lidar``.
        max_gap_ns: Trajectory samples further apart than this inside [lo_ns, hi_ns] are a gap.
        columns: Width of an organized cloud (0: not organized).
        out: (N, 3) float32 output.

    Returns:
        DESKEWED, GAP or NOT_COVERED (``out`` untouched for the latter two).
    """
    args = (xyz, pt, offset_ns, ref_ns, lo_ns, hi_ns, times, traj_t, traj_q, R_bl, t_bl, max_gap_ns)
    status = int(_deskew_organized(*args, columns, out))
    if status != NOT_ORGANIZED:
        return status
    return int(_deskew_per_point(*args, out))
