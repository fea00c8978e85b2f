"""Binary PCD and PLY writers for point clouds with named per-point fields (no open3d).

Both formats are a text header followed by one little-endian row per point, the fields in the
order given. PCD: ``DATA binary`` (PCL 0.7, what PCL, CloudCompare, Open3D and the usual
annotation tools read). PLY: ``binary_little_endian 1.0`` with one ``vertex`` element.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from fusion.errors import StoreError

# numpy dtype -> (PCD TYPE, PCD SIZE, PLY property type)
_TYPES: dict[np.dtype, tuple[str, int, str]] = {
    np.dtype(np.float32): ("F", 4, "float"),
    np.dtype(np.float64): ("F", 8, "double"),
    np.dtype(np.uint8): ("U", 1, "uchar"),
    np.dtype(np.uint16): ("U", 2, "ushort"),
    np.dtype(np.uint32): ("U", 4, "uint"),
    np.dtype(np.int8): ("I", 1, "char"),
    np.dtype(np.int16): ("I", 2, "short"),
    np.dtype(np.int32): ("I", 4, "int"),
}
SUFFIXES = (".pcd", ".ply")
#: The numpy dtypes a field may have.
PCD_DTYPES = frozenset(_TYPES)


def _rows(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """The columns as one little-endian structured (N,) array, checked."""
    if not columns:
        raise StoreError("a point cloud needs at least one field")
    arrays = {name: np.asarray(col) for name, col in columns.items()}
    n = len(next(iter(arrays.values())))
    for name, a in arrays.items():
        if a.ndim != 1 or len(a) != n:
            raise StoreError(f"field {name!r}: expected ({n},), got {a.shape}")
        if a.dtype not in _TYPES:
            raise StoreError(f"field {name!r}: dtype {a.dtype} has no PCD/PLY type")
        if not name.isidentifier():
            raise StoreError(f"field name {name!r} is not a single word")
    rows = np.empty(n, dtype=[(name, a.dtype.newbyteorder("<")) for name, a in arrays.items()])
    for name, a in arrays.items():
        rows[name] = a
    return rows


def _pcd_header(rows: np.ndarray, comment: str) -> str:
    names = list(rows.dtype.names or ())
    types = [_TYPES[np.dtype(rows.dtype[n].newbyteorder("="))] for n in names]
    return (
        f"# .PCD v0.7 - {comment or 'Point Cloud Data file format'}\nVERSION 0.7\n"
        f"FIELDS {' '.join(names)}\nSIZE {' '.join(str(t[1]) for t in types)}\n"
        f"TYPE {' '.join(t[0] for t in types)}\nCOUNT {' '.join('1' for _ in names)}\n"
        f"WIDTH {len(rows)}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {len(rows)}\nDATA binary\n"
    )


def _ply_header(rows: np.ndarray, comment: str) -> str:
    names = list(rows.dtype.names or ())
    props = "".join(f"property {_TYPES[np.dtype(rows.dtype[n].newbyteorder('='))][2]} {n}\n" for n in names)
    note = f"comment {comment}\n" if comment else ""
    return f"ply\nformat binary_little_endian 1.0\n{note}element vertex {len(rows)}\n{props}end_header\n"


def write_points(path: str | Path, columns: Mapping[str, np.ndarray], comment: str = "") -> Path:
    """Write named per-point fields as a binary PCD or PLY file (by suffix), atomically.

    Args:
        path: Output file, ``.pcd`` or ``.ply``; written to a temporary name then renamed.
        columns: Field name -> (N,) array (float32/64, (u)int8/16/32), in file order,
            e.g. ``{"x": x, "y": y, "z": z, "intensity": i}``.
        comment: One line of text for the header (e.g. the coordinate frame), no line break.

    Returns:
        The path written.
    """
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES:
        raise StoreError(f"{out}: use a .pcd or .ply file name")
    rows = _rows(columns)
    comment = comment.replace("\n", " ")
    header = _pcd_header(rows, comment) if suffix == ".pcd" else _ply_header(rows, comment)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(header.encode("ascii"))
            f.write(rows.tobytes())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
