"""Direct chunk reads: inner chunks of fusion's own sharded columns read from the store's files.

zarr's read path sends every request through its event-loop thread (a thread hop and a socket
wake-up per call, then per-chunk asyncio tasks and buffer classes with the GIL held); for the
few small slices of one frame that orchestration cost more than decoding the bytes (profiled on
a sequential scan: 60 % of the time was spent waiting on the loop). fusion wrote these shards
itself (:mod:`fusion.store.shards`), so for a **complete** store in a local folder or an
uncompressed zip file it reads them the way it writes them: the shard index with one ``pread``
of the object's tail, each inner chunk with one ``pread`` of its byte range, and the chunk
decoded in the calling thread by the same numcodecs compressor zarr's codec wraps (it releases
the GIL, so prefetching threads decode in parallel).

Every check of the zarr path is kept: the shard index is verified (CRC32C, absent inner chunks,
the format 1.2 manifest) by :class:`~fusion.store.guard.GuardedStore`, and each inner chunk's
CRC32C trailer is compared with its payload and with the manifest. Anything unexpected — a
missing or short file, a checksum that differs, a chunk that does not decode to its size — is
not an error here: the chunk is read again through zarr, whose guarded path names the damage in
its :class:`~fusion.errors.StoreCorruptError`. Arrays whose codecs are not the ones
:func:`~fusion.store.shards.shard_layout` reproduces, incomplete stores and other store types
(S3, memory, compressed zip members) always read through zarr.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import google_crc32c
import numpy as np
import zarr
from zarr.storage import LocalStore

from fusion.store.shards import ShardLayout, shard_layout
from fusion.store.zipread import StoredZipStore

if TYPE_CHECKING:
    from fusion.store.guard import Grid, GuardedStore

#: Index entry of a chunk absent from its shard.
_MISSING = 2**64 - 1
#: Shard indexes kept per opened store (oldest dropped beyond; a few MB at most).
_INDEX_CACHE = 4096


@dataclass(frozen=True)
class _Object:
    """A stored object as a byte run of an open file: ``fd``, its first byte ``base``, ``size``."""

    fd: int
    base: int
    size: int
    owned: bool  # opened for this read (closed after it)

    def pread(self, n: int, offset: int) -> bytes:
        return os.pread(self.fd, n, self.base + offset)


class _Folder:
    """Objects of a local directory store: one file each."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)

    def open(self, key: str) -> _Object | None:
        try:
            fd = os.open(os.path.join(self.root, key), os.O_RDONLY)
        except OSError:
            return None
        return _Object(fd, 0, os.fstat(fd).st_size, True)


class _StoredZip:
    """Objects of an uncompressed zip store: byte runs of the one zip file (its own descriptor)."""

    def __init__(self, store: StoredZipStore) -> None:
        self.store = store

    def open(self, key: str) -> _Object | None:
        found = self.store.member(key)
        return None if found is None else _Object(found[0], found[1], found[2], False)


