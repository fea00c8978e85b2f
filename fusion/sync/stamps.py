"""The one stamp filter: which messages of a stream have a usable time.

The rule, applied to one stream's stamps (int64 ns) in record order (topic index ``0..M-1``):

* a stamp of 0 is no time at all: the message is rejected as :data:`REASON_ZERO_STAMP`;
* among messages with equal non-zero stamps the first in record order is kept and every
  later one is rejected as :data:`REASON_DUPLICATE`;
* every other message is kept, whether or not its stamp is in time order (an out-of-order
  stamp is a new time; matching sorts by time).

Every rejected message has exactly one reason (a zero stamp is never also a duplicate).
The rule has two forms that agree on every sequence (``tests/test_stamp_filter.py``):
:func:`filter_stamps` judges a whole stream at once (vectorized; the plan), and
:class:`StampFilter` judges one message at a time as it arrives (pass 1 writing camera
payloads before the plan exists).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]

# Reasons a message has no usable time (stable strings: they appear in the conversion report
# and in FramePlan.excluded_reference; documented in docs/FORMAT.md).
REASON_ZERO_STAMP = "zero_stamp"
REASON_DUPLICATE = "duplicate_stamp"
#: A message a later one re-publishes complete with the same stamp (:func:`republished`).
REASON_REPUBLISHED = "republished"

#: Verdict codes of :class:`StampVerdict`: index = code, value = reason (None: kept).
KEPT, ZERO, DUPLICATE = 0, 1, 2
REASONS: tuple[str | None, ...] = (None, REASON_ZERO_STAMP, REASON_DUPLICATE)


@dataclass(frozen=True, eq=False)
class StampVerdict:
    """The filter's verdict on one stream of M stamps.

    Attributes:
        code: (M,) int8 :data:`KEPT`, :data:`ZERO` or :data:`DUPLICATE` per topic index.
        first: (M,) int64 topic index of the first message with the same stamp (the message
            itself when kept; the kept one for a duplicate); -1 for a zero stamp.
        order: (M,) int64 topic indices sorted by stamp, equal stamps in record order.
    """

    code: npt.NDArray[np.int8]
    first: I64
    order: I64

    @property
    def usable(self) -> npt.NDArray[np.bool_]:
        """(M,) True where the message is kept."""
        return self.code == KEPT

    def reason(self, index: int) -> str | None:
        """Why message ``index`` is rejected, or None when it is kept."""
        return REASONS[int(self.code[index])]

    def kept_in_time_order(self) -> I64:
        """(K,) topic indices of the kept messages, strictly increasing in stamp."""
        return self.order[self.code[self.order] == KEPT]

    def rejected_in_time_order(self) -> I64:
        """Topic indices of the rejected messages, by stamp (equal stamps in record order)."""
        return self.order[self.code[self.order] != KEPT]


def filter_stamps(stamps: npt.ArrayLike) -> StampVerdict:
    """Judge a whole stream at once (see the module docstring for the rule).

    Args:
        stamps: (M,) int64 ns in record order (any clock: header or bag record time).

    Returns:
        The verdict; O(M log M) (one stable sort).
    """
    s = np.asarray(stamps, dtype=np.int64).reshape(-1)
    m = s.size
    order = np.argsort(s, kind="stable").astype(np.int64)
    ts = s[order]
    new = np.ones(m, dtype=bool)
    new[1:] = ts[1:] != ts[:-1]
    # Stable sort: the first of a run of equal stamps is the lowest topic index.
    run_start = np.maximum.accumulate(np.where(new, np.arange(m), 0)) if m else np.zeros(0, np.int64)
    first = np.empty(m, dtype=np.int64)
    first[order] = order[run_start]
    zero = s == 0
    code = np.where(zero, ZERO, np.where(first == np.arange(m), KEPT, DUPLICATE)).astype(np.int8)
    first[zero] = -1
    return StampVerdict(code=code, first=first, order=order)


class StampFilter:
    """The same rule, one message at a time, for messages offered in record order.

    Offering indices ``0..M-1`` (or any increasing subsequence, e.g. with unreadable
    messages left out) gives for each exactly ``filter_stamps(stamps).reason(i)`` of the
    stream made of the offered messages.
    """

    def __init__(self) -> None:
        self._first: dict[int, int] = {}
        self._last = -1

    def offer(self, index: int, stamp: int) -> str | None:
        """Judge message ``index`` with ``stamp`` (int ns): its rejection reason, or None when kept.

        Raises:
            ValueError: ``index`` does not increase (the rule keeps the first in record order).
        """
        if index <= self._last:
            raise ValueError(f"stamp filter: index {index} offered after {self._last}; offer in record order")
        self._last = index
        if stamp == 0:
            return REASON_ZERO_STAMP
        return None if self._first.setdefault(int(stamp), index) == index else REASON_DUPLICATE

    def first(self, stamp: int) -> int:
        """Index of the kept message with ``stamp``; -1 when none was offered (or ``stamp`` is 0)."""
        return self._first.get(int(stamp), -1)


def stamp_bursts(stamps: npt.ArrayLike, record_ns: npt.ArrayLike) -> I64:
    """Messages that repeat the stamp of the message right after them, when a stream comes in bursts of
    one stamp: every repeated non-zero stamp repeats the message right before, the bursts' stamps
    increase strictly, and every burst arrives (record time) within half the median spacing of the
    bursts' stamps (not a stamp the sensor stopped updating). Timing only: whether the burst is one
    scan re-published as it fills, or a scan split into parts, takes the content (:func:`republished`).

    Args:
        stamps: (M,) int64 header stamps in record order.
        record_ns: (M,) int64 bag record times.

    Returns:
        (R,) int64 topic indices of every message of a burst but its last, increasing; empty when the
        stream is not one of bursts.
    """
    s = np.asarray(stamps, dtype=np.int64).reshape(-1)
    r = np.asarray(record_ns, dtype=np.int64).reshape(-1)
    none = np.zeros(0, np.int64)
    if s.size < 3:
        return none
    nz = s[s != 0]
    same_as_next = (s[:-1] == s[1:]) & (s[:-1] != 0)
    if not same_as_next.any() or np.unique(nz).size != nz.size - int(same_as_next.sum()):
        return none  # no repeat, or a stamp repeats one that is not the message right before
    last = np.flatnonzero(np.append(~same_as_next, True) & (s != 0))  # the last message of each burst
    starts = np.flatnonzero(np.insert(~same_as_next, 0, True) & (s != 0))  # and its first
    if last.size < 3 or np.any(np.diff(s[last]) <= 0):
        return none
    if float(np.max(r[last] - r[starts])) >= 0.5 * float(np.median(np.diff(s[last]))):
        return none  # a burst as long as the stamps' spacing: a stamp the sensor does not update
    return np.flatnonzero(same_as_next).astype(np.int64)


def republished(stamps: npt.ArrayLike, record_ns: npt.ArrayLike, empty_rows: npt.ArrayLike | None) -> I64:
    """Messages that re-publish a scan a later message completes.

    Some drivers publish a scan several times as they fill it (the SICK RMS driver's radar clouds:
    message k of a burst holds the first k targets, the rest zero), all with the scan's header
    stamp. Such a stream's stamps are sound — one per scan, in time order — and the last message
    of each burst is the scan; the rule of :func:`filter_stamps` (the first of equal stamps) would
    keep the emptiest one. A stream is taken for one when it comes in bursts (:func:`stamp_bursts`)
    and every message of a burst but its last has more rows at (0, 0, 0) than the last (it is being
    filled). A scan split into parts (parts without such rows) is not: keeping only its last part
    would drop the others.

    Args:
        stamps: (M,) int64 header stamps in record order.
        record_ns: (M,) int64 bag record times.
        empty_rows: (M,) int64 rows at (0, 0, 0) of each message, -1 where unknown (not decoded);
            None: unknown for every message (then nothing is taken for a re-publication).

    Returns:
        (R,) int64 topic indices of the messages re-published later (every message of a burst but
        its last), increasing; empty when the stream has no such bursts.
    """
    pre = stamp_bursts(stamps, record_ns)
    if not pre.size or empty_rows is None:
        return np.zeros(0, np.int64)
    s = np.asarray(stamps, dtype=np.int64).reshape(-1)
    er = np.asarray(empty_rows, dtype=np.int64).reshape(-1)
    last = np.setdiff1d(np.flatnonzero(s != 0), pre)  # the last message of each burst, and lone ones
    final = last[np.searchsorted(last, pre)]  # the last message of each one's burst
    if np.any(er[final] < 0) or np.any(er[pre] <= er[final]):
        return np.zeros(0, np.int64)  # unknown content, or earlier messages that are not the scan being filled
    return pre
