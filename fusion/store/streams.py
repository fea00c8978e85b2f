"""Per-sensor stream writers: LiDAR, radar, camera (compressed blob or raw pixels) and IMU.

Each writer owns the arrays of ``streams/<name>/`` and appends through shard-aligned
:class:`~fusion.store.buffers.ColumnBuffer` s. Ragged data (points, image bytes) is stored as
concatenated columns plus ``offsets (M+1,) int64``: message ``m`` owns rows
``offsets[m]:offsets[m+1]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import zarr

from fusion.errors import StoreError
from fusion.store import layout as lay
from fusion.store.buffers import ColumnBuffer
from fusion.store.create import NodeBatch
from fusion.store.metadata import update_attributes


class StreamWriter:
    """Common part: the per-message time columns and (for ragged kinds) offsets.

    Args:
        group: The ``streams/<name>`` group.
        name: Sensor name.
        expected_messages: Pre-size for the per-message columns.
        extra_times: Additional int64 per-message columns (e.g. ``ref_time_ns``).
        ragged: Whether the stream has an ``offsets`` column.
        batch: Where ``group`` waits to be written, if it does (its columns join it).
    """

    kind = ""

    def __init__(
        self,
        group: zarr.Group,
        name: str,
        expected_messages: int,
        extra_times: tuple[str, ...] = (),
        ragged: bool = True,
        batch: NodeBatch | None = None,
    ) -> None:
        self.group = group
        self.name = name
        self._cols: dict[str, ColumnBuffer] = {}
        # nodes of this stream not yet written to the store (the group too, when it came from a batch)
        self._batch = batch if batch is not None else NodeBatch(group.store)
        for col in (*lay.TIME_COLUMNS, *extra_times):
            self._add(col, "int64", (), lay.MESSAGE, expected_messages)
        self._offsets: ColumnBuffer | None = None
        self._rows = 0
        if ragged:
            self._offsets = self._add("offsets", "int64", (), lay.MESSAGE, expected_messages + 1)
            self._offsets.append(np.zeros(1, dtype=np.int64))

    def _add(
        self, col: str, dtype: Any, inner: tuple[int, ...], spec: lay.ColumnSpec, rows: int, fill: Any = 0
    ) -> ColumnBuffer:
        arr = self._batch.column(
            self.group, col, dtype=dtype, inner_shape=inner, spec=spec, expected_rows=rows, fill_value=fill
        )
        buf = ColumnBuffer(arr, f"streams/{self.name}/{col}")
        self._cols[col] = buf
        return buf

    def create(self) -> None:
        """Write the metadata of every column added since the last call (one zarr call; idempotent).

        :class:`~fusion.store.writer.StoreWriter` calls it after constructing the writer; a column
        added later (LiDAR ``xyz_raw`` on the first append) is created at once.
        """
        self._batch.write()

    @property
    def count(self) -> int:
        """Messages appended so far."""
        return self._cols["time_ns"].count

    @property
    def buffer_bytes(self) -> int:
        """Upper bound of the memory held by this stream's shard buffers."""
        return sum(c.buffer_bytes for c in self._cols.values())

    def _times(self, **times: Any) -> None:
        for col, value in times.items():
            self._cols[col].append(np.asarray(value, dtype=np.int64).reshape(-1))

    def _ragged(self, n: int) -> None:
        assert self._offsets is not None
        self._rows += n
        self._offsets.append(np.array([self._rows], dtype=np.int64))

    def _check_len(self, what: str, arr: np.ndarray, n: int, inner: tuple[int, ...] = ()) -> None:
        if arr.shape != (n, *inner):
            raise StoreError(
                f"streams/{self.name}: message {self.count}: {what} has shape {arr.shape}, expected {(n, *inner)}"
            )

    def seal(self) -> None:
        """The stream is complete: hand every column's last shard to the pool now."""
        for buf in self._cols.values():
            buf.seal()

    def finalize(self) -> int:
        """Flush every column, trim to exact sizes, record ``count`` in the group attrs."""
        self.create()
        self.seal()  # every tail shard queued before the first wait
        for buf in self._cols.values():
            buf.finalize()
        count = self._cols["time_ns"].count
        update_attributes(self.group, {**self._final_attrs(), "count": count})
        return count

    def update_attrs(self, attrs: dict[str, Any]) -> None:
        """Merge JSON-able ``attrs`` into the stream group's attributes (one metadata write)."""
        update_attributes(self.group, attrs)

    def _final_attrs(self) -> dict[str, Any]:
        """Group attributes known only at the end, written with ``count`` (one metadata write)."""
        return {}


class _PointStream(StreamWriter):
    """Shared by LiDAR and radar: ragged point columns."""

    def _point_fields(self, fields: dict[str, Any], spec: lay.ColumnSpec, expected_points: int) -> None:
        self._fields: dict[str, np.dtype[Any]] = {}
        for fname, dt in fields.items():
            if fname in lay.RESERVED_POINT_NAMES:
                raise StoreError(f"streams/{self.name}: point field name {fname!r} is reserved; rename it")
            self._fields[fname] = np.dtype(dt)
            self._add(fname, np.dtype(dt), (), spec, expected_points)

    def _prepare_fields(self, fields: dict[str, Any], n: int) -> dict[str, np.ndarray]:
        missing = set(self._fields) - set(fields)
        extra = set(fields) - set(self._fields)
        if missing or extra:
            raise StoreError(
                f"streams/{self.name}: message {self.count}: fields {sorted(fields)} do not match the "
                f"declared fields {sorted(self._fields)} (missing {sorted(missing)}, extra {sorted(extra)})"
            )
        out: dict[str, np.ndarray] = {}
        for fname, dt in self._fields.items():
            arr = np.asarray(fields[fname]).astype(dt, copy=False).reshape(-1)
            self._check_len(fname, arr, n)
            out[fname] = arr
        return out

    def _append_prepared(self, prepared: dict[str, np.ndarray]) -> None:
        for fname, arr in prepared.items():
            self._cols[fname].append(arr)


