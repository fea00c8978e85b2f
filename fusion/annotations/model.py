"""The canonical 3D box: :class:`Cuboid`.

Conventions (see ``docs/ANNOTATIONS.md``):

* ``center_m`` is the geometric centre of the box in ``frame``.
* ``size_lwh_m`` is length, width, height along the object's own x (forward), y (left),
  z (up) axes.
* ``rotation_xyzw`` is the quaternion (**x, y, z, w**) of ``R_frame_object``: it maps
  object-frame directions into ``frame``.
* ``time_ns`` is int64 nanoseconds on the store's common clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibration.rotation import matrix_to_quat_xyzw, quat_xyzw_from_yaw, quat_xyzw_to_matrix, yaw_from_quat_xyzw

F64 = NDArray[np.float64]
Source = Literal["labelled", "interpolated"]
SOURCES: tuple[Source, ...] = ("labelled", "interpolated")

#: Unit-cube corner signs, in the order front-left-bottom ... (x, y, z in {+1, -1}).
_CORNER_SIGNS = np.array(
    [
        [1, 1, -1], [1, -1, -1], [-1, -1, -1], [-1, 1, -1],
        [1, 1, 1], [1, -1, 1], [-1, -1, 1], [-1, 1, 1],
    ],
    dtype=np.float64,
)


def _vec(value: ArrayLike, n: int, name: str) -> F64:
    arr = np.array(value, dtype=np.float64).reshape(-1)
    if arr.shape != (n,):
        raise ValueError(f"Cuboid.{name} must have {n} values, got shape {np.shape(value)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"Cuboid.{name} has non-finite values {arr.tolist()}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Cuboid:
    """One oriented 3D box of one object at one time.

    Attributes:
        center_m: Box centre (3,) in ``frame``, metres.
        size_lwh_m: Length, width, height (3,) along object x, y, z, metres.
        rotation_xyzw: Orientation quaternion (4,) **x, y, z, w** (``R_frame_object``).
        label: Category name.
        track_id: Identity of the object across time (stable string).
        attributes: Free-form attributes (JSON-serializable values).
        velocity_mps: Optional velocity (3,) in ``frame``, m/s.
        score: Optional detection confidence.
        visibility: Optional visibility label (format-specific text, e.g. nuScenes ``"v80-100"``).
        num_lidar_points: Optional LiDAR point count inside the box.
        num_radar_points: Optional radar point count inside the box.
        frame: Coordinate frame the box is expressed in (``"world"`` internally).
        time_ns: Time of the box, int64 ns on the common clock.
        source: ``"labelled"`` (an original label) or ``"interpolated"``.
    """

    center_m: F64
    size_lwh_m: F64
    rotation_xyzw: F64
    label: str
    track_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    velocity_mps: F64 | None = None
    score: float | None = None
    visibility: str | None = None
    num_lidar_points: int | None = None
    num_radar_points: int | None = None
    frame: str = "world"
    time_ns: int = 0
    source: Source = "labelled"

    def __post_init__(self) -> None:
        object.__setattr__(self, "center_m", _vec(self.center_m, 3, "center_m"))
        size = _vec(self.size_lwh_m, 3, "size_lwh_m")
        if np.any(size < 0):
            raise ValueError(f"Cuboid.size_lwh_m must be >= 0, got {size.tolist()}")
        object.__setattr__(self, "size_lwh_m", size)
        q = _vec(self.rotation_xyzw, 4, "rotation_xyzw")
        norm = float(np.linalg.norm(q))
        if abs(norm - 1.0) > 1e-3:
            raise ValueError(f"Cuboid.rotation_xyzw (x,y,z,w) is not unit (norm {norm:.6g})")
        if abs(norm - 1.0) > 1e-12:
            q = _vec(q / norm, 4, "rotation_xyzw")
        object.__setattr__(self, "rotation_xyzw", q)
        if self.velocity_mps is not None:
            object.__setattr__(self, "velocity_mps", _vec(self.velocity_mps, 3, "velocity_mps"))
        if self.source not in SOURCES:
            raise ValueError(f"Cuboid.source must be one of {SOURCES}, got {self.source!r}")
        object.__setattr__(self, "time_ns", int(self.time_ns))

    @classmethod
    def from_yaw(
        cls, center_m: ArrayLike, size_lwh_m: ArrayLike, yaw_rad: float, label: str, track_id: str, **kw: Any
    ) -> Cuboid:
        """A box rotated by ``yaw_rad`` about the frame's +z axis (0 = object x along frame +x)."""
        return cls(np.asarray(center_m, dtype=np.float64), np.asarray(size_lwh_m, dtype=np.float64),
                   quat_xyzw_from_yaw(yaw_rad), label, track_id, **kw)

    @property
    def yaw_rad(self) -> float:
        """Heading about the frame's +z axis (rad, in (-π, π])."""
        return float(yaw_from_quat_xyzw(self.rotation_xyzw))

    @property
    def rotation_matrix(self) -> F64:
        """``R_frame_object`` (3, 3)."""
        return quat_xyzw_to_matrix(self.rotation_xyzw, normalize=True)

    @property
    def pose(self) -> F64:
        """``T_frame_object`` (4, 4): maps object-frame points into ``frame``."""
        T = np.eye(4)
        T[:3, :3] = self.rotation_matrix
        T[:3, 3] = self.center_m
        return T

    def corners(self) -> F64:
        """The 8 corners (8, 3) in ``frame``: bottom face (z−) first, then top, each front-left first."""
        local = _CORNER_SIGNS * (0.5 * self.size_lwh_m)
        return np.asarray(local @ self.rotation_matrix.T + self.center_m, dtype=np.float64)

    def transformed(self, T_target_frame: ArrayLike, target_frame: str) -> Cuboid:
        """This box expressed in ``target_frame``, given ``T_target_frame`` (4, 4) mapping ``frame`` into it."""
        T = np.asarray(T_target_frame, dtype=np.float64)
        if T.shape != (4, 4):
            raise ValueError(f"T_target_frame must be (4, 4), got {T.shape}")
        R = T[:3, :3]
        center = R @ self.center_m + T[:3, 3]
        rot = matrix_to_quat_xyzw(R @ self.rotation_matrix)
        vel = None if self.velocity_mps is None else R @ self.velocity_mps
        return replace(self, center_m=center, rotation_xyzw=rot, velocity_mps=vel, frame=target_frame)

    def with_(self, **changes: Any) -> Cuboid:
        """A copy with ``changes`` applied (``dataclasses.replace``)."""
        return replace(self, **changes)


