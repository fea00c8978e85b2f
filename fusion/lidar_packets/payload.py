"""Packets of a serialized ``VelodyneScan`` / ``PandarScan`` without deserializing the message.

Both messages are ``std_msgs/Header header`` + a sequence of packets, each
``builtin_interfaces/Time stamp`` + a fixed ``uint8[N] data`` (+ ``uint32 size`` for Hesai).
The packets are read as one strided ``(n, N)`` uint8 view of the message bytes (no copy).
CDR (ROS 2, little endian) and ROS 1 serialization are both handled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fusion.errors import FusionError

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]

#: packet message type -> (fixed data length in bytes, has a trailing ``uint32 size``)
PACKET_LAYOUTS: dict[str, tuple[int, bool]] = {
    "velodyne_msgs/msg/VelodyneScan": (1206, False),
    "pandar_msgs/msg/PandarScan": (1500, True),
}


class PacketPayloadError(FusionError):
    """A packet message whose bytes do not match its declared layout."""


@dataclass(frozen=True, slots=True)
class PacketBatch:
    """The packets of one scan message.

    Attributes:
        data: (n, N) uint8 packet bytes (a strided view of the message, do not keep it past the
            message's lifetime if the buffer is reused).
        size: (n,) int64 valid bytes per packet (N when the message has no ``size`` field).
        stamp_ns: (n,) int64 per-packet ``stamp`` (receive or sensor time as the driver wrote it).
        header_stamp_ns: The scan message's ``header.stamp``, int64 ns.
        frame_id: ``header.frame_id`` without a leading slash.
    """

    data: U8
    size: I64
    stamp_ns: I64
    header_stamp_ns: int
    frame_id: str


def _align(pos: int, base: int, n: int) -> int:
    return base + (pos - base + n - 1) // n * n


def packet_layout(fielddefs: dict[str, Any], msgtype: str) -> tuple[int | None, bool] | None:
    """(fixed data length or None for ``uint8[] data``, has ``uint32 size``) of a scan type as the
    log defines it (rosbags field definitions), None when it is not ``header`` + ``packets[]`` of
    ``stamp`` + ``data`` (+ ``size``)."""
    try:
        fields = dict(fielddefs[msgtype][1])
        (_kind, elem), _n = fields["packets"][1]
        pfields = fielddefs[elem][1]
        names = [f for f, _ in pfields]
        if names[:2] != ["stamp", "data"] or names[2:] not in ([], ["size"]):
            return None
        nodetype, ((_b, (base, _)), size) = pfields[1][1]
        if base != "uint8":
            return None
        return (int(size) if int(nodetype) == 3 else None), names[2:] == ["size"]
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def _variable(buf: U8, pos: int, count: int, has_size: bool, ros1: bool, base: int,
              msgtype: str) -> tuple[U8, I64, I64]:
    """Packets whose ``data`` is a ``uint8[]`` sequence: read one by one, zero-padded to the longest."""
    total = buf.size
    starts, lens, stamps, sizes = [], [], [], []
    for _ in range(count):
        if not ros1:
            pos = _align(pos, base, 4)
        if pos + 12 > total:
            raise PacketPayloadError(f"{msgtype}: message truncated at byte {pos} of {total}")
        head = buf[pos:pos + 12].view(np.uint32)
        sec, nsec, n = int(head[0]), int(head[1]), int(head[2])
        pos += 12
        if pos + n > total:
            raise PacketPayloadError(f"{msgtype}: a packet of {n} bytes overruns the message ({total} bytes)")
        starts.append(pos)
        lens.append(n)
        stamps.append((sec - 2**32 if sec >= 2**31 else sec) * 1_000_000_000 + nsec)
        pos += n
        if has_size:
            if not ros1:
                pos = _align(pos, base, 4)
            if pos + 4 > total:
                raise PacketPayloadError(f"{msgtype}: message truncated at byte {pos} of {total}")
            sizes.append(min(int(buf[pos:pos + 4].view(np.uint32)[0]), n))
            pos += 4
        else:
            sizes.append(n)
    out = np.zeros((count, max(lens, default=0)), np.uint8)
    for i, (a, n) in enumerate(zip(starts, lens, strict=True)):
        out[i, :n] = buf[a:a + n]
    return out, np.array(sizes, np.int64), np.array(stamps, np.int64)


def split_packets(data: bytes | memoryview, msgtype: str, *, ros1: bool,
                  layout: tuple[int | None, bool] | None = None) -> PacketBatch:
    """Read the packets of one serialized scan message.

    Args:
        data: The serialized message.
        msgtype: ROS 2 style type name (a key of :data:`PACKET_LAYOUTS`).
        ros1: True for ROS 1 serialization, False for CDR.
        layout: The log's definition (:func:`packet_layout`); default: the standard one of
            :data:`PACKET_LAYOUTS`.

    Raises:
        PacketPayloadError: Truncated or inconsistent bytes (names what is wrong).
    """
    dlen_or_none, has_size = layout or PACKET_LAYOUTS[msgtype]
    buf = np.frombuffer(data, dtype=np.uint8)
    total = buf.size

    def u32(pos: int) -> int:
        if pos + 4 > total:
            raise PacketPayloadError(f"{msgtype}: message truncated at byte {pos} of {total}")
        return int.from_bytes(bytes(buf[pos:pos + 4]), "little")

    if ros1:
        base, pos = 0, 4  # seq
        sec, nsec = u32(pos), u32(pos + 4)
        slen = u32(pos + 8)
        pos += 12
        frame = bytes(buf[pos:pos + slen]).decode("utf-8", "replace")
        pos += slen
    else:
        if total < 4 or buf[1] != 1:
            raise PacketPayloadError(f"{msgtype}: not little-endian CDR (encapsulation {bytes(buf[:4]).hex()})")
        base, pos = 4, 4
        sec, nsec = u32(pos), u32(pos + 4)
        slen = u32(pos + 8)
        pos += 12
        frame = bytes(buf[pos:pos + max(slen - 1, 0)]).decode("utf-8", "replace")
        pos = _align(pos + slen, base, 4)
    count = u32(pos)
    pos += 4
    if dlen_or_none is None:
        if count > total // 12:
            raise PacketPayloadError(f"{msgtype}: {count} packets declared but the message holds {total} bytes")
        pk, size, stamp_ns = _variable(buf, pos, count, has_size, ros1, base, msgtype)
        sec_v = sec - 2**32 if sec >= 2**31 else sec
        return PacketBatch(pk, size, stamp_ns, sec_v * 1_000_000_000 + nsec, frame.lstrip("/"))
    dlen = dlen_or_none
    if ros1:
        stride = 8 + dlen + (4 if has_size else 0)
    else:
        stride = _align(_align(8 + dlen, 0, 4) + (4 if has_size else 0), 0, 4) if has_size else _align(8 + dlen, 0, 4)
    so = 8 + dlen if ros1 else _align(8 + dlen, 0, 4)  # offset of ``size`` in a packet
    width = so + 4 if has_size else 8 + dlen  # the last packet has no trailing padding
    if count and pos + (count - 1) * stride + width > total:
        raise PacketPayloadError(f"{msgtype}: {count} packets declared but the message holds {total} bytes")
    sec_i = np.int64(sec if sec < 2**31 else sec - 2**32)
    head_ns = int(sec_i) * 1_000_000_000 + nsec
    if count == 0:
        none = np.zeros(0, np.int64)
        return PacketBatch(np.zeros((0, dlen), np.uint8), none, none.copy(), head_ns, frame.lstrip("/"))
    view = np.lib.stride_tricks.as_strided(buf[pos:], shape=(count, width), strides=(stride, 1), writeable=False)
    stamps = view[:, :8].copy().view(np.uint32).astype(np.int64)
    stamp_ns = np.where(stamps[:, 0] >= 2**31, stamps[:, 0] - 2**32, stamps[:, 0]) * 1_000_000_000 + stamps[:, 1]
    pk = view[:, 8:8 + dlen]
    if has_size:
        size = view[:, so:so + 4].copy().view(np.uint32)[:, 0].astype(np.int64)
        size = np.minimum(size, dlen)
    else:
        size = np.full(count, dlen, np.int64)
    return PacketBatch(pk, size, stamp_ns.astype(np.int64), head_ns, frame.lstrip("/"))
