"""The pose interpolator: tf2-style, vectorized, with an explicit gap and extrapolation rule.

One rule for every consumer (deskew, radar compensation, the store reader, ``Trajectory``):

* Between samples translation (and any vector) is linear and rotation is slerp with a hemisphere
  check (``q0·q1 < 0`` → q1 negated, short way); a query on a sample returns that sample exactly.
* **Gap rule** (:func:`span_status`): samples further apart than ``max_gap_ns`` are a gap, never
  bridged. A time span ``[lo, hi]`` is covered when it lies in ``[times[0], times[-1]]`` and no
  pair of consecutive samples bracketing it is further apart than ``max_gap_ns``; a single query
  is the span ``[t, t]`` (so a query exactly on a sample is always covered).
* **Extrapolation**: none unless the caller passes ``max_extrapolation_ns`` (default 0). Within
  that distance outside the samples the end pose is moved by a constant base-frame twist (the end
  sample's ``twist`` if given, else zero: the end pose is held).

Uncovered queries get NaN rows and ``inside = False``; :func:`lookup_poses` raises
:class:`~calibration.errors.ExtrapolationError` instead. Quaternions are **x, y, z, w**; times are
int64 ns. The per-query work is a serial numba kernel;
:func:`span_status`, :func:`bracket` and :func:`interp_row` are numba functions other kernels call.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibration.errors import ExtrapolationError
from calibration.interp_kernels import (
    COVERED as COVERED,
)
from calibration.interp_kernels import (
    GAP as GAP,
)
from calibration.interp_kernels import (  # re-exported: other kernels import them from here
    NO_GAP_LIMIT as NO_GAP_LIMIT,
)
from calibration.interp_kernels import (
    NOT_COVERED as NOT_COVERED,
)
from calibration.interp_kernels import (
    _interp_kernel,
    _locate_kernel,
)
from calibration.interp_kernels import (
    bracket as bracket,
)
from calibration.interp_kernels import (
    first_at_or_after as first_at_or_after,
)
from calibration.interp_kernels import (
    interp_row as interp_row,
)
from calibration.interp_kernels import (
    segment_alpha as segment_alpha,
)
from calibration.interp_kernels import (
    slerp4 as slerp4,
)
from calibration.interp_kernels import (
    span_status as span_status,
)
from calibration.rotation import quat_multiply_xyzw, quat_xyzw_to_matrix

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]

def check_times(times_ns: ArrayLike, what: str) -> I64:
    """``times_ns`` as a contiguous (N,) int64 array; raises ValueError unless 1-D strictly increasing."""
    t = np.ascontiguousarray(times_ns, dtype=np.int64)
    if t.ndim != 1:
        raise ValueError(f"{what} must be 1-D int64 ns, got shape {t.shape}")
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise ValueError(f"{what} must be strictly increasing")
    return t


def check_rows(a: ArrayLike, n: int, d: int, what: str) -> F64:
    """``a`` as a contiguous (n, d) float64 array; raises ValueError on another shape."""
    arr = np.ascontiguousarray(a, dtype=np.float64)
    if arr.shape != (n, d):
        raise ValueError(f"{what} must have shape ({n}, {d}), got {arr.shape}")
    return arr


def interpolate_rows(
    times: I64, vec: F64, quat: F64, query: I64, max_gap_ns: int | None
) -> tuple[F64, F64, NDArray[np.bool_]]:
    """Kernel entry on checked arrays: ``vec`` (N, D) linear, ``quat`` (N, 4) or (0, 4) slerped.

    Returns:
        ``(vec (M, D), quat (M, 4) or (0, 4), inside (M,) bool)``, NaN rows where not inside.
    """
    m = query.shape[0]
    out_v = np.empty((m, vec.shape[1]))
    out_q = np.empty((m, 4)) if quat.shape[0] == times.shape[0] else np.empty((0, 4))
    inside = np.empty(m, dtype=np.bool_)
    gap = NO_GAP_LIMIT if max_gap_ns is None else int(max_gap_ns)
    _interp_kernel(times, vec, quat, query, gap, out_v, out_q, inside)
    return out_v, out_q, inside


def locate(times: I64, query: I64, max_gap_ns: int | None) -> tuple[I64, F64, NDArray[np.bool_]]:
    """Where queries fall, by the interpolator's rule, for a caller that blends samples itself.

    Args:
        times: (N,) int64 ns, checked (:func:`check_times`). query: (M,) int64 ns, contiguous.
        max_gap_ns: the gap limit (None: none).

    Returns:
        ``(segment (M,) int64, alpha (M,) f64, inside (M,) bool)``: a covered query lies at fraction
        ``alpha`` from sample ``segment`` to sample ``min(segment + 1, N - 1)`` (the same segment and
        fraction :func:`interpolate_poses` uses); ``alpha`` is NaN where not inside.
    """
    m = query.shape[0]
    seg = np.empty(m, dtype=np.int64)
    alpha = np.empty(m)
    inside = np.empty(m, dtype=np.bool_)
    _locate_kernel(times, query, NO_GAP_LIMIT if max_gap_ns is None else int(max_gap_ns), seg, alpha, inside)
    return seg, alpha, inside


def _rotvec_quat_xyzw(rotvec: F64) -> F64:
    """Unit quaternions (M, 4) x, y, z, w of rotation vectors (M, 3) (axis · angle, rad)."""
    theta = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    half = 0.5 * theta
    # sin(θ/2)/θ → 1/2 as θ → 0
    k = np.where(theta > 1e-12, np.sin(half) / np.where(theta > 1e-12, theta, 1.0), 0.5)
    return np.concatenate([k * rotvec, np.cos(half)], axis=-1)


def _extrapolate(
    times: I64, tr: F64, q: F64, query: I64, rows: NDArray[np.bool_],
    twist: tuple[ArrayLike, ArrayLike] | None, out_t: F64, out_q: F64,
) -> None:  # fmt: skip
    """Fill ``rows`` (outside the samples) with the end pose moved by the end sample's constant twist."""
    end = np.where(query[rows] < times[0], 0, times.size - 1)
    dt_s = ((query[rows] - times[end]) * 1e-9)[:, None]
    if twist is None:  # hold the end pose (exactly)
        out_t[rows] = tr[end]
        out_q[rows] = q[end]
        return
    v = check_rows(twist[0], times.size, 3, "twist linear velocity")[end]
    w = check_rows(twist[1], times.size, 3, "twist angular velocity")[end]
    R_end = quat_xyzw_to_matrix(q[end])
    out_t[rows] = tr[end] + np.einsum("mij,mj->mi", R_end, v * dt_s)
    out_q[rows] = quat_multiply_xyzw(q[end], _rotvec_quat_xyzw(w * dt_s))


