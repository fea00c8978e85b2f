"""nuScenes v1.0 ``calibrated_sensor.json`` + ``sensor.json`` → :class:`Rig`.

nuScenes conventions: ``translation`` (m) and ``rotation`` give the sensor pose in the ego
frame (``T_ego_sensor``; ego = base_link, x forward, y left, z up); ``rotation`` is a
**scalar-first w, x, y, z** quaternion, converted here to our x, y, z, w order;
``camera_intrinsic`` is a 3x3 K (``[]`` for non-cameras) of undistorted 1600x900 images
(distortion ``none``). ``sensor.json`` gives ``channel`` (``CAM_FRONT``, ``LIDAR_TOP``,
``RADAR_FRONT``...) and ``modality`` (camera | lidar | radar). Sensor names are the lower-case
channel, frame ids the channel. Calibration is per log: pick one log's records by token.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from calibration.camera import CameraModel
from calibration.errors import CalibrationError, RigFileError
from calibration.rig import Rig, Sensor
from calibration.se3 import SE3

NUSCENES_IMAGE_SIZE = (1600, 900)


def quat_wxyz_to_xyzw(q_wxyz: Iterable[float]) -> np.ndarray:
    """Reorder a scalar-first (w, x, y, z) quaternion to x, y, z, w."""
    w, x, y, z = (float(v) for v in q_wxyz)
    return np.array([x, y, z, w])


def _read_table(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise RigFileError(f"{path}: cannot read nuScenes table ({e.strerror})") from e
    except json.JSONDecodeError as e:
        raise RigFileError(f"{path}: not valid JSON ({e})") from e
    except UnicodeDecodeError as e:
        raise RigFileError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason})") from None
    except ValueError as e:  # an integer literal beyond the int-conversion digit limit
        raise RigFileError(f"{path}: unreadable number in the JSON ({str(e).split(':')[0]})") from None
    except RecursionError:
        raise RigFileError(f"{path}: the JSON is nested too deeply to read") from None
    if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
        raise RigFileError(f"{path}: a nuScenes table must be a JSON list of records")
    return data


def _sensor(rec: Mapping[str, Any], sensor_rec: Mapping[str, Any], where: str, image_size: tuple[int, int]) -> Sensor:
    for k in ("translation", "rotation"):
        if k not in rec:
            raise RigFileError(f"{where}: missing key {k!r}")
    channel, modality = str(sensor_rec["channel"]), str(sensor_rec["modality"])
    if modality not in ("camera", "lidar", "radar"):
        raise RigFileError(f"{where}: sensor.json modality {modality!r} is not camera, lidar or radar")
    try:
        T = SE3.from_quat_xyzw(quat_wxyz_to_xyzw(rec["rotation"]), np.asarray(rec["translation"], dtype=np.float64))
        cam = None
        intr = rec.get("camera_intrinsic") or []
        if modality == "camera":
            if len(intr) == 0:
                raise RigFileError("key 'camera_intrinsic' is empty for a camera")
            cam = CameraModel(image_size[0], image_size[1], np.asarray(intr, dtype=np.float64), "none", np.zeros(0))
        return Sensor(channel.lower(), modality, channel, T, 0, cam, None)
    except CalibrationError as e:
        raise type(e)(f"{where} (channel {channel}): {e}") from e
    except (TypeError, ValueError) as e:
        raise RigFileError(f"{where} (channel {channel}): malformed value ({e})") from e


def rig_from_nuscenes(
    calibrated_sensor_path: str | Path,
    sensor_path: str | Path,
    calibrated_sensor_tokens: Iterable[str] | None = None,
    base_frame: str = "base_link",
    image_size: tuple[int, int] = NUSCENES_IMAGE_SIZE,
) -> Rig:
    """Read one log's sensor calibration from nuScenes tables.

    Args:
        calibrated_sensor_path: ``calibrated_sensor.json``.
        sensor_path: ``sensor.json``.
        calibrated_sensor_tokens: the records to use (e.g. the ``calibrated_sensor_token`` of
            one sample's ``sample_data``); None uses every record, which must then hold one
            record per channel.
        base_frame: the rig base frame (nuScenes "ego").
        image_size: camera (width, height), pixels (nuScenes: 1600x900).

    Raises:
        RigFileError: unreadable tables, unknown tokens, or several records per channel.
    """
    cs_path, s_path = Path(calibrated_sensor_path), Path(sensor_path)
    cs_rows, s_rows = _read_table(cs_path), _read_table(s_path)
    sensors_by_token = {str(r.get("token")): r for r in s_rows}
    for r in s_rows:
        for k in ("token", "channel", "modality"):
            if k not in r:
                raise RigFileError(f"{s_path}: record {r.get('token', '?')!r} missing key {k!r}")
    by_token = {str(r.get("token")): r for r in cs_rows}
    if calibrated_sensor_tokens is None:
        chosen = cs_rows
    else:
        wanted = list(calibrated_sensor_tokens)
        missing = [t for t in wanted if t not in by_token]
        if missing:
            raise RigFileError(f"{cs_path}: calibrated_sensor token(s) {missing} not found")
        chosen = [by_token[t] for t in wanted]
    sensors: dict[str, Sensor] = {}
    for rec in chosen:
        where = f"{cs_path}: record {rec.get('token', '?')!r}"
        st = str(rec.get("sensor_token"))
        if st not in sensors_by_token:
            raise RigFileError(f"{where}: key 'sensor_token' {st!r} not found in {s_path}")
        s = _sensor(rec, sensors_by_token[st], where, image_size)
        if s.name in sensors:
            raise RigFileError(
                f"{cs_path}: channel {s.frame_id} has several calibrated_sensor records; pass "
                "calibrated_sensor_tokens of one log (from sample_data.calibrated_sensor_token)"
            )
        sensors[s.name] = s
    if not sensors:
        raise RigFileError(f"{cs_path}: no calibrated_sensor records selected")
    return Rig(sensors, base_frame)
