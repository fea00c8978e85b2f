"""Guarded reads of a store's arrays: a damaged store raises :class:`~fusion.errors.StoreCorruptError`,
never garbage, and a frame's slices are read in one batch.

* :func:`read` / :func:`read_many` assemble contiguous row ranges of a dataset's arrays from the
  store's :class:`~fusion.store.chunkcache.ChunkCache`; the chunks it lacks are read directly from
  a complete local store's files (:mod:`fusion.store.direct`), the rest through zarr in one
  event-loop round trip.
* :func:`read_uncached` is ``arr[sel]`` through zarr; any failure of a zarr read (checksum, codec,
  JSON, shape) becomes one ``StoreCorruptError`` naming the array and the first chunk that fails
  (:func:`corrupt_error`, found by re-reading the selection chunk by chunk, on the error path only).

The store-level checks (absent objects, shard indexes, the chunk manifest) are
:class:`~fusion.store.guard.GuardedStore`'s.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import numpy as np
import zarr

from fusion.errors import FusionError, StoreCorruptError
from fusion.store._zarr_compat import sync
from fusion.store.chunkcache import ChunkCache, assemble, row_range
from fusion.store.direct import DirectReader
from fusion.store.guard import ADVICE, Grid, GuardedStore, grid_of


def _url(arr: zarr.Array) -> str:
    store = arr.store_path.store
    return f"{store.url}: " if isinstance(store, GuardedStore) and store.url else ""


def _expect(arr: zarr.Array) -> Grid | None:
    store = arr.store_path.store
    if isinstance(store, GuardedStore):
        known = store.grid(arr)
        if known is not None:
            return known
        store.expect(arr)
    return grid_of(arr)


def _rows(sel: Any, n: int) -> tuple[int, int]:
    """The rows ``[a, b)`` of axis 0 that a selection touches (all rows when unknown)."""
    first = sel[0] if isinstance(sel, tuple) and sel else sel
    if isinstance(first, slice):
        a, b, _ = first.indices(n)
        return a, max(a, b)
    if isinstance(first, (int, np.integer)):
        i = int(first) % n if n else 0
        return i, i + 1
    return 0, n


def corrupt_error(arr: zarr.Array, sel: Any, exc: BaseException) -> StoreCorruptError:
    """A StoreCorruptError for a failed read of ``arr[sel]``, naming the first chunk that fails."""
    if isinstance(exc, StoreCorruptError):
        return exc
    g = grid_of(arr)
    if g is not None and g.rows:
        a, b = _rows(sel, g.rows)
        for c in range(a // g.chunk_rows, -(-b // g.chunk_rows)):
            lo, hi = g.chunk_rows_of(c)
            try:
                arr[lo:hi]
            except StoreCorruptError as inner:
                return inner
            except Exception as inner:  # any decode failure of this chunk names it
                shard = lo // g.object_rows
                key = arr.metadata.encode_chunk_key((shard, *([0] * (len(arr.shape) - 1))))
                return StoreCorruptError(
                    f"{_url(arr)}{arr.path}: chunk {c} (rows {lo}–{hi - 1}, in {arr.path}/{key}) cannot be "
                    f"decoded ({type(inner).__name__}: {_short(inner)}); {ADVICE}")
    return StoreCorruptError(f"{_url(arr)}{arr.path}: cannot be read ({type(exc).__name__}: {_short(exc)}); {ADVICE}")


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text if len(text) <= 160 else text[:157] + "..."


def _cache(arr: zarr.Array) -> ChunkCache | None:
    store = arr.store_path.store
    return store.cache if isinstance(store, GuardedStore) else None


@dataclass(frozen=True)
class _Plan:
    """A cached read of rows ``a:b`` of ``arr``: inner chunks ``first..last`` (inclusive)."""

    arr: zarr.Array
    grid: Grid
    a: int
    b: int

    @property
    def chunks(self) -> range:
        return range(self.a // self.grid.chunk_rows, (self.b - 1) // self.grid.chunk_rows + 1)


def _plan(arr: zarr.Array, sel: Any) -> _Plan | None:
    g = _expect(arr)
    if g is None or _cache(arr) is None:
        return None
    rows = row_range(sel, g.rows)
    return None if rows is None else _Plan(arr, g, *rows)


def _finish(plan: _Plan, fetched: dict[tuple[str, int], np.ndarray]) -> np.ndarray:
    cache = _cache(plan.arr)
    assert cache is not None
    parts = []
    for c in plan.chunks:
        key = (plan.grid.path, c)
        chunk = fetched.get(key)
        if chunk is None:
            chunk = cache.get(key)
        if chunk is None:  # evicted between planning and now (a tiny budget): read it again
            lo, hi = plan.grid.chunk_rows_of(c)
            chunk = read_uncached(plan.arr, slice(lo, hi))
        parts.append(chunk)
    return assemble(parts, plan.chunks[0] * plan.grid.chunk_rows, plan.a, plan.b)


def _runs(fetch: dict[tuple[str, int], tuple[zarr.Array, Grid, int]]) -> list[tuple[zarr.Array, Grid, int, int]]:
    """The chunks to fetch as runs ``(array, grid, first, last)`` of consecutive chunks of one array."""
    out: list[tuple[zarr.Array, Grid, int, int]] = []
    for (path, c), (a, g, _) in sorted(fetch.items(), key=lambda kv: kv[0]):
        if out and out[-1][1].path == path and out[-1][3] == c - 1:
            out[-1] = (out[-1][0], g, out[-1][2], c)
        else:
            out.append((a, g, c, c))
    return out


def read(arr: zarr.Array, sel: Any = Ellipsis) -> np.ndarray:
    """``arr[sel]`` as a numpy array; any failure is one :class:`StoreCorruptError`.

    A contiguous row range of a dataset's array is assembled from decoded chunks kept in the
    store's :class:`~fusion.store.chunkcache.ChunkCache` (fetching the missing ones at once).
    """
    plan = _plan(arr, sel)
    if plan is None:
        return read_uncached(arr, sel)
    return read_many([(arr, sel)])[0]


def read_uncached(arr: zarr.Array, sel: Any = Ellipsis) -> np.ndarray:
    """``arr[sel]`` through zarr (no chunk cache); any failure is one :class:`StoreCorruptError`."""
    g = _expect(arr)
    try:
        out = np.asarray(arr[sel])
    except (FusionError, MemoryError):
        raise
    except Exception as exc:  # a damaged chunk fails in codec-specific ways
        raise corrupt_error(arr, sel, exc) from exc
    if g is not None and sel is Ellipsis and out.shape[:1] != (g.rows,):
        raise StoreCorruptError(f"{_url(arr)}{arr.path}: read {out.shape} for shape {arr.shape}; {ADVICE}")
    return out


def _read_direct(fetch: dict[tuple[str, int], tuple[zarr.Array, Grid, int]]) -> dict[tuple[str, int], np.ndarray]:
    """The chunks of ``fetch`` a local store's :class:`~fusion.store.direct.DirectReader` reads."""
    by_array: dict[str, tuple[DirectReader, zarr.Array, Grid, list[int]]] = {}
    for (path, c), (arr, g, _) in fetch.items():
        store = arr.store_path.store
        if isinstance(store, GuardedStore) and store.direct is not None:
            by_array.setdefault(path, (store.direct, arr, g, []))[3].append(c)
    out: dict[tuple[str, int], np.ndarray] = {}
    for path, (reader, arr, g, chunks) in by_array.items():
        for c, value in reader.read_chunks(arr, g, sorted(chunks)).items():
            out[(path, c)] = value
    return out