class DirectReader:
    """Reads inner chunks of a complete local or zip store's sharded columns from their files.

    One per opened store (held by its :class:`~fusion.store.guard.GuardedStore`); thread-safe
    (``pread`` has no file position; a shard's index is loaded and checked under a lock, once).
    """

    def __init__(self, guard: GuardedStore, files: _Folder | _StoredZip) -> None:
        self._guard = guard
        self._files = files
        self._layouts: dict[str, ShardLayout | None] = {}
        self._index: dict[str, np.ndarray] = {}  # shard key -> (chunks, 2) uint64 (offset, nbytes)
        self._lock = threading.Lock()  # first read of a shard's index (the guard's index cache is shared)

    def layout(self, arr: zarr.Array) -> ShardLayout | None:
        """The shard layout of ``arr`` when it is read directly (cached), else ``None``."""
        path = arr.path
        if path not in self._layouts:
            lay = shard_layout(arr)
            self._layouts[path] = lay if lay is not None and lay.chunk_crc else None
        return self._layouts[path]

    def read_chunks(self, arr: zarr.Array, grid: Grid, chunks: list[int]) -> dict[int, np.ndarray]:
        """Decoded inner chunks ``chunks`` (global numbering) of ``arr``: the ones read directly.

        A chunk missing from the result is to be read through zarr (see the module docstring).
        """
        lay = self.layout(arr)
        if lay is None or not self._guard.strict:
            return {}
        out: dict[int, np.ndarray] = {}
        per_shard = lay.chunks_per_shard
        objects: dict[int, _Object | None] = {}
        try:
            for c in chunks:
                shard, i = divmod(c, per_shard)
                key = lay.key(shard)
                if shard not in objects:
                    objects[shard] = self._files.open(key)
                obj = objects[shard]
                if obj is None:
                    continue
                entries = self._entries(obj, grid, shard, key)
                if entries is None or i >= len(entries):
                    continue
                value = self._chunk(obj, lay, grid, shard, i, entries[i])
                if value is not None:
                    out[c] = value
        finally:
            for obj in objects.values():
                if obj is not None and obj.owned:
                    os.close(obj.fd)
        return out

    def _entries(self, obj: _Object, grid: Grid, shard: int, key: str) -> np.ndarray | None:
        """The verified index of shard ``key``: (chunks, 2) uint64 ``(offset, nbytes)``."""
        entries = self._index.get(key)
        if entries is not None:
            return entries
        with self._lock:
            return self._load_entries(obj, grid, shard, key)

    def _load_entries(self, obj: _Object, grid: Grid, shard: int, key: str) -> np.ndarray | None:
        n, size = grid.index_nbytes, obj.size
        if size < n:
            return None
        raw = np.frombuffer(obj.pread(n, size - n), dtype=np.uint8)
        if raw.size != n:
            return None
        self._guard.check_index(grid, shard, key, raw)  # raises StoreCorruptError naming the damage
        entries = raw[:-4].view("<u8").reshape(-1, 2).copy()
        present = entries[entries[:, 0] != _MISSING]
        if present.size and int((present[:, 0] + present[:, 1]).max()) > size - n:
            return None
        self._index[key] = entries
        if len(self._index) > _INDEX_CACHE:  # bounded like the guard's own index cache
            self._index.pop(next(iter(self._index)))
        return entries

    def _chunk(self, obj: _Object, lay: ShardLayout, grid: Grid, shard: int, i: int,
               entry: np.ndarray) -> np.ndarray | None:
        """Inner chunk ``i`` of a shard, decoded and checked (None: read it through zarr)."""
        offset, nbytes = int(entry[0]), int(entry[1])
        if offset == _MISSING or nbytes < 4:
            return None
        raw = obj.pread(nbytes, offset)
        if len(raw) != nbytes:
            return None
        payload = np.frombuffer(raw, dtype=np.uint8, count=nbytes - 4)
        trailer = int.from_bytes(raw[-4:], "little")
        if google_crc32c.value(payload) != trailer:
            return None
        expected = self._guard.manifest_crc(grid, shard, i)
        if expected is not None and expected != trailer:
            return None
        shape = (lay.chunk_rows, *lay.inner_shape)
        try:
            data: Any = lay.compressor.decode(payload) if lay.compressor is not None else payload
            return np.frombuffer(data, dtype=lay.dtype).reshape(shape)
        except Exception:  # a codec error or a payload of another size: zarr's path names it
            return None


def direct_reader(guard: GuardedStore, store: Any) -> DirectReader | None:
    """A :class:`DirectReader` for a local directory or an uncompressed zip store, else ``None``."""
    if isinstance(store, LocalStore):
        return DirectReader(guard, _Folder(Path(store.root)))
    if isinstance(store, StoredZipStore):
        return DirectReader(guard, _StoredZip(store))
    return None
