"""Nearest-in-time matching of reference times to a sensor's message stamps.

Rules (``match_nearest``):

1. Messages are considered in stamp order (stable sort of ``msg_ns``); of several messages with
   the **same stamp** only the first in input order is a candidate (the others are duplicates).
2. A message is a candidate for a reference time if ``|msg − ref| ≤ tolerance_ns`` (inclusive).
3. ``unique=False``: each reference takes its nearest candidate; on a tie (one message before,
   one after at the same distance) the **earlier** message wins.
4. ``unique=True``: every (reference, candidate) pair is ranked by ``|Δt|``, then reference index,
   then message stamp, and accepted greedily when neither side is taken yet. So a conflict goes
   to the reference with the smaller ``|Δt|``; the loser takes its next-best free candidate
   within tolerance, if any, else it is missing. A message is used by at most one reference.

Missing matches have ``index = -1`` and ``dt_ns = 0``.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

from fusion.errors import SyncError

I64 = NDArray[np.int64]


def default_tolerance_ns(msg_ns: ArrayLike) -> int:
    """Half the median period of a stream (ns): the default matching tolerance.

    A stream that arrives in bursts (median spacing under a quarter of the mean) takes the mean
    period instead (a radar aligned by record time whose messages are recorded several at once).

    Args:
        msg_ns: (M,) int64 stamps, any order; duplicates are ignored.

    Raises:
        SyncError: fewer than two distinct stamps (the period is unknown).
    """
    u = np.unique(np.asarray(msg_ns, dtype=np.int64))
    if u.size < 2:
        raise SyncError(
            f"cannot derive a default matching tolerance from {u.size} distinct stamp(s); "
            "give the sensor's tolerance explicitly"
        )
    period = float(np.median(np.diff(u)))
    mean = float(u[-1] - u[0]) / (u.size - 1)
    if period < 0.25 * mean:  # bursts (several messages recorded at once): the median spacing is not the period
        period = mean
    return int(period) // 2


def candidates(msg_ns: ArrayLike) -> tuple[I64, I64]:
    """Sorted candidate stamps and their indices into ``msg_ns`` (duplicates: first kept).

    Returns:
        ``(stamps (C,) int64 sorted strictly increasing, index (C,) int64 into msg_ns)``.
    """
    m = np.asarray(msg_ns, dtype=np.int64).reshape(-1)
    order = np.argsort(m, kind="stable")
    s = m[order]
    keep = np.ones(s.shape[0], dtype=bool)
    keep[1:] = s[1:] != s[:-1]
    return s[keep], order[keep].astype(np.int64)


@njit(cache=True)
def _greedy(pair_f, pair_j, order, n_ref, n_cand, out_j):  # type: ignore[no-untyped-def]
    """Accept ranked (reference, candidate) pairs when both are still free."""
    ref_taken = np.zeros(n_ref, dtype=np.bool_)
    cand_taken = np.zeros(n_cand, dtype=np.bool_)
    for r in range(order.shape[0]):
        p = order[r]
        f = pair_f[p]
        j = pair_j[p]
        if ref_taken[f] or cand_taken[j]:
            continue
        ref_taken[f] = True
        cand_taken[j] = True
        out_j[f] = j


def match_nearest(
    ref_ns: ArrayLike,
    msg_ns: ArrayLike,
    tolerance_ns: int | None = None,
    unique: bool = True,
) -> tuple[I64, I64]:
    """Match each reference time to the nearest message stamp within a tolerance.

    Args:
        ref_ns: (F,) int64 reference (target) times, ns, common clock; any order.
        msg_ns: (M,) int64 message stamps, ns, common clock; may be unsorted with duplicates.
        tolerance_ns: maximum ``|msg − ref|`` (inclusive); ``None`` → :func:`default_tolerance_ns`.
        unique: a message is used by at most one reference (rule 4 of the module doc).

    Returns:
        ``(index (F,) int64 into msg_ns, -1 = missing; dt_ns (F,) int64 = msg − ref, 0 if missing)``.
    """
    ref = np.asarray(ref_ns, dtype=np.int64).reshape(-1)
    F = ref.shape[0]
    index = np.full(F, -1, dtype=np.int64)
    dt = np.zeros(F, dtype=np.int64)
    cand_t, cand_i = candidates(msg_ns)
    if F == 0 or cand_t.size == 0:
        return index, dt
    tol = default_tolerance_ns(msg_ns) if tolerance_ns is None else int(tolerance_ns)
    if tol < 0:
        raise ValueError(f"tolerance_ns must be >= 0, got {tol}")
    if not unique:
        j = np.searchsorted(cand_t, ref, side="left")
        before = np.clip(j - 1, 0, cand_t.size - 1)
        after = np.clip(j, 0, cand_t.size - 1)
        d_before = np.abs(ref - cand_t[before])
        d_after = np.abs(cand_t[after] - ref)
        best = np.where(d_before <= d_after, before, after)
        ok = np.abs(cand_t[best] - ref) <= tol
        index[ok] = cand_i[best[ok]]
        dt[ok] = cand_t[best[ok]] - ref[ok]
        return index, dt
    lo = np.searchsorted(cand_t, ref - tol, side="left")
    hi = np.searchsorted(cand_t, ref + tol, side="right")
    counts = hi - lo
    total = int(counts.sum())
    if total == 0:
        return index, dt
    pair_f = np.repeat(np.arange(F, dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    pair_j = np.repeat(lo, counts) + (np.arange(total) - np.repeat(starts, counts))
    absdt = np.abs(cand_t[pair_j] - ref[pair_f])
    order = np.lexsort((pair_j, pair_f, absdt)).astype(np.int64)
    out_j = np.full(F, -1, dtype=np.int64)
    _greedy(pair_f, pair_j.astype(np.int64), order, F, cand_t.size, out_j)
    ok = out_j >= 0
    index[ok] = cand_i[out_j[ok]]
    dt[ok] = cand_t[out_j[ok]] - ref[ok]
    return index, dt
