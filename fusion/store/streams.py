"""Per-sensor stream writing: the common :class:`StreamWriter` and the Zarr :class:`ZarrStreamGroup`.

A stream kind's writer (:mod:`fusion.kinds`) derives from :class:`StreamWriter`, which owns the
per-message time columns and, for ragged kinds (points, image bytes), the offsets: ragged data
is stored as concatenated columns plus ``offsets (M+1,) int64``: message ``m`` owns rows
``offsets[m]:offsets[m+1]``. Columns are declared on a :class:`~fusion.store.sink.StreamGroup`:
:class:`ZarrStreamGroup` makes shard-aligned :class:`~fusion.store.buffers.ColumnBuffer` s on a
zarr group; :class:`~fusion.store.memory.MemoryStreamGroup` keeps the rows in memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import zarr

from fusion.errors import StoreError
from fusion.store import layout as lay
from fusion.store.buffers import ColumnBuffer, ShardPool
from fusion.store.create import NodeBatch
from fusion.store.metadata import update_attributes
from fusion.store.sink import Attrs, ColumnSink, StreamGroup


def to_json(value: Any) -> Any:
    """A JSON-compatible copy of ``value`` (numpy scalars/arrays become Python numbers/lists)."""
    import json

    def default(obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, set | frozenset | tuple):
            return list(obj)
        raise TypeError(f"{type(obj).__name__} is not JSON serializable")

    return json.loads(json.dumps(value, default=default))


class ZarrStreamGroup:
    """A ``streams/<name>`` zarr group whose columns are shard-aligned buffers on the writer's pool.

    Args:
        group: The zarr group (in the store, or pending in ``batch``).
        name: Stream name.
        batch: Where new column documents wait until :meth:`create`.
        pool: The store writer's shard pool.
    """

    def __init__(self, group: zarr.Group, name: str, batch: NodeBatch, pool: ShardPool) -> None:
        self.group = group
        self._name = name
        self._batch = batch
        self._pool = pool

    @property
    def name(self) -> str:
        """Stream name."""
        return self._name

    def column(self, col: str, dtype: npt.DTypeLike, inner_shape: tuple[int, ...], spec: lay.ColumnSpec,
               expected_rows: int, fill_value: int | float = 0) -> ColumnSink:
        """Declare a sharded column (see :meth:`fusion.store.create.NodeBatch.column`)."""
        arr = self._batch.column(self.group, col, dtype=np.dtype(dtype), inner_shape=inner_shape, spec=spec,
                                 expected_rows=expected_rows, fill_value=fill_value)
        return ColumnBuffer(arr, f"streams/{self._name}/{col}", self._pool)

    def create(self) -> None:
        """Write every pending column document in one call (idempotent)."""
        self._batch.write()

    def update_attrs(self, attrs: Attrs) -> None:
        """Merge ``attrs`` into the group's attributes (one metadata write)."""
        update_attributes(self.group, to_json(dict(attrs)))


class StreamWriter:
    """Common part: the per-message time columns and (for ragged kinds) offsets.

    Args:
        group: The stream's group (its columns are declared there).
        expected_messages: Pre-size for the per-message columns.
        extra_times: Additional int64 per-message columns (e.g. ``ref_time_ns``).
        ragged: Whether the stream has an ``offsets`` column.
    """

    def __init__(
        self,
        group: StreamGroup,
        expected_messages: int,
        extra_times: tuple[str, ...] = (),
        ragged: bool = True,
    ) -> None:
        self.group = group
        self.name = group.name
        self._cols: dict[str, ColumnSink] = {}
        for col in (*lay.TIME_COLUMNS, *extra_times):
            self._add(col, "int64", (), lay.MESSAGE, expected_messages)
        self._offsets: ColumnSink | None = None
        self._rows = 0
        if ragged:
            self._offsets = self._add("offsets", "int64", (), lay.MESSAGE, expected_messages + 1)
            self._offsets.append(np.zeros(1, dtype=np.int64))

    def _add(
        self, col: str, dtype: npt.DTypeLike, inner: tuple[int, ...], spec: lay.ColumnSpec, rows: int,
        fill: int | float = 0,
    ) -> ColumnSink:
        buf = self.group.column(col, dtype, inner, spec, rows, fill)
        self._cols[col] = buf
        return buf

    def create(self) -> None:
        """Write the metadata of every column added since the last call (one zarr call; idempotent).

        :class:`~fusion.store.writer.StoreWriter` calls it after constructing the writer; a column
        added later (LiDAR ``xyz_raw`` on the first append) is created at once.
        """
        self.group.create()

    @property
    def count(self) -> int:
        """Messages appended so far."""
        return self._cols["time_ns"].count

    @property
    def buffer_bytes(self) -> int:
        """Upper bound of the memory held by this stream's shard buffers."""
        return sum(c.buffer_bytes for c in self._cols.values())

    def _times(self, **times: Any) -> None:
        for col, value in times.items():
            self._cols[col].append(np.asarray(value, dtype=np.int64).reshape(-1))

    def _ragged(self, n: int) -> None:
        assert self._offsets is not None
        self._rows += n
        self._offsets.append(np.array([self._rows], dtype=np.int64))

    def _check_len(self, what: str, arr: np.ndarray, n: int, inner: tuple[int, ...] = ()) -> None:
        if arr.shape != (n, *inner):
            raise StoreError(
                f"streams/{self.name}: message {self.count}: {what} has shape {arr.shape}, expected {(n, *inner)}"
            )

    def seal(self) -> None:
        """The stream is complete: hand every column's last shard to the pool now."""
        for buf in self._cols.values():
            buf.seal()

    def finalize(self) -> int:
        """Flush every column, trim to exact sizes, record ``count`` in the group attrs."""
        self.create()
        self.seal()  # every tail shard queued before the first wait
        for buf in self._cols.values():
            buf.finalize()
        count = self._cols["time_ns"].count
        self.group.update_attrs({**self._final_attrs(), "count": count})
        return count

    def update_attrs(self, attrs: Attrs) -> None:
        """Merge JSON-able ``attrs`` into the stream group's attributes (one metadata write)."""
        self.group.update_attrs(attrs)

    def _final_attrs(self) -> dict[str, object]:
        """Group attributes known only at the end, written with ``count`` (one metadata write)."""
        return {}
