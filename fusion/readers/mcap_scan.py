"""Sequential scan of a damaged MCAP file (summary or footer missing, a chunk cut short).

The events are those of :func:`fusion.readers.recovery.scan_ros1`; :class:`~fusion.readers.recovery.ScanReader`
serves them like a rosbags reader.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mcap.data_stream import ReadDataStream
from mcap.opcode import Opcode
from mcap.records import Channel, Chunk, Header, McapRecord, Message, Schema
from mcap.stream_reader import breakup_chunk
from rosbags.interfaces import Connection, ConnectionExtRosbag2, MessageDefinition, MessageDefinitionFormat
from rosbags.typesys.msg import normalize_msgtype

from fusion.readers.scan_common import DamagedBagError, partial_decompress, read_bounded

_U64 = struct.Struct("<Q")

# The records are parsed by the mcap package (``mcap.records``; an intact chunk whose CRC checks
# out is split by ``mcap.stream_reader.breakup_chunk``). The framing (opcode, u64 length) and the
# partial decompression stay here: mcap's reader returns a short read silently (a record cut by
# the end of the file would parse as a shorter one) and drops a cut chunk whole, while the scan
# must stop at the first incomplete record and keep every message of a chunk before its cut.
_FRAME = 9  # opcode u8 + record length u64


class _ExactBytes(io.BytesIO):
    """The bytes of one complete record: a field that overruns the record raises (mcap reads short)."""

    def read(self, n: int | None = -1, /) -> bytes:
        data = super().read(n)
        if n is None or n < 0 or len(data) != n:
            raise ValueError(f"a field of {n} bytes overruns its record")
        return data


def _record(body: bytes) -> ReadDataStream:
    return ReadDataStream(_ExactBytes(body))


def _framed(buf: bytes) -> Iterator[tuple[int, bytes]]:
    """``(opcode, body)`` of the records in decompressed chunk data; :class:`DamagedBagError` at a cut."""
    pos = 0
    while pos < len(buf):
        if pos + _FRAME > len(buf):
            raise DamagedBagError(f"chunk data damaged or cut at offset {pos} of {len(buf)}")
        op = buf[pos]
        (n,) = _U64.unpack_from(buf, pos + 1)
        if pos + _FRAME + n > len(buf):
            raise DamagedBagError(f"chunk data damaged or cut at offset {pos} of {len(buf)}")
        yield op, buf[pos + _FRAME : pos + _FRAME + n]
        pos += _FRAME + n


def _chunk_records(body: bytes, complete: bool) -> Iterator[McapRecord]:
    """The records of a chunk record's body, as far as its (possibly cut or damaged) bytes go."""
    try:
        chunk = Chunk.read(ReadDataStream(io.BytesIO(body)))  # a cut chunk: its data is the bytes there are
    except Exception:
        if complete:
            raise
        return  # cut inside the chunk's header: no records (the caller reports the cut)
    if complete and chunk.uncompressed_crc:
        try:
            yield from breakup_chunk(chunk, validate_crc=True)
            return
        except Exception:  # a damaged chunk: the records before the damage are recovered below
            pass
    raw = partial_decompress(chunk.compression, chunk.data)
    for op, sub in _framed(raw):
        record = _parse(op, sub)
        if record is not None:
            yield record


def _parse(op: int, body: bytes) -> McapRecord | None:
    """The record of a complete body (``None`` for the opcodes the scan does not use)."""
    if op == Opcode.HEADER:
        return Header.read(_record(body))
    if op == Opcode.SCHEMA:
        return Schema.read(_record(body))
    if op == Opcode.CHANNEL:
        return Channel.read(_record(body))
    if op == Opcode.MESSAGE:
        return Message.read(_record(body), len(body))
    return None


def scan_mcap(path: Path, *, any_profile: bool = False) -> Iterator[tuple[str, Any]]:
    """Events like :func:`scan_ros1` for an MCAP file (ROS 2 profile unless ``any_profile``)."""
    schemas: dict[int, Schema] = {}
    with path.open("rb") as f:
        f.read(8)  # magic, checked by the caller
        while True:
            offset = f.tell()
            head = f.read(_FRAME)
            if not head:
                return
            try:
                if len(head) < _FRAME:
                    raise DamagedBagError(f"file ends inside a record at byte {offset}")
                op, n = head[0], _U64.unpack_from(head, 1)[0]
                body = read_bounded(f, n)
                if op == Opcode.CHUNK:
                    for record in _chunk_records(body, len(body) == n):
                        yield from _mcap_event(record, schemas, any_profile)
                elif len(body) == n:
                    if op == Opcode.FOOTER:
                        return
                    parsed = _parse(op, body)
                    if parsed is not None:
                        yield from _mcap_event(parsed, schemas, any_profile)
                if len(body) < n:
                    raise DamagedBagError(f"file ends inside a record at byte {offset} (record of {n} bytes)")
            except DamagedBagError as exc:
                yield "damage", str(exc)
                return
            except Exception as exc:
                yield "damage", f"unreadable record at byte {offset} ({type(exc).__name__}: {exc})"
                return


_SCHEMA_FORMATS = {
    "ros2msg": MessageDefinitionFormat.MSG,
    "ros2idl": MessageDefinitionFormat.IDL,
    "ros1msg": MessageDefinitionFormat.MSG,
}


def _mcap_event(record: McapRecord, schemas: dict[int, Schema], any_profile: bool = False
                ) -> Iterator[tuple[str, Any]]:
    if isinstance(record, Header):
        if record.profile != "ros2" and not any_profile:
            raise DamagedBagError(f"MCAP profile {record.profile!r} is not ros2")
    elif isinstance(record, Schema):
        schemas[record.id] = record
    elif isinstance(record, Channel):
        schema = schemas.get(record.schema_id)
        name, encoding, data = (schema.name, schema.encoding, schema.data.decode()) if schema else ("", "", "")
        fmt = _SCHEMA_FORMATS.get(encoding, MessageDefinitionFormat.NONE)
        if encoding == "ros1msg":  # ROS 1 names (pkg/Type) in ROS 2 style, as rosbags' ROS 1 reader does
            name = normalize_msgtype(name)
        yield (
            "conn",
            Connection(record.id, record.topic, name, MessageDefinition(fmt, data), "", 0,
                       ConnectionExtRosbag2(record.message_encoding, []), None),
        )
    elif isinstance(record, Message):
        yield "msg", (record.channel_id, record.log_time, record.data)
