"""Livox ``CustomMsg`` (``livox_ros_driver`` and ``livox_ros_driver2``) → :class:`PointCloud`.

A CustomMsg is one frame of a (non-repetitive) Livox scan: ``timebase`` (ns, sensor clock) and
per point ``offset_time`` (ns after ``timebase``), ``x y z`` (float32, m, LiDAR frame),
``reflectivity``, ``tag``, ``line`` (uint8). Each message is one sweep; per-point time is
``timebase + offset_time``. The points are read straight from the serialized bytes (ROS 1: 19-byte
packed points; CDR: 20-byte aligned points) when the log's definition is the standard one
(:func:`standard_livox_types`), else from rosbags' deserialized message; both give the same record.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from fusion.errors import DecodeError
from fusion.readers.records import MessageMeta, PointCloud
from fusion.readers.source import RawMessage
from fusion.readers.stamps import header_stamp_ns, peek_frame_id

LIVOX_TYPES = ("livox_ros_driver/msg/CustomMsg", "livox_ros_driver2/msg/CustomMsg")
CONVENTION = "livox_offset_time"
#: What ``fusion inspect`` says of a CustomMsg topic.
LIVOX_READER = "Livox CustomMsg → one sweep per message, point time = timebase + offset_time"
_MSG_FIELDS = ["header", "timebase", "point_num", "lidar_id", "rsvd", "points"]
_POINT_FIELDS = [("offset_time", "uint32"), ("x", "float32"), ("y", "float32"), ("z", "float32"),
                 ("reflectivity", "uint8"), ("tag", "uint8"), ("line", "uint8")]
_POINT_NAMES = [n for n, _ in _POINT_FIELDS]


def _point_dtype(stride: int) -> np.dtype[Any]:
    return np.dtype({"names": _POINT_NAMES, "formats": [t for _, t in _POINT_FIELDS],
                     "offsets": [0, 4, 8, 12, 16, 17, 18], "itemsize": stride})


_ROS1_POINT, _CDR_POINT = _point_dtype(19), _point_dtype(20)


def standard_livox_types(store: Any) -> set[str]:
    """The Livox types whose definitions in ``store`` are the standard layout (raw path allowed)."""
    out = set()
    for t in LIVOX_TYPES:
        msg = store.fielddefs.get(t)
        pkg = t.split("/", 1)[0]
        point = store.fielddefs.get(f"{pkg}/msg/CustomPoint")
        if not msg or not point:
            continue
        names = [f[0] for f in msg[1]]
        pts = [(f[0], f[1][1][0] if f[1][0] == 1 else None) for f in point[1]]
        if names == _MSG_FIELDS and pts == _POINT_FIELDS:
            out.add(t)
    return out


def is_livox(msg: Any) -> bool:
    """True for a deserialized CustomMsg."""
    return hasattr(msg, "timebase") and hasattr(msg, "points") and hasattr(msg, "lidar_id")


def _record(meta: MessageMeta, timebase: int, pts: np.ndarray) -> PointCloud:
    xyz = np.empty((len(pts), 3), np.float32)
    xyz[:, 0], xyz[:, 1], xyz[:, 2] = pts["x"], pts["y"], pts["z"]
    times = np.int64(timebase) + pts["offset_time"].astype(np.int64)
    fields = {k: np.ascontiguousarray(pts[k]) for k in ("reflectivity", "tag", "line")}
    return PointCloud(meta, xyz, fields, times, CONVENTION, 1, len(pts))


def decode_livox(msg: Any, meta: MessageMeta) -> PointCloud:
    """A rosbags-deserialized CustomMsg → :class:`PointCloud` (the slow path, any definition)."""
    pts = np.zeros(len(msg.points), _ROS1_POINT)
    for name in _POINT_NAMES:
        pts[name] = [getattr(p, name) for p in msg.points]
    return _record(meta, int(msg.timebase), pts)


def decode_livox_raw(raw: RawMessage) -> PointCloud:
    """A serialized standard CustomMsg (ROS 1 or little-endian CDR) → :class:`PointCloud`.

    Raises:
        DecodeError: The bytes are too short for what they announce, or big-endian CDR.
    """
    data = raw.data
    try:
        if raw.ros1:
            (n,) = struct.unpack_from("<I", data, 12)
            pos = 16 + n
            timebase, _num = struct.unpack_from("<QI", data, pos)
            pos += 8 + 4 + 1 + 3
            (count,) = struct.unpack_from("<I", data, pos)
            pos, dtype = pos + 4, _ROS1_POINT
        else:
            if not data[1]:
                raise DecodeError("big-endian CDR Livox message (not supported by the raw reader)")
            (n,) = struct.unpack_from("<I", data, 12)
            pos = 16 + n  # after frame_id (offsets below are relative to the CDR body at byte 4)
            pos += -(pos - 4) % 8
            timebase, _num = struct.unpack_from("<QI", data, pos)
            pos += 8 + 4 + 1 + 3
            pos += -(pos - 4) % 4
            (count,) = struct.unpack_from("<I", data, pos)
            pos, dtype = pos + 4, _CDR_POINT
    except struct.error as exc:
        raise DecodeError(f"Livox CustomMsg too short ({len(data)} bytes): {exc}") from None
    need, have = count * dtype.itemsize, len(data) - pos
    body: Any = data
    if have < need:
        if have < need - (dtype.itemsize - 19) or count == 0:
            raise DecodeError(f"Livox CustomMsg announces {count} points but holds {have} bytes of them")
        body = bytes(data[pos:]) + b"\0" * (need - have)  # CDR: no padding after the last point
        pos = 0
    pts = np.frombuffer(body, dtype, count, pos)
    stamp = header_stamp_ns(data, ros1=raw.ros1) or 0
    meta = MessageMeta(raw.topic, raw.index, raw.record_time_ns, stamp, peek_frame_id(data, ros1=raw.ros1))
    return _record(meta, int(timebase), pts)
