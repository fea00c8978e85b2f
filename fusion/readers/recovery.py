"""Sequential readers for damaged ROS 1 bags and MCAP files (index or footer missing).

(Damaged rosbag2 sqlite files are read page by page by :mod:`fusion.readers.sqlite_scan`
behind the same :class:`ScanReader` facade.)

rosbags reads through the index at the end of a file; a bag cut short (recorder
killed, disk full, interrupted copy) loses that index and rosbags refuses it.
These scanners walk the records from the start instead, decompressing each chunk
as far as its bytes go, so every intact message before the damage is read. Their
``messages()`` raises :class:`DamagedBagError` at the damage, which the source
turns into :class:`~fusion.errors.TruncatedBagError` after the intact messages.

Memory: one chunk at a time.
"""

from __future__ import annotations

import bz2
import io
import struct
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from mcap.data_stream import ReadDataStream
from mcap.opcode import Opcode
from mcap.records import Channel, Chunk, Header, McapRecord, Message, Schema
from mcap.stream_reader import breakup_chunk
from rosbags.interfaces import (
    Connection,
    ConnectionExtRosbag1,
    ConnectionExtRosbag2,
    MessageDefinition,
    MessageDefinitionFormat,
)
from rosbags.rosbag1.reader import normalize
from rosbags.typesys.msg import normalize_msgtype

from fusion.readers.sqlite_scan import scan_sqlite

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class DamagedBagError(Exception):
    """Where and why a sequential scan stopped."""


def _partial_decompress(kind: str, data: bytes) -> bytes:
    """Decompress as much of ``data`` as possible (truncated streams give a prefix)."""
    if kind in ("", "none"):
        return data
    if kind == "bz2":
        return bz2.BZ2Decompressor().decompress(data)
    if kind == "lz4":
        import lz4.frame

        return bytes(lz4.frame.LZ4FrameDecompressor().decompress(data))
    if kind == "zstd":
        import zstandard

        return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(data))
    raise DamagedBagError(f"unsupported compression {kind!r}")


