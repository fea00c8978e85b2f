"""The contract of a stream kind: :class:`StreamKind` and the contexts the pipeline hands it.

A stream kind is everything fusion knows about one sort of sensor data (camera images, LiDAR
points, radar detections, IMU samples, ego poses, camera intrinsics, transforms, ...): which
message types it decodes and how, what pass 1 collects of it for the plan, how pass 2
compensates and writes it, how a reader sees it in a frame, and what ``fusion validate`` checks.
The pipeline, the store and the reader iterate the registry (:mod:`fusion.kinds`) and call these
hooks; they never name a kind. ``docs/ARCHITECTURE.md`` ("How to add a stream kind") lists what a
new kind provides.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from fusion.pipeline.execute import WriteContext
    from fusion.pipeline.scan import ScanContext
    from fusion.pipeline.sensors import SelectedSensor
    from fusion.pipeline.streams import ImuTable, MessageTable, SampleTable
    from fusion.readers.records import MessageMeta, Record
    from fusion.readers.source import DecodeOptions, RawMessage
    from fusion.store.frame import MessageView
    from fusion.store.sink import Attrs, FrameSink
    from fusion.store.state import StoreState, StreamState


class Role(enum.Enum):
    """What a kind's topics are to a conversion."""

    FRAME = "frame"
    """A discrete sensor whose messages are matched to frames (LiDAR, radar, camera)."""
    STREAM = "stream"
    """A discrete sensor stored at full rate message by message like a FRAME kind, but never matched
    to frames (non-camera images: LiDAR panoramas, depth images)."""
    CONTINUOUS = "continuous"
    """A sampled stream stored at full rate and sliced per frame (IMU)."""
    EGO = "ego"
    """A source of the ego trajectory (odometry, /tf)."""
    CALIBRATION = "calibration"
    """A source of the rig (/tf_static, CameraInfo): read in pass 1, never stored as a stream."""
    DECODED = "decoded"
    """Decoded and counted, not stored (yet)."""


class TopicScanner(Protocol):
    """Pass 1 of one topic: called with each of its messages in record order."""

    def message(self, raw: RawMessage) -> None:
        """Take what the plan needs from ``raw`` (clocks, sweep bounds, samples, transforms)."""
        ...


class StreamWriterLike(Protocol):
    """What pass 2 needs of a kind's stream writer."""

    def seal(self) -> None:
        """No more messages: hand the last shards on now."""
        ...


class EarlyWriter(StreamWriterLike, Protocol):
    """A stream written in pass 1: payloads first, their times once the plan is known."""

    @property
    def payloads(self) -> int:
        """Payloads appended so far."""
        ...

    def append_payload(self, data: npt.NDArray[np.generic], format: str | None = None) -> None:
        """Append one message's payload (kept by reference)."""
        ...

    def set_times(self, stamp_ns: npt.NDArray[np.int64], record_time_ns: npt.NDArray[np.int64],
                  time_ns: npt.NDArray[np.int64]) -> None:
        """The times of every payload appended so far, in order."""
        ...

    def update_attrs(self, attrs: Attrs) -> None:
        """Merge attributes into the stream's group."""
        ...


class StreamKind(Protocol):
    """One stream kind (see module docstring). Implementations are stateless singletons.

    Attributes:
        name: Registry key; the store's ``kind`` attribute and the sensor map's ``kind``.
        role: What the kind's topics are to a conversion.
        msgtypes: ROS 2 message types (``pkg/msg/Type``) the kind decodes.
        records: The record types its ``decode`` returns (:mod:`fusion.readers.records`).
        frame_attr: Attribute of :class:`~fusion.store.dataset.Frame` that lists its views
            (``"lidar"`` → ``frame.lidar``), or None when frames do not show it.
        reference_priority: Order in which FRAME kinds define frames by default (lower first;
            None: never the default reference).
        spooled: Pass 1 decodes its messages fully and keeps them for pass 2 (the spool).
        has_sweeps: Its messages span time (per-point times): the plan gets sweep bounds.
        early: Pass 1 writes its payloads (they need nothing from the plan); see ``open_early``.
        message_columns: Small per-message columns beyond the times that a reader caches at open.
        message_arrays: Other columns with one row per message (not ragged).
        is_sensor: Discovery makes a sensor of its topics (False: transforms, intrinsics).
        wants_intrinsics: Discovery pairs its topics with a CameraInfo topic.
        provides_intrinsics: Its topics carry camera intrinsics.
        ego_priority: Among EGO kinds, which one is the default ego source (lower first).
    """

    @property
    def name(self) -> str: ...
    @property
    def role(self) -> Role: ...
    @property
    def msgtypes(self) -> tuple[str, ...]: ...
    @property
    def records(self) -> tuple[type, ...]: ...
    @property
    def frame_attr(self) -> str | None: ...
    @property
    def reference_priority(self) -> int | None: ...
    @property
    def spooled(self) -> bool: ...
    @property
    def has_sweeps(self) -> bool: ...
    @property
    def early(self) -> bool: ...
    @property
    def message_columns(self) -> tuple[str, ...]: ...
    @property
    def message_arrays(self) -> tuple[str, ...]: ...
    @property
    def is_sensor(self) -> bool: ...
    @property
    def wants_intrinsics(self) -> bool: ...
    @property
    def provides_intrinsics(self) -> bool: ...
    @property
    def ego_priority(self) -> int: ...

    def claims(self, msgtype: str, topic: str, fields: Sequence[str]) -> bool:
        """Whether a topic of ``msgtype`` (with point ``fields``, if any) carries this kind.

        Only asked when several kinds decode the same type (PointCloud2: LiDAR or radar;
        TFMessage: /tf or /tf_static).
        """
        ...

    def decode(self, msg: Any, meta: MessageMeta, options: DecodeOptions) -> Record:
        """A deserialized message → the kind's record; raises DecodeError for bad content."""
        ...

    def scanner(self, ctx: ScanContext, topic: str, sensor: SelectedSensor | None) -> TopicScanner:
        """The pass-1 handler of ``topic`` (``sensor`` is None for non-sensor roles)."""
        ...

    def open_stream(self, sink: FrameSink, sensor: SelectedSensor, table: MessageTable,
                    ctx: WriteContext) -> StreamWriterLike:
        """Create the store stream of ``sensor`` for pass 2 (columns, codecs, chunking)."""
        ...

    def open_early(self, sink: FrameSink, sensor: SelectedSensor) -> EarlyWriter:
        """The stream pass 1 writes payloads into (``early`` kinds only)."""
        ...

    def early_payload(self, record: Record) -> tuple[npt.NDArray[np.generic], str]:
        """What pass 1 stores of one decoded message: (payload, format); raises DecodeError."""
        ...

    def write(self, ctx: WriteContext, name: str, writer: StreamWriterLike, record: Record,
              common_ns: int) -> None:
        """Compensate (deskew, Doppler) and append one decoded message at common time ``common_ns``.

        Raises:
            DecodeError: The record is not of this kind or its payload is invalid.
        """
        ...

    def write_table(self, sink: FrameSink, table: ImuTable | SampleTable) -> None:
        """Write a CONTINUOUS kind's whole planned table at the end of the conversion."""
        ...

    def view(self, state: StoreState, stream: StreamState, message: int, frame_time_ns: int, dt_ns: int,
             frame_pose: npt.NDArray[np.float64]) -> MessageView:
        """The reader's view of stored ``message`` matched to a frame at ``frame_time_ns``."""
        ...

    def frame_view(self, state: StoreState, frame: int) -> object:
        """What ``Frame.<frame_attr>`` shows for frame ``frame``."""
        ...

    def validate(self, stream: StreamState) -> list[str]:
        """Kind-specific problems of a stored stream (one line each), beyond the common checks."""
        ...


