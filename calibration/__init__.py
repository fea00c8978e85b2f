"""calibration: standalone SE(3), frame tree, trajectories, camera models and sensor rigs.

``import calibration as cal``. Never imports ``fusion``. Conventions: ``T_a_b`` maps points in
frame b into frame a; quaternions x, y, z, w; time int64 ns with
``common_time_ns = header_stamp_ns + time_offset_ns``. See docs/CALIBRATION.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from calibration.camera import DISTORTION_COUNTS, CameraModel
    from calibration.errors import (
        CalibrationError,
        ExtrapolationError,
        FrameTreeError,
        IntrinsicsError,
        RigFileError,
        SensorNotFoundError,
        TransformError,
        UnitsError,
    )
    from calibration.frames import FrameTree
    from calibration.merge import merge_rigs, rebase_rig
    from calibration.rig import SENSOR_KINDS, Rig, Sensor
    from calibration.se3 import SE3, interpolate_se3
    from calibration.sources.kalibr import rig_from_kalibr
    from calibration.sources.nuscenes import rig_from_nuscenes
    from calibration.sources.ros import rig_from_ros
    from calibration.sources.yaml_rig import load_rig, save_rig
    from calibration.trajectory import Trajectory
    from calibration.validate import validate_rig

# public name -> defining module, imported on first use (``import calibration`` stays cheap: the CLI
# imports the error classes at start-up)
_LAZY: dict[str, str] = {
    "DISTORTION_COUNTS": "calibration.camera",
    "CameraModel": "calibration.camera",
    "CalibrationError": "calibration.errors",
    "ExtrapolationError": "calibration.errors",
    "FrameTreeError": "calibration.errors",
    "IntrinsicsError": "calibration.errors",
    "RigFileError": "calibration.errors",
    "SensorNotFoundError": "calibration.errors",
    "TransformError": "calibration.errors",
    "UnitsError": "calibration.errors",
    "FrameTree": "calibration.frames",
    "merge_rigs": "calibration.merge",
    "rebase_rig": "calibration.merge",
    "SENSOR_KINDS": "calibration.rig",
    "Rig": "calibration.rig",
    "Sensor": "calibration.rig",
    "SE3": "calibration.se3",
    "interpolate_se3": "calibration.se3",
    "rig_from_kalibr": "calibration.sources.kalibr",
    "rig_from_nuscenes": "calibration.sources.nuscenes",
    "rig_from_ros": "calibration.sources.ros",
    "load_rig": "calibration.sources.yaml_rig",
    "save_rig": "calibration.sources.yaml_rig",
    "Trajectory": "calibration.trajectory",
    "validate_rig": "calibration.validate",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'calibration' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "DISTORTION_COUNTS",
    "SE3",
    "SENSOR_KINDS",
    "CalibrationError",
    "CameraModel",
    "ExtrapolationError",
    "FrameTree",
    "FrameTreeError",
    "IntrinsicsError",
    "Rig",
    "RigFileError",
    "Sensor",
    "SensorNotFoundError",
    "Trajectory",
    "TransformError",
    "UnitsError",
    "interpolate_se3",
    "load_rig",
    "merge_rigs",
    "rebase_rig",
    "rig_from_kalibr",
    "rig_from_nuscenes",
    "rig_from_ros",
    "save_rig",
    "validate_rig",
]