# -- ROS 1 -------------------------------------------------------------------------------------
def _ros1_fields(buf: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    pos = 0
    while pos + 4 <= len(buf):
        (n,) = _U32.unpack_from(buf, pos)
        pos += 4
        if pos + n > len(buf):
            raise DamagedBagError("record header field overruns its header")
        name, sep, value = buf[pos : pos + n].partition(b"=")
        if not sep:
            raise DamagedBagError("record header field without '='")
        out[name.decode("latin-1")] = value
        pos += n
    return out


def _ros1_records(buf: bytes) -> Iterator[tuple[dict[str, bytes], bytes]]:
    """Records of an in-memory buffer (a chunk); :class:`DamagedBagError` at an incomplete tail."""
    pos = 0
    while pos < len(buf):
        if pos + 4 > len(buf):
            raise DamagedBagError(f"chunk data damaged or cut at offset {pos} of {len(buf)}")
        (hlen,) = _U32.unpack_from(buf, pos)
        if pos + 8 + hlen > len(buf):
            raise DamagedBagError(f"chunk data damaged or cut at offset {pos} of {len(buf)}")
        header = _ros1_fields(buf[pos + 4 : pos + 4 + hlen])
        (dlen,) = _U32.unpack_from(buf, pos + 4 + hlen)
        start = pos + 8 + hlen
        if start + dlen > len(buf):
            raise DamagedBagError(f"chunk data damaged or cut at offset {pos} of {len(buf)}")
        yield header, buf[start : start + dlen]
        pos = start + dlen


def _read_bounded(f: BinaryIO, n: int) -> bytes:
    """``f.read(n)`` that never allocates more than the bytes left (a corrupt length can be huge)."""
    here = f.tell()
    end = f.seek(0, 2)
    f.seek(here)
    return f.read(max(0, min(n, end - here)))


def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    data = _read_bounded(f, n)
    if len(data) != n:
        raise DamagedBagError(f"file ends inside {what} at byte {f.tell()}")
    return data


def scan_ros1(path: Path) -> Iterator[tuple[str, Any]]:
    """Events ``("conn", Connection)``, ``("msg", (conn_id, time_ns, data))``, ``("damage", reason)``."""
    with path.open("rb") as f:
        f.readline()  # magic, checked by the caller
        seen: set[int] = set()
        while True:
            offset = f.tell()
            head = f.read(4)
            if not head:
                return
            try:
                if len(head) < 4:
                    raise DamagedBagError(f"file ends inside a record at byte {offset}")
                header = _ros1_fields(_read_exact(f, _U32.unpack(head)[0], "a record header"))
                (dlen,) = _U32.unpack(_read_exact(f, 4, "a record"))
                data = _read_bounded(f, dlen)
                op = header.get("op", b"\x00")[0]
                short = len(data) < dlen
                if op == 0x05:  # chunk: parse as much as decompresses
                    try:
                        raw = _partial_decompress(header.get("compression", b"none").decode(), data)
                    except DamagedBagError:
                        raise
                    except Exception as exc:
                        raise DamagedBagError(f"chunk at byte {offset} does not decompress ({exc})") from None
                    for h, d in _ros1_records(raw):
                        yield from _ros1_event(h, d, seen)
                elif not short:
                    yield from _ros1_event(header, data, seen)
                if short:
                    raise DamagedBagError(f"file ends inside a record at byte {offset} (record of {dlen} bytes)")
            except DamagedBagError as exc:
                yield "damage", str(exc)
                return
            except (struct.error, IndexError, UnicodeDecodeError) as exc:
                yield "damage", f"unreadable record at byte {offset} ({exc})"
                return


def _ros1_event(header: dict[str, bytes], data: bytes, seen: set[int]) -> Iterator[tuple[str, Any]]:
    op = header.get("op", b"\x00")[0]
    if op == 0x07:
        cid = _U32.unpack(header["conn"])[0]
        if cid in seen:
            return
        seen.add(cid)
        ch = _ros1_fields(data)
        latching = ch.get("latching", b"").decode() or None
        yield (
            "conn",
            Connection(
                cid,
                normalize(header["topic"].decode()),
                normalize_msgtype(ch["type"].decode()),
                MessageDefinition(MessageDefinitionFormat.MSG, ch.get("message_definition", b"").decode()),
                ch.get("md5sum", b"").decode(),
                0,
                ConnectionExtRosbag1(
                    ch["callerid"].decode() if "callerid" in ch else None, int(latching) if latching else None
                ),
                None,
            ),
        )
    elif op == 0x02:
        sec, nsec = struct.unpack("<II", header["time"])
        yield "msg", (_U32.unpack(header["conn"])[0], sec * 1_000_000_000 + nsec, data)


# -- MCAP --------------------------------------------------------------------------------------
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
    raw = _partial_decompress(chunk.compression, chunk.data)
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
                body = _read_bounded(f, n)
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


_SCHEMA_FORMATS = {"ros2msg": MessageDefinitionFormat.MSG, "ros2idl": MessageDefinitionFormat.IDL}


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
        yield (
            "conn",
            Connection(record.id, record.topic, name, MessageDefinition(fmt, data), "", 0,
                       ConnectionExtRosbag2(record.message_encoding, []), None),
        )
    elif isinstance(record, Message):
        yield "msg", (record.channel_id, record.log_time, record.data)


# -- reader facade -----------------------------------------------------------------------------
class ScanReader:
    """Minimal rosbags-reader look-alike over a sequential scan (``connections``, ``messages``)."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        scanners: dict[str, Any] = {
            "ros1": scan_ros1,
            "mcap": scan_mcap,
            "mcap_any_profile": lambda p: scan_mcap(p, any_profile=True),
            "sqlite": scan_sqlite,
        }
        self._scan = scanners[kind]
        self.connections: list[Connection] = []
        self.damage: str | None = None

    def open(self) -> None:
        """Pre-scan: connections and per-connection counts of intact messages."""
        conns: dict[int, Connection] = {}
        counts: dict[int, int] = {}
        for event, value in self._scan(self.path):
            if event == "conn":
                conns.setdefault(value.id, value)
            elif event == "msg":
                counts[value[0]] = counts.get(value[0], 0) + 1
            else:
                self.damage = value
        self.connections = [c._replace(msgcount=counts.get(c.id, 0), owner=self) for c in conns.values()]

    def messages(self, connections: Collection[Connection] = ()) -> Iterator[tuple[Connection, int, bytes]]:
        """Intact messages in file order, then :class:`DamagedBagError` at the damage."""
        wanted = {c.id: c for c in (connections or self.connections)}
        for event, value in self._scan(self.path):
            if event == "msg":
                conn = wanted.get(value[0])
                if conn is not None:
                    yield conn, value[1], value[2]
            elif event == "damage":
                raise DamagedBagError(value)

    def close(self) -> None:
        """Nothing to release (files are opened per scan)."""
