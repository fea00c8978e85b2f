"""What LiDAR and radar streams share: the point-set writer and the point-set view.

Points are ragged: every message owns rows ``offsets[m]:offsets[m+1]`` of ``xyz (P, 3) float32``
(sensor frame, m) and of each extra per-point field (``intensity``, ``ring``, ``rcs``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from calibration.se3 import invert_transform, transform_points
from fusion.errors import StoreError
from fusion.store import geometry as geo
from fusion.store import layout as lay
from fusion.store.frame import MessageView
from fusion.store.streams import StreamWriter


class PointStreamWriter(StreamWriter):
    """A stream of point sets (LiDAR sweeps, radar scans): ragged point columns plus named extra fields."""

    def _point_fields(self, fields: Mapping[str, npt.DTypeLike], spec: lay.ColumnSpec, expected_points: int) -> None:
        self._fields: dict[str, np.dtype[Any]] = {}
        for fname, dt in fields.items():
            if fname in lay.RESERVED_POINT_NAMES:
                raise StoreError(f"streams/{self.name}: point field name {fname!r} is reserved; rename it")
            self._fields[fname] = np.dtype(dt)
            self._add(fname, np.dtype(dt), (), spec, expected_points)

    def _prepare_fields(self, fields: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
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


class PointView(MessageView):
    """A stored point set (LiDAR sweep, radar scan) seen from a frame: points moved to the frame time.

    Stored points are deskewed to the message's reference time ``t_r`` (``ref_time_ns``, else the
    message time); when ``t_r`` differs from the frame time ``t_f`` the exact rigid correction
    ``T_sensor(t_f)^-1 · T_sensor(t_r)`` with ``T_sensor(t) = T_world_base(t) · T_base_sensor`` is
    applied, ``T_world_base`` interpolated from the stored ego trajectory (linear translation, slerp
    rotation; the reader explicitly extrapolates up to ``geometry.READER_MAX_EXTRAPOLATION_NS`` =
    100 ms outside the trajectory with the end sample's constant twist).
    """

    #: Columns that are not "other fields" (``.fields``) of this kind.
    _own: frozenset[str] = frozenset({"xyz", "xyz_raw"})

    @property
    def ref_time_ns(self) -> int:
        """Common-clock time the stored points are deskewed to."""
        ref = self.stream.message_columns.get("ref_time_ns")
        return int(ref[self.message_index]) if ref is not None else self.message_time_ns

    def __len__(self) -> int:
        return self._rows[1] - self._rows[0]

    def _group_of(self, col: str) -> list[str]:
        """Columns read together with ``col`` in one concurrent batch.

        ``xyz`` (and ``xyz_raw``) are read alone: geometry is what most readers need, and a random
        frame stays cheap. The first other field read fetches all the other per-point fields.
        """
        if col in ("xyz", "xyz_raw"):
            return []
        return [c for c in self.stream.point_columns() if c not in ("xyz", "xyz_raw")]

    @cached_property
    def correction(self) -> np.ndarray:
        """(4, 4) ``T_sensor(frame time)^-1 · T_sensor(ref time)`` (identity when they coincide)."""
        if self.ref_time_ns == self.frame_time_ns:
            return np.eye(4)
        ego = self._state.ego
        T_bs = self._state.T_base_sensor(self.name)
        try:
            T_wb_f, T_wb_r = geo.ego_poses(ego, [self.frame_time_ns, self.ref_time_ns],
                                           max_extrapolation_ns=geo.READER_MAX_EXTRAPOLATION_NS)
        except StoreError as exc:
            raise StoreError(f"streams/{self.name}[{self.message_index}]: {exc}; its points as stored (sensor frame "
                             f"at the message's own time): ds.stream({self.name!r})[{self.message_index}].xyz, "
                             "or reconvert with an ego source (--ego-source)") from exc
        return invert_transform(T_wb_f @ T_bs) @ (T_wb_r @ T_bs)

    @cached_property
    def xyz(self) -> np.ndarray:
        """(N, 3) float32 points, sensor frame, motion-compensated to the frame time, m."""
        stored = self.column("xyz")
        if self.ref_time_ns == self.frame_time_ns:
            return stored
        return transform_points(self.correction, stored).astype(np.float32)

    @property
    def fields(self) -> dict[str, np.ndarray]:
        """Every other per-point column (e.g. ``intensity``, ``ring``), each (N,)."""
        return {c: self.column(c) for c in self.stream.point_columns() if c not in self._own}

    def __getitem__(self, col: str) -> np.ndarray:
        if col == "xyz":
            return self.xyz
        if col not in self.stream.point_columns():
            raise KeyError(f"streams/{self.name} has no point column {col!r}; have {self.stream.point_columns()}")
        return self.column(col)

    def in_base(self) -> np.ndarray:
        """(N, 3) float64 points in the base frame at the frame time, m."""
        return transform_points(self._state.T_base_sensor(self.name), self.xyz)

    def in_world(self) -> np.ndarray:
        """(N, 3) float64 points in the world frame (frame ``ego_pose`` · T_base_sensor), m."""
        return transform_points(self._frame_pose @ self._state.T_base_sensor(self.name), self.xyz)
