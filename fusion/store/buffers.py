"""Shard-aligned buffered appending to one zarr array along axis 0.

A :class:`ColumnBuffer` owns one array. Appended rows are gathered into inner chunks; when a
shard's worth of chunks is complete the whole shard is encoded and stored as one object
(:mod:`fusion.store.shards`), so every shard object is written exactly once and never read
back. The final partial shard is written once by :meth:`ColumnBuffer.finalize`, which then sets
the array to its exact length with ``resize`` (metadata only).

Copies: a block of appended rows that starts on a chunk boundary and covers whole chunks is
kept by reference (no copy; an appended array must not be modified afterwards); the remainder
is copied into one chunk-sized buffer. A raw camera image (one image per chunk) is therefore
never copied before it is compressed.

Encoding and storing run on a :class:`ShardPool` owned by the store writer (one per
:class:`~fusion.store.writer.StoreWriter`, so two writers in one process — e.g. two conversions
in a threaded Dask worker — never wait on each other or receive each other's errors), one worker
per core: the compressors (numcodecs Blosc/Zstd) release the GIL, so compression runs in parallel with reading and
decoding in the converting thread. Memory: at most one partial chunk per column plus
``MAX_PENDING_BYTES`` of shards handed to the pool. Errors of a background write are raised in the
converting thread at the next append, flush or finalize.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import zarr

from fusion.errors import StoreError
from fusion.store.digests import signature_of_parts
from fusion.store.metadata import set_length
from fusion.store.shards import shard_layout

#: Bytes of shard data that may wait for the pool at once (bounds memory: four 32 MiB image
#: shards, or a whole burst of LiDAR column shards completing on the same sweep).
MAX_PENDING_BYTES = 128 << 20


class ShardPool:
    """Encodes and stores shards on ``workers`` threads; at most ``max_pending_bytes`` queued.

    A job larger than the budget still runs, alone.
    """

    def __init__(self, workers: int | None = None, max_pending_bytes: int = MAX_PENDING_BYTES) -> None:
        self._workers = workers or max(1, min(4, os.cpu_count() or 1))
        self._pool: ThreadPoolExecutor | None = None
        self._budget = max_pending_bytes
        self._inflight = 0  # bytes of the jobs queued or running
        self._room = threading.Condition()  # guards _inflight and _pending
        self._pending: list[Future[None]] = []
        #: Manifest rows of the shards stored so far, by store key (:mod:`fusion.store.digests`).
        self.signatures: dict[str, np.ndarray] = {}

    def submit(self, job: Callable[[], None], nbytes: int) -> None:
        """Queue ``job`` over ``nbytes`` of data (blocks while the pending budget is used up)."""
        self._raise_failed()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="fusion-shard")
        with self._room:
            while self._inflight and self._inflight + nbytes > self._budget:
                self._room.wait()
            self._inflight += nbytes

        def run() -> None:
            try:
                job()
            finally:
                with self._room:
                    self._inflight -= nbytes
                    self._room.notify_all()

        fut = self._pool.submit(run)
        with self._room:
            self._pending.append(fut)

    def _raise_failed(self) -> None:
        done: list[Future[None]] = []
        with self._room:
            running: list[Future[None]] = []
            for f in self._pending:  # one done() per future: one finishing meanwhile is not lost
                (done if f.done() else running).append(f)
            self._pending = running
        for fut in done:
            fut.result()  # re-raises a failed write here, in the converting thread

    def drain(self) -> None:
        """Wait for every queued job; re-raise the first failure."""
        with self._room:
            pending, self._pending = self._pending, []
        errors = []
        for fut in pending:
            try:
                fut.result()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def shutdown(self) -> None:
        """Stop the worker threads (after :meth:`drain`); the pool starts them again on the next submit."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


