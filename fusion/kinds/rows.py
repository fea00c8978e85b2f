"""The writer of a continuous kind stored as one row per message (GNSS fixes, wheel twists): the bag's
clocks plus the kind's own fixed-shape columns, chunked like the IMU."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from fusion.store import layout as lay
from fusion.store.sink import FrameSink, StreamGroup, StreamHeader
from fusion.store.streams import StreamWriter

if TYPE_CHECKING:
    from fusion.pipeline.streams import ImuTable, SampleTable
    from fusion.store.state import StreamState

#: name -> (dtype, shape of one row)
Columns = dict[str, tuple[Any, tuple[int, ...]]]


class RowStreamWriter(StreamWriter):
    """``streams/<name>``: ``stamp_ns``, ``record_time_ns``, ``time_ns`` and the columns of :attr:`columns`.

    A kind subclasses it and sets :attr:`columns`.
    """

    columns: ClassVar[Columns] = {}

    def __init__(self, group: StreamGroup, *, expected_messages: int) -> None:
        super().__init__(group, expected_messages, ragged=False)
        for col, (dtype, shape) in self.columns.items():
            self._add(col, dtype, shape, lay.IMU, expected_messages)

    def append_many(self, stamp_ns: np.ndarray, record_time_ns: np.ndarray, time_ns: np.ndarray,
                    columns: dict[str, np.ndarray]) -> None:
        """Append K rows: times (K,) int64 ns; ``columns`` as :attr:`columns` with K rows each.

        Raises:
            StoreError: A column of another length or row shape (nothing is appended then).
        """
        t = np.asarray(time_ns, dtype=np.int64).reshape(-1)
        k = t.shape[0]
        cols: dict[str, tuple[np.ndarray, tuple[int, ...]]] = {
            "stamp_ns": (np.asarray(stamp_ns, np.int64).reshape(-1), ()),
            "record_time_ns": (np.asarray(record_time_ns, np.int64).reshape(-1), ()), "time_ns": (t, ())}
        for col, (dtype, shape) in self.columns.items():
            cols[col] = (np.asarray(columns[col], dtype=dtype), shape)
        for col, (arr, inner) in cols.items():
            self._check_len(col, arr, k, inner)
        for col, (arr, _) in cols.items():
            self._cols[col].append(arr)


def write_rows(kind: str, writer: type[RowStreamWriter], sink: FrameSink, table: ImuTable | SampleTable) -> None:
    """Write a planned continuous stream (common clock, sorted, unique) of ``kind`` as one stream of rows."""
    cols = getattr(table, "columns", None)
    if cols is None:
        raise TypeError(f"{kind} stream {table.name!r}: expected a SampleTable, got {type(table).__name__}")
    header = StreamHeader(table.name, kind, table.topic, table.frame_id, {}, None)
    w = sink.add_stream(header, lambda g: writer(g, expected_messages=len(table.times_ns)))
    w.append_many(table.stamp_ns, table.record_ns, table.times_ns, cols)


def row_problems(stream: StreamState, columns: Columns) -> list[str]:
    """Every column of ``columns`` present with one row per message."""
    out = []
    for col in columns:
        if col not in stream.columns:
            out.append(f"streams/{stream.name}/{col}: missing")
        elif int(stream.array(col).shape[0]) != stream.count:
            out.append(f"streams/{stream.name}/{col}: {int(stream.array(col).shape[0])} rows, expected {stream.count}")
    return out
