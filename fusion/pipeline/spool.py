"""Decoded LiDAR and radar messages of pass 1, kept in memory and then on local disk for pass 2.

Pass 2 needs the frame plan (common-clock times, reference times, the ego trajectory), which only
exists after pass 1 has read the whole log. Reading the bag a second time for the LiDAR and radar
topics costs a full iteration of every chunk (rosbags' readers copy every record of a chunk, also
the ones a topic filter drops) plus a second PointCloud2 decode. The spool avoids both: pass 1
decodes each LiDAR/radar message once and hands it to the spool; pass 2 takes them back in the same
order.

The first records stay in memory as the decoded arrays themselves and reach pass 2 without a copy:
up to ``memory_bytes`` (``store.spool_memory_mb``) minus the 32 MiB that writes to the file may
have in flight, so that the spool holds about ``memory_bytes`` at most (a single record larger
than 32 MiB still goes through). Every later record is appended, uncompressed, to one temporary
file. The default budget is 32 MiB — only the writes in flight — so that peak memory is the same
for a 10 s and an hour-long log (issue 23); 256 MiB keeps about 20 s of a 64-beam LiDAR at 10 Hz
in memory, which converts such a log ≈ 8 % faster (nothing is copied into the page cache and
back) at ≈ 220 MB more peak memory once the log is longer than that (docs/CONVERT.md).

The file has no name: it is created unlinked (``tempfile.TemporaryFile``: ``O_TMPFILE`` or an
immediate unlink on POSIX, ``O_TEMPORARY`` on Windows), so the kernel frees its space when the
conversion ends in any way, also ``kill -9`` or a crash; nothing is left in the spool folder.

File format (private to one conversion): a sequence of records, each an 8-byte
little-endian header length, a pickled header (message origin, record class, scalar attributes,
array layout, or the decode error) and the arrays' bytes, each padded to 16 bytes so that every
view is aligned. Memory stays bounded: the in-memory records, at most 32 MiB of records waiting for
the writer thread, and nothing per message on disk.

The spool gives up cleanly (``abandoned`` is set, the file is deleted and the in-memory records
dropped, pass 2 reads the bag) when the disk is full or the file would exceed its budget (free
space of the spool folder minus a reserve, or ``store.spool_max_gb``).
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import shutil
import struct
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from fusion.readers.records import Record
from fusion.readers.source import RawMessage

_ALIGN = 16
_LEN = struct.Struct("<Q")
_BATCH = 4  # records read ahead per helper call
_RESERVE_BYTES = 1 << 30  # never fill the spool's disk beyond free space minus this
IN_FLIGHT_BYTES = 32 << 20  # record bytes handed to the writer thread and not yet written


def _record_classes() -> dict[str, type]:
    """Record class name -> class, for every record type a spooled stream kind decodes to."""
    from fusion import kinds

    return {cls.__name__: cls for kind in kinds.all_kinds() if kind.spooled for cls in kind.records}


@dataclass(frozen=True)
class SpoolEntry:
    """One message as pass 2 sees it.

    Attributes:
        topic: Topic name.
        index: 0-based ordinal within its topic (record order).
        record_time_ns: Bag record time, int64 ns.
        nbytes: Size of the serialized message in the bag (progress).
        record: The decoded record, or None when decoding failed.
        error: Why decoding failed ('' when it did not).
        carried: The message decoded to nothing on its own: its content is part of a later
            message's record (raw LiDAR packets that completed no rotation); not a failure.
    """

    topic: str
    index: int
    record_time_ns: int
    nbytes: int
    record: Record | None
    error: str = ""
    carried: bool = False


def _owns(a: np.ndarray) -> bool:
    """True when ``a`` keeps no more memory alive than its own bytes (not a view of a larger buffer)."""
    base = a
    while isinstance(base.base, np.ndarray):
        base = base.base
    return base.base is None and base.nbytes <= a.nbytes


def _pad(n: int) -> int:
    return -n % _ALIGN


def _write_all(fd: int, buffers: list[Any]) -> None:
    """Write every buffer at the end of ``fd`` (one ``writev``; a short write is completed)."""
    views = [memoryview(b).cast("B") for b in buffers]
    done = os.writev(fd, views)
    for v in views:
        if done >= len(v):
            done -= len(v)
            continue
        rest = v[done:]
        done = 0
        while len(rest):
            rest = rest[os.write(fd, rest) :]


class Spool:
    """Append-only spool file of one conversion (see module docstring).

    Writing runs on a helper thread up to 32 MiB behind, reading a batch of records ahead (the file
    I/O releases the GIL), so the converting thread does not wait for the disk.

    Args:
        directory: Folder for the file (None: the system temporary folder, ``TMPDIR``).
        max_bytes: Upper bound on the file size (None: free space minus a 1 GiB reserve).
        memory_bytes: Memory the spool may use: the first records stay in memory up to this many
            array bytes minus the 32 MiB that writes to the file may have in flight (0: none).
    """

    def __init__(self, directory: str | None = None, max_bytes: int | None = None, memory_bytes: int = 0) -> None:
        folder = directory or tempfile.gettempdir()
        os.makedirs(folder, exist_ok=True)
        self.folder = folder
        self._file = tempfile.TemporaryFile(prefix="fusion-spool-", suffix=".bin", dir=folder)  # noqa: SIM115 (closed in close())
        self._fd = self._file.fileno()
        free = max(0, shutil.disk_usage(folder).free - _RESERVE_BYTES)
        self.budget = free if max_bytes is None else min(max_bytes, free)
        self.nbytes = 0  # bytes in the file
        self.records = 0
        self._file_records = 0
        self._memory_limit = max(0, memory_bytes - IN_FLIGHT_BYTES)  # array bytes of the records kept
        self.memory_nbytes = 0  # array bytes of the records kept in memory
        self._memory: deque[SpoolEntry] = deque()  # the first records, while they fit _memory_limit
        self._spilled = False  # a record went to the file: every later one does too (order)
        self.abandoned = ""  # why the spool gave up ('' while it is in use)
        self.topics: set[str] = set()
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fusion-spool")
        self._pending: deque[tuple[Future[None], int]] = deque()  # writes in flight, oldest first
        self._in_flight = 0  # their bytes

    @property
    def active(self) -> bool:
        """True while messages are being spooled (not abandoned, not closed)."""
        return self._fd >= 0 and not self.abandoned

    def add(self, raw: RawMessage, record: Record | None, error: str = "", carried: bool = False) -> None:
        """Append one message: its decoded record, or the reason it could not be decoded.

        The record's arrays are kept as they are (in memory) or written from a helper thread: do not
        modify them afterwards.
        """
        if not self._wait_write(IN_FLIGHT_BYTES):
            return
        arrays: list[tuple[str, np.ndarray]] = []
        scalars: dict[str, Any] = {}
        if record is not None:
            for f in fields(record):
                value = getattr(record, f.name)
                if isinstance(value, np.ndarray):
                    arrays.append((f.name, value))
                elif f.name == "fields":
                    arrays.extend((f"fields.{k}", v) for k, v in value.items())
                else:
                    scalars[f.name] = value
        in_memory = sum(a.nbytes for _, a in arrays)
        if not self._spilled and self.memory_nbytes + in_memory <= self._memory_limit:
            self._keep(raw, record, error, arrays, in_memory, carried)
            return
        self._spilled = True
        layout = []
        offset = 0
        buffers: list[Any] = []
        for key, a in arrays:
            layout.append((key, a.dtype.str, a.shape, offset))
            if a.nbytes:
                buffers.append(np.ascontiguousarray(a).reshape(-1).view(np.uint8))
            if pad := _pad(a.nbytes):
                buffers.append(bytes(pad))
            offset += a.nbytes + pad
        kind = type(record).__name__ if record is not None else ""
        header = pickle.dumps(
            (raw.topic, raw.index, raw.record_time_ns, len(raw.data), kind, scalars, layout, offset, error, carried),
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        size = _LEN.size + len(header) + offset
        if self.nbytes + size > self.budget:
            self._abandon(f"the spool would exceed its budget of {self.budget / 1e9:.1f} GB")
            return
        self._pending.append((self._io.submit(_write_all, self._fd, [_LEN.pack(len(header)), header, *buffers]), size))
        self._in_flight += size
        self.nbytes += size
        self.records += 1
        self._file_records += 1
        self.topics.add(raw.topic)

    def _keep(
        self,
        raw: RawMessage,
        record: Record | None,
        error: str,
        arrays: list[tuple[str, np.ndarray]],
        nbytes: int,
        carried: bool = False,
    ) -> None:
        """Keep one record in memory (``arrays``: its arrays as :meth:`add` lists them). An array that
        is a view of a larger buffer is copied first, so that the budget counts every byte kept alive."""
        copies = {key: a.copy() for key, a in arrays if not _owns(a)}
        if record is not None and copies:
            changes: dict[str, Any] = {k: v for k, v in copies.items() if not k.startswith("fields.")}
            if len(changes) < len(copies):
                changes["fields"] = {k: copies.get(f"fields.{k}", v) for k, v in getattr(record, "fields", {}).items()}
            record = replace(record, **changes)
        self._memory.append(SpoolEntry(raw.topic, raw.index, raw.record_time_ns, len(raw.data), record, error,
                                       carried))
        self.memory_nbytes += nbytes
        self.records += 1
        self.topics.add(raw.topic)

    def _wait_write(self, keep_bytes: int = 0) -> bool:
        """Collect finished writes and wait until at most ``keep_bytes`` are in flight.

        Returns:
            False (and the spool given up) when a write failed or the spool is not in use.
        """
        if not self.active:
            return False
        while self._pending and (self._in_flight > keep_bytes or self._pending[0][0].done()):
            pending, size = self._pending.popleft()
            self._in_flight -= size
            try:
                pending.result()
            except OSError as exc:  # a full disk: fall back to reading the bag again
                self._abandon(f"cannot write the spool file in {self.folder}: {exc}")
                return False
        return True

    def finish(self) -> None:
        """End of pass 1: wait for every write (the spool may give up here, see :attr:`abandoned`)."""
        self._wait_write()

    def _read(self, offset: int) -> tuple[tuple[Any, ...], np.ndarray | None, int]:
        """(header, data buffer or None, offset of the next record) of the record at ``offset``."""
        (hlen,) = _LEN.unpack(os.pread(self._fd, _LEN.size, offset))
        offset += _LEN.size
        header = pickle.loads(os.pread(self._fd, hlen, offset))
        offset += hlen
        size = header[7]
        if not header[4]:  # a decode failure: no arrays
            return header, None, offset + size
        buf = np.empty(size, dtype=np.uint8)
        if os.preadv(self._fd, [buf.data], offset) != size:
            raise OSError(f"the spool file in {self.folder} is shorter than its records")
        return header, buf, offset + size

    def _read_batch(self, offset: int, count: int) -> tuple[list[tuple[tuple[Any, ...], np.ndarray | None]], int]:
        """``count`` records from ``offset``: [(header, buffer)], offset after them."""
        out = []
        for _ in range(count):
            header, buf, offset = self._read(offset)
            out.append((header, buf))
        return out, offset

    def _read_ahead(self) -> Iterator[tuple[tuple[Any, ...], np.ndarray | None]]:
        """(header, buffer) of every record of the file in order; the next batch is read while one is used."""
        left = self._file_records
        ahead = self._io.submit(self._read_batch, 0, min(_BATCH, left)) if left else None
        while ahead is not None:
            batch, offset = ahead.result()
            left -= len(batch)
            ahead = self._io.submit(self._read_batch, offset, min(_BATCH, left)) if left else None
            yield from batch

    def entries(self) -> Iterator[SpoolEntry]:
        """Every spooled message, in the order it was added (arrays are fresh, writable arrays).

        The records kept in memory are handed out once (their memory is released as pass 2 goes);
        the file's records can be read again.
        """
        if not self._wait_write():
            return
        while self._memory:
            yield self._memory.popleft()
        classes = _record_classes()
        for header, buf in self._read_ahead():
            topic, index, record_ns, nbytes, kind, scalars, layout, _, error, carried = header
            record = None
            if buf is not None:
                values: dict[str, Any] = dict(scalars)
                field_arrays: dict[str, np.ndarray] = {}
                for key, dtype, shape, start in layout:
                    dt = np.dtype(dtype)
                    a = buf[start : start + math.prod(shape) * dt.itemsize].view(dt).reshape(shape)
                    if key.startswith("fields."):
                        field_arrays[key[7:]] = a
                    else:
                        values[key] = a
                cls = classes[kind]
                if any(f.name == "fields" for f in fields(cls)):  # point records; tracks have none
                    values["fields"] = field_arrays
                record = cls(**values)
            yield SpoolEntry(topic, index, record_ns, nbytes, record, error, carried)

    def _abandon(self, why: str) -> None:
        self.abandoned = why
        self._memory.clear()
        self._discard()

    def _discard(self) -> None:
        while self._pending:
            with contextlib.suppress(OSError):
                self._pending.popleft()[0].result()
        self._in_flight = 0
        if self._fd >= 0:
            self._file.close()  # unnamed: closing frees its space
            self._fd = -1

    def close(self) -> None:
        """Free the file and stop the helper thread (idempotent)."""
        self._discard()
        self._io.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
