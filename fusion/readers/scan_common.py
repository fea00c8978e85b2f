"""What the sequential scanners of damaged bags share: their error, bounded reads, partial decompression."""

from __future__ import annotations

import bz2
from typing import BinaryIO


class DamagedBagError(Exception):
    """Where and why a sequential scan stopped."""


def partial_decompress(kind: str, data: bytes) -> bytes:
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


def read_bounded(f: BinaryIO, n: int) -> bytes:
    """``f.read(n)`` that never allocates more than the bytes left (a corrupt length can be huge)."""
    here = f.tell()
    end = f.seek(0, 2)
    f.seek(here)
    return f.read(max(0, min(n, end - here)))


def read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    """``n`` bytes of ``f``, else :class:`DamagedBagError` naming ``what`` the file ends inside."""
    data = read_bounded(f, n)
    if len(data) != n:
        raise DamagedBagError(f"file ends inside {what} at byte {f.tell()}")
    return data
