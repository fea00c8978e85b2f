"""Raw LiDAR packet topics read as sweeps: many packet messages → one ``fusion_msgs/PacketSweep``.

A driver that records packets (``ouster_ros/PacketMsg`` on ``lidar_packets``) publishes one
message per UDP packet; a sweep is every packet of one frame (the frame id changes when the
measurement id wraps). :class:`PacketTopics` sits inside :class:`~fusion.readers.bag.RosBagSource`:
its :meth:`~PacketTopics.wrap` turns the packet messages of each such topic into one
:class:`~fusion.readers.source.RawMessage` per sweep, a ``fusion_msgs/PacketSweep`` serialized with
the log's typestore (header stamp = the sweep's first point time, the packets, the vendor and its
metadata), so the rest of fusion sees a topic of sweeps: stamps read from the bytes, one message
per frame, decoded by the ``lidar`` stream kind (:func:`decode_sweep`) into the same
:class:`PointCloud` record as a PointCloud2. IMU packet topics (name with ``imu``) become standard
``sensor_msgs/Imu`` messages, one per measurement. A topic's ``count`` is the number of messages it
is read as (one header-only pass over its packets).

The sensor metadata (Ouster: the metadata JSON) comes from the sensor map
(``packets: {vendor: ouster, metadata: path}``) or from the bag's ``metadata`` topic
(``std_msgs/String``, the one nearest the packet topic's namespace).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from fusion.errors import ConfigError, DecodeError, FusionError
from fusion.lidar_packets.options import PacketOptions
from fusion.readers.records import MessageMeta, PointCloud
from fusion.readers.source import RawMessage

if TYPE_CHECKING:
    from fusion.readers.bag import RosBagSource

SWEEP_TYPE = "fusion_msgs/msg/PacketSweep"
IMU_TYPE = "sensor_msgs/msg/Imu"
#: Packet message type -> vendor.
PACKET_TYPES: dict[str, str] = {"ouster_ros/msg/PacketMsg": "ouster"}
STRING_TYPE = "std_msgs/msg/String"


def packet_buf(raw: RawMessage) -> npt.NDArray[np.uint8]:
    """The ``uint8[] buf`` of a serialized packet message (ROS 1 or CDR), without copying."""
    data = raw.data
    off = 0 if raw.ros1 else 4
    if len(data) < off + 4:
        raise DecodeError("packet message too short", topic=raw.topic, index=raw.index)
    (n,) = (struct.unpack_from("<I" if raw.ros1 or data[1] else ">I", data, off))
    if len(data) < off + 4 + n:
        raise DecodeError(f"packet message of {len(data)} bytes holds a {n}-byte buffer", topic=raw.topic,
                          index=raw.index)
    return np.frombuffer(data, np.uint8, n, off + 4)


def _header(store: Any, seq: int, stamp_ns: int, frame_id: str) -> Any:
    """A ``std_msgs/Header`` of the log's typestore (ROS 1 with ``seq``, ROS 2 without)."""
    types = store.types
    sec, nsec = divmod(max(stamp_ns, 0), 1_000_000_000)
    stamp = types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nsec)
    cls = types["std_msgs/msg/Header"]
    if "seq" in cls.__dataclass_fields__:
        return cls(seq=seq & 0xFFFFFFFF, stamp=stamp, frame_id=frame_id)
    return cls(stamp=stamp, frame_id=frame_id)


def sweep_bytes(store: Any, ros1: bool, seq: int, stamp_ns: int, frame_id: str, vendor: str, metadata: str,
                packet_size: int, packets: list[npt.NDArray[np.uint8]]) -> bytes:
    """A ``fusion_msgs/PacketSweep`` serialized by rosbags with the log's typestore (ROS 1 or CDR)."""
    data = np.concatenate(packets) if packets else np.zeros(0, np.uint8)
    msg = store.types[SWEEP_TYPE](header=_header(store, seq, stamp_ns, frame_id), vendor=vendor, metadata=metadata,
                                  packet_size=packet_size, data=data)
    return bytes(store.serialize_ros1(msg, SWEEP_TYPE) if ros1 else store.serialize_cdr(msg, SWEEP_TYPE))


