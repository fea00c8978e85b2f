"""``sensor_msgs/Imu`` and ``nav_msgs/Odometry`` decoded straight from their serialized bytes.

The generated rosbags deserializer builds a dozen Python objects per IMU or odometry message
(header, stamp, quaternion, vectors, covariance arrays) only for :mod:`fusion.readers.imu` and
:mod:`fusion.readers.motion` to read a few floats back out. At 200 Hz that is a measurable part
of a conversion. These decoders read the header with two ``struct`` calls and the fixed float64
block with one, and give records identical to ``decode_message(deserialize(raw), raw, ...)``.
Used only where the bag's definitions of the types, and of every type nested in them, are the
standard ones (:func:`standard_motion_types`); anything else goes through rosbags.

Layouts (``header`` = ``stamp.sec, stamp.nanosec, frame_id``; ``stamp.sec`` is an int32 in
rosbags' ROS 1 and ROS 2 definitions alike, so both read it signed):

* ROS 1: ``uint32 seq, int32 sec, uint32 nsec, uint32 len + frame_id``, no alignment, no NUL.
* CDR (ROS 2): a 4-byte encapsulation header (byte 0: 0, byte 1: 1 = little, 0 = big endian),
  ``int32 sec, uint32 nanosec, uint32 len + frame_id`` (``len`` counts the trailing NUL); every
  primitive is aligned to its size relative to the end of the encapsulation header, so a
  ``uint32`` length to 4 and a ``float64`` to 8. In both encodings the frame id length sits at
  byte 12 and its bytes start at 16.
* Imu, after the header: ``orientation`` 4 f64 (x, y, z, w), ``orientation_covariance`` 9 f64,
  ``angular_velocity`` 3, its covariance 9, ``linear_acceleration`` 3, its covariance 9
  (37 float64, 296 bytes).
* Odometry, after the header: ``string child_frame_id``, then ``pose.pose.position`` 3 f64,
  ``pose.pose.orientation`` 4, ``pose.covariance`` 36, ``twist.twist.linear`` 3,
  ``twist.twist.angular`` 3, ``twist.covariance`` 36 (85 float64, 680 bytes).

Bytes rosbags refuses (short, trailing garbage, a CDR string without its NUL, invalid UTF-8,
unknown encapsulation) raise :class:`~fusion.errors.DecodeError` here too.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import numpy as np

from fusion.errors import DecodeError
from fusion.readers.motion import frame
from fusion.readers.records import ImuSample, MessageMeta, PoseSample
from fusion.readers.source import RawMessage

IMU = "sensor_msgs/msg/Imu"
ODOMETRY = "nav_msgs/msg/Odometry"

_F64 = ("float64", 0)
_STRING = ("string", 0)


def _block(prefix: str, names: str) -> list[tuple[str, tuple[str, int], int]]:
    """Scalar float64 leaves ``prefix.x``, ``prefix.y``, ... (one per letter of ``names``)."""
    return [(f"{prefix}.{c}", _F64, 1) for c in names]


# The standard definitions flattened to (path, (base type, string bound), array length 1 = scalar).
_STAMP = [("header.stamp.sec", ("int32", 0), 1), ("header.stamp.nanosec", ("uint32", 0), 1)]
_HEADERS = {
    True: [("header.seq", ("uint32", 0), 1), *_STAMP, ("header.frame_id", _STRING, 1)],
    False: [*_STAMP, ("header.frame_id", _STRING, 1)],
}
_BODIES = {
    IMU: [
        *_block("orientation", "xyzw"), ("orientation_covariance", _F64, 9),
        *_block("angular_velocity", "xyz"), ("angular_velocity_covariance", _F64, 9),
        *_block("linear_acceleration", "xyz"), ("linear_acceleration_covariance", _F64, 9),
    ],
    ODOMETRY: [
        ("child_frame_id", _STRING, 1),
        *_block("pose.pose.position", "xyz"), *_block("pose.pose.orientation", "xyzw"), ("pose.covariance", _F64, 36),
        *_block("twist.twist.linear", "xyz"), *_block("twist.twist.angular", "xyz"), ("twist.covariance", _F64, 36),
    ],
}  # fmt: skip


def _flatten(store: Any, msgtype: str, prefix: str = "") -> list[tuple[str, Any, int]] | None:
    """``msgtype``'s fields as primitive leaves in serialization order; None if undefined or not flat."""
    entry = store.fielddefs.get(msgtype)
    if not entry:
        return None
    out: list[tuple[str, Any, int]] = []
    for name, (nodetype, detail) in entry[1]:  # rosbags' Nodetype: BASE 1, NAME 2, ARRAY 3
        path = prefix + name
        if nodetype == 1:
            out.append((path, tuple(detail), 1))
        elif nodetype == 2:
            if (sub := _flatten(store, detail, path + ".")) is None:
                return None
            out.extend(sub)
        elif nodetype == 3 and detail[0][0] == 1:
            out.append((path, tuple(detail[0][1]), int(detail[1])))
        else:  # sequences, arrays of messages: not a standard layout of these types
            return None
    return out


