"""The structural invariants of a store: what ``fusion.open`` checks at open and ``validate`` reports.

All of them use only metadata and the small arrays :class:`~fusion.store.state.StoreState`
reads at open (times, offsets, frame table, match tables), so they cost no point or image read.
Each problem is one line naming the array and the row (message, frame) and values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import zarr

from fusion.store import layout as lay
from fusion.store.state import StoreState, StreamState

#: Column name -> (dtype, shape of one row) every stream of the format stores it with.
STREAM_COLUMNS: dict[str, tuple[str, tuple[int, ...]]] = {
    **{c: ("int64", ()) for c in lay.TIME_COLUMNS},
    "offsets": ("int64", ()),
    "ref_time_ns": ("int64", ()),
    "xyz": ("float32", (3,)),
    "xyz_raw": ("float32", (3,)),
    "time_offset_ns": ("int32", ()),
    "radial_velocity_mps": ("float32", ()),
    "radial_velocity_comp_mps": ("float32", ()),
    "format_code": ("uint8", ()),
    "data": ("uint8", ()),
}
#: Frame table, ego and report arrays: path -> (dtype, shape of one row).
FIXED_ARRAYS: dict[str, tuple[str, tuple[int, ...]]] = {
    "frames/time_ns": ("int64", ()),
    "frames/ego_T_world_base": ("float64", (4, 4)),
    "frames/flags": ("uint32", ()),
    "frames/imu_range": ("int64", (2,)),
    "ego/time_ns": ("int64", ()),
    "ego/translation_m": ("float64", (3,)),
    "ego/rotation_xyzw": ("float64", (4,)),
    "ego/linear_velocity_mps": ("float64", (3,)),
    "ego/angular_velocity_radps": ("float64", (3,)),
    "report": ("uint8", ()),
}
#: Per-sensor match table columns.
MATCH_COLUMNS: dict[str, tuple[str, tuple[int, ...]]] = {
    "index": ("int64", ()), "dt_ns": ("int64", ()), "valid": ("bool", ()),
}


def _first(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


def _dtype(arr: zarr.Array) -> str:
    native = arr.dtype.to_native_dtype() if hasattr(arr.dtype, "to_native_dtype") else arr.dtype
    return str(np.dtype(native))


def array_problem(path: str, arr: zarr.Array, expected: tuple[str, tuple[int, ...]]) -> str | None:
    """A line when ``arr`` does not have the format's dtype and row shape."""
    dtype, row = expected
    got_row = tuple(int(s) for s in arr.shape[1:])
    if len(arr.shape) == 0 or got_row != row or _dtype(arr) != dtype:
        return (f"{path}: shape {tuple(arr.shape)} {_dtype(arr)}, the format stores "
                f"(N{''.join(f', {r}' for r in row)}) {dtype}")
    return None


def shape_problems(st: StoreState) -> list[str]:
    """Every known array's dtype and row shape against the format (metadata only)."""
    out: list[str] = []
    for path, expected in FIXED_ARRAYS.items():
        node = st.root.get(path)
        if isinstance(node, zarr.Array) and (p := array_problem(path, node, expected)):
            out.append(p)
    for name, s in st.streams.items():
        for col in s.columns:
            if col in STREAM_COLUMNS:
                node = s.group.get(col)
                if isinstance(node, zarr.Array) and (p := array_problem(f"streams/{name}/{col}", node,
                                                                        STREAM_COLUMNS[col])):
                    out.append(p)
    if "frames/sensors" in st.root:
        for name in st.matches:
            for col, expected in MATCH_COLUMNS.items():
                node = st.root.get(f"frames/sensors/{name}/{col}")
                if isinstance(node, zarr.Array) and (p := array_problem(f"frames/sensors/{name}/{col}", node,
                                                                        expected)):
                    out.append(p)
    return out


def _rows(g: zarr.Group, col: str) -> int:
    node = g.get(col)
    return int(node.shape[0]) if isinstance(node, zarr.Array) and node.shape else -1


def stream_problems(name: str, s: StreamState) -> list[str]:
    """Time columns one row per message, ``count`` attribute, offsets (length, start, order, end)."""
    out: list[str] = []
    where = f"streams/{name}"
    g: zarr.Group = s.group
    m = s.count
    for col in lay.TIME_COLUMNS:
        if col not in g:
            out.append(f"{where}/{col}: missing")
        elif _rows(g, col) != m:
            out.append(f"{where}/{col}: {_rows(g, col)} rows, expected {m} (one per message)")
    if int(s.attrs.get("count", m)) != m:
        out.append(f"{where}: attribute count={s.attrs.get('count')} but time_ns has {m} messages")
    for col in s.message_columns:
        if s.message_columns[col].shape[:1] != (m,):
            out.append(f"{where}/{col}: {s.message_columns[col].shape[0]} rows, expected {m} (one per message)")
    off = s.offsets
    if off is None:
        return out
    if off.shape[0] != m + 1:
        out.append(f"{where}/offsets: length {off.shape[0]}, expected messages+1 = {m + 1}")
    if off.size and off[0] != 0:
        out.append(f"{where}/offsets[0] = {off[0]}, expected 0")
    dec = np.diff(off) < 0
    if dec.any():
        i = _first(dec)
        out.append(f"{where}/offsets: not monotonic at message {i} (offsets[{i}]={off[i]} > "
                   f"offsets[{i + 1}]={off[i + 1]}); {int(dec.sum())} decreasing step(s)")
    # offsets[0] == 0, monotonic and offsets[-1] == rows together imply every offset is in range
    by_rows: dict[int, list[str]] = {}
    for col in s.point_columns():
        by_rows.setdefault(_rows(g, col), []).append(col)
    for n, cols in sorted(by_rows.items()):
        if off.size and int(off[-1]) != n:
            out.append(f"{where}/offsets[-1] = {int(off[-1])} but {where}/{{{', '.join(cols)}}} "
                       f"{'has' if len(cols) == 1 else 'have'} {n} rows")
    return out