def imu_bytes(store: Any, ros1: bool, seq: int, stamp_ns: int, frame_id: str, accel: npt.NDArray[np.float64],
              gyro: npt.NDArray[np.float64]) -> bytes:
    """A ``sensor_msgs/Imu`` (no orientation: covariance[0] = -1) serialized with the log's typestore."""
    types = store.types
    vec, quat = types["geometry_msgs/msg/Vector3"], types["geometry_msgs/msg/Quaternion"]
    no_orientation = np.zeros(9)
    no_orientation[0] = -1.0
    msg = types[IMU_TYPE](header=_header(store, seq, stamp_ns, frame_id), orientation=quat(0.0, 0.0, 0.0, 1.0),
                          orientation_covariance=no_orientation, angular_velocity=vec(*map(float, gyro)),
                          angular_velocity_covariance=np.zeros(9), linear_acceleration=vec(*map(float, accel)),
                          linear_acceleration_covariance=np.zeros(9))
    return bytes(store.serialize_ros1(msg, IMU_TYPE) if ros1 else store.serialize_cdr(msg, IMU_TYPE))


class _Vendor:
    """One topic's decoder (Ouster today): frame id of a packet, first time, packet size."""

    def __init__(self, vendor: str, metadata: str, imu: bool) -> None:
        if vendor != "ouster":
            raise ConfigError(f"packets.vendor {vendor!r} is not supported (supported: ouster)")
        from fusion.readers.ouster import IMU_FRAME, SENSOR_FRAME, model

        self.vendor, self.metadata, self.imu = vendor, metadata, imu
        self.model = model(metadata)
        self.frame = IMU_FRAME if imu else SENSOR_FRAME
        self.size = self.model.imu_packet_size if imu else self.model.packet_size

    def describe(self) -> str:
        m = self.model
        if self.imu:
            return "Ouster IMU packets → sensor_msgs/Imu, one per measurement (ouster-sdk, m/s², rad/s)"
        return f"Ouster packets → sweeps (ouster-sdk, {m.profile}, {m.height}×{m.width})"