class KindBase:
    """Defaults for the hooks a kind of a given role does not use (subclass and override).

    A FRAME kind overrides ``decode``, ``scanner``, ``open_stream``, ``write`` and ``view``; a
    CONTINUOUS kind ``decode``, ``scanner``, ``write_table`` and ``frame_view``; EGO and
    CALIBRATION kinds ``decode`` and ``scanner``; a DECODED kind only ``decode``.
    """

    name: str = ""
    role: Role = Role.DECODED
    msgtypes: tuple[str, ...] = ()
    records: tuple[type, ...] = ()
    frame_attr: str | None = None
    reference_priority: int | None = None
    spooled: bool = False
    has_sweeps: bool = False
    early: bool = False
    message_columns: tuple[str, ...] = ()
    message_arrays: tuple[str, ...] = ()
    is_sensor: bool = True
    wants_intrinsics: bool = False
    provides_intrinsics: bool = False
    ego_priority: int = 99

    def claims(self, msgtype: str, topic: str, fields: Sequence[str]) -> bool:
        """Default: the only kind of its types."""
        return True

    def decode(self, msg: Any, meta: MessageMeta, options: DecodeOptions) -> Record:
        """Default: not decoded (kept for counting)."""
        from fusion.readers.records import OtherMessage

        return OtherMessage(meta, "")

    def scanner(self, ctx: ScanContext, topic: str, sensor: SelectedSensor | None) -> TopicScanner:
        """Default: pass 1 reads the stamps only."""
        return ctx.clock_scanner(topic)

    def open_stream(self, sink: FrameSink, sensor: SelectedSensor, table: MessageTable,
                    ctx: WriteContext) -> StreamWriterLike:
        """Default: a kind that pass 2 never writes."""
        raise NotImplementedError(f"stream kind {self.name!r} is not written message by message")

    def open_early(self, sink: FrameSink, sensor: SelectedSensor) -> EarlyWriter:
        """Default: not written in pass 1."""
        raise NotImplementedError(f"stream kind {self.name!r} is not written in pass 1")

    def early_payload(self, record: Record) -> tuple[npt.NDArray[np.generic], str]:
        """Default: not written in pass 1."""
        raise NotImplementedError(f"stream kind {self.name!r} is not written in pass 1")

    def write(self, ctx: WriteContext, name: str, writer: StreamWriterLike, record: Record, common_ns: int) -> None:
        """Default: a kind that pass 2 never writes."""
        raise NotImplementedError(f"stream kind {self.name!r} is not written message by message")

    def write_table(self, sink: FrameSink, table: ImuTable | SampleTable) -> None:
        """Write a continuous kind's whole table at the end of the conversion (default: nothing)."""

    def view(self, state: StoreState, stream: StreamState, message: int, frame_time_ns: int, dt_ns: int,
             frame_pose: npt.NDArray[np.float64]) -> MessageView:
        """Default: no per-message view."""
        raise NotImplementedError(f"stream kind {self.name!r} has no message view")

    def frame_view(self, state: StoreState, frame: int) -> object:
        """What ``Frame.<frame_attr>`` shows: default, sensor name -> view of its matched message."""
        out: dict[str, MessageView] = {}
        pose = state.ego_T_world_base[frame]
        time_ns = int(state.times_ns[frame])
        for name, (index, dt, valid) in state.matches.items():
            stream = state.streams.get(name)
            if stream is None or stream.kind != self.name or not valid[frame] or index[frame] < 0:
                continue
            out[name] = self.view(state, stream, int(index[frame]), time_ns, int(dt[frame]), pose)
        return out

    def validate(self, stream: StreamState) -> list[str]:
        """Default: only the common checks apply."""
        return []