def standard_motion_types(store: Any, *, ros1: bool) -> set[str]:
    """The types among Imu and Odometry whose definitions in ``store`` are the standard layout.

    Every nested type counts (header, stamp, quaternion, vectors, covariances), so a vendor
    redefinition anywhere below the message keeps it on the rosbags path.

    Args:
        store: The log's rosbags typestore.
        ros1: The log is ROS 1 (header with ``seq``) rather than CDR.
    """
    return {msgtype for msgtype, body in _BODIES.items() if _flatten(store, msgtype) == _HEADERS[ros1] + body}


_I32 = {True: struct.Struct("<iI"), False: struct.Struct(">iI")}
_U32 = {True: struct.Struct("<I"), False: struct.Struct(">I")}
# Only the values used: the first element of each covariance is read, the rest is skipped (x).
_IMU = {e: struct.Struct(e + "4dd64x3dd64x3dd64x") for e in "<>"}
_ODOM = {e: struct.Struct(e + "7d288x6d288x") for e in "<>"}


def _string(buf: Any, pos: int, little: bool, cdr: bool) -> tuple[str, int]:
    """The string at ``pos`` (CDR: aligned to 4, NUL dropped) and the offset after it."""
    if cdr:
        pos = 4 + ((pos - 1) & -4)
    (n,) = _U32[little].unpack_from(buf, pos)
    end = pos + 4 + n
    if end > len(buf) or (cdr and (n < 1 or buf[end - 1] != 0)):
        raise DecodeError(f"a string of {n} bytes at offset {pos} does not fit the {len(buf)}-byte message")
    return str(buf[pos + 4 : end - 1 if cdr else end], "utf-8"), end


def _parse(raw: RawMessage, odometry: bool) -> tuple[MessageMeta, str, tuple[float, ...]]:
    """(meta, child frame id or "", the float64 values of the fixed block) of an Imu or Odometry.

    Raises:
        DecodeError: The bytes are not a well-formed message of the standard layout.
    """
    data = raw.data
    buf = data if isinstance(data, bytes) else memoryview(data).cast("B")
    cdr = not raw.ros1
    little = not cdr or (len(buf) > 1 and buf[1] == 1)
    name = "Odometry" if odometry else "Imu"
    if cdr and (len(buf) < 4 or buf[0] != 0 or buf[1] > 1):
        raise DecodeError(f"{name} of {len(buf)} bytes has no valid CDR encapsulation header")
    block = (_ODOM if odometry else _IMU)["<" if little else ">"]
    try:
        sec, nanosec = _I32[little].unpack_from(buf, 4)
        frame_id, pos = _string(buf, 12, little, cdr)
        child = ""
        if odometry:
            child, pos = _string(buf, pos, little, cdr)
        if cdr:
            pos = 4 + ((pos - 4 + 7) & -8)
        values = block.unpack_from(buf, pos)
    except struct.error:
        raise DecodeError(f"{name} of {len(buf)} bytes is shorter than its fields") from None
    except UnicodeDecodeError as exc:
        raise DecodeError(f"{name} frame id is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    end = pos + block.size
    if len(buf) > (end + 3 if cdr else end):  # rosbags refuses these trailing bytes too (CDR: past the padding)
        raise DecodeError(f"{name} of {len(buf)} bytes has {len(buf) - end} bytes after its last field")
    meta = MessageMeta(raw.topic, raw.index, raw.record_time_ns, sec * 1_000_000_000 + nanosec, frame(frame_id))
    return meta, child, values


def decode_imu_raw(raw: RawMessage) -> ImuSample:
    """A standard ``sensor_msgs/Imu`` from its bytes; same record as :func:`fusion.readers.imu.decode_imu`.

    A covariance whose first element is -1 marks the quantity absent (REP-145).

    Raises:
        DecodeError: The bytes are not a well-formed standard Imu (the caller adds topic/index).
    """
    meta, _child, v = _parse(raw, odometry=False)
    return ImuSample(
        meta,
        np.array(v[0:4], dtype=np.float64) if v[4] != -1.0 else None,
        np.array(v[5:8], dtype=np.float64),
        np.array(v[9:12], dtype=np.float64),
        angular_velocity_valid=v[8] != -1.0,
        linear_acceleration_valid=v[12] != -1.0,
    )


def decode_odometry_raw(raw: RawMessage) -> PoseSample:
    """A standard ``nav_msgs/Odometry`` from its bytes; same record as :func:`fusion.readers.motion.decode_odometry`.

    Raises:
        DecodeError: The bytes are not a well-formed standard Odometry (the caller adds topic/index).
    """
    meta, child, v = _parse(raw, odometry=True)
    return PoseSample(
        meta, meta.frame_id, frame(child), np.array(v[0:3], dtype=np.float64), np.array(v[3:7], dtype=np.float64),
        np.array(v[7:10], dtype=np.float64), np.array(v[10:13], dtype=np.float64),
    )  # fmt: skip


#: msgtype -> its raw decoder, for the types :func:`standard_motion_types` admits.
RAW_DECODERS: dict[str, Callable[[RawMessage], ImuSample | PoseSample]] = {
    IMU: decode_imu_raw,
    ODOMETRY: decode_odometry_raw,
}
