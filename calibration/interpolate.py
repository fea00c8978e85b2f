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
int64 ns. The per-query work is a numba kernel (parallel from :data:`PARALLEL_MIN_QUERIES` queries);
:func:`span_status`, :func:`bracket` and :func:`interp_row` are numba functions other kernels call.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange
from numpy.typing import ArrayLike, NDArray

from calibration.errors import ExtrapolationError
from calibration.rotation import quat_multiply_xyzw, quat_xyzw_to_matrix

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
#: ``max_gap_ns`` meaning "no gap limit".
NO_GAP_LIMIT = np.iinfo(np.int64).max
#: :func:`span_status` results.
COVERED = 0
GAP = 1  # consecutive samples bracketing the span are further apart than max_gap_ns
NOT_COVERED = 2  # the span reaches outside [times[0], times[-1]] (or there are no samples)
#: Below this angle (rad) between two unit quaternions slerp falls back to a normalised lerp.
_SLERP_EPS = 1e-9


@njit(cache=True, inline="always")
def slerp4(
    x0: float, y0: float, z0: float, w0: float, x1: float, y1: float, z1: float, w1: float, a: float
) -> tuple[float, float, float, float]:
    """Slerp between unit quaternions q0, q1 (x, y, z, w, as scalars) at fraction ``a`` ∈ [0, 1].

    Hemisphere check: if ``q0·q1 < 0``, q1 is negated first (short way round). Returns a unit
    quaternion (x, y, z, w). No allocation (for kernels).
    """
    d = x0 * x1 + y0 * y1 + z0 * z1 + w0 * w1
    if d < 0.0:
        x1, y1, z1, w1, d = -x1, -y1, -z1, -w1, -d
    d = min(d, 1.0)
    theta = math.acos(d)
    if theta < _SLERP_EPS:
        s0 = 1.0 - a
        s1 = a
    else:
        st = math.sin(theta)
        s0 = math.sin((1.0 - a) * theta) / st
        s1 = math.sin(a * theta) / st
    x = s0 * x0 + s1 * x1
    y = s0 * y0 + s1 * y1
    z = s0 * z0 + s1 * z1
    w = s0 * w0 + s1 * w1
    n = math.sqrt(x * x + y * y + z * z + w * w)
    return x / n, y / n, z / n, w / n


@njit(cache=True, inline="always")
def bracket(times: np.ndarray, t: int) -> int:
    """Index k with times[k] <= t <= times[k+1] (clamped to [0, K-2]); times sorted, K >= 1."""
    lo = 0
    hi = times.shape[0] - 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if times[mid] <= t:
            lo = mid
        else:
            hi = mid
    return lo


@njit(cache=True, inline="always")
def first_at_or_after(times: np.ndarray, t: int) -> int:
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
def span_status(times: np.ndarray, lo_ns: int, hi_ns: int, max_gap_ns: int) -> int:
    """The gap rule: is ``[lo_ns, hi_ns]`` covered by the samples ``times`` (K,) int64 ns, sorted?

    Returns:
        :data:`NOT_COVERED` when the span reaches outside ``[times[0], times[-1]]`` (or K = 0),
        :data:`GAP` when two consecutive samples bracketing the span (the last at or before
        ``lo_ns`` through the first at or after ``hi_ns``) are more than ``max_gap_ns`` apart,
        else :data:`COVERED`.
    """
    K = times.shape[0]
    if K == 0 or lo_ns < times[0] or hi_ns > times[K - 1]:
        return NOT_COVERED
    j0 = max(first_at_or_after(times, lo_ns + 1) - 1, 0)
    j1 = min(first_at_or_after(times, hi_ns), K - 1)
    for j in range(j0, j1):
        if times[j + 1] - times[j] > max_gap_ns:
            return GAP
    return COVERED


@njit(cache=True, inline="always")
def segment_alpha(times: np.ndarray, t: int, k: int) -> float:
    """Fraction of ``t`` along segment ``k`` (``times[k]`` → ``times[k+1]``); 0 with one sample."""
    n = times.shape[0]
    return 0.0 if n == 1 or times[k + 1] == times[k] else (t - times[k]) / (times[k + 1] - times[k])


@njit(cache=True, inline="always")
def interp_row(times, vec, quat, t, k, out_vec, out_q, j):  # type: ignore[no-untyped-def]
    """Row ``j`` of ``out_vec`` (M, D) / ``out_q`` (M, 4): ``vec``/``quat`` at ``t`` in segment ``k``.

    ``vec`` (N, D) is interpolated linearly and ``quat`` (N, 4) x, y, z, w slerped (skipped when
    ``quat`` has no rows); ``k`` from :func:`bracket`. On a sample the row is that sample exactly.
    """
    n = times.shape[0]
    d = vec.shape[1]
    k1 = min(k + 1, n - 1)
    if t == times[k] or t == times[k1]:  # on a sample: that sample, bit for bit
        s = k if t == times[k] else k1
        for c in range(d):
            out_vec[j, c] = vec[s, c]
        if quat.shape[0] == n:
            for c in range(4):
                out_q[j, c] = quat[s, c]
        return
    a = segment_alpha(times, t, k)
    for c in range(d):
        out_vec[j, c] = vec[k, c] + a * (vec[k1, c] - vec[k, c])
    if quat.shape[0] == n:
        x, y, z, w = slerp4(
            quat[k, 0], quat[k, 1], quat[k, 2], quat[k, 3],
            quat[k1, 0], quat[k1, 1], quat[k1, 2], quat[k1, 3], a,
        )  # fmt: skip
        out_q[j, 0] = x
        out_q[j, 1] = y
        out_q[j, 2] = z
        out_q[j, 3] = w


def _interp_body(times, vec, quat, query, max_gap, out_vec, out_q, inside):  # type: ignore[no-untyped-def]
    """Every query: covered by :func:`span_status` → :func:`interp_row`, else NaN and not inside."""
    has_q = quat.shape[0] == times.shape[0]
    for j in prange(query.shape[0]):
        t = query[j]
        ok = span_status(times, t, t, max_gap) == COVERED
        inside[j] = ok
        if ok:
            interp_row(times, vec, quat, t, bracket(times, t), out_vec, out_q, j)
        else:
            for c in range(vec.shape[1]):
                out_vec[j, c] = np.nan
            if has_q:
                for c in range(4):
                    out_q[j, c] = np.nan


@njit(cache=True)
def _locate_kernel(times, query, max_gap, seg, alpha, inside):  # type: ignore[no-untyped-def]
    """Every query: covered by :func:`span_status` → its segment (:func:`bracket`) and fraction."""
    for j in range(query.shape[0]):
        t = query[j]
        inside[j] = span_status(times, t, t, max_gap) == COVERED
        seg[j] = bracket(times, t) if inside[j] else 0
        alpha[j] = segment_alpha(times, t, seg[j]) if inside[j] else np.nan


#: Parallel variant for many queries; waking the thread pool costs ~1 ms, so few queries run serially.
_interp_kernel_parallel = njit(cache=True, parallel=True)(_interp_body)
_interp_kernel_serial = njit(cache=True)(_interp_body)
PARALLEL_MIN_QUERIES = 4096


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
    kernel = _interp_kernel_parallel if m >= PARALLEL_MIN_QUERIES else _interp_kernel_serial
    kernel(times, vec, quat, query, gap, out_v, out_q, inside)
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
