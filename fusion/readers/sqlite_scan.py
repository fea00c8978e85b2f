"""Read the intact prefix of a damaged rosbag2 sqlite3 file from its pages.

sqlite refuses a database cut short ("database disk image is malformed") even when
most of its pages are intact. rosbag2 appends rows in arrival order, so the
``messages`` rows live in leaf pages of table b-trees roughly in file order. This
scanner walks every page, decodes table-leaf cells (following overflow chains),
recognises ``topics``, ``message_definitions`` and ``messages`` rows by their column
shapes and yields the messages with consecutive ids 1, 2, 3, ... (record order) up to
the first one that is missing or unreadable: that is where the damage is.

File format: https://www.sqlite.org/fileformat2.html (b-tree pages, cells, varints,
record format, overflow pages).
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rosbags.interfaces import Connection, ConnectionExtRosbag2, MessageDefinition, MessageDefinitionFormat

_LEAF_TABLE = 0x0D


def _varint(buf: Any, pos: int) -> tuple[int, int]:
    """(value, next position) of an sqlite varint (1–9 bytes, big-endian 7-bit groups)."""
    value = 0
    for i in range(8):
        b = buf[pos + i]
        value = (value << 7) | (b & 0x7F)
        if b < 0x80:
            return value, pos + i + 1
    return (value << 8) | buf[pos + 8], pos + 9


def _serial_types(payload: Any, pos: int = 0) -> list[int]:
    """Serial types of a record's header (the header always sits in the cell's local part)."""
    hsize, p = _varint(payload, pos)
    types = []
    while p < pos + hsize:
        t, p = _varint(payload, p)
        types.append(t)
    return types


def _is_message_row(types: list[int]) -> bool:
    """``messages(id INTEGER PRIMARY KEY, topic_id INTEGER, timestamp INTEGER, data BLOB)``."""
    ints = (1, 2, 3, 4, 5, 6, 8, 9)  # 8 and 9 are the constants 0 and 1
    return (
        len(types) == 4
        and types[0] == 0
        and types[1] in ints
        and types[2] in ints
        and types[3] >= 12
        and types[3] % 2 == 0
    )


def _record(payload: bytes) -> list[Any]:
    """Decode an sqlite record (header of serial types, then values)."""
    hsize, pos = _varint(payload, 0)
    types = []
    while pos < hsize:
        t, pos = _varint(payload, pos)
        types.append(t)
    out: list[Any] = []
    pos = hsize
    for t in types:
        if t == 0:
            out.append(None)
        elif t in (1, 2, 3, 4, 5, 6):
            n = (1, 2, 3, 4, 6, 8)[t - 1]
            out.append(int.from_bytes(payload[pos : pos + n], "big", signed=True))
            pos += n
        elif t == 7:
            out.append(struct.unpack_from(">d", payload, pos)[0])
            pos += 8
        elif t in (8, 9):
            out.append(t - 8)
        elif t >= 12:
            n = (t - 12) // 2
            raw = payload[pos : pos + n]
            out.append(raw if t % 2 == 0 else raw.decode("utf-8", "replace"))
            pos += n
        else:
            raise ValueError(f"reserved serial type {t}")
    return out


class SqlitePages:
    """Page-level access to one (possibly truncated) sqlite file."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("rb")
        self.buf = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        (ps,) = struct.unpack_from(">H", self.buf, 16)
        self.page_size = 65536 if ps == 1 else ps
        self.usable = self.page_size - self.buf[20]
        self.pages = len(self.buf) // self.page_size

    def close(self) -> None:
        """Release the map and the file."""
        self.buf.close()
        self._file.close()

    def cells(self) -> Iterator[tuple[int, int, int]]:
        """(rowid, page, cell offset) of every table-leaf cell in intact pages."""
        ps = self.page_size
        for page in range(1, self.pages + 1):
            base = (page - 1) * ps
            hdr = base + (100 if page == 1 else 0)
            if self.buf[hdr] != _LEAF_TABLE:
                continue
            (ncells,) = struct.unpack_from(">H", self.buf, hdr + 3)
            for k in range(ncells):
                (ptr,) = struct.unpack_from(">H", self.buf, hdr + 8 + 2 * k)
                if not 0 < ptr < ps:
                    break
                try:
                    _size, pos = _varint(self.buf, base + ptr)
                    rowid, _ = _varint(self.buf, pos)
                except IndexError:
                    break
                yield rowid, page, base + ptr

    def local_start(self, cell: int) -> int:
        """Offset of a cell's payload (after its size and rowid varints)."""
        _size, pos = _varint(self.buf, cell)
        _rowid, pos = _varint(self.buf, pos)
        return pos

    def payload(self, cell: int) -> bytes:
        """The full payload of a table-leaf cell (overflow chain followed).

        Raises:
            ValueError: The chain leaves the file or is inconsistent.
        """
        size, pos = _varint(self.buf, cell)
        _rowid, pos = _varint(self.buf, pos)
        u = self.usable
        x = u - 35
        if size <= x:
            return bytes(self.buf[pos : pos + size])
        m = ((u - 12) * 32 // 255) - 23
        k = m + ((size - m) % (u - 4))
        local = k if k <= x else m
        parts = [bytes(self.buf[pos : pos + local])]
        (nxt,) = struct.unpack_from(">I", self.buf, pos + local)
        got, hops = local, 0
        while got < size:
            if not 0 < nxt <= self.pages or hops > self.pages:
                raise ValueError(f"overflow page {nxt} is outside the file ({self.pages} pages)")
            base = (nxt - 1) * self.page_size
            take = min(u - 4, size - got)
            parts.append(bytes(self.buf[base + 4 : base + 4 + take]))
            (nxt,) = struct.unpack_from(">I", self.buf, base)
            got += take
            hops += 1
        return b"".join(parts)


def scan_sqlite(path: Path) -> Iterator[tuple[str, Any]]:
    """Events ``("conn", Connection)``, ``("msg", (topic_id, time_ns, data))``, ``("damage", reason)``."""
    pages = SqlitePages(path)
    try:
        topics: dict[int, list[Any]] = {}
        defs: dict[str, tuple[str, str]] = {}
        messages: dict[int, tuple[int, int]] = {}  # rowid -> (page, cell)
        for rowid, page, cell in pages.cells():
            try:
                if _is_message_row(_serial_types(pages.buf, pages.local_start(cell))):
                    messages.setdefault(rowid, (page, cell))
                    continue
                rec = _record(pages.payload(cell))
            except (ValueError, IndexError, struct.error):
                continue
            if len(rec) >= 5 and all(isinstance(v, str) for v in rec[1:5]):
                if rec[2] in ("ros2msg", "ros2idl", "") and "/" in rec[1]:
                    defs[rec[1]] = (rec[2], rec[3])
                else:
                    topics[rowid] = rec
        for tid, rec in sorted(topics.items()):
            enc, text = defs.get(rec[2], ("", ""))
            fmt = {"ros2msg": MessageDefinitionFormat.MSG, "ros2idl": MessageDefinitionFormat.IDL}.get(
                enc, MessageDefinitionFormat.NONE
            )
            yield (
                "conn",
                Connection(
                    tid, rec[1], rec[2], MessageDefinition(fmt, text), "", 0, ConnectionExtRosbag2(rec[3], []), None
                ),
            )
        rowid = 1
        while rowid in messages:
            try:
                _id, topic_id, stamp, data = _record(pages.payload(messages[rowid][1]))
            except (ValueError, IndexError, struct.error) as exc:
                yield "damage", f"message id {rowid} is unreadable ({exc})"
                return
            yield "msg", (topic_id, stamp, data)
            rowid += 1
        last = max(messages, default=0)
        yield (
            "damage",
            (
                f"sqlite database damaged: message id {rowid} is missing"
                + (
                    f" ({len([r for r in messages if r > rowid])} later row(s) survive but are not in sequence)"
                    if last > rowid
                    else ""
                )
            ),
        )
    finally:
        pages.close()