class LidarWriter(_PointStream):
    """``streams/<name>`` of a LiDAR: xyz deskewed to ``ref_time_ns``, per-point time offsets."""

    kind = "lidar"

    def __init__(
        self,
        group: zarr.Group,
        name: str,
        *,
        fields: dict[str, Any],
        expected_messages: int,
        expected_points: int,
        with_xyz_raw: bool | None = None,
        batch: NodeBatch | None = None,
    ) -> None:
        super().__init__(group, name, expected_messages, extra_times=("ref_time_ns",), batch=batch)
        self._add("xyz", "float32", (3,), lay.LIDAR_XYZ, expected_points)
        self._add("time_offset_ns", "int32", (), lay.LIDAR_FIELD, expected_points)
        self._point_fields(fields, lay.LIDAR_FIELD, expected_points)
        self._expected_points = expected_points
        self._with_raw = with_xyz_raw
        if with_xyz_raw:
            self._add("xyz_raw", "float32", (3,), lay.LIDAR_XYZ, expected_points)

    def append(
        self,
        stamp_ns: int,
        record_time_ns: int,
        time_ns: int,
        ref_time_ns: int,
        xyz: np.ndarray,
        time_offset_ns: np.ndarray,
        fields: dict[str, np.ndarray],
        xyz_raw: np.ndarray | None = None,
    ) -> None:
        """Append one scan.

        Args:
            stamp_ns: Header stamp (sensor clock), ns.
            record_time_ns: Bag record time, ns.
            time_ns: Common-clock message time, ns.
            ref_time_ns: Common-clock time the points are deskewed to, ns.
            xyz: (N, 3) float32 points in the sensor frame at ``ref_time_ns``, m.
            time_offset_ns: (N,) int32 point time − ``ref_time_ns``.
            fields: Every declared field, each (N,).
            xyz_raw: (N, 3) float32 points before deskew. With ``with_xyz_raw=None`` the first
                message decides whether the stream keeps them; afterwards every message must agree.
        """
        pts = np.asarray(xyz, dtype=np.float32)
        n = pts.shape[0] if pts.ndim == 2 else -1
        self._check_len("xyz", pts, max(n, 0), (3,))
        toff = np.asarray(time_offset_ns).astype(np.int32, copy=False).reshape(-1)
        self._check_len("time_offset_ns", toff, n)
        if self._with_raw is None and self.count == 0:
            self._with_raw = xyz_raw is not None
            if self._with_raw:
                self._add("xyz_raw", "float32", (3,), lay.LIDAR_XYZ, self._expected_points)
                self.create()
        if (xyz_raw is not None) != bool(self._with_raw):
            raise StoreError(
                f"streams/{self.name}: message {self.count}: xyz_raw "
                f"{'given' if xyz_raw is not None else 'missing'} but with_xyz_raw={self._with_raw}"
            )
        prepared = self._prepare_fields(fields, n)
        if xyz_raw is not None:
            prepared["xyz_raw"] = np.asarray(xyz_raw, dtype=np.float32)
            self._check_len("xyz_raw", prepared["xyz_raw"], n, (3,))
        self._append_prepared(prepared)
        self._cols["xyz"].append(pts)
        self._cols["time_offset_ns"].append(toff)
        self._times(stamp_ns=stamp_ns, record_time_ns=record_time_ns, time_ns=time_ns, ref_time_ns=ref_time_ns)
        self._ragged(n)


class RadarWriter(_PointStream):
    """``streams/<name>`` of a radar: xyz, measured and ego-compensated radial velocity."""

    kind = "radar"

    def __init__(
        self, group: zarr.Group, name: str, *, fields: dict[str, Any], expected_messages: int, expected_points: int,
        batch: NodeBatch | None = None,
    ) -> None:  # fmt: skip
        super().__init__(group, name, expected_messages, batch=batch)
        self._add("xyz", "float32", (3,), lay.RADAR_POINT, expected_points)
        self._add("radial_velocity_mps", "float32", (), lay.RADAR_POINT, expected_points)
        self._add("radial_velocity_comp_mps", "float32", (), lay.RADAR_POINT, expected_points)
        self._point_fields(fields, lay.RADAR_POINT, expected_points)

    def append(
        self,
        stamp_ns: int,
        record_time_ns: int,
        time_ns: int,
        xyz: np.ndarray,
        radial_velocity_mps: np.ndarray,
        radial_velocity_comp_mps: np.ndarray,
        fields: dict[str, np.ndarray],
    ) -> None:
        """Append one scan: xyz (N,3) f32 sensor frame m; velocities (N,) m/s; fields (N,) each."""
        pts = np.asarray(xyz, dtype=np.float32)
        n = pts.shape[0] if pts.ndim == 2 else -1
        self._check_len("xyz", pts, max(n, 0), (3,))
        vr = np.asarray(radial_velocity_mps, dtype=np.float32).reshape(-1)
        vc = np.asarray(radial_velocity_comp_mps, dtype=np.float32).reshape(-1)
        self._check_len("radial_velocity_mps", vr, n)
        self._check_len("radial_velocity_comp_mps", vc, n)
        self._append_prepared(self._prepare_fields(fields, n))
        self._cols["xyz"].append(pts)
        self._cols["radial_velocity_mps"].append(vr)
        self._cols["radial_velocity_comp_mps"].append(vc)
        self._times(stamp_ns=stamp_ns, record_time_ns=record_time_ns, time_ns=time_ns)
        self._ragged(n)
