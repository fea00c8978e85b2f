"""Sensors and rigs: extrinsics, intrinsics and per-sensor clock offsets in one place.

Time offset meaning (one, everywhere): ``common_time_ns = header_stamp_ns + time_offset_ns``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibration.camera import CameraModel
from calibration.errors import CalibrationError, FrameTreeError, SensorNotFoundError
from calibration.frames import FrameTree
from calibration.se3 import SE3

SENSOR_KINDS: tuple[str, ...] = (
    "camera", "lidar", "radar", "radar_tracks", "image", "imu", "gnss", "odometry", "twist",
)
_ACCEPTED_KINDS: set[str] = set(SENSOR_KINDS)
#: Sensors sharing a frame must agree on its extrinsic to this tolerance (SE3.allclose).
SHARED_FRAME_TOL = 1e-6


def accept_sensor_kind(kind: str) -> None:
    """Accept ``kind`` as a sensor kind besides :data:`SENSOR_KINDS` (a stream kind registered at run
    time, e.g. by ``fusion.kinds.register``)."""
    if not kind or not kind.replace("_", "").isalnum() or not kind.islower():
        raise CalibrationError(f"sensor kind {kind!r} must be a lowercase identifier")
    _ACCEPTED_KINDS.add(kind)


def sensor_kinds() -> list[str]:
    """Every accepted sensor kind: :data:`SENSOR_KINDS` and those accepted since."""
    return [*SENSOR_KINDS, *sorted(_ACCEPTED_KINDS - set(SENSOR_KINDS))]


@dataclass(frozen=True, eq=False)
class Sensor:
    """One sensor of the rig.

    Attributes:
        name: unique sensor name (e.g. ``camera_front``).
        kind: one of :data:`SENSOR_KINDS` (or a kind accepted with :func:`accept_sensor_kind`).
        frame_id: the sensor's frame (for cameras the **optical** frame), without leading slash.
        T_base_sensor: extrinsic, maps points in ``frame_id`` into the rig's base frame.
        time_offset_ns: int ns, ``common_time_ns = header_stamp_ns + time_offset_ns``.
        camera: intrinsics (cameras only; may be None for a camera known only from tf).
        topic: optional ROS topic carrying the sensor's data.
    """

    name: str
    kind: str
    frame_id: str
    T_base_sensor: SE3 = field(default_factory=SE3.identity)
    time_offset_ns: int = 0
    camera: CameraModel | None = None
    topic: str | None = None

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise CalibrationError(f"sensor name must be a non-empty string, got {self.name!r}")
        if self.kind not in _ACCEPTED_KINDS:
            raise CalibrationError(
                f"sensor {self.name!r}: field 'kind' is {self.kind!r}; use one of {sensor_kinds()}"
            )
        if not self.frame_id or not isinstance(self.frame_id, str):
            raise CalibrationError(f"sensor {self.name!r}: field 'frame_id' must be a non-empty string")
        object.__setattr__(self, "frame_id", self.frame_id.lstrip("/"))
        if not isinstance(self.T_base_sensor, SE3):
            raise CalibrationError(f"sensor {self.name!r}: field 'T_base_sensor' must be an SE3")
        if isinstance(self.time_offset_ns, bool) or int(self.time_offset_ns) != self.time_offset_ns:
            raise CalibrationError(
                f"sensor {self.name!r}: field 'time_offset_ns' must be an integer number of ns, "
                f"got {self.time_offset_ns!r}"
            )
        object.__setattr__(self, "time_offset_ns", int(self.time_offset_ns))
        if self.camera is not None and self.kind != "camera":
            raise CalibrationError(f"sensor {self.name!r}: field 'camera' (intrinsics) given but kind is {self.kind!r}")

    def to_common_time_ns(self, stamp_ns: ArrayLike) -> NDArray[np.int64]:
        """Header stamps (int64 ns) → common clock: ``stamp_ns + time_offset_ns``."""
        return np.asarray(stamp_ns, dtype=np.int64) + np.int64(self.time_offset_ns)

    def pixel_row_time_ns(self, stamp_ns: int, rows: ArrayLike) -> NDArray[np.int64]:
        """Common-clock exposure time (int64 ns) of pixel rows of the image stamped ``stamp_ns``.

        ``stamp_ns + time_offset_ns + round(row * rolling_shutter_line_ns)`` (row 0 = stamp).
        """
        if self.camera is None:
            raise CalibrationError(f"sensor {self.name!r}: pixel_row_time_ns needs camera intrinsics")
        return self.camera.row_exposure_time_ns(int(stamp_ns) + self.time_offset_ns, rows)

    def replace(self, **changes: Any) -> Sensor:
        """A copy with some fields changed (dataclasses.replace)."""
        from dataclasses import replace

        return replace(self, **changes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sensor):
            return NotImplemented
        return (
            self.name == other.name
            and self.kind == other.kind
            and self.frame_id == other.frame_id
            and self.T_base_sensor == other.T_base_sensor
            and self.time_offset_ns == other.time_offset_ns
            and self.topic == other.topic
            and self.camera == other.camera
        )

    __hash__ = None  # type: ignore[assignment]


class Rig:
    """The sensors of one vehicle, their extrinsics in ``base_frame``, intrinsics and clock offsets.

    Args:
        sensors: name → :class:`Sensor` (keys must equal the sensors' names).
        base_frame: frame every ``T_base_sensor`` maps into (default ``base_link``).

    Raises:
        CalibrationError: a key differs from its sensor's name.
        FrameTreeError: two sensors share a frame_id with different extrinsics (several streams of
            one sensor may share its frame: image_raw + image_rect, radar detections + tracks), or a
            sensor at the base frame has a non-identity extrinsic.
    """

    def __init__(self, sensors: Mapping[str, Sensor], base_frame: str = "base_link") -> None:
        base_frame = base_frame.lstrip("/")
        if not base_frame:
            raise FrameTreeError("rig base_frame must be a non-empty frame id")
        seen: dict[str, Sensor] = {}
        for key, s in sensors.items():
            if key != s.name:
                raise CalibrationError(f"rig key {key!r} holds sensor named {s.name!r}; they must match")
            if s.frame_id == base_frame and not s.T_base_sensor.allclose(SE3.identity(), 1e-9):
                raise FrameTreeError(
                    f"sensor {s.name!r}: field 'frame_id' equals the base frame {base_frame!r} but its "
                    "T_base_sensor is not the identity (cycle); give the sensor its own frame"
                )
            other = seen.get(s.frame_id)
            if other is not None and not s.T_base_sensor.allclose(other.T_base_sensor, SHARED_FRAME_TOL):
                raise FrameTreeError(
                    f"sensors {other.name!r} and {s.name!r} share frame_id {s.frame_id!r} but their "
                    "T_base_sensor differ (contradictory extrinsics for one frame); give them the same "
                    "extrinsic or their own frames"
                )
            seen.setdefault(s.frame_id, s)
        self._sensors: dict[str, Sensor] = dict(sensors)
        self.base_frame = base_frame

    @property
    def sensors(self) -> dict[str, Sensor]:
        """name → Sensor (a copy)."""
        return dict(self._sensors)

    @property
    def names(self) -> list[str]:
        """Sensor names in insertion order."""
        return list(self._sensors)

    def __len__(self) -> int:
        return len(self._sensors)

    def __contains__(self, name: object) -> bool:
        return name in self._sensors

    def sensor(self, name: str) -> Sensor:
        """The sensor called ``name``; raises :class:`SensorNotFoundError` listing the known names."""
        try:
            return self._sensors[name]
        except KeyError:
            raise SensorNotFoundError(
                f"sensor {name!r} is not in the rig; known sensors: {sorted(self._sensors)}; "
                "fix the name in the config or add the sensor to the rig file"
            ) from None

    def by_kind(self, kind: str) -> list[Sensor]:
        """Sensors of one kind, in insertion order."""
        return [s for s in self._sensors.values() if s.kind == kind]

    def by_frame(self, frame_id: str) -> Sensor:
        """The first sensor whose frame is ``frame_id`` (leading slash ignored)."""
        fid = frame_id.lstrip("/")
        for s in self._sensors.values():
            if s.frame_id == fid:
                return s
        raise SensorNotFoundError(
            f"no sensor has frame_id {fid!r}; known frames: {sorted(s.frame_id for s in self._sensors.values())}"
        )

    def frame_tree(self) -> FrameTree:
        """A :class:`FrameTree` with one static edge ``base_frame → sensor.frame_id`` per sensor."""
        tree = FrameTree()
        for s in self._sensors.values():
            if s.frame_id != self.base_frame:  # a sensor at the base frame (identity) adds no edge
                tree.add_static(self.base_frame, s.frame_id, s.T_base_sensor)
        return tree

    def T_a_b(self, a: str, b: str) -> SE3:
        """Extrinsic between two sensors (by name): maps points in sensor ``b``'s frame into ``a``'s."""
        return self.sensor(a).T_base_sensor.inverse() @ self.sensor(b).T_base_sensor

    def with_sensor(self, sensor: Sensor) -> Rig:
        """A new rig with ``sensor`` added or replaced."""
        out = dict(self._sensors)
        out[sensor.name] = sensor
        return Rig(out, self.base_frame)

    def to_dict(self) -> dict[str, Any]:
        """The YAML schema (see docs/CALIBRATION.md); quaternions written as ``quat_xyzw``."""
        from calibration.sources.yaml_rig import rig_to_dict

        return rig_to_dict(self)

    @staticmethod
    def from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Rig:
        """Parse the YAML schema; errors name ``source``, the sensor and the key."""
        from calibration.sources.yaml_rig import rig_from_dict

        return rig_from_dict(data, source)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rig):
            return NotImplemented
        return (
            self.base_frame == other.base_frame
            and list(self._sensors) == list(other._sensors)
            and all(self._sensors[k] == other._sensors[k] for k in self._sensors)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        kinds = ", ".join(f"{s.name}:{s.kind}" for s in self._sensors.values())
        return f"Rig(base_frame={self.base_frame!r}, sensors=[{kinds}])"
