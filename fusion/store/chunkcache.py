"""Decoded inner chunks kept across reads, so a sequential scan decompresses each chunk once.

A frame's rows of a per-point or per-image column lie inside one or two inner chunks (LiDAR: a
65 536-row chunk holds 1–3 sweeps; camera bytes: a 1 MiB chunk holds several JPEGs; IMU: one
1 024-row chunk holds many frames' samples). zarr decodes the whole inner chunk for any slice of
it, so reading frame after frame decoded the same chunk 2–10 times. :class:`ChunkCache` keeps the
decoded chunks a read ended inside — the ones the next frame starts in; a chunk read up to its
end is not kept (and dropped when an earlier read kept it), so a scan holds about one chunk per
column — within a byte budget (least recently used evicted beyond it, 32 MiB by default), and
assembles each row slice from them; chunks not cached are fetched concurrently in
one event-loop round trip (:func:`fusion.store.reading.read_many`).

Only reads of a contiguous row range of an array chunked along axis 0 go through the cache (what
every frame read is); anything else reads as before. A store being validated gets no cache
(validation reads each chunk once and promises bounded memory). One cache per
:func:`fusion.open`: a reopened store never sees another's chunks.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

#: Default budget of decoded chunks per opened store (``fusion.open(..., cache_mb=...)``).
DEFAULT_CACHE_MB = 32


def row_range(sel: Any, n: int) -> tuple[int, int] | None:
    """``(a, b)`` when ``sel`` selects the contiguous rows ``a:b`` (and everything of the other
    axes), else ``None``."""
    if isinstance(sel, tuple):
        if not sel or any(not (isinstance(s, slice) and s == slice(None)) for s in sel[1:]):
            return None
        sel = sel[0]
    if not isinstance(sel, slice) or sel.step not in (None, 1):
        return None
    a, b, _ = sel.indices(n)
    return (a, b) if b > a else None


class ChunkCache:
    """An LRU of decoded inner chunks ``(array path, chunk) -> ndarray`` within ``budget`` bytes.

    Thread-safe (a prefetching iterator reads from worker threads).
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget = int(budget_bytes)
        self._items: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> np.ndarray | None:
        """The cached chunk (marked most recently used), or ``None``."""
        with self._lock:
            chunk = self._items.get(key)
            if chunk is not None:
                self._items.move_to_end(key)
            return chunk

    def put(self, key: tuple[str, int], chunk: np.ndarray) -> None:
        """Keep ``chunk`` (read-only), evicting the least recently used beyond the budget."""
        if chunk.nbytes > self.budget:
            return
        chunk.flags.writeable = False
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = chunk
            self._bytes += chunk.nbytes
            while self._bytes > self.budget and self._items:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted.nbytes

    def drop(self, key: tuple[str, int]) -> None:
        """Forget ``key`` (no error when it is not held)."""
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes

    @property
    def nbytes(self) -> int:
        """Bytes of the chunks held."""
        return self._bytes


def assemble(chunks: list[np.ndarray], first_row: int, a: int, b: int) -> np.ndarray:
    """Rows ``a:b`` from consecutive decoded chunks, the first starting at row ``first_row``
    (a new, writable array: the cached chunks are never handed out)."""
    if len(chunks) == 1:
        return chunks[0][a - first_row: b - first_row].copy()
    out = np.empty((b - a, *chunks[0].shape[1:]), dtype=chunks[0].dtype)
    pos, start = 0, first_row
    for ch in chunks:
        lo, hi = max(a, start), min(b, start + ch.shape[0])
        if hi > lo:
            out[pos: pos + hi - lo] = ch[lo - start: hi - start]
            pos += hi - lo
        start += ch.shape[0]
    return out
