"""The rig YAML schema: dict ⇄ :class:`Rig`, ``load_rig`` / ``save_rig`` (see docs/CALIBRATION.md).

Rotations are accepted as ``quat_xyzw``, ``rpy_rad``, ``rpy_deg`` or ``matrix``; they are
always written as ``quat_xyzw``. Files are read with ``yaml.safe_load``. Every error names
the file, the sensor and the key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import yaml

from calibration.camera import CameraModel
from calibration.errors import CalibrationError, RigFileError, UnitsError
from calibration.rig import Rig, Sensor
from calibration.rotation import rpy_to_matrix
from calibration.se3 import SE3
from calibration.sources.yaml_errors import yaml_error_line

SCHEMA_VERSION = 1
_ROT_KEYS = ("quat_xyzw", "rpy_rad", "rpy_deg", "matrix")
_SENSOR_KEYS = {"kind", "frame_id", "topic", "time_offset_ns", "T_base_sensor", "camera", "intrinsics"}
#: ``intrinsics: missing`` marks a camera known by its extrinsic only (no CameraInfo).
INTRINSICS_MISSING = "missing"
_CAMERA_KEYS = {
    "width",
    "height",
    "fx",
    "fy",
    "cx",
    "cy",
    "K",
    "distortion_model",
    "D",
    "rolling_shutter_line_ns",
}
_T = TypeVar("_T")


def _ctx(where: str, fn: Callable[[], _T]) -> _T:
    """Run ``fn``; re-raise calibration errors (same class) prefixed with ``where``."""
    try:
        return fn()
    except CalibrationError as e:
        raise type(e)(f"{where}: {e}") from e
    except (TypeError, ValueError, KeyError, IndexError, OverflowError) as e:
        raise RigFileError(f"{where}: malformed value ({e})") from e


def _floats(value: Any, n: int, where: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise RigFileError(f"{where}: expected {n} finite numbers, got {_short(value)}") from None
    if arr.size != n or not np.all(np.isfinite(arr)):
        raise RigFileError(f"{where}: expected {n} finite numbers, got {_short(value)}")
    return arr.reshape(-1) if n != 9 else arr.reshape(3, 3)


def _short(value: Any) -> str:
    """``repr`` of a (possibly huge or deeply nested) value, cut to one short line."""
    try:
        text = repr(value)
    except RecursionError:
        return "a deeply nested value"
    return text if len(text) <= 80 else text[:77] + "..."


def _number(d: Mapping[str, Any], key: str, where: str) -> float:
    """``d[key]`` as a finite float (pixels); booleans and strings are refused."""
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(float(v)):
        raise RigFileError(f"{where}.{key}: expected a finite number (pixels), got {_short(v)}")
    return float(v)


def _pixels(d: Mapping[str, Any], key: str, where: str) -> int:
    """``d[key]`` as an image size: an integer in [1, 2**20]."""
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 1 << 20:
        raise RigFileError(f"{where}.{key}: expected an integer image size in [1, 1048576] pixels, got {_short(v)}")
    return v


#: Largest |time_offset_ns|: the offset is added to int64 stamps (~1.7e18 ns today) without overflow.
MAX_OFFSET_NS = 1 << 62


def transform_from_dict(d: Mapping[str, Any], where: str) -> SE3:
    """Parse ``{translation_m: [3], quat_xyzw | rpy_rad | rpy_deg | matrix: ...}`` into an SE3.

    Raises:
        RigFileError: missing/unknown keys or bad shapes.
        UnitsError: ``rpy_rad`` with any |value| > 2π (looks like degrees).
        TransformError: quaternion not unit / matrix not orthonormal.
    """
    if not isinstance(d, Mapping):
        raise RigFileError(f"{where}: expected a mapping with translation_m and a rotation, got {d!r}")
    unknown = set(d) - {"translation_m", *_ROT_KEYS}
    if unknown:
        raise RigFileError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: translation_m, {', '.join(_ROT_KEYS)}")
    if "translation_m" not in d:
        raise RigFileError(f"{where}: missing key 'translation_m' (metres, [x, y, z])")
    t = _floats(d["translation_m"], 3, f"{where}.translation_m")
    given = [k for k in _ROT_KEYS if k in d]
    if len(given) != 1:
        raise RigFileError(f"{where}: give exactly one rotation key of {list(_ROT_KEYS)}, got {given}")
    key = given[0]
    if key == "quat_xyzw":
        return _ctx(f"{where}.quat_xyzw", lambda: SE3.from_quat_xyzw(_floats(d[key], 4, f"{where}.{key}"), t))
    if key == "matrix":
        return _ctx(f"{where}.matrix", lambda: SE3(_floats(d[key], 9, f"{where}.{key}"), t))
    rpy = _floats(d[key], 3, f"{where}.{key}")
    if key == "rpy_rad" and np.any(np.abs(rpy) > 2.0 * np.pi):
        raise UnitsError(
            f"{where}.rpy_rad: {rpy.tolist()} has |value| > 2π; looks like degrees — use rpy_deg or convert to radians"
        )
    if key == "rpy_deg":
        rpy = np.deg2rad(rpy)
    return SE3(rpy_to_matrix(rpy), t)


def transform_to_dict(T: SE3) -> dict[str, Any]:
    """``{translation_m: [x, y, z], quat_xyzw: [x, y, z, w]}`` with plain Python floats."""
    return {"translation_m": T.translation.tolist(), "quat_xyzw": T.quat_xyzw.tolist()}


def camera_from_dict(d: Mapping[str, Any], where: str) -> CameraModel:
    """Parse a ``camera:`` block (fx/fy/cx/cy or K, width, height, distortion_model, D)."""
    if not isinstance(d, Mapping):
        raise RigFileError(f"{where}: expected a mapping, got {d!r}")
    unknown = set(d) - _CAMERA_KEYS
    if unknown:
        raise RigFileError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_CAMERA_KEYS)}")
    for k in ("width", "height"):
        if k not in d:
            raise RigFileError(f"{where}: missing key {k!r} (image size in pixels)")
    if "K" in d:
        K = _floats(d["K"], 9, f"{where}.K")
    else:
        missing = [k for k in ("fx", "fy", "cx", "cy") if k not in d]
        if missing:
            raise RigFileError(f"{where}: missing key(s) {missing}; give fx, fy, cx, cy (pixels) or K")
        fx, fy, cx, cy = (_number(d, k, where) for k in ("fx", "fy", "cx", "cy"))
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], dtype=np.float64)
    width, height = _pixels(d, "width", where), _pixels(d, "height", where)
    line = d.get("rolling_shutter_line_ns")
    return _ctx(
        where,
        lambda: CameraModel(
            width,
            height,
            K,
            str(d.get("distortion_model", "none")),
            np.asarray(d.get("D", []) or [], dtype=np.float64),
            None if line is None else float(line),
        ),
    )


def camera_to_dict(cam: CameraModel) -> dict[str, Any]:
    """The ``camera:`` block (written with fx, fy, cx, cy)."""
    out: dict[str, Any] = {
        "width": cam.width,
        "height": cam.height,
        "fx": float(cam.K[0, 0]),
        "fy": float(cam.K[1, 1]),
        "cx": float(cam.K[0, 2]),
        "cy": float(cam.K[1, 2]),
        "distortion_model": cam.distortion_model,
        "D": cam.D.tolist(),
    }
    if cam.rolling_shutter_line_ns is not None:
        out["rolling_shutter_line_ns"] = float(cam.rolling_shutter_line_ns)
    return out


def sensor_from_dict(name: str, d: Mapping[str, Any], source: str) -> Sensor:
    """Parse one entry of ``sensors:``."""
    where = f"{source}: sensor {name!r}"
    if not isinstance(d, Mapping):
        raise RigFileError(f"{where}: expected a mapping of sensor fields, got {d!r}")
    unknown = set(d) - _SENSOR_KEYS
    if unknown:
        raise RigFileError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_SENSOR_KEYS)}")
    for k in ("kind", "frame_id", "T_base_sensor"):
        if k not in d:
            raise RigFileError(f"{where}: missing key {k!r}")
    T = transform_from_dict(d["T_base_sensor"], f"{where} field T_base_sensor")
    cam = None if d.get("camera") is None else camera_from_dict(d["camera"], f"{where} field camera")
    if "intrinsics" in d and (d["intrinsics"] != INTRINSICS_MISSING or cam is not None or d["kind"] != "camera"):
        raise RigFileError(
            f"{where} field intrinsics: only 'intrinsics: {INTRINSICS_MISSING}' on a camera without a camera "
            f"block is allowed, got {d['intrinsics']!r}"
        )
    offset = d.get("time_offset_ns", 0)
    if isinstance(offset, (float, bool)) or not isinstance(offset, int) or abs(offset) > MAX_OFFSET_NS:
        raise RigFileError(f"{where} field time_offset_ns: must be an integer (ns) within ±2**62, got {_short(offset)}")
    topic = d.get("topic")
    return _ctx(
        source,  # Sensor's own messages already name the sensor and the field
        lambda: Sensor(name, str(d["kind"]), str(d["frame_id"]), T, offset, cam, None if topic is None else str(topic)),
    )


def rig_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Rig:
    """Build and validate a :class:`Rig` from the schema; errors name ``source``, sensor and key."""
    from calibration.validate import validate_rig

    if not isinstance(data, Mapping):
        raise RigFileError(f"{source}: top level must be a mapping with base_frame and sensors")
    unknown = set(data) - {"version", "base_frame", "sensors"}
    if unknown:
        raise RigFileError(
            f"{source}: unknown top-level key(s) {sorted(unknown)}; allowed: version, base_frame, sensors"
        )
    version = data.get("version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise RigFileError(f"{source}: key 'version' is {version!r}; this reader understands {SCHEMA_VERSION}")
    sensors = data.get("sensors")
    if not isinstance(sensors, Mapping) or not sensors:
        raise RigFileError(f"{source}: key 'sensors' must be a non-empty mapping of name -> sensor")
    parsed = {str(n): sensor_from_dict(str(n), s, source) for n, s in sensors.items()}
    rig = _ctx(source, lambda: Rig(parsed, str(data.get("base_frame", "base_link"))))
    _ctx(source, lambda: validate_rig(rig))
    return rig


def rig_to_dict(rig: Rig) -> dict[str, Any]:
    """The schema dict of a rig (plain Python types, ready for ``yaml.safe_dump``)."""
    sensors: dict[str, Any] = {}
    for s in rig.sensors.values():
        entry: dict[str, Any] = {"kind": s.kind, "frame_id": s.frame_id}
        if s.topic is not None:
            entry["topic"] = s.topic
        entry["time_offset_ns"] = int(s.time_offset_ns)
        entry["T_base_sensor"] = transform_to_dict(s.T_base_sensor)
        if s.camera is not None:
            entry["camera"] = camera_to_dict(s.camera)
        elif s.kind == "camera":
            entry["intrinsics"] = INTRINSICS_MISSING
        sensors[s.name] = entry
    return {"version": SCHEMA_VERSION, "base_frame": rig.base_frame, "sensors": sensors}


def load_rig(path: str | Path) -> Rig:
    """Read a rig YAML file (``yaml.safe_load``) and validate it.

    Raises:
        RigFileError: unreadable file, bad YAML or bad keys (names the file and key).
        CalibrationError subclasses: invalid values (names file, sensor and field).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise RigFileError(f"{p}: cannot read rig file ({e.strerror}); check the path") from e
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, RecursionError) as e:  # ValueError: an int literal of > 4300 digits
        raise RigFileError(f"{p}: not valid YAML: {yaml_error_line(e)}") from e
    return rig_from_dict(data, str(p))


def save_rig(rig: Rig, path: str | Path) -> None:
    """Write ``rig`` as YAML (``quat_xyzw`` rotations); ``load_rig`` gives back an equal rig."""
    text = yaml.safe_dump(rig_to_dict(rig), sort_keys=False, default_flow_style=None, width=120)
    Path(path).write_text(text, encoding="utf-8")
