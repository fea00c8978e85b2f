"""Read ``header.stamp`` and ``header.frame_id`` straight from serialized bytes.

Layouts (both put the stamp at byte offset 4):

* ROS 1: ``uint32 seq``, ``uint32 sec``, ``uint32 nsec``, ``uint32 len`` + frame_id bytes.
  (so both put the frame_id length at offset 12 and its bytes at 16)
* CDR (ROS 2): 4-byte encapsulation header (byte 1: 1 = little, 0 = big endian),
  ``int32 sec``, ``uint32 nanosec``, ``uint32 len`` (incl. NUL) + frame_id bytes.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

import numpy as np

from fusion.errors import DecodeError, MessageTypeError, TruncatedBagError

if TYPE_CHECKING:
    from fusion.readers.source import BagSource, RawMessage

_ROS1 = struct.Struct("<II")
_CDR_LE = struct.Struct("<iI")
_CDR_BE = struct.Struct(">iI")
_U32_LE = struct.Struct("<I")
_U32_BE = struct.Struct(">I")


def header_stamp_ns(data: bytes | memoryview, *, ros1: bool) -> int | None:
    """``header.stamp`` in ns for a header-first message, or None when the bytes are too short."""
    if len(data) < 12:
        return None
    if ros1:
        sec, nsec = _ROS1.unpack_from(data, 4)
    else:
        sec, nsec = (_CDR_LE if data[1] else _CDR_BE).unpack_from(data, 4)
    return int(sec) * 1_000_000_000 + int(nsec)


def peek_frame_id(data: bytes | memoryview, *, ros1: bool) -> str:
    """``header.frame_id`` (leading slash removed) of a header-first message; ``""`` if unreadable."""
    try:
        (n,) = (_U32_LE if ros1 or data[1] else _U32_BE).unpack_from(data, 12)
        raw = bytes(data[16 : 16 + n]).rstrip(b"\x00")
        if len(raw) > 4096:
            return ""
        return raw.decode("utf-8", "replace").lstrip("/")
    except (struct.error, IndexError):
        return ""


def stamp_of_message(msg: Any) -> int:
    """Stamp (ns) of a deserialized message: ``header.stamp``, else first transform's, else 0."""
    header = getattr(msg, "header", None)
    if header is None and getattr(msg, "transforms", None):
        header = msg.transforms[0].header
    if header is None:
        stamp = getattr(msg, "stamp", None) or getattr(msg, "timestamp", None)  # Header itself; foxglove_msgs
        return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec) if stamp is not None else 0
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


class StampExtractor:
    """Per-type fast or slow stamp extraction for one source (caches the per-type decision)."""

    def __init__(self, source: BagSource) -> None:
        self._source = source
        self._fast: dict[str, bool] = {}
        registry = getattr(source, "registry", None)
        self._header_first = registry.first_field_is_header if registry is not None else (lambda _t: False)

    def stamp(self, raw: RawMessage) -> int | None:
        """Stamp in ns, or None when the message is corrupt."""
        fast = self._fast.get(raw.msgtype)
        if fast is None:
            fast = self._fast[raw.msgtype] = self._header_first(raw.msgtype)
        if fast:
            return header_stamp_ns(raw.data, ros1=raw.ros1)
        try:
            return stamp_of_message(self._source.deserialize(raw))
        except MessageTypeError:
            raise  # a type without definition is not a corrupt message: the caller refuses the topic
        except DecodeError:
            return None


def read_stamps(
    source: BagSource, topics: list[str], *, keep_partial: bool = False
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, list[int]], TruncatedBagError | None]:
    """One streaming pass collecting (stamp_ns, record_time_ns) int64 arrays per topic.

    Returns:
        (topic -> (stamps (N,), record times (N,)), topic -> indices of unreadable stamps
        (stamp 0 there), the damage hit when ``keep_partial`` else None).

    Raises:
        TruncatedBagError: The bag is damaged and ``keep_partial`` is False.
    """
    extractor = StampExtractor(source)
    stamps: dict[str, list[int]] = {t: [] for t in topics}
    records: dict[str, list[int]] = {t: [] for t in topics}
    corrupt: dict[str, list[int]] = {}
    truncated = None
    try:
        for raw in source.messages(topics):
            stamp = extractor.stamp(raw)
            if stamp is None:
                corrupt.setdefault(raw.topic, []).append(raw.index)
                stamp = 0
            stamps[raw.topic].append(stamp)
            records[raw.topic].append(raw.record_time_ns)
    except TruncatedBagError as exc:
        if not keep_partial:
            raise
        truncated = exc
    arrays = {t: (np.asarray(stamps[t], dtype=np.int64), np.asarray(records[t], dtype=np.int64)) for t in topics}
    return arrays, corrupt, truncated
