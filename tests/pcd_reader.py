"""An independent reader of binary PCD / little-endian PLY files for tests (numpy only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

_PCD = {("F", 4): "<f4", ("F", 8): "<f8", ("U", 1): "u1", ("U", 2): "<u2", ("U", 4): "<u4", ("I", 1): "i1",
        ("I", 2): "<i2", ("I", 4): "<i4"}  # fmt: skip
_PLY = {"float": "<f4", "double": "<f8", "uchar": "u1", "ushort": "<u2", "uint": "<u4", "char": "i1", "short": "<i2",
        "int": "<i4"}  # fmt: skip


def read_points(path: Path) -> tuple[dict[str, str], np.ndarray]:
    """(header key -> value, structured rows) of a binary PCD or PLY file."""
    raw = path.read_bytes()
    if path.suffix == ".pcd":
        end = raw.index(b"DATA binary\n") + len(b"DATA binary\n")
        head = {ln.split(" ", 1)[0]: ln.split(" ", 1)[1] for ln in raw[:end].decode().splitlines() if ln[:1] != "#"}
        names, sizes, types = head["FIELDS"].split(), head["SIZE"].split(), head["TYPE"].split()
        dt = np.dtype([(n, _PCD[(t, int(s))]) for n, s, t in zip(names, sizes, types, strict=True)])
        n = int(head["POINTS"])
    else:
        end = raw.index(b"end_header\n") + len(b"end_header\n")
        lines = raw[:end].decode().splitlines()
        head = {"format": lines[1]}
        dt = np.dtype([(ln.split()[2], _PLY[ln.split()[1]]) for ln in lines if ln.startswith("property")])
        n = int(next(ln.split()[2] for ln in lines if ln.startswith("element vertex")))
    assert len(raw) - end == n * dt.itemsize, "data length does not match the header"
    return head, np.frombuffer(raw, dtype=dt, offset=end, count=n)
