"""What import/export need from a store: :class:`SceneView`, an in-memory :class:`Scene`, and
:func:`scene_from_dataset` (the adapter onto ``fusion.open``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from fusion.annotations.openlabel_encode import SensorInfo

F64 = NDArray[np.float64]
PointsFn = Callable[[int], Sequence[np.ndarray]]


class SceneView(Protocol):
    """Frame times, ego poses, rig and world-frame points of a store."""

    @property
    def times_ns(self) -> NDArray[np.int64]:
        """(F,) int64 frame times."""
        ...

    @property
    def T_world_base(self) -> F64:
        """(F, 4, 4) ego poses at the frame times."""
        ...

    @property
    def sensors(self) -> Sequence[SensorInfo]:
        """The rig's sensors."""
        ...

    @property
    def world_frame(self) -> str:
        """World frame name."""
        ...

    @property
    def base_frame(self) -> str:
        """Vehicle frame name."""
        ...

    def lidar_points_world(self, frame_index: int) -> Sequence[np.ndarray]:
        """Motion-compensated LiDAR points (each (N, 3)) of frame ``frame_index`` in the world."""
        ...

    def radar_points_world(self, frame_index: int) -> Sequence[np.ndarray]:
        """Radar points (each (N, 3)) of frame ``frame_index`` in the world."""
        ...


def _no_points(frame_index: int) -> Sequence[np.ndarray]:
    return ()


@dataclass(frozen=True, eq=False)
class Scene:
    """An in-memory :class:`SceneView` (tests, and callers without a store).

    Attributes:
        times_ns: (F,) int64 frame times.
        T_world_base: (F, 4, 4) ego poses at the frame times.
        sensors: Rig sensors.
        lidar: ``frame_index -> [points (N, 3) world]``.
        radar: Same for radar.
        world_frame: World frame name (``odom``).
        base_frame: Vehicle frame name.
    """

    times_ns: NDArray[np.int64]
    T_world_base: F64
    sensors: Sequence[SensorInfo] = ()
    lidar: PointsFn = field(default=_no_points)
    radar: PointsFn = field(default=_no_points)
    world_frame: str = "odom"
    base_frame: str = "base_link"

    def lidar_points_world(self, frame_index: int) -> Sequence[np.ndarray]:
        """LiDAR points of a frame, world frame."""
        return self.lidar(frame_index)

    def radar_points_world(self, frame_index: int) -> Sequence[np.ndarray]:
        """Radar points of a frame, world frame."""
        return self.radar(frame_index)


def sensors_from_rig(rig: Any) -> list[SensorInfo]:
    """``SensorInfo`` of every sensor of a ``calibration.Rig``."""
    return [
        SensorInfo(name, str(s.kind), np.asarray(s.T_base_sensor.matrix, dtype=np.float64), str(s.frame_id))
        for name, s in sorted(rig.sensors.items())
    ]


def scene_from_dataset(ds: Any) -> Scene:
    """A :class:`Scene` reading a ``fusion.store.Dataset`` lazily (points per frame on demand)."""
    attrs = ds.attrs
    times = np.asarray(ds.times_ns, dtype=np.int64)
    poses = np.stack([ds[i].ego_pose for i in range(len(ds))]) if len(ds) else np.zeros((0, 4, 4))

    def lidar(i: int) -> Sequence[np.ndarray]:
        return [v.in_world() for v in ds[i].lidar.values()]

    def radar(i: int) -> Sequence[np.ndarray]:
        return [v.in_world() for v in ds[i].radar.values()]

    try:
        sensors = sensors_from_rig(ds.calibration)
    except Exception:  # a store without a (parsable) rig still has world / base frames
        sensors = []
    return Scene(times, poses, sensors, lidar, radar,
                 str(attrs.get("world_frame", "odom")), str(attrs.get("base_frame", "base_link")))