def interpolate_poses(
    times_ns: ArrayLike,
    translations: ArrayLike,
    rotations_xyzw: ArrayLike,
    query_ns: ArrayLike,
    max_gap_ns: int | None = None,
    *,
    max_extrapolation_ns: int = 0,
    twist: tuple[ArrayLike, ArrayLike] | None = None,
) -> tuple[F64, F64, NDArray[np.bool_]]:
    """Interpolate a pose trajectory (e.g. ``T_world_base``) at query times, tf2-style.

    Args:
        times_ns: sample times (N,) int64 ns, strictly increasing.
        translations: translations (N, 3) float64, metres, in the parent frame.
        rotations_xyzw: unit quaternions (N, 4) float64, **x, y, z, w** order.
        query_ns: query times (M,) int64 ns (any order).
        max_gap_ns: samples further apart than this are a gap: a query strictly inside it is
            outside (never bridged). None: no gap limit.
        max_extrapolation_ns: a query at most this far before the first or after the last sample
            gets the end pose moved by a constant twist (see ``twist``) and counts as inside.
            Default 0: no extrapolation.
        twist: optional ``(linear_velocity_mps (N, 3), angular_velocity_radps (N, 3))`` of the
            child frame, expressed in the child frame, used for extrapolation; without it the end
            pose is held.

    Returns:
        ``(t (M,3) f64, q (M,4) f64 xyzw, inside (M,) bool)``; rows with ``inside`` False are NaN.
    """
    t = check_times(times_ns, "times_ns")
    n = t.shape[0]
    tr = check_rows(translations, n, 3, "translations")
    q = check_rows(rotations_xyzw, n, 4, "rotations_xyzw")
    qry = np.ascontiguousarray(query_ns, dtype=np.int64).reshape(-1)
    out_t, out_q, inside = interpolate_rows(t, tr, q, qry, max_gap_ns)
    if max_extrapolation_ns > 0 and n:
        before, after = qry < t[0], qry > t[-1]
        distance_ns = np.where(before, t[0] - qry, np.where(after, qry - t[-1], 0))
        rows = (before | after) & (distance_ns <= max_extrapolation_ns)
        if rows.any():
            _extrapolate(t, tr, q, qry, rows, twist, out_t, out_q)
            inside |= rows
    return out_t, out_q, inside


