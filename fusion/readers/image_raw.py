"""``sensor_msgs/Image`` and ``CompressedImage`` read straight from their serialized bytes.

A raw camera image is most of a drive log's bytes (1280×720 rgb8 at 20 Hz is 55 MB/s). The
generated deserializer copies the pixel buffer into a new array; these views take it as a
zero-copy ``np.frombuffer`` of the message bytes instead, and the store compresses it from
there. Used only where the bag's type definitions are the standard ones
(:func:`standard_image_types`); anything else goes through the rosbags deserializer.

Layouts:

* ROS 1: ``uint32 seq, uint32 sec, uint32 nsec, string frame_id`` then the fields in order,
  no alignment; a string or ``uint8[]`` is a ``uint32`` length and the bytes.
* CDR (ROS 2): a 4-byte encapsulation header (byte 1: 1 = little, 0 = big endian), then
  ``int32 sec, uint32 nanosec, string frame_id`` and the fields, each aligned to its size
  relative to the end of the encapsulation header; strings carry their NUL.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from fusion.errors import DecodeError
from fusion.readers.typesys import HEADER_TYPE

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"

_U8 = ("uint8", 0)
_U32 = ("uint32", 0)
_STRING = ("string", 0)
_LAYOUTS = {
    IMAGE: [
        ("height", _U32),
        ("width", _U32),
        ("encoding", _STRING),
        ("is_bigendian", _U8),
        ("step", _U32),
    ],
    COMPRESSED_IMAGE: [("format", _STRING)],
}


def standard_image_types(store: Any) -> set[str]:
    """The image types whose definitions in ``store`` are the standard layout (header, fields, uint8[] data)."""
    out = set()
    for msgtype, fields in _LAYOUTS.items():
        defs = store.fielddefs.get(msgtype)
        # rosbags' node types are an IntEnum: BASE 1, NAME 2, SEQUENCE 4
        want = [("header", (2, HEADER_TYPE)), *((name, (1, t)) for name, t in fields), ("data", (4, ((1, _U8), 0)))]
        if defs and list(defs[1]) == want:
            out.add(msgtype)
    return out


@dataclass(frozen=True, slots=True)
class _Stamp:
    sec: int
    nanosec: int


@dataclass(frozen=True, slots=True)
class _Header:
    stamp: _Stamp
    frame_id: str


@dataclass(frozen=True, slots=True)
class ImageView:
    """The fields of a ``sensor_msgs/Image``; ``data`` (B,) uint8 is a view of the message bytes."""

    header: _Header
    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: np.ndarray


@dataclass(frozen=True, slots=True)
class CompressedImageView:
    """The fields of a ``sensor_msgs/CompressedImage``; ``data`` is a view of the message bytes."""

    header: _Header
    format: str
    data: np.ndarray


class _Cursor:
    def __init__(self, data: bytes | memoryview, ros1: bool) -> None:
        self.buf = memoryview(data).cast("B") if isinstance(data, memoryview) else memoryview(data)
        self.ros1 = ros1
        little = ros1 or (len(self.buf) > 1 and bool(self.buf[1]))
        self.end = "<" if little else ">"
        self.pos = 0 if ros1 else 4

    def _align(self, n: int) -> None:
        if not self.ros1:
            self.pos = 4 + ((self.pos - 4 + n - 1) & -n)

    def scalar(self, fmt: str, size: int) -> int:
        self._align(size)
        (value,) = struct.unpack_from(self.end + fmt, self.buf, self.pos)
        self.pos += size
        return int(value)

    def blob(self) -> np.ndarray:
        n = self.scalar("I", 4)
        if self.pos + n > len(self.buf):
            raise DecodeError(f"a field announces {n} bytes at offset {self.pos} of a {len(self.buf)}-byte message")
        out = np.frombuffer(self.buf, dtype=np.uint8, count=n, offset=self.pos)
        self.pos += n
        return out

    def string(self) -> str:
        return self.blob().tobytes().rstrip(b"\0").decode("utf-8", "replace")

    def header(self) -> _Header:
        if self.ros1:
            self.scalar("I", 4)  # seq
            sec = self.scalar("I", 4)
        else:
            sec = self.scalar("i", 4)
        nanosec = self.scalar("I", 4)
        return _Header(_Stamp(sec, nanosec), self.string())


def image_view(data: bytes | memoryview, msgtype: str, *, ros1: bool) -> ImageView | CompressedImageView:
    """Parse an Image or CompressedImage without copying its data.

    Raises:
        DecodeError: The bytes are shorter than the fields they announce.
    """
    cur = _Cursor(data, ros1)
    try:
        header = cur.header()
        if msgtype == COMPRESSED_IMAGE:
            return CompressedImageView(header, cur.string(), cur.blob())
        height, width = cur.scalar("I", 4), cur.scalar("I", 4)
        encoding = cur.string()
        is_bigendian = cur.scalar("B", 1)
        step = cur.scalar("I", 4)
        return ImageView(header, height, width, encoding, is_bigendian, step, cur.blob())
    except struct.error:
        raise DecodeError(f"{msgtype.rsplit('/', 1)[-1]} of {len(cur.buf)} bytes is shorter than its header") from None
