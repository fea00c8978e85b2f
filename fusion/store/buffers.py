"""Shard-aligned buffered appending to one zarr array along axis 0.

A :class:`ColumnBuffer` owns one array. Rows are copied into an in-memory buffer of exactly
one shard; when it is full the shard is written with a single aligned region assignment
(``array[k*S:(k+1)*S] = buffer``), so every shard object is written exactly once and never
read back. The final partial shard is written once by :meth:`ColumnBuffer.finalize`, which
then trims the array to its exact length with ``resize``. The array is pre-sized from the
expected row count and grown (by ``resize``, metadata only) when that estimate is exceeded.

Memory: one shard buffer per column, allocated on the first append, plus at most
``MAX_PENDING`` full shards handed to the background writer.

Shard writes (compression + I/O) run on one background thread so they overlap with reading and
decoding in the main thread; blosc/zstd release the GIL. Errors of a background write are raised
in the main thread at the next append, flush or finalize.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import zarr

from fusion.errors import StoreError
from fusion.store.layout import ColumnSpec, compressors

#: Full shard buffers that may wait for the background writer at once (bounds memory).
MAX_PENDING = 4


class BackgroundWrites:
    """One background thread that performs shard writes in submission order."""

    def __init__(self, max_pending: int = MAX_PENDING) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(max_pending)
        self._pending: list[Future[None]] = []

    def submit(self, array: zarr.Array, start: int, stop: int, data: np.ndarray) -> None:
        """Queue ``array[start:stop] = data`` (``data`` is owned by the writer from now on)."""
        self._raise_failed()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fusion-shard-writer")
        self._slots.acquire()

        def write() -> None:
            try:
                array[start:stop] = data
            finally:
                self._slots.release()

        self._pending.append(self._pool.submit(write))

    def _raise_failed(self) -> None:
        keep = []
        for fut in self._pending:
            if fut.done():
                fut.result()  # re-raises a failed write here, in the main thread
            else:
                keep.append(fut)
        self._pending = keep

    def drain(self) -> None:
        """Wait for every queued write; re-raise the first failure."""
        pending, self._pending = self._pending, []
        errors = []
        for fut in pending:
            try:
                fut.result()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


#: The process-wide background writer (a store has one writer process; see docs/FORMAT.md).
BACKGROUND = BackgroundWrites()


def create_column(
    group: zarr.Group,
    name: str,
    *,
    dtype: np.dtype[Any] | str,
    inner_shape: tuple[int, ...],
    spec: ColumnSpec,
    expected_rows: int,
    fill_value: Any = 0,
    attrs: dict[str, Any] | None = None,
) -> zarr.Array:
    """Create a sharded column ``group/name`` with shape ``(expected_rows, *inner_shape)``.

    Args:
        group: Parent group.
        name: Array name.
        dtype: Element dtype.
        inner_shape: Shape of one row (``()`` for scalars, ``(3,)`` for xyz).
        spec: Chunking, sharding and codec.
        expected_rows: Initial length (rounded up to nothing; grown on demand).
        fill_value: Fill value of unwritten elements.
        attrs: Array attributes.
    """
    shape = (max(int(expected_rows), 0), *inner_shape)
    return group.create_array(
        name,
        shape=shape,
        dtype=np.dtype(dtype),
        chunks=(spec.chunk_rows, *inner_shape),
        shards=(spec.shard_rows, *inner_shape),
        compressors=compressors(spec.codec),
        fill_value=fill_value,
        attributes=attrs or {},
    )


class ColumnBuffer:
    """Buffered, shard-aligned appender for one array (see module docstring).

    Args:
        array: Target array; its shard shape along axis 0 sets the buffer size.
        what: Name used in error messages (e.g. ``streams/lidar_top/xyz``).
    """

    def __init__(self, array: zarr.Array, what: str) -> None:
        self._array = array
        self._what = what
        shards = array.shards
        self._shard_rows = int(shards[0]) if shards is not None else int(array.chunks[0])
        self._inner = tuple(int(s) for s in array.shape[1:])
        self._dtype = array.dtype.to_native_dtype() if hasattr(array.dtype, "to_native_dtype") else array.dtype
        self._buf: np.ndarray | None = None
        self._fill = 0
        self._flushed = 0
        self._capacity = int(array.shape[0])
        self.shards_written = 0

    @property
    def count(self) -> int:
        """Rows appended so far (flushed + buffered)."""
        return self._flushed + self._fill

    @property
    def array(self) -> zarr.Array:
        """The target array."""
        return self._array

    @property
    def buffer_bytes(self) -> int:
        """Bytes held by the shard buffer (allocated or not)."""
        return self._shard_rows * int(np.prod(self._inner, dtype=np.int64)) * np.dtype(self._dtype).itemsize

    def append(self, rows: np.ndarray) -> None:
        """Append rows of shape ``(n, *inner_shape)`` (cast to the column dtype)."""
        values = np.asarray(rows)
        if values.shape[1:] != self._inner:
            raise StoreError(
                f"{self._what}: rows of shape {values.shape[1:]} appended to a column of row shape {self._inner}"
            )
        n = values.shape[0]
        if n == 0:
            return
        done = 0
        while done < n:
            if self._buf is None:
                self._buf = np.empty((self._shard_rows, *self._inner), dtype=self._dtype)
            take = min(n - done, self._shard_rows - self._fill)
            self._buf[self._fill : self._fill + take] = values[done : done + take]
            self._fill += take
            done += take
            if self._fill == self._shard_rows:
                self._write()

    def _write(self) -> None:
        assert self._buf is not None
        end = self._flushed + self._fill
        if end > self._capacity:
            grown = max(end, math.ceil(self._capacity * 1.5))
            self._capacity = math.ceil(grown / self._shard_rows) * self._shard_rows
            self._array.resize((self._capacity, *self._inner))
        data = self._buf if self._fill == self._shard_rows else self._buf[: self._fill].copy()
        if self._fill == self._shard_rows:
            self._buf = None  # handed over; a new buffer is allocated on the next append
        BACKGROUND.submit(self._array, self._flushed, end, data)
        self._flushed = end
        self._fill = 0
        self.shards_written += 1

    def finalize(self) -> int:
        """Write the partial last shard once and trim the array to the exact length.

        Returns:
            The final row count.
        """
        if self._fill:
            self._write()
        BACKGROUND.drain()
        if self._capacity != self._flushed:
            self._array.resize((self._flushed, *self._inner))
            self._capacity = self._flushed
        self._buf = None
        return self._flushed
