"""The typed seam between the conversion pipeline and a store: :class:`FrameSink`.

The pipeline writes through these protocols only: a :class:`FrameSink` (the whole store:
streams, ego trajectory, frame table, rig, report) hands out :class:`StreamGroup` s (one per
sensor stream), on which a stream kind's writer declares :class:`ColumnSink` s (one per array).
:class:`~fusion.store.writer.StoreWriter` writes Zarr v3; :class:`~fusion.store.memory.MemorySink`
keeps everything in memory (tests, and a conversion whose result is consumed at once).

Nothing here names a stream kind: what columns a kind has, and how a message becomes rows of
them, is the kind's business (:mod:`fusion.kinds`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from fusion.store.layout import ColumnSpec

#: JSON-able attributes (numpy scalars and arrays allowed: the sink converts them).
Attrs = Mapping[str, object]


class ColumnSink(Protocol):
    """One array, appended along axis 0 (rows of shape ``inner_shape``)."""

    @property
    def count(self) -> int:
        """Rows appended so far."""
        ...

    @property
    def buffer_bytes(self) -> int:
        """Upper bound of the memory this column buffers."""
        ...

    def append(self, rows: npt.NDArray[np.generic]) -> None:
        """Append ``(n, *inner_shape)`` rows (cast to the column dtype; kept by reference: do not modify)."""
        ...

    def seal(self) -> None:
        """No more rows: hand the last partial shard on now."""
        ...

    def finalize(self) -> int:
        """Write everything and trim to the exact length; returns the row count."""
        ...


class StreamGroup(Protocol):
    """The group of one sensor stream (``streams/<name>``), where a kind declares its columns."""

    @property
    def name(self) -> str:
        """Stream (sensor) name."""
        ...

    def column(
        self,
        col: str,
        dtype: npt.DTypeLike,
        inner_shape: tuple[int, ...],
        spec: ColumnSpec,
        expected_rows: int,
        fill_value: int | float = 0,
    ) -> ColumnSink:
        """Declare column ``col`` (created with the stream's next :meth:`create`)."""
        ...

    def create(self) -> None:
        """Write the declarations of every column declared since the last call (idempotent)."""
        ...

    def update_attrs(self, attrs: Attrs) -> None:
        """Merge JSON-able attributes into the stream group's attributes."""
        ...


@dataclass(frozen=True)
class StreamHeader:
    """What every stream group records, whatever its kind.

    Attributes:
        name: Stream (sensor) name: the group name under ``streams/``.
        kind: Registered stream-kind name (:mod:`fusion.kinds`), stored as the ``kind`` attribute.
        topic: Source topic.
        frame_id: Sensor frame of the stored data.
        attrs: Further JSON-able attributes.
        T_base_sensor: Optional (4, 4) extrinsic stored with the stream (else the reader uses the rig).
    """

    name: str
    kind: str
    topic: str
    frame_id: str
    attrs: Attrs = field(default_factory=dict)
    T_base_sensor: npt.NDArray[np.float64] | None = None


@dataclass(frozen=True)
class RootAttrs:
    """Store-wide attributes set once the rig and the plan are known (``extra``: any other JSON-able ones)."""

    base_frame: str = "base_link"
    world_frame: str = "odom"
    reference: str | None = None
    extra: Attrs = field(default_factory=dict)


@dataclass(frozen=True)
class EgoColumns:
    """The full-rate ego trajectory ``T_world_base``.

    Attributes:
        time_ns: (K,) int64 strictly increasing, common clock.
        translation_m: (K, 3) float64; rotation_xyzw: (K, 4) float64, x, y, z, w.
        linear_velocity_mps / angular_velocity_radps: (K, 3) float64 in the base frame.
        attrs: ``parent``, ``child``, ``source`` and any other attributes.
    """

    time_ns: npt.NDArray[np.int64]
    translation_m: npt.NDArray[np.float64]
    rotation_xyzw: npt.NDArray[np.float64]
    linear_velocity_mps: npt.NDArray[np.float64]
    angular_velocity_radps: npt.NDArray[np.float64]
    attrs: Attrs = field(default_factory=dict)


@dataclass(frozen=True)
class SensorMatches:
    """Per-frame match of one sensor: ``index`` (F,) stored row or -1, ``dt_ns`` (F,), ``valid`` (F,)."""

    index: npt.NDArray[np.int64]
    dt_ns: npt.NDArray[np.int64]
    valid: npt.NDArray[np.bool_]


@dataclass(frozen=True)
class FrameTable:
    """The frame table (F frames).

    Attributes:
        time_ns: (F,) int64 frame reference times, strictly increasing.
        ego_T_world_base: (F, 4, 4) float64 ego pose at each frame time (NaN where unknown).
        flags: (F,) uint32 frame flag bits (:mod:`fusion.frame_flags`).
        imu_range: (F, 2) int64 rows ``[start, stop)`` of ``imu_stream`` since the previous frame.
        sensors: Sensor name -> its matches.
        imu_stream: Name of the stream ``imu_range`` indexes (None: the only continuous-rate stream, if any).
        ego_quality: (F, 2) float32 1σ of an estimated ego pose at each frame: horizontal position (m),
            heading (rad); NaN where unknown or recorded (None: no column).
        ego_source: The ego source (``odom``, ``tf``, ``imu+gnss``, ..., ``none``).
    """

    time_ns: npt.NDArray[np.int64]
    ego_T_world_base: npt.NDArray[np.float64]
    flags: npt.NDArray[np.uint32]
    imu_range: npt.NDArray[np.int64]
    sensors: Mapping[str, SensorMatches]
    imu_stream: str | None = None
    ego_quality: npt.NDArray[np.float32] | None = None
    ego_source: str = ""


W = TypeVar("W")


class FrameSink(Protocol):
    """Everything the conversion pipeline writes (``StoreWriter`` and ``MemorySink`` satisfy it)."""

    def set_root_attrs(self, attrs: RootAttrs) -> None:
        """Set the store-wide attributes."""
        ...

    def write_rig(self, rig: Attrs) -> None:
        """Store the rig dict (``calibration.Rig.to_dict()``)."""
        ...

    def add_stream(self, header: StreamHeader, factory: Callable[[StreamGroup], W]) -> W:
        """Create stream ``header.name`` and return the writer ``factory`` builds on its group."""
        ...

    def drop_stream(self, name: str) -> None:
        """Delete stream ``name`` and everything written to it (to write it again)."""
        ...

    def write_ego(self, ego: EgoColumns) -> None:
        """Write the full-rate ego trajectory."""
        ...

    def write_frames(self, frames: FrameTable) -> None:
        """Write the frame table."""
        ...

    def write_report(self, report: Attrs) -> None:
        """Store the conversion report."""
        ...

    def finalize(self) -> None:
        """Flush everything and mark the store complete (the very last write)."""
        ...

    def abort(self) -> None:
        """Close without marking the store complete."""
        ...
