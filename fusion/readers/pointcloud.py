"""``sensor_msgs/PointCloud2`` → numpy, for any field layout, without per-point Python.

The point buffer is viewed through a numpy structured dtype built from the
``PointField`` list (all 8 datatypes, ``count`` > 1, ``point_step`` padding,
``row_step`` padding, big or little endian). Columns are then copied out into
native-endian contiguous arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fusion.errors import DecodeError, UnsupportedEncodingError

#: PointField.datatype -> numpy base type (little/big endian applied later).
POINTFIELD_DTYPES: dict[int, str] = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 8: "f8"}


def point_dtype(fields: Any, point_step: int, big_endian: bool) -> np.dtype[Any]:
    """Structured dtype of one point.

    Args:
        fields: Sequence of PointField-like objects (``name``, ``offset``, ``datatype``, ``count``).
        point_step: Bytes per point (padding included).
        big_endian: ``is_bigendian`` of the cloud.

    Raises:
        UnsupportedEncodingError: Unknown datatype or a field outside ``point_step``.
    """
    order = ">" if big_endian else "<"
    names: list[str] = []
    formats: list[Any] = []
    offsets: list[int] = []
    for f in fields:
        name = str(f.name)
        if not name or name in names:
            continue  # PCL padding fields ("_") share names; keep the first
        base = POINTFIELD_DTYPES.get(int(f.datatype))
        if base is None:
            raise UnsupportedEncodingError(f"PointField {name!r} has unknown datatype {f.datatype}")
        count = max(int(f.count), 1)
        dt = np.dtype(order + base)
        if int(f.offset) + dt.itemsize * count > point_step:
            raise UnsupportedEncodingError(
                f"PointField {name!r} (offset {f.offset}, {count}x{base}) lies outside point_step {point_step}"
            )
        names.append(name)
        formats.append(dt if count == 1 else (dt, (count,)))
        offsets.append(int(f.offset))
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": point_step})


def structured_points(msg: Any) -> np.ndarray:
    """View the cloud's bytes as a (height*width,) structured array (a copy only if rows are padded).

    Raises:
        DecodeError: ``data`` is shorter than ``height * row_step`` or steps are inconsistent.
    """
    height, width = int(msg.height), int(msg.width)
    step, row_step = int(msg.point_step), int(msg.row_step)
    dt = point_dtype(msg.fields, step, bool(msg.is_bigendian))
    data = np.asarray(msg.data, dtype=np.uint8)
    n = height * width
    if n == 0:
        return np.zeros(0, dtype=dt)
    if step <= 0 or row_step < width * step:
        raise DecodeError(f"inconsistent PointCloud2 steps (point_step {step}, row_step {row_step}, width {width})")
    need = (height - 1) * row_step + width * step
    if data.size < need:
        raise DecodeError(f"PointCloud2 data has {data.size} bytes, needs {need} for {height}x{width} points")
    if row_step == width * step:
        return np.frombuffer(data, dtype=dt, count=n)
    view = np.ndarray(shape=(height, width), dtype=dt, buffer=data, strides=(row_step, step))
    return view.reshape(-1)  # copies the padded rows once


def column(points: np.ndarray, name: str) -> np.ndarray:
    """A native-endian contiguous copy of one field ((N,) or (N, count))."""
    col = points[name]
    return np.ascontiguousarray(col, dtype=col.dtype.newbyteorder("="))


def xyz_of(points: np.ndarray) -> np.ndarray:
    """(N, 3) float32 coordinates from fields x, y, z.

    Raises:
        UnsupportedEncodingError: The cloud has no x/y/z fields.
    """
    names = points.dtype.names or ()
    if not {"x", "y", "z"} <= set(names):
        raise UnsupportedEncodingError(f"PointCloud2 has no x/y/z fields (fields: {', '.join(names)})")
    fields: dict[str, Any] = dict(points.dtype.fields or {})
    (dx, ox), (dy, oy), (dz, oz) = (fields[n][:2] for n in ("x", "y", "z"))
    if dx == dy == dz == np.dtype("<f4") and oy == ox + 4 and oz == ox + 8 and points.flags.c_contiguous:
        # copy the packed 12 bytes of x, y, z per point as one opaque item (2x faster than a float gather)
        n = points.shape[0]
        packed = np.ndarray(
            (n,), np.dtype((np.void, 12)), buffer=points.data, offset=ox, strides=(points.dtype.itemsize,)
        )
        return packed.copy().view(np.float32).reshape(n, 3)
    xyz = np.empty((points.shape[0], 3), dtype=np.float32)
    for i, name in enumerate(("x", "y", "z")):
        xyz[:, i] = column(points, name)
    return xyz


def other_fields(points: np.ndarray, skip: tuple[str, ...] = ("x", "y", "z")) -> dict[str, np.ndarray]:
    """Every field except ``skip`` as native-endian contiguous arrays, by a name safe as a store column
    (:func:`fusion.store.names.safe_name`: a field called ``../x`` in a hostile bag is stored as ``x.._x``)."""
    from fusion.store.names import safe_name

    return {safe_name(n): column(points, n) for n in (points.dtype.names or ()) if n not in skip}
