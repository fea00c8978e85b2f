"""Sequential readers for damaged ROS 1 bags and MCAP files (index or footer missing).

(MCAP files are scanned by :mod:`fusion.readers.mcap_scan`, damaged rosbag2 sqlite files page by
page by :mod:`fusion.readers.sqlite_scan`, behind the same :class:`ScanReader` facade; the shared
pieces are in :mod:`fusion.readers.scan_common`.)

rosbags reads through the index at the end of a file; a bag cut short (recorder
killed, disk full, interrupted copy) loses that index and rosbags refuses it.
These scanners walk the records from the start instead, decompressing each chunk
as far as its bytes go, so every intact message before the damage is read. Their
``messages()`` raises :class:`DamagedBagError` at the damage, which the source
turns into :class:`~fusion.errors.TruncatedBagError` after the intact messages.

Memory: one chunk at a time.
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from rosbags.interfaces import (
    Connection,
    ConnectionExtRosbag1,
    MessageDefinition,
    MessageDefinitionFormat,
)
from rosbags.rosbag1.reader import normalize
from rosbags.typesys.msg import normalize_msgtype

from fusion.readers.mcap_scan import scan_mcap
from fusion.readers.scan_common import DamagedBagError, partial_decompress, read_bounded, read_exact
from fusion.readers.sqlite_scan import scan_sqlite

_U32 = struct.Struct("<I")


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
                header = _ros1_fields(read_exact(f, _U32.unpack(head)[0], "a record header"))
                (dlen,) = _U32.unpack(read_exact(f, 4, "a record"))
                data = read_bounded(f, dlen)
                op = header.get("op", b"\x00")[0]
                short = len(data) < dlen
                if op == 0x05:  # chunk: parse as much as decompresses
                    try:
                        raw = partial_decompress(header.get("compression", b"none").decode(), data)
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
            except (struct.error, IndexError, KeyError, UnicodeDecodeError) as exc:  # KeyError: no such field
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


# -- reader facade -----------------------------------------------------------------------------
class ScanReader:
    """Minimal rosbags-reader look-alike over a sequential scan (``connections``, ``messages``)."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        scanners: dict[str, Any] = {
            "ros1": scan_ros1,
            "mcap": scan_mcap,
            "mcap_any_profile": lambda p: scan_mcap(p, any_profile=True),
            "mcap_ros1": lambda p: scan_mcap(p, any_profile=True),
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