def interpolate_vectors(
    times_ns: ArrayLike, values: ArrayLike, query_ns: ArrayLike, max_gap_ns: int | None = None
) -> tuple[F64, NDArray[np.bool_]]:
    """Linear interpolation of vectors (N, D) at query times (M,) with the same gap rule.

    Returns:
        ``(values (M, D) f64, inside (M,) bool)``; NaN rows where not inside.
    """
    t = check_times(times_ns, "times_ns")
    v = np.asarray(values, dtype=np.float64)
    v = check_rows(v, t.shape[0], v.shape[1] if v.ndim == 2 else -1, "values")
    qry = np.ascontiguousarray(query_ns, dtype=np.int64).reshape(-1)
    out, _, inside = interpolate_rows(t, v, np.zeros((0, 4)), qry, max_gap_ns)
    return out, inside


def outside_message(times: I64, query: I64, inside: NDArray[np.bool_], what: str, max_gap_ns: int | None) -> str:
    """The :class:`ExtrapolationError` message for queries not ``inside`` (first one, covered range)."""
    bad = np.flatnonzero(~inside)
    first = int(query[bad[0]])
    lo = int(times[0]) if times.size else None
    hi = int(times[-1]) if times.size else None
    gap = f" or inside a gap > {max_gap_ns} ns" if max_gap_ns is not None else ""
    return (
        f"{what}: {bad.size} of {query.size} query times are outside the samples{gap}; first at "
        f"{first} ns, samples cover [{lo}, {hi}] ns. tf2 semantics: no extrapolation — "
        "trim the frames or extend the stream."
    )


def lookup_poses(
    times_ns: ArrayLike,
    translations: ArrayLike,
    rotations_xyzw: ArrayLike,
    query_ns: ArrayLike,
    max_gap_ns: int | None = None,
    what: str = "pose trajectory",
) -> tuple[F64, F64]:
    """Like :func:`interpolate_poses` (no extrapolation) but raises instead of returning a mask.

    Returns:
        ``(t (M,3) f64, q (M,4) f64 xyzw)``.

    Raises:
        ExtrapolationError: a query time is outside the samples (or in a gap), naming the
            first such time and the covered range.
    """
    t, q, inside = interpolate_poses(times_ns, translations, rotations_xyzw, query_ns, max_gap_ns)
    if not inside.all():
        raise ExtrapolationError(
            outside_message(np.asarray(times_ns, np.int64), np.asarray(query_ns, np.int64).reshape(-1),
                            inside, what, max_gap_ns)
        )  # fmt: skip
    return t, q
