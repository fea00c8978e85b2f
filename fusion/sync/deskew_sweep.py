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

from fusion.sync._quat import quat_to_mat, slerp4
from fusion.sync.kernels_deskew import apply_column_affines, column_affines, deskew_kernel, prepare_segments

#: :func:`deskew_sweep` results.
DESKEWED = 0
GAP = 1  # the trajectory has a gap longer than ``max_gap_ns`` inside the sweep: ``out`` untouched
NOT_COVERED = 2  # a point time or the reference time is outside the trajectory: ``out`` untouched


@njit(cache=True)
def _first_at_or_after(times, t):  # type: ignore[no-untyped-def]
    """Smallest j with times[j] >= t (len(times) when none): ``searchsorted(times, t, 'left')``."""
    lo, hi = 0, times.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if times[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return lo


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


@njit(cache=True, nogil=True)  # nogil: the shard pool's threads go on while a sweep is deskewed
def deskew_sweep(  # type: ignore[no-untyped-def]
    xyz, pt, offset_ns, ref_ns, lo_ns, hi_ns, times, traj_t, traj_q, R_bl, t_bl, max_gap_ns, columns, out
):
    """Deskew one sweep to the LiDAR pose at ``ref_ns`` (as :func:`fusion.sync.deskew_points`).

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
    K = times.shape[0]
    if K == 0 or lo_ns < times[0] or hi_ns > times[K - 1]:
        return NOT_COVERED
    # the samples bracketing [lo, hi]: j0 = last at or before lo, j1 = first at or after hi
    j0 = max(_first_at_or_after(times, lo_ns + 1) - 1, 0)
    j1 = min(_first_at_or_after(times, hi_ns), K - 1)
    for j in range(j0, j1):
        if times[j + 1] - times[j] > max_gap_ns:
            return GAP
    w_times = times[j0 : j1 + 1]
    w_t = traj_t[j0 : j1 + 1]
    w_q = traj_q[j0 : j1 + 1]
    # T_world_base at the reference time (linear translation, slerp rotation)
    W = w_times.shape[0]
    k = 0
    a = 0.0
    if W > 1:
        k = min(max(_first_at_or_after(w_times, ref_ns + 1) - 1, 0), W - 2)
        a = (ref_ns - w_times[k]) / (w_times[k + 1] - w_times[k])
    k1 = min(k + 1, W - 1)
    t_ref = np.empty(3)
    for c in range(3):
        t_ref[c] = w_t[k, c] + a * (w_t[k1, c] - w_t[k, c])
    qx, qy, qz, qw = slerp4(w_q[k, 0], w_q[k, 1], w_q[k, 2], w_q[k, 3],
                            w_q[k1, 0], w_q[k1, 1], w_q[k1, 2], w_q[k1, 3], a)  # fmt: skip
    r = quat_to_mat(qx, qy, qz, qw)
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
    if _organized(pt, columns):  # one composed map per column
        col_t = pt[:columns] + offset_ns
        affines = np.empty((columns, 12))
        column_affines(col_t, w_times, seg_M, seg_c, seg_d, seg_axis, R_bl, t_bl, affines)
        apply_column_affines(xyz, affines, False, out)
    else:
        deskew_kernel(xyz, pt + offset_ns, w_times, seg_M, seg_c, seg_d, seg_axis, R_bl, t_bl, False, out)
    return DESKEWED
