"""Safe reads: a damaged store raises :class:`~fusion.errors.StoreCorruptError`, never garbage.

Two layers, used by every read of :mod:`fusion.store` (reader, ``inspect``, ``validate``):

* :class:`GuardedStore` wraps the zarr store. zarr returns the fill value for a chunk whose
  object is absent, which for fusion's arrays is never right: every column is written with
  ``write_empty_chunks=True`` and trimmed to its exact length, so every stored object (shard, or
  chunk of an unsharded array) inside an array's shape exists, and so does every inner chunk of
  a shard. The wrapper knows each registered array's grid (:meth:`GuardedStore.expect`) and
  raises when an object inside the shape is absent, a shard index (checked against its CRC32C
  first) lists an inner chunk inside the shape as missing, or a byte range comes back short
  (a truncated file). It costs no extra request.
* :func:`read` turns any failure of a zarr read (checksum, codec, JSON, shape) into one
  ``StoreCorruptError`` naming the array and the first chunk that fails (found by re-reading
  the selection chunk by chunk, on the error path only).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import google_crc32c
import numpy as np
import zarr
from zarr.abc.store import ByteRequest, RangeByteRequest, Store, SuffixByteRequest
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.storage import WrapperStore

from fusion.errors import FusionError, StoreCorruptError
from fusion.store import digests
from fusion.store._zarr_compat import sync
from fusion.store.chunkcache import ChunkCache, assemble, row_range

#: Index entry of a chunk absent from its shard.
_MISSING = np.uint64(2**64 - 1)
#: Shard indexes kept for checking the inner chunks read after them (a few MB at most).
_INDEX_CACHE = 4096
#: What to do about a damaged store (appended to every StoreCorruptError of a read).
ADVICE = "the store is damaged: `fusion validate` lists every problem; reconvert the bag"


@dataclass(frozen=True)
class Grid:
    """How an array's rows (axis 0) map onto stored objects.

    Attributes:
        path: Array path in the store.
        rows: Array length (axis 0).
        object_rows: Rows per stored object (shard, or chunk of an unsharded array).
        chunk_rows: Rows per inner chunk (``object_rows`` when unsharded).
    """

    path: str
    rows: int
    object_rows: int
    chunk_rows: int

    @property
    def sharded(self) -> bool:
        """Objects are shards of several inner chunks."""
        return self.object_rows != self.chunk_rows

    @property
    def objects(self) -> int:
        """Number of stored objects inside the shape."""
        return -(-self.rows // self.object_rows)

    @property
    def index_nbytes(self) -> int:
        """Size of a shard's index with its CRC32C."""
        return 16 * (self.object_rows // self.chunk_rows) + 4

    def chunk_rows_of(self, chunk: int) -> tuple[int, int]:
        """Rows ``[a, b)`` of inner chunk ``chunk`` (global numbering), clipped to the shape."""
        a = chunk * self.chunk_rows
        return a, min(a + self.chunk_rows, self.rows)


def grid_of(arr: zarr.Array) -> Grid | None:
    """The :class:`Grid` of an array chunked along axis 0 only (None otherwise, or 0-d)."""
    shape = tuple(int(s) for s in arr.shape)
    if not shape:
        return None
    chunks = tuple(int(s) for s in arr.chunks)
    shards = tuple(int(s) for s in (arr.shards or chunks))
    if chunks[1:] != shape[1:] or shards[1:] != shape[1:]:
        return None
    return Grid(arr.path, shape[0], shards[0], chunks[0])


class GuardedStore(WrapperStore[Store]):
    """A read-only store wrapper that refuses absent or truncated data (see module docstring)."""

    def __init__(self, store: Store, url: str = "") -> None:
        super().__init__(store)
        self.url = url
        #: Refuse absent objects: True once the root says ``complete`` (an interrupted store has
        #: not written its last shards yet, and reads them as fill values, as zarr does).
        self.strict = False
        self._grids: dict[str, Grid] = {}
        #: Format 1.2 chunk manifests by array path (:mod:`fusion.store.digests`).
        self._manifests: dict[str, np.ndarray] = {}
        #: Verified shard indexes by key (offsets of the inner chunks), most recent last.
        self._indexes: OrderedDict[str, np.ndarray] = OrderedDict()
        #: Decoded inner chunks of this opened store (a dataset's; None: every read decodes).
        self.cache: ChunkCache | None = None

    def _with_store(self, store: Store) -> GuardedStore:
        out = GuardedStore(store, self.url)
        out._grids = self._grids
        out._manifests = self._manifests
        out._indexes = self._indexes
        out.cache = self.cache
        out.strict = self.strict
        return out

    def expect(self, arr: zarr.Array) -> None:
        """Register ``arr`` (its grid, from the metadata the reader uses): its objects must exist."""
        g = grid_of(arr)
        if g is not None:
            self._grids[g.path] = g
            if g.path not in self._manifests:
                m = digests.decode(arr.attrs.get(digests.ATTR))
                if m is not None:
                    self._manifests[g.path] = m

    def _grid(self, key: str) -> tuple[Grid, int] | None:
        path, sep, coords = key.rpartition("/c/")
        if not sep:
            path, coords = "", key.removeprefix("c/") if key.startswith("c/") else ""
        g = self._grids.get(path)
        if g is None or not coords:
            return None
        try:
            first = int(coords.split("/")[0])
        except ValueError:
            return None
        return (g, first) if first < g.objects else None

    def _fail(self, g: Grid, obj: int, what: str) -> StoreCorruptError:
        a = obj * g.object_rows
        b = min(a + g.object_rows, g.rows)
        unit = "shard" if g.sharded else "chunk"
        where = f"{self.url}: " if self.url else ""
        return StoreCorruptError(f"{where}{g.path}: {unit} {obj} (rows {a}–{b - 1}) {what}; {ADVICE}")

    async def get(self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None) -> Buffer | None:
        buf = await self._store.get(key, prototype, byte_range)
        found = self._grid(key)
        if found is None:
            return buf
        g, obj = found
        if buf is None:
            return _raise(self._fail(g, obj, f"is missing: no object {key}")) if self.strict else None
        if isinstance(byte_range, RangeByteRequest) and len(buf) != byte_range.end - byte_range.start:
            return _raise(self._fail(g, obj, f"is truncated: {key} ends inside a chunk"))
        if g.sharded and (byte_range is None or isinstance(byte_range, SuffixByteRequest)):
            raw = buf.as_numpy_array().view(np.uint8)
            if self.strict and (byte_range is None or byte_range.suffix == g.index_nbytes):
                self._check_index(g, obj, key, raw, whole=byte_range is None)
        elif self.strict and g.path in self._manifests:
            self._check_chunk(g, obj, key, buf.as_numpy_array().view(np.uint8), byte_range)
        return buf

    def _manifest_row(self, g: Grid, obj: int, key: str) -> np.ndarray | None:
        m = self._manifests.get(g.path)
        if m is None:
            return None
        if obj >= m.shape[0]:
            raise self._fail(g, obj, f"is not in the array's manifest (the array was extended): {key}")
        return m[obj]

    def _mismatch(self, g: Grid, obj: int, key: str, what: str) -> StoreCorruptError:
        return self._fail(g, obj, f"does not match the store's manifest ({what}: a shard swapped, copied over "
                                  f"or rewritten): {key}")

    def _check_chunk(self, g: Grid, obj: int, key: str, raw: np.ndarray, byte_range: ByteRequest | None) -> None:
        """An inner chunk (range read of a shard) or an unsharded chunk against the manifest."""
        row = self._manifest_row(g, obj, key)
        if row is None or raw.size < 4:
            return
        trailer = int(raw[-4:].view("<u4")[0])
        if not g.sharded:
            if byte_range is None and trailer != int(row[0]):
                raise self._mismatch(g, obj, key, "chunk checksum")
            return
        if not isinstance(byte_range, RangeByteRequest):
            return
        starts = self._indexes.get(key)
        if starts is not None:
            hit = np.flatnonzero(starts == byte_range.start)
            if hit.size and trailer != int(row[1 + int(hit[0])]):
                raise self._mismatch(g, obj, key, f"inner chunk {int(hit[0])} checksum")
        elif trailer not in row[1:]:
            raise self._mismatch(g, obj, key, "inner chunk checksum")

    def _check_index(self, g: Grid, obj: int, key: str, raw: np.ndarray, *, whole: bool) -> None:
        n = g.index_nbytes
        if raw.size < n:
            raise self._fail(g, obj, f"is truncated: {key} has {raw.size} bytes, less than its index")
        index = raw[raw.size - n:]
        crc = np.uint32(google_crc32c.value(np.ascontiguousarray(index[:-4]))).astype("<u4").tobytes()
        if crc != index[-4:].tobytes():
            raise self._fail(g, obj, f"has a damaged index (CRC32C mismatch: truncated or overwritten): {key}")
        entries = index[:-4].view("<u8").reshape(-1, 2)
        row = self._manifest_row(g, obj, key)
        if row is not None:
            if int(index[-4:].view("<u4")[0]) != int(row[0]):
                raise self._mismatch(g, obj, key, "shard index checksum")
            self._indexes[key] = entries[:, 0].copy()
            while len(self._indexes) > _INDEX_CACHE:
                self._indexes.popitem(last=False)
        first = obj * (g.object_rows // g.chunk_rows)
        present = -(-(g.rows - obj * g.object_rows) // g.chunk_rows)
        present = min(present, entries.shape[0])
        missing = np.flatnonzero(entries[:present, 0] == _MISSING)
        if missing.size:
            c = first + int(missing[0])
            raise self._fail(g, obj, f"lacks inner chunk {c} (rows {c * g.chunk_rows}–"
                                     f"{g.chunk_rows_of(c)[1] - 1}) that the array's shape holds: {key}")
        if whole and present:
            ends = entries[:present, 0] + entries[:present, 1]
            if int(ends.max()) > raw.size - n:
                raise self._fail(g, obj, f"is truncated: its index points past the end of {key}")
            if row is not None:
                for i in range(present):
                    end = int(ends[i])
                    if entries[i, 1] >= 4 and int(raw[end - 4:end].view("<u4")[0]) != int(row[1 + i]):
                        raise self._mismatch(g, obj, key, f"inner chunk {i} checksum")


def _raise(exc: Exception) -> Any:
    raise exc


def guard(store: Store, url: str) -> GuardedStore:
    """Wrap ``store`` (read-only) in a :class:`GuardedStore`."""
    return store if isinstance(store, GuardedStore) else GuardedStore(store, url)


def _url(arr: zarr.Array) -> str:
    store = arr.store_path.store
    return f"{store.url}: " if isinstance(store, GuardedStore) and store.url else ""


def _expect(arr: zarr.Array) -> Grid | None:
    store = arr.store_path.store
    if isinstance(store, GuardedStore):
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
    direct = [i for i, p in enumerate(plans) if p is None]
    if not fetch and len(direct) == 1:
        arr, sel = requests[direct[0]]
        return [read_uncached(arr, sel)]
    runs = _runs(fetch)  # consecutive missing chunks of one array: one zarr request each (arrays registered by _plan)

    async def _all() -> list[Any]:
        run_reads = (a.async_array.getitem(slice(g.chunk_rows_of(c0)[0], g.chunk_rows_of(c1)[1]))
                     for a, g, c0, c1 in runs)
        direct_reads = (requests[i][0].async_array.getitem(requests[i][1]) for i in direct)
        return list(await asyncio.gather(*run_reads, *direct_reads))

    try:
        values = sync(_all()) if runs or direct else []
    except (FusionError, MemoryError):
        raise
    except Exception:  # find and name the failing read
        values = None
    fetched: dict[tuple[str, int], np.ndarray] = {}
    if values is None:
        for key, (a, g, c) in fetch.items():
            fetched[key] = read_uncached(a, slice(*g.chunk_rows_of(c)))
        direct_values = [read_uncached(*requests[i]) for i in direct]
    else:
        for (_a, g, c0, c1), v in zip(runs, values[: len(runs)], strict=True):
            rows = np.asarray(v)
            for c in range(c0, c1 + 1):
                lo, hi = g.chunk_rows_of(c)
                base = g.chunk_rows_of(c0)[0]
                fetched[(g.path, c)] = rows[lo - base: hi - base]
        direct_values = [np.asarray(v) for v in values[len(runs):]]
    # Kept: the chunk a read ends inside (the next frame starts there). A chunk read up to its end
    # is not read again by a scan: it is not kept, and dropped if an earlier read kept it.
    tails = {(p.grid.path, p.chunks[-1]) for p in plans if p is not None
             and p.b < p.grid.chunk_rows_of(p.chunks[-1])[1]}
    for key, (a, _, _) in fetch.items():
        if key in tails:
            cache = _cache(a)
            assert cache is not None
            cache.put(key, fetched[key])
    out: list[np.ndarray] = []
    it = iter(direct_values)
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
