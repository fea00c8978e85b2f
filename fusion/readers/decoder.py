"""Message bytes → typed records: rosbags' deserializers plus raw-bytes fast paths.

:class:`MessageDecoder` is the decoding half of :class:`~fusion.readers.bag.RosBagSource`. Every
message goes through rosbags' generated deserializer and :func:`~fusion.readers.decode.decode_message`,
except the standard types read straight from their bytes (identical records, tested field by field):

* ``radar_msgs/RadarScan`` (:func:`fusion.readers.radar.decode_radar_scan_raw`),
* ``sensor_msgs/Imu`` and ``nav_msgs/Odometry`` (:mod:`fusion.readers.motion_raw`),
* ``sensor_msgs/Image`` and ``CompressedImage``: a zero-copy view (:mod:`fusion.readers.image_raw`),
* Livox ``CustomMsg`` (:func:`fusion.readers.livox.decode_livox_raw`).

A fast path is used only when the log's definitions of the type (and of every type nested in it)
are the standard ones; a vendor redefinition goes through rosbags. Every error names the message
type, record time, file, topic and index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fusion.errors import ConfigError, DecodeError, MessageTypeError
from fusion.lidar_packets.payload import PACKET_LAYOUTS, packet_layout
from fusion.readers.decode import decode_message, lidar_time_bounds
from fusion.readers.failures import reason
from fusion.readers.image_raw import image_view, standard_image_types
from fusion.readers.livox import decode_livox_raw, standard_livox_types
from fusion.readers.motion_raw import RAW_DECODERS, standard_motion_types
from fusion.readers.radar import decode_radar_scan_raw
from fusion.readers.records import PointCloud, Record
from fusion.readers.source import DecodeOptions, OptionsArg, RawMessage
from fusion.readers.stamps import stamp_of_message
from fusion.readers.typesys import RADAR_SCAN, TypeRegistry, standard_radar_scan

if TYPE_CHECKING:
    from fusion.lidar_packets.topic import PacketStreams


def _cannot_deserialize(raw: RawMessage, detail: str) -> DecodeError:
    """The error of a message whose bytes do not deserialize (names type, time, file, topic, index)."""
    return DecodeError(
        f"cannot deserialize {raw.msgtype} at record time {raw.record_time_ns} ns in {raw.path}: {detail}",
        topic=raw.topic,
        index=raw.index,
    )


class MessageDecoder:
    """Decodes the messages of one log (see module docstring).

    Args:
        registry: The log's type registry (typestore and the types that cannot be decoded).
        ros1: The log is ROS 1 (else CDR).
    """

    def __init__(self, registry: TypeRegistry, *, ros1: bool) -> None:
        self._registry = registry
        missing = set(registry.missing)
        self._radar_fast = RADAR_SCAN not in missing and standard_radar_scan(registry.store)
        self._image_fast = standard_image_types(registry.store) - missing
        self._livox_fast = standard_livox_types(registry.store) - missing
        motion = standard_motion_types(registry.store, ros1=ros1) - missing
        #: msgtype -> raw decoder of the Imu/Odometry types read from their bytes.
        self.motion_fast = {t: RAW_DECODERS[t] for t in motion}
        self._packets: PacketStreams | None = None  # made by the first raw packet message (see packets)
        #: vendor radar topics whose scans span several messages (sensor map ``scan_counter``)
        from fusion.readers.vendor_radar import ScanJoiner

        self.radar_scans = ScanJoiner()
        #: scan type -> its packets' layout as this log defines it (fixed or ``uint8[]`` data, ``size``)
        self.packet_layouts = {t: packet_layout(registry.store.fielddefs, t)
                               for t in PACKET_LAYOUTS if t not in missing}

    @property
    def packets(self) -> PacketStreams:
        """Raw LiDAR packet topics (VelodyneScan, PandarScan): stateful sweep assembly per topic, made on
        first use (:mod:`fusion.lidar_packets` imports numba: a log without packets does not pay for it)."""
        if self._packets is None:
            from fusion.lidar_packets.topic import PacketStreams  # imports the reader records: not at module level

            self._packets = PacketStreams()
        return self._packets

    @property
    def packets_seen(self) -> PacketStreams | None:
        """:attr:`packets` when a packet message made it, else None (nothing to report or flush)."""
        return self._packets

    def _packet_sweep(self, raw: RawMessage, opts: DecodeOptions | None) -> Record:
        """The sweep(s) a raw packet message completes (:mod:`fusion.lidar_packets`), read from its bytes."""
        try:
            return self.packets.decode(raw, opts.packets if opts is not None else None,
                                       self.packet_layouts.get(raw.msgtype))
        except (DecodeError, ConfigError):
            raise
        except Exception as exc:
            raise _cannot_deserialize(raw, reason(exc)) from None

    def deserialize(self, raw: RawMessage) -> Any:
        """Deserialize ``raw`` into the rosbags message object.

        Raises:
            MessageTypeError: The type has no definition (names topic and type).
            DecodeError: The bytes do not deserialize (names topic, index, reason).
        """
        if (why := self._registry.missing.get(raw.msgtype)) is not None:
            raise MessageTypeError(
                f"{raw.path}: topic {raw.topic} has type {raw.msgtype} which cannot be decoded: {why}; "
                "pass the package's .msg files with --msg-dir"
            )
        store = self._registry.store
        try:
            if raw.ros1:
                return store.deserialize_ros1(raw.data, raw.msgtype)
            return store.deserialize_cdr(raw.data, raw.msgtype)
        except Exception as exc:
            raise _cannot_deserialize(raw, reason(exc)) from None

    def _livox(self, raw: RawMessage) -> PointCloud:
        """A standard Livox CustomMsg read from its bytes (:mod:`fusion.readers.livox`)."""
        try:
            return decode_livox_raw(raw)
        except DecodeError as exc:
            raise _cannot_deserialize(raw, exc.reason) from None

    def _image_view(self, raw: RawMessage) -> Any:
        """A standard Image/CompressedImage without copying its data (:mod:`fusion.readers.image_raw`)."""
        try:
            return image_view(raw.data, raw.msgtype, ros1=raw.ros1)
        except DecodeError as exc:
            raise _cannot_deserialize(raw, exc.reason) from None

    def lidar_time_bounds(self, raw: RawMessage, *, options: OptionsArg = None) -> tuple[int, int, int]:
        """(first, last) per-point time in ns and the point count of a PointCloud2, without a full decode.

        Raises:
            DecodeError: The message is corrupt (names topic, index, reason).
        """
        opts = options.get(raw.topic) if isinstance(options, Mapping) else options
        if raw.msgtype in self._livox_fast:
            t = self._livox(raw).point_time_ns
            return (int(t.min()), int(t.max()), len(t)) if t is not None and len(t) else (0, 0, 0)
        if raw.msgtype in PACKET_LAYOUTS:
            rec = self._packet_sweep(raw, opts)
            pt = getattr(rec, "point_time_ns", None)
            if pt is None or not len(pt):
                return rec.meta.stamp_ns, rec.meta.stamp_ns, 0
            return int(pt.min()), int(pt.max()), len(pt)
        msg = self.deserialize(raw)
        try:
            return lidar_time_bounds(msg, stamp_of_message(msg), (opts or DecodeOptions()).time_convention)
        except (DecodeError, ValueError, TypeError) as exc:
            detail = exc.reason if isinstance(exc, DecodeError) else str(exc)
            raise DecodeError(
                f"{detail} (record time {raw.record_time_ns} ns, {raw.path})", topic=raw.topic, index=raw.index
            ) from None

    def decode(self, raw: RawMessage, *, options: OptionsArg = None) -> Record:
        """Deserialize and decode ``raw`` into a typed record (see :mod:`fusion.readers.records`).

        Args:
            raw: A message from :meth:`messages`.
            options: One :class:`DecodeOptions` or a mapping topic -> options.

        Raises:
            DecodeError: The message is corrupt or its content unsupported (names topic, index, reason).
            MessageTypeError: The type has no definition.
        """
        opts = options.get(raw.topic) if isinstance(options, Mapping) else options
        if raw.msgtype == RADAR_SCAN and self._radar_fast:
            return decode_radar_scan_raw(raw)
        if raw.msgtype in self._livox_fast:
            return self._livox(raw)
        if raw.msgtype in PACKET_LAYOUTS:
            return self._packet_sweep(raw, opts)
        if (fast := self.motion_fast.get(raw.msgtype)) is not None:
            try:
                return fast(raw)
            except DecodeError as exc:
                raise _cannot_deserialize(raw, exc.reason) from None
        msg = self._image_view(raw) if raw.msgtype in self._image_fast else self.deserialize(raw)
        try:
            return decode_message(msg, raw, opts or DecodeOptions(), self.radar_scans)
        except DecodeError as exc:
            raise type(exc)(
                f"{exc.reason} (record time {raw.record_time_ns} ns, {raw.path})", topic=raw.topic, index=raw.index
            ) from None
        except Exception as exc:
            raise DecodeError(
                f"cannot decode {raw.msgtype} at record time {raw.record_time_ns} ns in {raw.path}: {reason(exc)}",
                topic=raw.topic,
                index=raw.index,
            ) from None
