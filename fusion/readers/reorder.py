"""Streaming re-order by stamp within a bounded window."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def _default_stamp(item: Any) -> int:
    return int(item.meta.stamp_ns)


def reorder_by_stamp(items: Iterable[T], window_ns: int, *, stamp: Callable[[T], int] = _default_stamp) -> Iterator[T]:
    """Yield ``items`` sorted by stamp, holding at most ``window_ns`` of look-ahead.

    An item is released once an item at least ``window_ns`` later (in stamp) has
    arrived, so any item arriving up to ``window_ns`` late is put back in place.
    Items later than that are yielded as soon as possible (output then stays
    non-decreasing except for them). Ties keep arrival order. Memory is bounded by
    the number of items within one window.

    Args:
        items: Records (default key ``item.meta.stamp_ns``) or anything with ``stamp``.
        window_ns: Look-ahead in ns (>= 0).
        stamp: Key function returning int ns.
    """
    if window_ns < 0:
        raise ValueError("window_ns must be >= 0")
    heap: list[tuple[int, int, T]] = []
    for seq, item in enumerate(items):
        s = stamp(item)
        heapq.heappush(heap, (s, seq, item))
        while heap and heap[0][0] <= s - window_ns:
            yield heapq.heappop(heap)[2]
    while heap:
        yield heapq.heappop(heap)[2]
