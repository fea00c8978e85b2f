"""The seam between bag files and the rest of fusion.

:class:`BagSource` is the protocol the pipeline, ``fusion inspect`` and the
calibration extractor program against; :func:`fusion.readers.open_bags`
returns the rosbags-backed implementation. Messages travel as
:class:`RawMessage` (serialized bytes, deserialization deferred) until a
consumer asks :meth:`BagSource.decode` for a typed record.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from fusion.readers.records import Record

I64 = npt.NDArray[np.int64]

if TYPE_CHECKING:
    from fusion.lidar_packets.options import PacketOptions


@dataclass(frozen=True, slots=True)
class RadarFieldMap:
    """Which PointCloud2 fields of a radar carry what.

    Attributes:
        doppler: Name of the radial-velocity field (m/s), or ``None`` to pick
            the first of :data:`fusion.readers.radar.DOPPLER_FIELDS` present.
        extras: Other fields to keep (``rcs``, ``amplitude``, ...); empty keeps
            every field that is not x, y, z or the Doppler field.
        doppler_scale: Factor applied to the Doppler field (e.g. -1 when the
            sensor reports approaching targets as positive).
    """

    doppler: str | None = None
    extras: tuple[str, ...] = ()
    doppler_scale: float = 1.0


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    """Per-topic decoding overrides.

    Attributes:
        kind: Force the record kind (e.g. ``SensorKind.RADAR`` for a
            PointCloud2 radar without a Doppler-looking field name).
        time_convention: LiDAR per-point time convention name (see
            :data:`fusion.readers.lidar_time.CONVENTIONS`); ``None`` = detect.
        radar_fields: Radar field mapping for PointCloud2 radars.
        packets: How a raw LiDAR packet topic is decoded (:mod:`fusion.lidar_packets`); None =
            detect vendor and model from the packets.
        vendor_radar: Where a vendor radar message keeps its detections
            (:class:`fusion.readers.vendor_radar.VendorRadarMap`); any message type then decodes
            as radar.
    """

    kind: str | None = None
    time_convention: str | None = None
    radar_fields: RadarFieldMap = field(default_factory=RadarFieldMap)
    packets: PacketOptions | None = None
    vendor_radar: Any = None


OptionsArg = DecodeOptions | Mapping[str, DecodeOptions] | None
"""``decode`` accepts one :class:`DecodeOptions` or a mapping topic -> options."""


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """What one topic holds.

    Attributes:
        name: Topic name as in the bag.
        msgtype: ROS 2 style type name (``sensor_msgs/msg/Image``); when a topic
            carries several types (old ``/tf`` bags) they are joined with ``|``.
        count: Number of messages (from the bag index).
        connections: Number of connections (publishers/files) on the topic.
        kind: Detected sensor kind.
        frame_id: ``header.frame_id`` of the first message (leading slash
            removed), ``""`` when unknown or headerless.
        has_header: The type's first field is a ``std_msgs/Header``.
        type_error: Why the type cannot be decoded (no definition), else ``""``.
        reader: How fusion reads the topic when it is not one message per record (raw LiDAR
            packets grouped into sweeps), else ``""``.
    """

    name: str
    msgtype: str
    count: int
    connections: int
    kind: str
    frame_id: str = ""
    has_header: bool = False
    type_error: str = ""
    reader: str = ""


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One serialized message, not yet deserialized.

    Attributes:
        topic: Topic name.
        index: 0-based ordinal within its topic, in record order.
        record_time_ns: Bag record time, int64 ns.
        msgtype: ROS 2 style type name of this message's connection.
        data: Serialized bytes (ROS 1 or CDR, see ``ros1``).
        ros1: True when ``data`` is ROS 1 serialized, False for CDR.
        path: File the message came from.
    """

    topic: str
    index: int
    record_time_ns: int
    msgtype: str
    data: bytes | memoryview
    ros1: bool
    path: Path


@runtime_checkable
class BagSource(Protocol):
    """One log (one or several bag files read as one), streamed."""

    @property
    def paths(self) -> tuple[Path, ...]:
        """The bag files/directories of this log."""
        ...

    @property
    def topics(self) -> dict[str, TopicInfo]:
        """Topic name -> :class:`TopicInfo`."""
        ...

    def messages(self, topics: Iterable[str] | None = None) -> Iterator[RawMessage]:
        """Yield raw messages in record order, filtered before deserialization."""
        ...

    def decode(self, raw: RawMessage, *, options: OptionsArg = None) -> Record:
        """Deserialize and decode one message into a record (raises ``DecodeError``)."""
        ...

    def lidar_time_bounds(self, raw: RawMessage, *, options: OptionsArg = None) -> tuple[int, int, int]:
        """(first, last) per-point time ns and point count of a PointCloud2 (no full decode)."""
        ...

    def deserialize(self, raw: RawMessage) -> Any:
        """Deserialize one message into the rosbags message object."""
        ...

    def stamps(self, topics: Iterable[str], *, keep_partial: bool = False) -> dict[str, tuple[I64, I64]]:
        """Topic -> (header stamp ns, record time ns), read without full deserialization."""
        ...

    def close(self) -> None:
        """Release the files."""
        ...

    def __enter__(self) -> BagSource:
        """Context manager entry."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close on exit."""
        ...
