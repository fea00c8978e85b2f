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
* :mod:`fusion.store.reading` (``read``, ``read_many``) turns any failure of a zarr read
  (checksum, codec, JSON, shape) into one ``StoreCorruptError`` naming the array and the first
  chunk that fails, and reads a complete local store's chunks directly (:mod:`fusion.store.direct`)
  with the same checks.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import google_crc32c
import numpy as np
import zarr
from zarr.abc.store import ByteRequest, RangeByteRequest, Store, SuffixByteRequest
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.storage import WrapperStore

from fusion.errors import StoreCorruptError
from fusion.store import digests
from fusion.store.chunkcache import ChunkCache
from fusion.store.direct import DirectReader, direct_reader

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
        #: Reads inner chunks of a local store from its files (:mod:`fusion.store.direct`).
        self.direct: DirectReader | None = direct_reader(self, store)

    def _with_store(self, store: Store) -> GuardedStore:
        out = GuardedStore(store, self.url)
        out._grids = self._grids
        out._manifests = self._manifests
        out._indexes = self._indexes
        out.cache = self.cache
        out.direct = self.direct
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

    def grid(self, arr: zarr.Array) -> Grid | None:
        """The registered grid of ``arr`` (None when not registered or its shape changed)."""
        g = self._grids.get(arr.path)
        return g if g is not None and g.rows == arr.shape[0] else None

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

    def check_index(self, g: Grid, obj: int, key: str, raw: np.ndarray) -> None:
        """Check the index of shard ``obj`` (``raw``: its last ``g.index_nbytes`` bytes): CRC32C,
        manifest, absent inner chunks; raises :class:`StoreCorruptError` naming the damage."""
        self._check_index(g, obj, key, raw, whole=False)

    def manifest_crc(self, g: Grid, obj: int, chunk: int) -> int | None:
        """The manifest's CRC32C of inner chunk ``chunk`` of shard ``obj`` (None: no manifest)."""
        m = self._manifests.get(g.path)
        if m is None or obj >= m.shape[0] or 1 + chunk >= m.shape[1]:
            return None
        return int(m[obj, 1 + chunk])

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
