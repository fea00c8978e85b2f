"""LiDAR deskew (motion compensation): public wrappers, modes and a plain-numpy reference.

``deskew_points`` moves every point from the LiDAR pose at its own time to the LiDAR pose
at a reference time::

    p_ref = T_lidar_world(t_ref) · T_world_base(t_i) · T_base_lidar · p_i

with ``T_world_base(t)`` interpolated between trajectory samples (linear translation, slerp
rotation, tf2 semantics: no extrapolation). ``undeskew_points`` is the exact inverse.
Modes: ``"off"`` (copy), ``"frame"`` (to ``ref_time_ns``, the frame reference time) and
``"sweep_end"`` (to the latest point time, as KISS-ICP / FAST-LIO do).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibration.interpolate import COVERED, GAP, NO_GAP_LIMIT, span_status
from calibration.interpolate import check_rows as _rows
from calibration.interpolate import check_times as _check_times
from calibration.rotation import quat_xyzw_to_matrix, slerp_xyzw
from fusion.errors import ExtrapolationError
from fusion.sync.deskew_mode import DESKEW_MODES
from fusion.sync.interpolate import lookup_poses
from fusion.sync.kernels_deskew import apply_column_affines, column_affines, deskew_kernel, prepare_segments

F32 = NDArray[np.float32]
I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


def _inputs(
    xyz: ArrayLike, point_time_ns: ArrayLike, traj_times_ns: ArrayLike, traj_t: ArrayLike,
    traj_q: ArrayLike, T_base_lidar: ArrayLike,
) -> tuple[F32, I64, I64, F64, F64, F64]:  # fmt: skip
    p = np.ascontiguousarray(xyz, dtype=np.float32)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"xyz must have shape (N, 3), got {p.shape}")
    pt = np.ascontiguousarray(point_time_ns, dtype=np.int64).reshape(-1)
    if pt.shape[0] != p.shape[0]:
        raise ValueError(f"point_time_ns has {pt.shape[0]} entries for {p.shape[0]} points")
    times = _check_times(traj_times_ns, "traj_times_ns")
    if times.size == 0:
        raise ExtrapolationError("deskew: the trajectory is empty")
    tt = _rows(traj_t, times.size, 3, "traj_t")
    tq = _rows(traj_q, times.size, 4, "traj_q")
    T = np.ascontiguousarray(T_base_lidar, dtype=np.float64)
    if T.shape != (4, 4):
        raise ValueError(f"T_base_lidar must be (4, 4), got {T.shape}")
    return p, pt, times, tt, tq, T


def _resolve_ref(mode: str, ref_time_ns: int | None, pt: NDArray[np.int64]) -> int | None:
    if mode not in DESKEW_MODES:
        raise ValueError(f"deskew mode must be one of {DESKEW_MODES}, got {mode!r}")
    if mode == "off":
        return None
    if mode == "sweep_end":
        return int(pt.max()) if pt.size else (ref_time_ns or 0)
    if ref_time_ns is None:
        raise ValueError("deskew mode 'frame' needs ref_time_ns (the frame reference time)")
    return int(ref_time_ns)


def _check_gap(times: I64, lo: int, hi: int, max_gap_ns: int | None) -> None:
    """Raise if the samples bracketing [lo, hi] are spaced more than ``max_gap_ns`` apart.

    The rule is :func:`calibration.interpolate.span_status` (the pose interpolator's gap rule);
    ``[lo, hi]`` is already known to lie inside the trajectory.
    """
    if max_gap_ns is None or span_status(times, lo, hi, int(max_gap_ns)) != GAP:
        return
    i0 = max(int(np.searchsorted(times, lo, side="right")) - 1, 0)
    i1 = min(int(np.searchsorted(times, hi, side="left")), times.size - 1)
    gaps = np.diff(times[i0 : i1 + 1])
    j = i0 + int(np.argmax(gaps))
    raise ExtrapolationError(
        f"deskew: the trajectory has a gap of {int(gaps.max())} ns > max_gap_ns={max_gap_ns} "
        f"between {int(times[j])} and {int(times[j + 1])} ns inside [{lo}, {hi}] ns (never bridged)"
    )


def _column_times(pt: I64, columns: int) -> I64 | None:
    """(W,) the column times when point i's time equals point i+W's for every i, else None."""
    n = pt.shape[0]
    if columns < 2 or n <= columns or n % columns:
        return None
    grid = pt.reshape(-1, columns)
    return grid[0].copy() if bool((grid == grid[0]).all()) else None


def _check_range(times: NDArray[np.int64], pt: NDArray[np.int64], ref: int) -> None:
    """Raise unless ``ref`` and every point time lie inside the trajectory (``span_status``, no gap limit)."""
    lo, hi = int(times[0]), int(times[-1])
    if span_status(times, ref, ref, NO_GAP_LIMIT) != COVERED:
        raise ExtrapolationError(
            f"deskew: reference time {ref} ns is outside the trajectory [{lo}, {hi}] ns (no extrapolation)"
        )
    if pt.size:
        pmin, pmax = int(pt.min()), int(pt.max())
        if span_status(times, pmin, pmax, NO_GAP_LIMIT) != COVERED:
            raise ExtrapolationError(
                f"deskew: point times [{pmin}, {pmax}] ns are not covered by the trajectory "
                f"[{lo}, {hi}] ns (no extrapolation); flag the frame and use mode 'off'"
            )


def _run(
    xyz: ArrayLike, point_time_ns: ArrayLike, traj_times_ns: ArrayLike, traj_t: ArrayLike,
    traj_q: ArrayLike, T_base_lidar: ArrayLike, ref_time_ns: int | None, out: NDArray[np.floating] | None,
    mode: str, inverse: bool, max_gap_ns: int | None = None, columns: int = 0,
) -> F32:  # fmt: skip
    p, pt, times, tt, tq, T = _inputs(xyz, point_time_ns, traj_times_ns, traj_t, traj_q, T_base_lidar)
    if out is None:
        out = np.empty_like(p)
    elif out.shape != p.shape or out.dtype not in (np.float32, np.float64) or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous float32 (or float64) array of shape {p.shape}")
    ref = _resolve_ref(mode, ref_time_ns, pt)
    if ref is None:
        out[...] = p
        return out
    col_t = _column_times(pt, columns)
    span = col_t if col_t is not None else pt  # the same set of times, W instead of N of them
    _check_range(times, span, ref)
    if pt.size:
        _check_gap(times, min(int(span.min()), ref), max(int(span.max()), ref), max_gap_ns)
    t_ref, q_ref = lookup_poses(times, tt, tq, np.array([ref], np.int64), what="deskew reference pose")
    R_ref = quat_xyzw_to_matrix(q_ref[0])
    R_bl = np.ascontiguousarray(T[:3, :3])
    t_bl = np.ascontiguousarray(T[:3, 3])
    S = max(times.size - 1, 1)
    seg_M = np.empty((S, 3, 3))
    seg_c = np.empty((S, 3))
    seg_d = np.empty((S, 3))
    seg_axis = np.empty((S, 4))
    prepare_segments(tt, tq, R_ref, t_ref[0], R_bl, t_bl, seg_M, seg_c, seg_d, seg_axis)
    if col_t is not None:  # one composed map per column instead of one chain per point
        affines = np.empty((col_t.shape[0], 12))
        column_affines(col_t, times, seg_M, seg_c, seg_d, seg_axis, R_bl, t_bl, affines)
        apply_column_affines(p, affines, inverse, out)
    else:
        deskew_kernel(p, pt, times, seg_M, seg_c, seg_d, seg_axis, R_bl, t_bl, inverse, out)
    return out


def deskew_points(
    xyz: ArrayLike,
    point_time_ns: ArrayLike,
    traj_times_ns: ArrayLike,
    traj_t: ArrayLike,
    traj_q: ArrayLike,
    T_base_lidar: ArrayLike,
    ref_time_ns: int | None = None,
    out: NDArray[np.floating] | None = None,
    mode: str = "frame",
    max_gap_ns: int | None = None,
    columns: int = 0,
) -> F32:
    """Deskew a LiDAR scan to the LiDAR pose at a reference time.

    Args:
        xyz: (N, 3) float32 points in the LiDAR frame, metres (NaN rows pass through).
        point_time_ns: (N,) int64 absolute per-point times, ns (common clock, any order).
        traj_times_ns: (K,) int64 trajectory sample times, strictly increasing.
        traj_t: (K, 3) float64 translations of ``T_world_base`` samples, metres.
        traj_q: (K, 4) float64 rotations of ``T_world_base`` samples, **x, y, z, w**.
        T_base_lidar: (4, 4) extrinsic mapping LiDAR coordinates into base_link.
        ref_time_ns: reference time (ns) for mode ``"frame"``; ignored otherwise.
        out: optional preallocated (N, 3) float32 output (may be ``xyz`` itself); a float64
            ``out`` is accepted too and receives the unrounded result.
        mode: ``"off"`` (copy), ``"frame"`` or ``"sweep_end"`` (ref = latest point time).
        max_gap_ns: if given, trajectory samples spaced further apart than this inside the span of
            the point times and the reference time are a gap, which is never bridged (raises).
        columns: Width W of an organized cloud (row-major, N = H·W). When every point shares its
            time with the point W further on (a spinning LiDAR whose columns are fired at once),
            the chain is composed once per column; otherwise (checked) the per-point path runs.
            Results agree to float32 precision either way.

    Returns:
        (N, 3) float32 points in the LiDAR frame at the reference time.

    Raises:
        ExtrapolationError: the reference time or any point time is outside the trajectory, or
            (with ``max_gap_ns``) the trajectory has a gap within the sweep.
    """
    return _run(xyz, point_time_ns, traj_times_ns, traj_t, traj_q, T_base_lidar, ref_time_ns, out, mode, False,
                max_gap_ns, columns)  # fmt: skip


def undeskew_points(
    xyz_ref: ArrayLike,
    point_time_ns: ArrayLike,
    traj_times_ns: ArrayLike,
    traj_t: ArrayLike,
    traj_q: ArrayLike,
    T_base_lidar: ArrayLike,
    ref_time_ns: int | None = None,
    out: NDArray[np.floating] | None = None,
    mode: str = "frame",
    max_gap_ns: int | None = None,
    columns: int = 0,
) -> F32:
    """Inverse of :func:`deskew_points` (same arguments): recovers the raw points.

    ``undeskew_points(deskew_points(x, ...), ...) == x`` to float32 precision. For mode
    ``"sweep_end"`` the reference is again the latest point time.
    """
    return _run(xyz_ref, point_time_ns, traj_times_ns, traj_t, traj_q, T_base_lidar, ref_time_ns, out, mode, True,
                max_gap_ns, columns)  # fmt: skip


def deskew_points_reference(
    xyz: ArrayLike,
    point_time_ns: ArrayLike,
    traj_times_ns: ArrayLike,
    traj_t: ArrayLike,
    traj_q: ArrayLike,
    T_base_lidar: ArrayLike,
    ref_time_ns: int,
) -> NDArray[np.float64]:
    """Plain-numpy reference of :func:`deskew_points` (mode "frame"), float64 output (N, 3).

    Interpolates ``T_world_base`` per point with ``np.searchsorted`` + linear translation +
    ``calibration.rotation.slerp_xyzw``, then applies the 4x4 chain point by point
    (vectorised). Slow and allocating; for tests and the benchmark only.
    """
    p, pt, times, tt, tq, T = _inputs(xyz, point_time_ns, traj_times_ns, traj_t, traj_q, T_base_lidar)
    _check_range(times, pt, int(ref_time_ns))
    k = np.clip(np.searchsorted(times, pt, side="right") - 1, 0, max(times.size - 2, 0))
    k1 = np.minimum(k + 1, times.size - 1)
    span = (times[k1] - times[k]).astype(np.float64)
    a = np.where(span > 0, (pt - times[k]) / np.where(span > 0, span, 1.0), 0.0)
    t_i = tt[k] + a[:, None] * (tt[k1] - tt[k])
    R_i = quat_xyzw_to_matrix(slerp_xyzw(tq[k], tq[k1], a))
    t_ref, q_ref = lookup_poses(times, tt, tq, np.array([ref_time_ns], np.int64))
    R_ref = quat_xyzw_to_matrix(q_ref[0])
    p_base = p.astype(np.float64) @ T[:3, :3].T + T[:3, 3]
    p_world = np.einsum("nij,nj->ni", R_i, p_base) + t_i
    p_ref_base = (p_world - t_ref[0]) @ R_ref
    return np.asarray((p_ref_base - T[:3, 3]) @ T[:3, :3])
