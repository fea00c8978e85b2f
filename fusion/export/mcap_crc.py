"""Fill in the CRC32s of an MCAP file that its writer left at zero ("not computed").

rosbags' MCAP writer leaves every CRC zero, which the MCAP specification allows but which makes a
reader's ``validate_crcs`` check nothing. :func:`fill_crcs` computes them in one streaming pass
(one record in memory at a time; a chunk is at most ~1 MiB plus one message) and writes them in
place: each uncompressed chunk's ``uncompressed_crc``, the ``DataEnd`` ``data_section_crc`` (all
bytes from the file start to the ``DataEnd`` record) and the ``Footer`` ``summary_crc`` (the summary
section through the footer's ``summary_offset_start``). Layouts per the MCAP specification: a
record is ``opcode u8, length u64 LE, content``; integers little-endian.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

MAGIC = b"\x89MCAP0\r\n"
OP_FOOTER, OP_CHUNK, OP_DATA_END = 0x02, 0x06, 0x0F
_FOOTER_LEN = 1 + 8 + 8 + 8 + 4  # opcode, length, summary_start, summary_offset_start, summary_crc


def _read(f: object, n: int) -> bytes:
    data = f.read(n)  # type: ignore[attr-defined]
    if len(data) != n:
        raise ValueError(f"truncated MCAP: wanted {n} bytes, got {len(data)}")
    return bytes(data)


def fill_crcs(path: str | Path) -> tuple[int, int]:
    """Compute and write the CRCs of ``path`` in place; returns (chunks given a CRC, data CRC).

    Compressed chunks keep a zero CRC (the export writes uncompressed ones).

    Raises:
        ValueError: not an MCAP file, or a record runs past the end.
    """
    p = Path(path)
    size = p.stat().st_size
    chunks = 0
    with p.open("r+b") as f:
        if _read(f, 8) != MAGIC:
            raise ValueError(f"{p}: not an MCAP file (bad magic)")
        data_crc = zlib.crc32(MAGIC)
        pos = 8
        while pos < size - len(MAGIC):
            head = _read(f, 9)
            op, length = head[0], struct.unpack_from("<Q", head, 1)[0]
            content = bytearray(_read(f, length))
            if op == OP_DATA_END:
                struct.pack_into("<I", content, 0, data_crc)
                f.seek(pos + 9)
                f.write(content[:4])
                break
            if op == OP_CHUNK:
                clen = struct.unpack_from("<I", content, 28)[0]
                compression = bytes(content[32:32 + clen])
                rstart = 32 + clen + 8
                rlen = struct.unpack_from("<Q", content, 32 + clen)[0]
                if not compression:
                    struct.pack_into("<I", content, 24, zlib.crc32(content[rstart:rstart + rlen]))
                    f.seek(pos + 9 + 24)
                    f.write(content[24:28])
                    f.seek(pos + 9 + length)
                    chunks += 1
            data_crc = zlib.crc32(content, zlib.crc32(head, data_crc))
            pos += 9 + length
        footer = size - len(MAGIC) - _FOOTER_LEN
        f.seek(footer)
        rec = _read(f, _FOOTER_LEN)
        if rec[0] != OP_FOOTER:
            raise ValueError(f"{p}: no footer record before the closing magic")
        summary_start = struct.unpack_from("<Q", rec, 9)[0]
        if summary_start:
            crc = 0
            f.seek(summary_start)
            left = footer + _FOOTER_LEN - 4 - summary_start
            while left > 0:
                block = _read(f, min(left, 1 << 20))
                crc = zlib.crc32(block, crc)
                left -= len(block)
            f.seek(footer + _FOOTER_LEN - 4)
            f.write(struct.pack("<I", crc))
    return chunks, data_crc