def to_base(box: Cuboid, T_world_base: ArrayLike, base_frame: str = "base_link") -> Cuboid:
    """Express a world-frame box in the vehicle frame, given ``T_world_base`` (4, 4) at the box time."""
    T = np.asarray(T_world_base, dtype=np.float64)
    T_base_world = np.eye(4)
    T_base_world[:3, :3] = T[:3, :3].T
    T_base_world[:3, 3] = -T[:3, :3].T @ T[:3, 3]
    return box.transformed(T_base_world, base_frame)


def to_sensor(box: Cuboid, T_world_base: ArrayLike, T_base_sensor: ArrayLike, sensor_frame: str) -> Cuboid:
    """Express a world-frame box in a sensor frame (``T_world_base`` at the box time, extrinsic ``T_base_sensor``)."""
    T_world_sensor = np.asarray(T_world_base, dtype=np.float64) @ np.asarray(T_base_sensor, dtype=np.float64)
    R = T_world_sensor[:3, :3]
    T_sensor_world = np.eye(4)
    T_sensor_world[:3, :3] = R.T
    T_sensor_world[:3, 3] = -R.T @ T_world_sensor[:3, 3]
    return box.transformed(T_sensor_world, sensor_frame)


def boxes_close(a: Cuboid, b: Cuboid, tol: float = 1e-9) -> bool:
    """True if centre, size, rotation matrix (so q and −q agree) and velocity agree to ``tol``."""
    if np.max(np.abs(a.center_m - b.center_m)) > tol or np.max(np.abs(a.size_lwh_m - b.size_lwh_m)) > tol:
        return False
    if np.max(np.abs(a.rotation_matrix - b.rotation_matrix)) > tol:
        return False
    if (a.velocity_mps is None) != (b.velocity_mps is None):
        return False
    return a.velocity_mps is None or bool(np.max(np.abs(a.velocity_mps - b.velocity_mps)) <= tol)  # type: ignore[operator]
