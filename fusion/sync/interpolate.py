"""Pose and IMU interpolation with tf2 semantics (numba kernels + checked wrappers).

tf2 interpolates translation linearly and slerps rotation (hemisphere-checked) and
refuses to extrapolate. Here a query outside ``[times_ns[0], times_ns[-1]]`` — or inside
a gap between consecutive samples longer than ``max_gap_ns`` — gets NaN values and
``inside = False``; the ``*_checked`` wrappers raise :class:`ExtrapolationError` instead.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numpy.typing import ArrayLike, NDArray

from fusion.errors import ExtrapolationError
from fusion.sync._quat import slerp4

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
NO_GAP_LIMIT = np.iinfo(np.int64).max


@njit(cache=True, inline="always")
def _bracket(times: np.ndarray, t: int) -> int:
    """Index k with times[k] <= t <= times[k+1] (clamped to [0, K-2]); times sorted."""
    lo = 0
    hi = times.shape[0] - 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if times[mid] <= t:
            lo = mid
        else:
            hi = mid
    return lo


def _interp_body(times, vec, quat, query, max_gap, out_vec, out_q, inside):  # type: ignore[no-untyped-def]
    """Linear interpolation of ``vec`` (N,D) and slerp of ``quat`` (N,4 xyzw, or (0,4)) at ``query``."""
    n = times.shape[0]
    d = vec.shape[1]
    has_q = quat.shape[0] == n
    for j in prange(query.shape[0]):
        t = query[j]
        ok = n > 0 and times[0] <= t <= times[n - 1]
        k = 0
        if ok:
            if n == 1:
                k = 0
            else:
                k = _bracket(times, t)
                if times[k + 1] - times[k] > max_gap and t != times[k] and t != times[k + 1]:
                    ok = False  # inside a gap (a query exactly on a sample is always inside)
        inside[j] = ok
        if not ok:
            for c in range(d):
                out_vec[j, c] = np.nan
            if has_q:
                for c in range(4):
                    out_q[j, c] = np.nan
            continue
        a = 0.0 if n == 1 or times[k + 1] == times[k] else (t - times[k]) / (times[k + 1] - times[k])
        k1 = min(k + 1, n - 1)
        for c in range(d):
            out_vec[j, c] = vec[k, c] + a * (vec[k1, c] - vec[k, c])
        if has_q:
            x, y, z, w = slerp4(
                quat[k, 0], quat[k, 1], quat[k, 2], quat[k, 3],
                quat[k1, 0], quat[k1, 1], quat[k1, 2], quat[k1, 3], a,
            )  # fmt: skip
            out_q[j, 0] = x
            out_q[j, 1] = y
            out_q[j, 2] = z
            out_q[j, 3] = w



#: Parallel variant for many queries; waking the thread pool costs ~1 ms, so few queries run serially.
_interp_kernel_parallel = njit(cache=True, parallel=True)(_interp_body)
_interp_kernel_serial = njit(cache=True)(_interp_body)
PARALLEL_MIN_QUERIES = 4096


def _interp_kernel(times, vec, quat, query, max_gap, out_vec, out_q, inside):  # type: ignore[no-untyped-def]
    """Dispatch to the serial or parallel kernel by query count."""
    kernel = _interp_kernel_parallel if query.shape[0] >= PARALLEL_MIN_QUERIES else _interp_kernel_serial
    kernel(times, vec, quat, query, max_gap, out_vec, out_q, inside)

def _check_times(times_ns: ArrayLike, what: str) -> I64:
    t = np.ascontiguousarray(times_ns, dtype=np.int64)
    if t.ndim != 1:
        raise ValueError(f"{what} must be 1-D int64 ns, got shape {t.shape}")
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise ValueError(f"{what} must be strictly increasing")
    return t


def _rows(a: ArrayLike, n: int, d: int, what: str) -> F64:
    arr = np.ascontiguousarray(a, dtype=np.float64)
    if arr.shape != (n, d):
        raise ValueError(f"{what} must have shape ({n}, {d}), got {arr.shape}")
    return arr


def interpolate_poses(
    times_ns: ArrayLike,
    translations: ArrayLike,
    rotations_xyzw: ArrayLike,
    query_ns: ArrayLike,
    max_gap_ns: int | None = None,
) -> tuple[F64, F64, NDArray[np.bool_]]:
    """Interpolate a pose trajectory (e.g. ``T_world_base``) at query times, tf2-style.

    Args:
        times_ns: sample times (N,) int64 ns, strictly increasing.
        translations: translations (N, 3) float64, metres, in the parent frame.
        rotations_xyzw: unit quaternions (N, 4) float64, **x, y, z, w** order.
        query_ns: query times (M,) int64 ns (any order).
        max_gap_ns: if given, a query between two samples further apart than this is
            treated as outside (a gap is never bridged).

    Returns:
        ``(t (M,3) f64, q (M,4) f64 xyzw, inside (M,) bool)``; rows with ``inside`` False
        (outside the sample range or inside a gap) are NaN. Translation is linear, rotation is
        slerp with a hemisphere check (``q0·q1 < 0`` → q1 negated). Exact at sample times.
    """
    t = _check_times(times_ns, "times_ns")
    n = t.shape[0]
    tr = _rows(translations, n, 3, "translations")
    q = _rows(rotations_xyzw, n, 4, "rotations_xyzw")
    qry = np.ascontiguousarray(query_ns, dtype=np.int64).reshape(-1)
    m = qry.shape[0]
    out_t = np.empty((m, 3))
    out_q = np.empty((m, 4))
    inside = np.empty(m, dtype=np.bool_)
    gap = NO_GAP_LIMIT if max_gap_ns is None else int(max_gap_ns)
    _interp_kernel(t, tr, q, qry, gap, out_t, out_q, inside)
    return out_t, out_q, inside


def _raise_outside(times: I64, query: I64, inside: NDArray[np.bool_], what: str, max_gap_ns: int | None) -> None:
    bad = np.flatnonzero(~inside)
    first = int(query[bad[0]])
    lo = int(times[0]) if times.size else None
    hi = int(times[-1]) if times.size else None
    gap = f" or inside a gap > {max_gap_ns} ns" if max_gap_ns is not None else ""
    raise ExtrapolationError(
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
    """Like :func:`interpolate_poses` but raises instead of returning an ``inside`` mask.

    Returns:
        ``(t (M,3) f64, q (M,4) f64 xyzw)``.

    Raises:
        ExtrapolationError: a query time is outside the samples (or in a gap), naming the
            first such time and the covered range.
    """
    t, q, inside = interpolate_poses(times_ns, translations, rotations_xyzw, query_ns, max_gap_ns)
    if not inside.all():
        _raise_outside(
            np.asarray(times_ns, np.int64), np.asarray(query_ns, np.int64).reshape(-1), inside, what, max_gap_ns
        )
    return t, q


def interpolate_imu(
    times_ns: ArrayLike,
    angular_velocity_radps: ArrayLike,
    linear_acceleration_mps2: ArrayLike,
    query_ns: ArrayLike,
    orientation_xyzw: ArrayLike | None = None,
    max_gap_ns: int | None = None,
) -> tuple[F64, F64, F64 | None, NDArray[np.bool_]]:
    """Interpolate IMU samples at query times (no extrapolation).

    Args:
        times_ns: IMU sample times (N,) int64 ns, strictly increasing.
        angular_velocity_radps: (N, 3) rad/s in the IMU frame.
        linear_acceleration_mps2: (N, 3) specific force, m/s², in the IMU frame.
        query_ns: (M,) int64 ns.
        orientation_xyzw: optional (N, 4) orientation quaternions, x, y, z, w order.
        max_gap_ns: queries inside a longer gap between samples are treated as outside.

    Returns:
        ``(omega (M,3), accel (M,3), orientation (M,4) xyzw or None, inside (M,) bool)``:
        angular velocity and specific force linear, orientation slerped; NaN where not inside.
    """
    t = _check_times(times_ns, "imu times_ns")
    n = t.shape[0]
    vec = np.ascontiguousarray(
        np.concatenate(
            [_rows(angular_velocity_radps, n, 3, "angular_velocity_radps"),
             _rows(linear_acceleration_mps2, n, 3, "linear_acceleration_mps2")], axis=1
        )
    )  # fmt: skip
    q = np.zeros((0, 4)) if orientation_xyzw is None else _rows(orientation_xyzw, n, 4, "orientation_xyzw")
    qry = np.ascontiguousarray(query_ns, dtype=np.int64).reshape(-1)
    m = qry.shape[0]
    out_v = np.empty((m, 6))
    out_q = np.empty((m, 4)) if orientation_xyzw is not None else np.empty((0, 4))
    inside = np.empty(m, dtype=np.bool_)
    gap = NO_GAP_LIMIT if max_gap_ns is None else int(max_gap_ns)
    _interp_kernel(t, vec, q, qry, gap, out_v, out_q, inside)
    return out_v[:, :3].copy(), out_v[:, 3:].copy(), (out_q if orientation_xyzw is not None else None), inside