class PacketTopics:
    """The packet topics of one source and how they become sweeps (see module docstring)."""

    def __init__(self, source: RosBagSource) -> None:
        self._source = source
        self._specs: dict[str, PacketOptions] = {}
        self._vendors: dict[str, _Vendor] = {}
        self.errors: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def configure(self, topic: str, spec: PacketOptions) -> None:
        """Use ``spec`` (vendor, metadata file) for ``topic`` (forget what was derived before)."""
        self._specs[topic] = spec
        self._vendors.pop(topic, None)
        self.errors.pop(topic, None)
        self._counts.pop(topic, None)

    @staticmethod
    def is_packet_topic(topic: str, msgtype: str) -> bool:
        """A topic of raw packets (LiDAR, or IMU when its name says ``imu``)."""
        return msgtype in PACKET_TYPES

    @staticmethod
    def is_imu(topic: str) -> bool:
        """A packet topic of IMU packets (``imu_packets``)."""
        return "imu" in topic.rsplit("/", 1)[-1]

    def message_type(self, topic: str) -> str:
        """The type the topic's messages are read as (``PacketSweep``, or ``sensor_msgs/Imu``)."""
        return IMU_TYPE if self.is_imu(topic) else SWEEP_TYPE

    def vendor(self, topic: str) -> _Vendor | None:
        """The decoder of a packet topic, or None (then :attr:`errors` says why)."""
        if topic in self._vendors:
            return self._vendors[topic]
        if topic in self.errors:
            return None
        try:
            spec = self._specs.get(topic)
            msgtype = self._source.msgtype_of(topic)
            vendor = spec.vendor if spec is not None and spec.vendor else PACKET_TYPES[msgtype]
            text = self._metadata(topic, spec)
            self._vendors[topic] = _Vendor(vendor, text, self.is_imu(topic))
            return self._vendors[topic]
        except FusionError as exc:
            self.errors[topic] = exc.reason
            return None

    def _metadata(self, topic: str, spec: PacketOptions | None) -> str:
        if spec is not None and spec.metadata:
            try:
                return Path(spec.metadata).read_text()
            except OSError as exc:
                raise ConfigError(f"packets.metadata {spec.metadata}: cannot read ({exc})") from None
        candidates = [t for t in self._source.topic_types() if t.rsplit("/", 1)[-1] == "metadata"
                      and self._source.msgtype_of(t) == STRING_TYPE]
        ns = topic.split("/")[:-1]

        def shared(t: str) -> int:  # leading namespace parts in common with the packet topic
            parts = t.split("/")[:-1]
            same = [a == b for a, b in zip(parts, ns, strict=False)]
            return same.index(False) if False in same else len(same)

        candidates.sort(key=lambda t: (-shared(t), t))
        for t in candidates:
            raw = next(iter(self._source.raw_messages([t])), None)
            if raw is not None:
                return str(self._source.deserialize(raw).data)
        raise ConfigError(
            f"topic {topic}: the packets need the sensor metadata JSON and the bag has no 'metadata' topic "
            "(std_msgs/String); give it in the sensor map: packets: {vendor: ouster, metadata: <file.json>}"
        )

    def describe(self, topic: str) -> str:
        """How fusion reads ``topic`` (for ``fusion inspect``)."""
        v = self.vendor(topic)
        return v.describe() if v is not None else "raw packets, not decodable (see the type error)"

    def count(self, topic: str) -> int:
        """Messages the topic is read as: sweeps, or IMU measurements (one pass over the packets)."""
        if topic not in self._counts:
            self._counts[topic] = sum(1 for _ in self.wrap(self._source.raw_messages([topic]), {topic},
                                                           headers_only=True))
        return self._counts[topic]

    def wrap(self, messages: Iterator[RawMessage], topics: set[str], *, headers_only: bool = False
             ) -> Iterator[RawMessage]:
        """``messages`` with the packets of ``topics`` replaced by sweeps / IMU messages (record order kept).

        ``headers_only``: yield placeholders (no payload) for counting.
        """
        state: dict[str, list[Any]] = {}
        index: dict[str, int] = {}
        path = self._source.paths[0]
        store, ros1 = self._source.registry.store, self._source.ros1

        def message(topic: str, t: int, data: bytes) -> RawMessage:
            i = index.get(topic, 0)
            index[topic] = i + 1
            return RawMessage(topic, i, t, self.message_type(topic), data, ros1, path)

        def sweep(topic: str) -> RawMessage:
            bufs, last_t, _fid = state.pop(topic)
            v = self._vendors[topic]
            if headers_only:
                return message(topic, last_t, b"")
            stamp = min((t for t in (v.model.first_time_ns(b) for b in bufs) if t > 0), default=0)
            data = sweep_bytes(store, ros1, index.get(topic, 0), stamp, v.frame, v.vendor, v.metadata,
                               v.model.packet_size, bufs)
            return message(topic, last_t, data)

        for raw in messages:
            if raw.topic not in topics:
                yield raw
                continue
            v = self.vendor(raw.topic)
            if v is None:
                continue
            try:
                buf = packet_buf(raw)
            except DecodeError:
                continue
            if len(buf) != v.size:
                continue
            if v.imu:
                for t, acc, gyro in zip(*v.model.imu(buf), strict=True):
                    data = b"" if headers_only else imu_bytes(store, ros1, index.get(raw.topic, 0), int(t),
                                                              v.frame, acc, gyro)
                    yield message(raw.topic, raw.record_time_ns, data)
                continue
            fid = v.model.frame_id(buf)
            cur = state.get(raw.topic)
            if cur is not None and cur[2] != fid:
                yield sweep(raw.topic)
                cur = None
            if cur is None:
                cur = state[raw.topic] = [[], 0, fid]
            cur[0].append(buf if headers_only else buf.copy())
            cur[1] = raw.record_time_ns
        for topic in sorted(state):
            yield sweep(topic)


def is_sweep(msg: Any) -> bool:
    """True for a deserialized ``fusion_msgs/PacketSweep``."""
    return hasattr(msg, "packet_size") and hasattr(msg, "vendor") and hasattr(msg, "metadata")


def decode_sweep(msg: Any, meta: MessageMeta) -> PointCloud:
    """A ``fusion_msgs/PacketSweep`` → :class:`PointCloud` (per-point time: the column timestamps).

    Raises:
        DecodeError: Unknown vendor, bad metadata, or packets the SDK cannot parse.
    """
    if str(msg.vendor) != "ouster":
        raise DecodeError(f"packet sweep of unknown vendor {msg.vendor!r}")
    from fusion.readers.ouster import model

    size = int(msg.packet_size)
    data = np.asarray(msg.data, dtype=np.uint8)
    if size <= 0 or data.size % size:
        raise DecodeError(f"packet sweep of {data.size} bytes is not a whole number of {size}-byte packets")
    try:
        sweep = model(str(msg.metadata)).decode(list(data.reshape(-1, size)))
    except FusionError:
        raise
    except Exception as exc:
        raise DecodeError(f"Ouster packets do not decode ({type(exc).__name__}: {exc})") from None
    return PointCloud(meta, sweep.xyz, sweep.fields, sweep.point_time_ns, "ouster_packets", 1, len(sweep.xyz),
                      dropped_points=sweep.dropped)
