"""Reader-side views of one frame: ``Frame``, ``CameraFrame``, ``LidarFrame``, ``RadarFrame``.

Everything is lazy: a view reads its column slices on first access and caches them.
Point clouds are returned in the sensor frame, motion-compensated to ``Frame.time_ns``:
stored points are deskewed to the message's reference time ``t_r`` (LiDAR ``ref_time_ns``;
radar: the message ``time_ns``); when ``t_r`` differs from the frame time ``t_f`` the exact
rigid correction ``T_lidar(t_f)^-1 · T_lidar(t_r)`` with ``T_lidar(t) = T_world_base(t) ·
T_base_lidar`` is applied, ``T_world_base`` interpolated from the stored ego trajectory
(linear translation, slerp rotation; the reader explicitly extrapolates up to
``geometry.READER_MAX_EXTRAPOLATION_NS`` = 100 ms outside the trajectory with the end sample's
constant twist).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from calibration.se3 import invert_transform, transform_points
from fusion.errors import StoreError
from fusion.store import geometry as geo
from fusion.store.state import StoreState, StreamState, read_many


@dataclass(frozen=True)
class SensorInfo:
    """One sensor stream: kind (camera/lidar/radar/imu), topic, frame_id, message count."""

    kind: str
    topic: str
    frame_id: str
    count: int


@dataclass(frozen=True)
class ImuSamples:
    """IMU samples of one frame (rows ``[start, stop)`` of the IMU stream), each (K, …)."""

    stream: str
    start: int
    stop: int
    time_ns: np.ndarray
    stamp_ns: np.ndarray
    angular_velocity_radps: np.ndarray
    linear_acceleration_mps2: np.ndarray
    orientation_xyzw: np.ndarray

    def __len__(self) -> int:
        return self.stop - self.start


class _MessageView:
    """A message of a stream matched to a frame."""

    def __init__(self, state: StoreState, stream: StreamState, msg: int, frame_time_ns: int, dt_ns: int,
                 frame_pose: np.ndarray) -> None:
        self._state = state
        self.stream = stream
        self.name = stream.name
        self.message_index = msg
        self.frame_time_ns = frame_time_ns
        self.dt_ns = dt_ns
        self._frame_pose = frame_pose
        self.message_time_ns = int(stream.time_ns[msg])
        off = stream.offsets
        self._rows = (int(off[msg]), int(off[msg + 1])) if off is not None else (msg, msg + 1)

    def column(self, col: str) -> np.ndarray:
        """Rows of column ``col`` belonging to this message (read once, cached)."""
        cache: dict[str, np.ndarray] = self.__dict__.setdefault("_cols", {})
        if col not in cache:
            a, b = self._rows
            names = [col, *(c for c in self._group_of(col) if c != col and c not in cache)]
            for name, values in zip(names, read_many([(self.stream.array(n), slice(a, b)) for n in names])):
                cache[name] = values
        return cache[col]

    def _group_of(self, col: str) -> list[str]:
        return []


class CameraFrame(_MessageView):
    """An image matched to a frame: ``.time_ns``, ``.dt_ns``, ``.data``, ``.format``, ``.image``."""

    @property
    def time_ns(self) -> int:
        """Common-clock time of the image, ns (``dt_ns`` = this − frame time)."""
        return self.message_time_ns

    @property
    def format(self) -> str:
        """Format string (``CompressedImage.format`` or raw encoding)."""
        formats = self.stream.attrs.get("formats") or [""]
        code = self.stream.format_code
        return str(formats[int(code[self.message_index])] if code is not None else formats[0])

    @property
    def compressed(self) -> bool:
        """True for a compressed (blob) stream."""
        return self.stream.offsets is not None

    @cached_property
    def data(self) -> bytes:
        """The stored bytes: compressed image bytes as received (raw: the pixel buffer)."""
        if self.compressed:
            return self.column("data").tobytes()
        return np.ascontiguousarray(self.image).tobytes()

    @cached_property
    def image(self) -> np.ndarray:
        """Decoded image: JPEG/PNG → BGR uint8 (H, W, 3) (depth PNG: uint16 (H, W)); raw as stored."""
        if not self.compressed:
            return np.asarray(self.stream.array("pixels")[self.message_index])
        import cv2

        fmt = self.format.lower()
        raw = np.frombuffer(self.data, dtype=np.uint8)
        flag = cv2.IMREAD_COLOR
        if "compresseddepth" in fmt:
            raw, flag = raw[12:], cv2.IMREAD_UNCHANGED
        elif fmt.startswith(("mono16", "16u")):
            flag = cv2.IMREAD_UNCHANGED
        img = cv2.imdecode(raw, flag)
        if img is None:
            raise StoreError(
                f"streams/{self.name}[{self.message_index}]: cannot decode {len(self.data)} bytes of format "
                f"{self.format!r}; use .data for the raw bytes"
            )
        return np.asarray(img)


class _PointFrame(_MessageView):
    """Shared by LiDAR and radar views."""

    _own = frozenset({"xyz", "xyz_raw", "time_offset_ns", "radial_velocity_mps", "radial_velocity_comp_mps"})

    @property
    def ref_time_ns(self) -> int:
        """Common-clock time the stored points are deskewed to."""
        ref = self.stream.ref_time_ns
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
            raise StoreError(f"streams/{self.name}[{self.message_index}]: {exc}") from exc
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


class LidarFrame(_PointFrame):
    """A LiDAR scan matched to a frame (``.xyz``, ``.time_ns`` per point, fields)."""

    @property
    def time_ns(self) -> np.ndarray:
        """(N,) int64 absolute common-clock time of every point (``ref_time_ns + time_offset_ns``)."""
        return self.ref_time_ns + self.column("time_offset_ns").astype(np.int64)

    @property
    def xyz_raw(self) -> np.ndarray | None:
        """(N, 3) float32 points before deskew, if stored."""
        return self.column("xyz_raw") if "xyz_raw" in self.stream.point_columns() else None


class RadarFrame(_PointFrame):
    """A radar scan matched to a frame (+ measured and ego-compensated radial velocity)."""

    @property
    def time_ns(self) -> np.ndarray:
        """(N,) int64 time of every return (the message time; radar returns share one time)."""
        return np.full(len(self), self.message_time_ns, dtype=np.int64)

    @property
    def radial_velocity_mps(self) -> np.ndarray:
        """(N,) float32 measured range rate, m/s."""
        return self.column("radial_velocity_mps")

    @property
    def radial_velocity_comp_mps(self) -> np.ndarray:
        """(N,) float32 ego-motion-compensated range rate, m/s."""
        return self.column("radial_velocity_comp_mps")
