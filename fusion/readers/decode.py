"""Decode a deserialized message through its stream kind; the LiDAR decoding helpers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fusion.readers import lidar_time
from fusion.readers.pointcloud import column, other_fields, structured_points, xyz_of
from fusion.readers.records import MessageMeta, OtherMessage, PointCloud, Record
from fusion.readers.stamps import stamp_of_message

if TYPE_CHECKING:
    from fusion.readers.source import DecodeOptions, RawMessage


def message_meta(msg: Any, raw: RawMessage) -> MessageMeta:
    """Meta from ``header`` (TF messages: first transform's header; headerless: stamp 0)."""
    header = getattr(msg, "header", None)
    if header is None and getattr(msg, "transforms", None):
        header = msg.transforms[0].header
    frame_id = str(header.frame_id).lstrip("/") if header is not None else ""
    if header is None and hasattr(msg, "frame_id") and (hasattr(msg, "stamp") or hasattr(msg, "timestamp")):
        # std_msgs/Header itself; foxglove_msgs (timestamp + frame_id, no header)
        frame_id = str(msg.frame_id).lstrip("/")
    return MessageMeta(raw.topic, raw.index, raw.record_time_ns, stamp_of_message(msg), frame_id)


def decode_lidar(msg: Any, meta: MessageMeta, convention: str | None) -> PointCloud:
    """PointCloud2 LiDAR → :class:`PointCloud` with per-point time normalised to absolute ns."""
    pts = structured_points(msg)
    fields = other_fields(pts)
    conv = lidar_time.resolve(convention) if convention else lidar_time.detect(fields, meta.stamp_ns)
    times = lidar_time.point_times_ns(fields, meta.stamp_ns, conv) if conv is not None else None
    return PointCloud(
        meta, xyz_of(pts), fields, times, conv.name if conv is not None else "none", int(msg.height), int(msg.width)
    )


def lidar_time_bounds(msg: Any, stamp_ns: int, convention: str | None) -> tuple[int, int, int]:
    """(first point time ns, last point time ns, points) of a PointCloud2, reading only the time fields.

    The cheap path for planning frames: no xyz or other field is copied. A cloud without per-point
    time gives ``(stamp_ns, stamp_ns, points)``. A sweep of raw packets is decoded whole.
    """
    from fusion.readers.packets import decode_sweep, is_sweep

    if is_sweep(msg):
        t = decode_sweep(msg, MessageMeta("", 0, 0, stamp_ns, "")).point_time_ns
        return (int(t.min()), int(t.max()), len(t)) if t is not None and len(t) else (stamp_ns, stamp_ns, 0)
    pts = structured_points(msg)
    names = pts.dtype.names or ()
    wanted = [n for n in names if n in lidar_time.TIME_FIELDS or n in ("time_sec", "time_nsec")]
    fields = {n: column(pts, n) for n in wanted}
    conv = lidar_time.resolve(convention) if convention else lidar_time.detect(fields, stamp_ns)
    if conv is None or not len(pts):
        return stamp_ns, stamp_ns, len(pts)
    t = lidar_time.point_times_ns(fields, stamp_ns, conv)
    return int(t.min()), int(t.max()), len(pts)


def decode_message(msg: Any, raw: RawMessage, options: DecodeOptions, joiner: Any = None) -> Record:
    """Deserialized ``msg`` of ``raw.msgtype`` → the typed record of its stream kind (:mod:`fusion.kinds`).

    The kind is the sensor map's (``options.kind``) when it decodes the type, else the one the type
    (and, for types several kinds share, the topic or point fields) identifies. A type no kind
    decodes gives an :class:`OtherMessage`.

    Raises:
        DecodeError: Content that cannot be decoded (the caller adds topic/index).
    """
    from fusion import kinds

    meta = message_meta(msg, raw)
    if options.vendor_radar is not None:  # a vendor radar type, mapped by the sensor map
        from fusion.readers.vendor_radar import decode_vendor_radar

        if options.vendor_radar.scan_counter is not None and joiner is not None:
            return joiner.add(msg, meta, options.vendor_radar)  # type: ignore[no-any-return]
        return decode_vendor_radar(msg, meta, options.vendor_radar)
    kind = kinds.for_message(raw.msgtype, raw.topic, options.kind, lambda: [f.name for f in getattr(msg, "fields", ())])
    if kind is None:
        return OtherMessage(meta, raw.msgtype)
    return kind.decode(msg, meta, options)