def frame_problems(st: StoreState) -> list[str]:
    """Frame times strictly increasing, table shapes, IMU ranges, every sensor's index and valid."""
    out: list[str] = []
    t = st.times_ns
    f = t.shape[0]
    if "frames/time_ns" not in st.root:
        return []  # a store written through the API without frames: validate objects (stream reads work)
    bad = np.diff(t) <= 0
    if bad.any():
        i = _first(bad) + 1
        out.append(f"frames/time_ns: not strictly increasing at frame {i} ({t[i]} after {t[i - 1]}); "
                   f"{int(bad.sum())} violation(s)")
    for arr, shape, what in ((st.ego_T_world_base, (f, 4, 4), "ego_T_world_base"), (st.flags, (f,), "flags"),
                             (st.imu_range, (f, 2), "imu_range")):
        if arr.shape != shape:
            out.append(f"frames/{what}: shape {arr.shape}, expected {shape}")
    imu = st.imu_stream
    r = st.imu_range
    if r.shape == (f, 2) and f:
        n_imu = st.streams[imu].count if imu in st.streams else 0
        if imu is not None and imu not in st.streams:
            out.append(f"frames: attribute imu_stream={imu!r} names no stream")
        bad_r = (r[:, 0] < 0) | (r[:, 0] > r[:, 1]) | (r[:, 1] > n_imu)
        if bad_r.any():
            i = _first(bad_r)
            out.append(f"frames/imu_range[{i}] = {r[i].tolist()} is not a range within [0, {n_imu}] "
                       f"(IMU stream {imu!r}); {int(bad_r.sum())} bad frame(s)")
    for name, (index, dt, valid) in st.matches.items():
        where = f"frames/sensors/{name}"
        if name not in st.streams:
            out.append(f"{where}: no stream streams/{name}")
            continue
        if not (index.shape == dt.shape == valid.shape == (f,)):
            out.append(f"{where}: index/dt_ns/valid shapes {index.shape}/{dt.shape}/{valid.shape}, expected ({f},)")
            continue
        m = st.streams[name].count
        bad_i = (index < -1) | (index >= m)
        if bad_i.any():
            i = _first(bad_i)
            out.append(f"{where}/index[{i}] = {index[i]} out of range [-1, {m}) ({int(bad_i.sum())} bad frame(s))")
        incons = valid != (index >= 0)
        if incons.any():
            i = _first(incons)
            out.append(f"{where}/valid[{i}] = {bool(valid[i])} inconsistent with index {index[i]} "
                       f"({int(incons.sum())} frame(s))")
    return out


def ego_problems(st: StoreState) -> list[str]:
    """``ego/`` columns one row per sample, times strictly increasing."""
    ego = st.ego
    out: list[str] = []
    k = ego["time_ns"].shape[0]
    for col, values in ego.items():
        if values.shape[:1] != (k,):
            out.append(f"ego/{col}: {values.shape[0]} rows, expected {k} (one per ego/time_ns)")
    bad = np.diff(ego["time_ns"]) <= 0
    if bad.any():
        out.append(f"ego/time_ns: not strictly increasing at row {_first(bad) + 1}")
    return out


def open_problems(st: StoreState) -> list[str]:
    """The cheap invariants ``fusion.open`` refuses a store for (metadata and open-time arrays)."""
    out = list(st.damage) + shape_problems(st)
    for name, s in st.streams.items():
        out.extend(stream_problems(name, s))
    out.extend(frame_problems(st))
    out.extend(ego_problems(st))
    return out


def report_problems(st: StoreState, report: dict[str, Any]) -> list[str]:
    """The report against the arrays: stored counts = stream lengths, ego samples = ego rows."""
    out: list[str] = []
    counts = report.get("counts")
    k = int(st.ego["time_ns"].shape[0])
    rows = report.get("ego_rows")
    if rows is not None and _int(rows) != k:
        out.append(f"ego/time_ns: {k} ego poses stored but the report says {rows} were written")
    if isinstance(counts, dict):
        for name, n in sorted(counts.items()):
            if name == lay.EGO and name not in st.streams:
                continue  # ego messages read (odometry, tf, twist) are not ego rows: an estimate has its own rate
            if name in st.streams and _int(n) != st.streams[name].count:
                out.append(f"streams/{name}: {st.streams[name].count} messages stored but the report counts {n}")
            elif name not in st.streams and _int(n):
                out.append(f"report: counts {n} message(s) of {name!r} but there is no stream streams/{name}")
    return out


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return -1