class ColumnBuffer:
    """Buffered, shard-aligned appender for one array (see module docstring).

    Args:
        array: Target array; its shard and chunk shapes along axis 0 set the buffering.
        what: Name used in error messages (e.g. ``streams/lidar_top/xyz``).
        pool: Where shards are encoded and stored (the store writer's; a private one when None).
    """

    def __init__(self, array: zarr.Array, what: str, pool: ShardPool | None = None) -> None:
        self.pool = pool if pool is not None else ShardPool()
        self._array = array
        self._what = what
        self._layout = shard_layout(array)
        shards = array.shards
        self._shard_rows = int(shards[0]) if shards is not None else int(array.chunks[0])
        # Without a layout we can encode, a "chunk" is the whole shard (zarr's path writes it).
        self._chunk_rows = self._layout.chunk_rows if self._layout is not None else self._shard_rows
        self._per_shard = self._shard_rows // self._chunk_rows
        self._inner = tuple(int(s) for s in array.shape[1:])
        native = array.dtype.to_native_dtype() if hasattr(array.dtype, "to_native_dtype") else array.dtype
        self._dtype = np.dtype(native)
        self._chunks: list[np.ndarray] = []  # complete chunks of the current shard
        self._part: np.ndarray | None = None  # the chunk being filled
        self._fill = 0
        self._flushed = 0  # rows in shards already handed to the pool
        self._capacity = int(array.shape[0])
        self._sealed = False
        self.shards_written = 0

    @property
    def count(self) -> int:
        """Rows appended so far (flushed + buffered)."""
        return self._flushed + len(self._chunks) * self._chunk_rows + self._fill

    @property
    def array(self) -> zarr.Array:
        """The target array."""
        return self._array

    @property
    def buffer_bytes(self) -> int:
        """Bytes of one shard of this column (the most it buffers, allocated or referenced)."""
        return self._shard_rows * int(np.prod(self._inner, dtype=np.int64)) * self._dtype.itemsize

    def append(self, rows: np.ndarray) -> None:
        """Append rows of shape ``(n, *inner_shape)`` (cast to the column dtype).

        Whole chunks of ``rows`` may be kept by reference until their shard is written: do not
        modify an appended array afterwards.
        """
        if self._sealed:
            raise StoreError(f"{self._what}: rows appended after the column was sealed (its last shard is written)")
        values = np.asarray(rows)
        if values.shape[1:] != self._inner:
            raise StoreError(
                f"{self._what}: rows of shape {values.shape[1:]} appended to a column of row shape {self._inner}"
            )
        if values.dtype != self._dtype:
            values = values.astype(self._dtype)
        n = values.shape[0]
        done = 0
        c = self._chunk_rows
        while done < n:
            if self._fill == 0 and n - done >= c:  # whole chunks: by reference
                k = min((n - done) // c, self._per_shard - len(self._chunks))
                self._chunks.extend(values[done + j * c : done + (j + 1) * c] for j in range(k))
                done += k * c
            else:
                if self._part is None:
                    self._part = np.empty((c, *self._inner), dtype=self._dtype)
                take = min(n - done, c - self._fill)
                self._part[self._fill : self._fill + take] = values[done : done + take]
                self._fill += take
                done += take
                if self._fill == c:
                    self._chunks.append(self._part)
                    self._part, self._fill = None, 0
            if len(self._chunks) == self._per_shard:
                self._write()

    def _write(self) -> None:
        chunks, self._chunks = self._chunks, []
        if self._fill:
            assert self._part is not None
            chunks.append(self._part[: self._fill].copy())
            self._part, self._fill = None, 0
        rows = sum(len(ch) for ch in chunks)
        shard = self._flushed // self._shard_rows
        layout = self._layout
        if layout is not None:
            signatures = self.pool.signatures

            def job() -> None:
                parts = layout.encode(chunks)
                layout.store(shard, parts)
                if layout.chunk_crc:
                    signatures[layout.key(shard)] = signature_of_parts(parts, layout.chunks_per_shard)

            self.pool.submit(job, sum(c.nbytes for c in chunks))
        else:  # zarr's write path: the region must exist
            start, end = self._flushed, self._flushed + rows
            if end > self._capacity:
                self._capacity = max(end, (self._capacity * 3) // 2)
                self._array.resize((self._capacity, *self._inner))
            data = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
            array = self._array
            self.pool.submit(lambda: array.__setitem__(slice(start, end), data), data.nbytes)
        self._flushed += rows
        self.shards_written += 1

    def seal(self) -> None:
        """Hand the partial last shard to the pool now (no more rows may be appended).

        Sealing a column whose data is complete lets its last shard compress while the
        conversion goes on; :meth:`finalize` seals a column that is not sealed yet.
        """
        if not self._sealed and (self._chunks or self._fill):
            self._write()
        self._sealed = True

    def finalize(self) -> int:
        """Write the partial last shard once (see :meth:`seal`) and set the array to its exact length.

        Returns:
            The final row count.
        """
        self.seal()
        self.pool.drain()
        if int(self._array.shape[0]) != self._flushed:  # no shard lies beyond the rows written
            self._array = set_length(self._array, self._flushed)
        self._capacity = self._flushed
        return self._flushed
