"""An in-memory :class:`~fusion.store.sink.FrameSink`: a conversion's output as plain numpy arrays.

:class:`MemorySink` keeps every column, attribute, the ego trajectory, the frame table, the rig
and the report in memory, under the same paths a Zarr store uses (``streams/<name>/<col>``,
``ego/<col>``, ``frames/<col>``, ``frames/sensors/<name>/<col>``). It exists to test the
pipeline ↔ store seam (a conversion into it equals the written store array for array) and for
callers that consume a short conversion at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from fusion.errors import StoreError
from fusion.store import layout as lay
from fusion.store.sink import Attrs, ColumnSink, EgoColumns, FrameTable, RootAttrs, StreamGroup, StreamHeader
from fusion.store.streams import to_json

W = TypeVar("W")


class MemoryColumn:
    """A column kept as the list of appended blocks (``rows()`` concatenates them)."""

    def __init__(self, what: str, dtype: npt.DTypeLike, inner_shape: tuple[int, ...]) -> None:
        self._what = what
        self.dtype = np.dtype(dtype)
        self.inner_shape = tuple(int(s) for s in inner_shape)
        self._blocks: list[np.ndarray] = []
        self._count = 0
        self._sealed = False

    @property
    def count(self) -> int:
        """Rows appended so far."""
        return self._count

    @property
    def buffer_bytes(self) -> int:
        """Bytes held (everything: nothing is flushed)."""
        return sum(b.nbytes for b in self._blocks)

    def append(self, rows: npt.NDArray[np.generic]) -> None:
        """Append ``(n, *inner_shape)`` rows (cast to the column dtype)."""
        if self._sealed:
            raise StoreError(f"{self._what}: rows appended after the column was sealed")
        values = np.asarray(rows)
        if values.shape[1:] != self.inner_shape:
            raise StoreError(f"{self._what}: rows of shape {values.shape[1:]} appended to a column of row shape "
                             f"{self.inner_shape}")
        self._blocks.append(values.astype(self.dtype, copy=True))
        self._count += values.shape[0]

    def seal(self) -> None:
        """No more rows."""
        self._sealed = True

    def finalize(self) -> int:
        """Seal; the row count."""
        self._sealed = True
        return self._count

    def rows(self) -> np.ndarray:
        """Every row, ``(count, *inner_shape)``."""
        if not self._blocks:
            return np.zeros((0, *self.inner_shape), self.dtype)
        return np.concatenate(self._blocks)


class MemoryStreamGroup:
    """A stream's group in memory: its columns and attributes."""

    def __init__(self, name: str, attrs: dict[str, Any]) -> None:
        self._name = name
        self.attrs = attrs
        self.columns: dict[str, MemoryColumn] = {}

    @property
    def name(self) -> str:
        """Stream name."""
        return self._name

    def column(self, col: str, dtype: npt.DTypeLike, inner_shape: tuple[int, ...], spec: lay.ColumnSpec,
               expected_rows: int, fill_value: int | float = 0) -> ColumnSink:
        """Declare column ``col`` (chunking and codecs do not apply in memory)."""
        column = MemoryColumn(f"streams/{self._name}/{col}", dtype, inner_shape)
        self.columns[col] = column
        return column

    def create(self) -> None:
        """Nothing to write."""

    def update_attrs(self, attrs: Attrs) -> None:
        """Merge JSON-able attributes."""
        self.attrs.update(to_json(dict(attrs)))


class MemorySink:
    """Everything a conversion writes, in memory (see module docstring)."""

    def __init__(self) -> None:
        self.attrs: dict[str, Any] = {"complete": False}
        self.rig: dict[str, Any] = {}
        self.report: dict[str, Any] = {}
        self.groups: dict[str, MemoryStreamGroup] = {}
        self.writers: dict[str, Any] = {}
        self.tables: dict[str, np.ndarray] = {}
        self.frames_attrs: dict[str, Any] = {}
        self.closed = False

    def set_root_attrs(self, attrs: RootAttrs) -> None:
        """Set the store-wide attributes."""
        self.attrs.update(to_json({"base_frame": attrs.base_frame, "world_frame": attrs.world_frame,
                                   **dict(attrs.extra)}))
        if attrs.reference is not None:
            self.attrs["reference"] = attrs.reference

    def write_rig(self, rig: Attrs) -> None:
        """Keep the rig dict."""
        self.rig = to_json(dict(rig))

    def add_stream(self, header: StreamHeader, factory: Callable[[StreamGroup], W]) -> W:
        """A stream group in memory and the writer ``factory`` builds on it."""
        if not header.name or "/" in header.name or header.name in self.groups:
            raise StoreError(f"stream name {header.name!r} is empty, contains '/' or is already used")
        attrs = {**to_json(dict(header.attrs)), "kind": header.kind, "topic": header.topic,
                 "frame_id": header.frame_id, "count": 0}
        if header.T_base_sensor is not None:
            attrs["T_base_sensor"] = np.asarray(header.T_base_sensor, dtype=np.float64).tolist()
        group = MemoryStreamGroup(header.name, attrs)
        writer = factory(group)
        self.groups[header.name] = group
        self.writers[header.name] = writer
        return writer

    def drop_stream(self, name: str) -> None:
        """Forget stream ``name``."""
        if name not in self.groups:
            raise StoreError(f"no stream {name!r} to drop")
        del self.groups[name]
        del self.writers[name]

    def write_ego(self, ego: EgoColumns) -> None:
        """Keep the ego trajectory columns."""
        for col in ("time_ns", "translation_m", "rotation_xyzw", "linear_velocity_mps", "angular_velocity_radps"):
            self.tables[f"{lay.EGO}/{col}"] = np.asarray(getattr(ego, col))
        self.tables_attrs = to_json(dict(ego.attrs))

    def write_frames(self, frames: FrameTable) -> None:
        """Keep the frame table and every sensor's matches."""
        self.tables[f"{lay.FRAMES}/time_ns"] = np.asarray(frames.time_ns, np.int64)
        self.tables[f"{lay.FRAMES}/ego_T_world_base"] = np.asarray(frames.ego_T_world_base, np.float64)
        self.tables[f"{lay.FRAMES}/flags"] = np.asarray(frames.flags, np.uint32)
        self.tables[f"{lay.FRAMES}/imu_range"] = np.asarray(frames.imu_range, np.int64)
        if frames.ego_quality is not None:
            self.tables[f"{lay.FRAMES}/ego_quality"] = np.asarray(frames.ego_quality, np.float32)
        for name, m in frames.sensors.items():
            for col in ("index", "dt_ns", "valid"):
                self.tables[f"{lay.FRAMES}/sensors/{name}/{col}"] = np.asarray(getattr(m, col))

    def write_report(self, report: Attrs) -> None:
        """Keep the report."""
        self.report = to_json(dict(report))

    def finalize(self) -> None:
        """Finalize every stream and mark the result complete."""
        for w in self.writers.values():
            w.finalize()
        self.attrs["complete"] = True
        self.closed = True

    def abort(self) -> None:
        """Stop without marking complete."""
        self.closed = True

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array under its store path."""
        out = dict(self.tables)
        for name, group in self.groups.items():
            for col, column in group.columns.items():
                out[f"{lay.STREAMS}/{name}/{col}"] = column.rows()
        return out
