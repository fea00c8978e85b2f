"""The writes of one part of a split conversion: recorded in a worker, replayed by the driver.

A part (:mod:`fusion.pipeline.split`) runs pass 2 on its time window: it decodes, deskews and
compensates its messages exactly as a single-process conversion does, through each stream kind's
own writer (:meth:`fusion.kinds.base.StreamKind.open_stream` / ``write``). The writer it gets is
the kind's real writer class, but built on a :class:`NullGroup` (columns that only count rows),
and every call the pipeline makes on it (``append``, ``mark_partial``, ...) is recorded, with its
arguments, in the part's *call log* (a pickle stream; numpy arrays as protocol-5 buffers).

The driver then replays the parts' call logs in time order on the writers of the final store
(:func:`replay`). Each stream's writer thus receives exactly the calls, in exactly the order, of
a single-process conversion: offsets, format codes, keyframe indices, chunks, shards and the
chunk manifest come out identical, and every payload is compressed once, by the driver's shard
pool (never compressed in a part, decompressed and compressed again).

Only calls that return normally are recorded: a call that raises (a payload the kind rejects,
reported as a skip) leaves no trace, as in a single process.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from fusion.errors import StoreError
from fusion.store.layout import ColumnSpec
from fusion.store.sink import Attrs, ColumnSink, StreamGroup, StreamHeader

#: Writer methods never recorded: the driver's writers seal and finalize themselves.
_NOT_RECORDED = frozenset({"seal", "finalize", "create"})


class NullColumn:
    """A :class:`~fusion.store.sink.ColumnSink` that keeps nothing but its row count."""

    def __init__(self, inner_shape: tuple[int, ...]) -> None:
        self._inner = tuple(int(s) for s in inner_shape)
        self._count = 0

    @property
    def count(self) -> int:
        return self._count

    @property
    def buffer_bytes(self) -> int:
        return 0

    def append(self, rows: npt.NDArray[np.generic]) -> None:
        self._count += int(np.shape(rows)[0]) if np.ndim(rows) else 1

    def seal(self) -> None:
        return None

    def finalize(self) -> int:
        return self._count


class NullGroup:
    """A :class:`~fusion.store.sink.StreamGroup` of :class:`NullColumn` s (the part's writers write nothing)."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def column(self, col: str, dtype: npt.DTypeLike, inner_shape: tuple[int, ...], spec: ColumnSpec,
               expected_rows: int, fill_value: int | float = 0) -> ColumnSink:
        return NullColumn(inner_shape)

    def create(self) -> None:
        return None

    def update_attrs(self, attrs: Attrs) -> None:
        return None


_RECORDING: dict[type, type] = {}


def _recording_class(cls: type) -> type:
    """A subclass of writer class ``cls`` whose public methods record their outermost successful calls."""
    sub = _RECORDING.get(cls)
    if sub is not None:
        return sub
    import inspect

    names = [n for n in dir(cls) if not n.startswith("_") and n not in _NOT_RECORDED
             and inspect.isfunction(inspect.getattr_static(cls, n))]  # fmt: skip

    def wrap(method: str) -> Callable[..., Any]:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            self._part_depth += 1
            try:
                out = getattr(super(sub, self), method)(*args, **kwargs)  # type: ignore[arg-type]
            finally:
                self._part_depth -= 1
            if self._part_depth == 0 and self._part_log is not None:  # outermost, and pass 2 has begun
                self._part_log.record(self._part_name, method, args, kwargs)
            return out

        call.__name__ = method
        return call

    sub = type(f"Recording{cls.__name__}", (cls,), {n: wrap(n) for n in names})
    _RECORDING[cls] = sub
    return sub


class CallLog:
    """The part's call log: ``(stream, method, args, kwargs)`` pickles, one after another, in call order."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self.calls = 0

    def record(self, stream: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        pickle.dump((stream, method, args, kwargs), self._fh, protocol=5)
        self.calls += 1


class RecordingSink:
    """The :class:`~fusion.store.sink.FrameSink` of a part: stream writers whose calls go to a :class:`CallLog`.

    A part writes streams only; the tables (ego, frames, rig, report) are the driver's.
    """

    def __init__(self, log: CallLog) -> None:
        self.log = log
        self.streams: dict[str, Any] = {}

    def add_stream(self, header: StreamHeader, factory: Callable[[StreamGroup], Any]) -> Any:
        writer = factory(NullGroup(header.name))
        writer.__class__ = _recording_class(type(writer))
        writer._part_depth = 0
        writer._part_log = None  # calls made while the streams are opened are the driver's too
        writer._part_name = header.name
        self.streams[header.name] = writer
        return writer

    def start(self) -> None:
        """Pass 2 begins: record the calls on every stream's writer from now on.

        What a kind does to its writer while opening the stream (``open_stream``), the driver's
        ``open_streams`` does to the final store's writer as well: not recorded, never done twice.
        """
        for writer in self.streams.values():
            writer._part_log = self.log

    def drop_stream(self, name: str) -> None:
        self.streams.pop(name, None)

    def _no_tables(self, *_: Any) -> None:
        raise StoreError("a part of a split conversion writes streams only (the driver writes the tables)")

    set_root_attrs = write_rig = write_ego = write_frames = write_report = _no_tables

    def finalize(self) -> None:
        return None

    def abort(self) -> None:
        return None


def read_calls(fh: IO[bytes]) -> Iterator[tuple[str, str, tuple[Any, ...], dict[str, Any]]]:
    """The calls of a call log, in order."""
    while True:
        try:
            yield pickle.load(fh)  # our own part's file, written moments ago
        except EOFError:
            return


def replay(fh: IO[bytes], writers: dict[str, Any]) -> int:
    """Make every call of a part's call log on the driver's writer of that stream; returns the calls made."""
    n = 0
    for stream, method, args, kwargs in read_calls(fh):
        getattr(writers[stream], method)(*args, **kwargs)
        n += 1
    return n
