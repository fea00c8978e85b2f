"""Whole-table writes: the ``ego/`` trajectory and the ``frames/`` table (written once each)."""

from __future__ import annotations

from typing import Any

import numpy as np
import zarr

from fusion.errors import StoreError
from fusion.frame_flags import FLAG_NAMES
from fusion.store import layout as lay
from fusion.store.buffers import ColumnBuffer
from fusion.store.create import NodeBatch

Columns = dict[str, tuple[np.ndarray, lay.ColumnSpec, Any]]  # name -> (values, spec, fill value)


def _declare(batch: NodeBatch, group: zarr.Group, cols: Columns) -> list[tuple[zarr.Array, np.ndarray]]:
    """The columns of ``group``, pending in ``batch``, each with its values."""
    return [
        (batch.column(group, name, dtype=values.dtype, inner_shape=values.shape[1:], spec=spec,
                      expected_rows=values.shape[0], fill_value=fill), values)
        for name, (values, spec, fill) in cols.items()
    ]  # fmt: skip


def _fill(columns: list[tuple[zarr.Array, np.ndarray]]) -> None:
    """Write the values of created columns (encoded on the shard pool; StoreWriter.finalize waits)."""
    for arr, values in columns:
        if values.shape[0]:
            buf = ColumnBuffer(arr, arr.path)
            buf.append(np.ascontiguousarray(values))
            buf.seal()


def _shaped(what: str, value: Any, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(value)
    if arr.shape != shape:
        raise StoreError(f"{what}: shape {arr.shape}, expected {shape}")
    return np.ascontiguousarray(arr.astype(dtype, copy=False))


def _increasing(time_ns: Any, what: str, row: str) -> np.ndarray:
    """(K,) int64 times; raises StoreError naming the first row that does not increase."""
    t = np.asarray(time_ns, dtype=np.int64).reshape(-1)
    if t.shape[0] > 1 and not np.all(np.diff(t) > 0):
        bad = int(np.argmin(np.diff(t) > 0)) + 1
        raise StoreError(f"{what} must be strictly increasing; {row} {bad} is {t[bad]} after {t[bad - 1]}")
    return t


def write_ego_group(
    root: zarr.Group,
    time_ns: Any,
    translation_m: Any,
    rotation_xyzw: Any,
    linear_velocity_mps: Any,
    angular_velocity_radps: Any,
    attrs: dict[str, Any],
) -> None:
    """Write ``ego/``: (K,) int64 strictly increasing times, (K,3) m, (K,4) xyzw, (K,3) m/s, (K,3) rad/s.

    Raises:
        StoreError: on a shape mismatch or non-increasing times.
    """
    t = _increasing(time_ns, "ego/time_ns", "row")
    k = t.shape[0]
    cols = {
        "time_ns": t,
        "translation_m": _shaped("ego/translation_m", translation_m, np.float64, (k, 3)),
        "rotation_xyzw": _shaped("ego/rotation_xyzw", rotation_xyzw, np.float64, (k, 4)),
        "linear_velocity_mps": _shaped("ego/linear_velocity_mps", linear_velocity_mps, np.float64, (k, 3)),
        "angular_velocity_radps": _shaped("ego/angular_velocity_radps", angular_velocity_radps, np.float64, (k, 3)),
    }
    meta = {"parent": "odom", "child": "base_link", "source": "", **attrs, "count": k}
    batch = NodeBatch(root.store, overwrite=True)  # replaces an ego/ written before, like create_group
    group = batch.group(root, lay.EGO, meta)
    columns = _declare(batch, group, {name: (values, lay.IMU, 0) for name, values in cols.items()})
    batch.write()
    _fill(columns)


def write_frames_group(
    root: zarr.Group,
    time_ns: Any,
    ego_T_world_base: Any,
    flags: Any,
    imu_range: Any,
    sensors: dict[str, tuple[Any, Any, Any]],
    imu_stream: str | None,
    ego_quality: Any = None,
    ego_source: str = "",
) -> None:
    """Write ``frames/`` and ``frames/sensors/<name>/{index, dt_ns, valid}``.

    Args:
        root: Root group.
        time_ns: (F,) int64 strictly increasing frame times.
        ego_T_world_base: (F, 4, 4) float64 pose at each frame time.
        flags: (F,) uint32 bit flags (bit 0 ego gap).
        imu_range: (F, 2) int64 [start, stop) rows of ``imu_stream`` since the previous frame.
        sensors: name → (index (F,) int64, −1 = missing; dt_ns (F,) int64; valid (F,) bool).
        imu_stream: Name of the IMU stream ``imu_range`` refers to (``None``: no IMU).
        ego_quality: (F, 2) float32 1σ horizontal position (m) and heading (rad) of an estimated ego
            pose, or None (no column). ego_source: the ego source (group attribute, "" to omit).

    Raises:
        StoreError: on a shape mismatch or non-increasing times.
    """
    t = _increasing(time_ns, "frames/time_ns", "frame")
    f = t.shape[0]
    flag_bits = {str(k): v for k, v in FLAG_NAMES.items()}
    batch = NodeBatch(root.store, overwrite=True)  # replaces a frame table written before
    attrs: dict[str, Any] = {"count": f, "imu_stream": imu_stream, "flag_bits": flag_bits}
    if ego_source:
        attrs["ego_source"] = ego_source
    group = batch.group(root, lay.FRAMES, attrs)
    cols: dict[str, Any] = {
        "time_ns": (t, lay.FRAME, 0),
        "ego_T_world_base": (_shaped("frames/ego_T_world_base", ego_T_world_base, np.float64, (f, 4, 4)), lay.FRAME, 0),
        "flags": (_shaped("frames/flags", flags, np.uint32, (f,)), lay.FRAME, 0),
        "imu_range": (_shaped("frames/imu_range", imu_range, np.int64, (f, 2)), lay.FRAME, 0),
    }  # fmt: skip
    if ego_quality is not None:
        cols["ego_quality"] = (_shaped("frames/ego_quality", ego_quality, np.float32, (f, 2)), lay.FRAME, np.nan)
    columns = _declare(batch, group, cols)
    sensor_root = batch.group(group, "sensors")
    for name, (index, dt_ns, valid) in sensors.items():
        columns += _declare(batch, batch.group(sensor_root, name), {
            "index": (_shaped(f"frames/sensors/{name}/index", index, np.int64, (f,)), lay.FRAME, -1),
            "dt_ns": (_shaped(f"frames/sensors/{name}/dt_ns", dt_ns, np.int64, (f,)), lay.FRAME, 0),
            "valid": (_shaped(f"frames/sensors/{name}/valid", valid, np.bool_, (f,)), lay.FRAME, False),
        })  # fmt: skip
    batch.write()
    _fill(columns)