def read_many(requests: list[tuple[zarr.Array, Any]]) -> list[np.ndarray]:
    """Read several ``(array, selection)`` pairs concurrently (one event-loop round trip), safely.

    Overlaps the I/O (and, on object stores, the request latency) of the columns of a message.
    Row ranges of a dataset's arrays come from its chunk cache; the chunks it lacks are fetched
    in the same round trip. A failure is re-read pair by pair to name the array and chunk.
    """
    plans = [_plan(arr, sel) for arr, sel in requests]
    fetch: dict[tuple[str, int], tuple[zarr.Array, Grid, int]] = {}
    for p in plans:
        if p is not None:
            cache = _cache(p.arr)
            assert cache is not None
            for c in p.chunks:
                key = (p.grid.path, c)
                if key not in fetch and cache.get(key) is None:
                    fetch[key] = (p.arr, p.grid, c)
    wanted = dict(fetch)
    fetched: dict[tuple[str, int], np.ndarray] = _read_direct(fetch)
    for key in fetched:
        del fetch[key]
    unplanned = [i for i, p in enumerate(plans) if p is None]  # not row ranges: read through zarr as asked
    if not fetch and len(unplanned) == 1 and not fetched:
        arr, sel = requests[unplanned[0]]
        return [read_uncached(arr, sel)]
    runs = _runs(fetch)  # consecutive missing chunks of one array: one zarr request each (arrays registered by _plan)

    async def _all() -> list[Any]:
        run_reads = (a.async_array.getitem(slice(g.chunk_rows_of(c0)[0], g.chunk_rows_of(c1)[1]))
                     for a, g, c0, c1 in runs)
        other_reads = (requests[i][0].async_array.getitem(requests[i][1]) for i in unplanned)
        return list(await asyncio.gather(*run_reads, *other_reads))

    try:
        values = sync(_all()) if runs or unplanned else []
    except (FusionError, MemoryError):
        raise
    except Exception:  # find and name the failing read
        values = None
    if values is None:
        for key, (a, g, c) in fetch.items():
            fetched[key] = read_uncached(a, slice(*g.chunk_rows_of(c)))
        other_values = [read_uncached(*requests[i]) for i in unplanned]
    else:
        for (_a, g, c0, c1), v in zip(runs, values[: len(runs)], strict=True):
            rows = np.asarray(v)
            base = g.chunk_rows_of(c0)[0]
            for c in range(c0, c1 + 1):
                lo, hi = g.chunk_rows_of(c)
                fetched[(g.path, c)] = rows[lo - base: hi - base]
        other_values = [np.asarray(v) for v in values[len(runs):]]
    # Kept: the chunk a read ends inside (the next frame starts there). A chunk read up to its end
    # is not read again by a scan: it is not kept, and dropped if an earlier read kept it.
    tails = {(p.grid.path, p.chunks[-1]) for p in plans if p is not None
             and p.b < p.grid.chunk_rows_of(p.chunks[-1])[1]}
    for key, (a, _, _) in wanted.items():
        if key in tails:
            cache = _cache(a)
            assert cache is not None
            cache.put(key, fetched[key])
    out: list[np.ndarray] = []
    it = iter(other_values)
    for p in plans:
        out.append(next(it) if p is None else _finish(p, fetched))
        if p is not None:
            cache = _cache(p.arr)
            assert cache is not None
            for c in p.chunks:
                if (p.grid.path, c) not in tails:
                    cache.drop((p.grid.path, c))
    return out


class GuardedArray(zarr.Array):
    """A zarr array whose ``[]`` reads are :func:`read` (safe: StoreCorruptError on damage)."""

    def __getitem__(self, selection: Any) -> Any:
        return read(zarr.Array(self.async_array), selection)


def guarded(arr: zarr.Array) -> GuardedArray:
    """``arr`` with safe reads (registered with its store's guard)."""
    _expect(arr)
    return arr if isinstance(arr, GuardedArray) else GuardedArray(arr.async_array)
