"""Kalibr ``camchain.yaml`` / ``camchain-imucam.yaml`` → :class:`Rig`.

Kalibr conventions (ethz-asl/kalibr wiki "yaml formats"):

- ``intrinsics: [fu, fv, pu, pv]`` (pinhole) or ``[xi, fu, fv, pu, pv]`` (omni);
- ``distortion_model: radtan`` (k1 k2 r1 r2 → our ``plumb_bob`` k1 k2 p1 p2 0) or
  ``equidistant`` (k1..k4, OpenCV fisheye semantics);
- ``resolution: [width, height]``; ``rostopic``;
- ``T_cn_cnm1``: maps points in camera n−1 into camera n; ``T_cam_imu``: IMU → camera;
- ``timeshift_cam_imu`` (s): ``t_imu = t_cam + timeshift_cam_imu``.

Mapping: with an IMU (``camchain-imucam``) the IMU body is the rig base (``T_base_imu = I``)
and the IMU clock is the common clock, so each camera gets
``time_offset_ns = round(timeshift_cam_imu · 1e9)`` (then
``common = stamp_cam + offset = t_imu``) and the IMU 0. Without an IMU (``camchain``) cam0 is
at the base origin (``T_base_cam0 = I``), chained through ``T_cn_cnm1``. Place the result on
the vehicle with :func:`calibration.merge.rebase_rig`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from calibration.camera import CameraModel
from calibration.errors import CalibrationError, IntrinsicsError, RigFileError
from calibration.rig import Rig, Sensor
from calibration.se3 import SE3
from calibration.sources.yaml_errors import yaml_error_line


def _mat(cam: Mapping[str, Any], key: str, where: str) -> SE3:
    try:
        return SE3.from_matrix(np.asarray(cam[key], dtype=np.float64))
    except CalibrationError as e:
        raise type(e)(f"{where} key {key!r}: {e}") from e
    except (TypeError, ValueError) as e:
        raise RigFileError(f"{where} key {key!r}: expected a 4x4 matrix ({e})") from e


def _camera(cam: Mapping[str, Any], where: str) -> CameraModel:
    for k in ("intrinsics", "distortion_coeffs", "distortion_model", "resolution"):
        if k not in cam:
            raise RigFileError(f"{where}: missing key {k!r}")
    model = str(cam.get("camera_model", "pinhole"))
    intr = [float(v) for v in cam["intrinsics"]]
    if model == "omni":
        if len(intr) != 5 or intr[0] != 0.0:
            raise IntrinsicsError(
                f"{where} key 'camera_model': omni (unified) with xi={intr[0] if intr else '?'} "
                "is not supported; "
                "only xi = 0 (pinhole) converts — recalibrate with camera_model pinhole"
            )
        intr = intr[1:]
    elif model != "pinhole":
        raise IntrinsicsError(f"{where} key 'camera_model': {model!r} not supported; use pinhole (or omni with xi=0)")
    if len(intr) != 4:
        raise RigFileError(f"{where} key 'intrinsics': expected [fu, fv, pu, pv], got {cam['intrinsics']!r}")
    dist = str(cam["distortion_model"])
    coeffs = [float(v) for v in cam["distortion_coeffs"]]
    if dist == "radtan":
        if len(coeffs) != 4:
            raise IntrinsicsError(f"{where} key 'distortion_coeffs': radtan needs 4 (k1 k2 r1 r2), got {len(coeffs)}")
        model_name, D = "plumb_bob", [*coeffs, 0.0]
    elif dist == "equidistant":
        model_name, D = "equidistant", coeffs
    elif dist == "none":
        model_name, D = "none", []
    else:
        raise IntrinsicsError(f"{where} key 'distortion_model': {dist!r} not supported; use radtan or equidistant")
    fu, fv, pu, pv = intr
    w, h = (int(v) for v in cam["resolution"])
    K = np.array([[fu, 0.0, pu], [0.0, fv, pv], [0.0, 0.0, 1.0]])
    try:
        return CameraModel(w, h, K, model_name, np.asarray(D, dtype=np.float64))
    except CalibrationError as e:
        raise type(e)(f"{where}: {e}") from e


def rig_from_kalibr(
    path: str | Path, base_frame: str = "base_link", imu_name: str = "imu", imu_topic: str | None = None
) -> Rig:
    """Read a Kalibr camchain(-imucam) YAML file.

    Args:
        path: ``camchain.yaml`` or ``camchain-imucam.yaml``.
        base_frame: the rig base frame (the IMU body with an IMU, else cam0).
        imu_name: sensor name and frame id of the IMU (camchain-imucam only).
        imu_topic: optional IMU topic.

    Returns:
        A rig with sensors ``cam0..camN`` (frame ids ``cam0..camN``, topics from ``rostopic``)
        plus the IMU when any camera has ``T_cam_imu``.

    Raises:
        RigFileError: unreadable file or missing keys (names file, camera and key).
        IntrinsicsError: unsupported camera/distortion model.
    """
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise RigFileError(f"{p}: cannot read Kalibr file ({e.strerror})") from e
    except (yaml.YAMLError, ValueError, RecursionError) as e:  # ValueError: an int literal of > 4300 digits
        raise RigFileError(f"{p}: not valid YAML: {yaml_error_line(e)}") from e
    if not isinstance(data, Mapping):
        raise RigFileError(f"{p}: expected a mapping of cam0, cam1, ...")
    names = sorted((k for k in data if str(k).startswith("cam") and str(k)[3:].isdigit()), key=lambda k: int(k[3:]))
    if not names or names[0] != "cam0" or [int(n[3:]) for n in names] != list(range(len(names))):
        raise RigFileError(f"{p}: expected keys cam0, cam1, ... consecutively, got {sorted(map(str, data))}")
    with_imu = all("T_cam_imu" in data[n] for n in names)
    if not with_imu and any("T_cam_imu" in data[n] for n in names):
        raise RigFileError(f"{p}: only some cameras have key 'T_cam_imu'; give it for all or none")
    sensors: dict[str, Sensor] = {}
    T_base_prev = SE3.identity()
    for i, n in enumerate(names):
        where = f"{p}: {n}"
        cam = data[n]
        if with_imu:
            T_base_cam = _mat(cam, "T_cam_imu", where).inverse()
        elif i == 0:
            T_base_cam = SE3.identity()
        else:
            if "T_cn_cnm1" not in cam:
                raise RigFileError(f"{where}: missing key 'T_cn_cnm1' (transform from cam{i - 1})")
            T_base_cam = T_base_prev @ _mat(cam, "T_cn_cnm1", where).inverse()
        T_base_prev = T_base_cam
        shift_s = float(cam.get("timeshift_cam_imu", 0.0))
        offset_ns = round(shift_s * 1e9) if with_imu else 0
        topic = cam.get("rostopic")
        sensors[n] = Sensor(
            n, "camera", n, T_base_cam, offset_ns, _camera(cam, where), None if topic is None else str(topic)
        )
    if with_imu:
        sensors[imu_name] = Sensor(imu_name, "imu", imu_name, SE3.identity(), 0, None, imu_topic)
    return Rig(sensors, base_frame)
