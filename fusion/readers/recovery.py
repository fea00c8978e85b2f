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
import struct
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any, BinaryIO

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
def _mstr(buf: bytes, pos: int) -> tuple[str, int]:
    (n,) = _U32.unpack_from(buf, pos)
    return buf[pos + 4 : pos + 4 + n].decode(), pos + 4 + n


def _mcap_records(buf: bytes) -> Iterator[tuple[int, bytes]]:
    """Records inside an MCAP chunk; :class:`DamagedBagError` at an incomplete tail."""
    pos = 0
    while pos < len(buf):
        if pos + 9 > len(buf):
            raise DamagedBagError(f"chunk data damaged or cut at offset {pos} of {len(buf)}")
        op = buf[pos]
        (n,) = _U64.unpack_from(buf, pos + 1)
        if pos + 9 + n > len(buf):
            raise DamagedBagError(f"chunk data damaged or cut at offset {pos} of {len(buf)}")
        yield op, buf[pos + 9 : pos + 9 + n]
        pos += 9 + n


def scan_mcap(path: Path, *, any_profile: bool = False) -> Iterator[tuple[str, Any]]:
    """Events like :func:`scan_ros1` for an MCAP file (ROS 2 profile unless ``any_profile``)."""
    schemas: dict[int, tuple[str, str, str]] = {}
    with path.open("rb") as f:
        f.read(8)  # magic, checked by the caller
        while True:
            offset = f.tell()
            head = f.read(9)
            if not head:
                return
            try:
                if len(head) < 9:
                    raise DamagedBagError(f"file ends inside a record at byte {offset}")
                op, n = head[0], _U64.unpack_from(head, 1)[0]
                body = _read_bounded(f, n)
                if op == 0x06:  # chunk
                    comp, pos = _mstr(body, 28)
                    (clen,) = _U64.unpack_from(body, pos)
                    raw = _partial_decompress(comp, body[pos + 8 : pos + 8 + clen])
                    for sub_op, sub in _mcap_records(raw):
                        yield from _mcap_event(sub_op, sub, schemas, any_profile)
                elif len(body) == n:
                    if op == 0x02:  # footer
                        return
                    yield from _mcap_event(op, body, schemas, any_profile)
                if len(body) < n:
                    raise DamagedBagError(f"file ends inside a record at byte {offset} (record of {n} bytes)")
            except DamagedBagError as exc:
                yield "damage", str(exc)
                return
            except Exception as exc:
                yield "damage", f"unreadable record at byte {offset} ({type(exc).__name__}: {exc})"
                return


def _mcap_event(
    op: int, body: bytes, schemas: dict[int, tuple[str, str, str]], any_profile: bool = False
) -> Iterator[tuple[str, Any]]:
    if op == 0x01:
        profile, _ = _mstr(body, 0)
        if profile != "ros2" and not any_profile:
            raise DamagedBagError(f"MCAP profile {profile!r} is not ros2")
    elif op == 0x03:
        (sid,) = struct.unpack_from("<H", body, 0)
        name, pos = _mstr(body, 2)
        enc, pos = _mstr(body, pos)
        data, _ = _mstr(body, pos)
        schemas[sid] = (name, enc, data)
    elif op == 0x04:
        cid, sid = struct.unpack_from("<HH", body, 0)
        topic, pos = _mstr(body, 4)
        enc, pos = _mstr(body, pos)
        name, senc, data = schemas.get(sid, ("", "", ""))
        fmt = {"ros2msg": MessageDefinitionFormat.MSG, "ros2idl": MessageDefinitionFormat.IDL}.get(
            senc, MessageDefinitionFormat.NONE
        )
        yield (
            "conn",
            Connection(cid, topic, name, MessageDefinition(fmt, data), "", 0, ConnectionExtRosbag2(enc, []), None),
        )
    elif op == 0x05:
        cid, _seq, log_time = struct.unpack_from("<HIQ", body, 0)
        yield "msg", (cid, log_time, body[22:])


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
