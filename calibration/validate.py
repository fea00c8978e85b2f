"""Rig validation: every problem raises one precise error naming the sensor and the field."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from calibration.camera import DISTORTION_COUNTS, CameraModel
from calibration.errors import IntrinsicsError, TransformError, UnitsError
from calibration.rig import Rig, Sensor
from calibration.rotation import ORTHONORMAL_TOL

#: An extrinsic translation longer than this (metres) is taken for millimetres.
MAX_TRANSLATION_M = 100.0


def _check_extrinsic(s: Sensor) -> None:
    T = s.T_base_sensor
    R = T.rotation
    err = float(np.max(np.abs(R.T @ R - np.eye(3))))
    if err > ORTHONORMAL_TOL or abs(float(np.linalg.det(R)) - 1.0) > ORTHONORMAL_TOL:
        raise TransformError(f"sensor {s.name!r} field T_base_sensor.rotation: not orthonormal (error {err:.3g})")
    qn = float(np.linalg.norm(T.quat_xyzw))
    if abs(qn - 1.0) > 1e-6:
        raise TransformError(f"sensor {s.name!r} field T_base_sensor.quat_xyzw: not unit (norm {qn:.6g})")
    norm = float(np.linalg.norm(T.translation))
    if norm > MAX_TRANSLATION_M:
        raise UnitsError(
            f"sensor {s.name!r} field T_base_sensor.translation_m: norm {norm:.6g} m "
            f"> {MAX_TRANSLATION_M:g} m; "
            "looks like millimetres — give metres"
        )


def _check_camera(s: Sensor, cam: CameraModel) -> None:
    fx, fy, cx, cy = cam.K[0, 0], cam.K[1, 1], cam.K[0, 2], cam.K[1, 2]
    if fx <= 0 or fy <= 0:
        raise IntrinsicsError(f"sensor {s.name!r} field camera.K: focal length ≤ 0 (fx={fx}, fy={fy})")
    if not (0.0 <= cx <= cam.width and 0.0 <= cy <= cam.height):
        raise IntrinsicsError(
            f"sensor {s.name!r} field camera.K: principal point ({cx}, {cy}) outside the {cam.width}x{cam.height} image"
        )
    need = DISTORTION_COUNTS[cam.distortion_model]
    if cam.D.size != need:
        raise IntrinsicsError(
            f"sensor {s.name!r} field camera.D: {cam.distortion_model} needs {need} coefficients, got {cam.D.size}"
        )


def validate_rig(rig: Rig, required_sensors: Iterable[str] = ()) -> None:
    """Check a rig; return None when it is sound.

    Args:
        rig: the rig to check.
        required_sensors: sensor names a config refers to; each must be in the rig.

    Raises:
        SensorNotFoundError: a required sensor is absent (lists the known names).
        TransformError: a rotation is not orthonormal / a quaternion not unit.
        UnitsError: an extrinsic translation norm > 100 m ("looks like millimetres").
        IntrinsicsError: focal length ≤ 0, principal point outside the image, wrong D count.
        FrameTreeError: the rig's frame tree is not one tree rooted at ``rig.base_frame``.
    """
    for name in required_sensors:
        rig.sensor(name)
    for s in rig.sensors.values():
        _check_extrinsic(s)
        if s.camera is not None:
            _check_camera(s, s.camera)
    tree = rig.frame_tree()
    if len(rig) and tree.frames:  # no frames: every sensor sits at the base frame (e.g. one camera)
        tree.validate_connected(rig.base_frame)
