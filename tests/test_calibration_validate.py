"""Every validation error: raised with the precise class, naming the file, the sensor and the field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import calibration as cal

SYNTHETIC_YAML = Path(__file__).resolve().parents[1] / "configs" / "rigs" / "synthetic.yaml"


@pytest.fixture(scope="module")
def rig_dict() -> dict[str, Any]:
    return yaml.safe_load(SYNTHETIC_YAML.read_text())


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    keys = path.split(".")

    def apply(d: dict[str, Any]) -> None:
        node = d
        for k in keys[:-1]:
            node = node[k]
        if value is _DELETE:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value

    return apply


_DELETE = object()
S = "sensors"

CASES = [
    # (edit, error class, fragments that must all appear in the message)
    (
        _set(f"{S}.camera_front.T_base_sensor.matrix", [[1.0, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
        cal.TransformError,
        ["sensor 'camera_front'", "T_base_sensor", "matrix", "not orthonormal"],
    ),
    (
        _set(f"{S}.radar_front.T_base_sensor.quat_xyzw", [0.0, 0.0, 0.0, 1.5]),
        cal.TransformError,
        ["sensor 'radar_front'", "T_base_sensor", "quat_xyzw", "not unit"],
    ),
    (
        _set(f"{S}.lidar_top.T_base_sensor.translation_m", [1000.0, 0.0, 1800.0]),
        cal.UnitsError,
        ["sensor 'lidar_top'", "T_base_sensor.translation_m", "millimetres"],
    ),
    (
        _set(f"{S}.lidar_top.T_base_sensor.rpy_rad", [0.0, 0.0, 30.0]),
        cal.UnitsError,
        ["sensor 'lidar_top'", "T_base_sensor", "rpy_rad", "looks like degrees"],
    ),
    (
        _set(f"{S}.camera_front.camera.D", [-0.05, 0.01, 0.0005, -0.0005]),
        cal.IntrinsicsError,
        ["sensor 'camera_front'", "field camera", "D:", "needs 5"],
    ),
    (
        _set(f"{S}.camera_left.camera.fx", 0.0),
        cal.IntrinsicsError,
        ["sensor 'camera_left'", "field camera", "K:", "focal lengths must be > 0"],
    ),
    (
        _set(f"{S}.camera_left.camera.cx", 3200.0),
        cal.IntrinsicsError,
        ["sensor 'camera_left'", "field camera", "K:", "principal point (3200.0, 240.0)"],
    ),
    (
        _set(f"{S}.camera_left.camera.distortion_model", "fisheye624"),
        cal.IntrinsicsError,
        ["sensor 'camera_left'", "field camera", "distortion_model 'fisheye624'"],
    ),
    (
        _set(f"{S}.imu.frame_id", "base_link"),
        cal.FrameTreeError,
        ["sensor 'imu'", "frame_id", "base frame 'base_link'", "cycle"],
    ),
    (
        _set(f"{S}.radar_front.frame_id", "lidar_top"),
        cal.FrameTreeError,
        ["'lidar_top' and 'radar_front'", "frame_id"],
    ),
    (
        _set(f"{S}.imu.kind", "accelerometer"),
        cal.CalibrationError,
        ["sensor 'imu'", "field 'kind'", "'accelerometer'"],
    ),
    (
        _set(f"{S}.imu.time_offset_ns", 0.5),
        cal.RigFileError,
        ["sensor 'imu'", "time_offset_ns", "integer"],
    ),
    (
        _set(f"{S}.imu.T_base_sensor.translation", [0.2, 0.0, 0.5]),
        cal.RigFileError,
        ["sensor 'imu'", "T_base_sensor", "unknown key(s) ['translation']"],
    ),
    (
        _set(f"{S}.imu.T_base_sensor.translation_m", _DELETE),
        cal.RigFileError,
        ["sensor 'imu'", "T_base_sensor", "missing key 'translation_m'"],
    ),
    (
        _set(f"{S}.camera_front.camera.focal", 500.0),
        cal.RigFileError,
        ["sensor 'camera_front'", "field camera", "unknown key(s) ['focal']"],
    ),
    (
        _set(f"{S}.camera_front.T_base_sensor.quat_xyzw", [0.0, 0.0, 0.0, 1.0]),
        cal.RigFileError,
        ["sensor 'camera_front'", "T_base_sensor", "exactly one rotation key", "'quat_xyzw', 'matrix'"],
    ),
    (
        _set(f"{S}.radar_front.frame", "radar"),
        cal.RigFileError,
        ["sensor 'radar_front'", "unknown key(s) ['frame']"],
    ),
]


@pytest.mark.parametrize(("edit", "error", "fragments"), CASES)
def test_rig_file_errors_name_file_sensor_and_field(
    tmp_path: Path, rig_dict: dict[str, Any], edit: Callable, error: type[Exception], fragments: list[str]
) -> None:
    data = copy.deepcopy(rig_dict)
    edit(data)
    path = tmp_path / "bad_rig.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(error) as info:
        cal.load_rig(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(cal.RigFileError, match=r"nope.yaml: cannot read rig file"):
        cal.load_rig(missing)
    bad = tmp_path / "bad.yaml"
    bad.write_text("sensors: [unclosed\n")
    with pytest.raises(cal.RigFileError, match=r"bad.yaml: not valid YAML"):
        cal.load_rig(bad)
    bad.write_text("base_frame: base_link\nsensor: {}\n")
    with pytest.raises(cal.RigFileError, match=r"bad.yaml: unknown top-level key\(s\) \['sensor'\]"):
        cal.load_rig(bad)


def test_sensor_not_found_lists_known_names() -> None:
    rig = cal.load_rig(SYNTHETIC_YAML)
    with pytest.raises(cal.SensorNotFoundError, match=r"'camera_rear'.*\['camera_front', 'camera_left', 'imu'"):
        rig.sensor("camera_rear")
    with pytest.raises(cal.SensorNotFoundError, match="'lidar_front' is not in the rig"):
        cal.validate_rig(rig, required_sensors=["lidar_top", "lidar_front"])
    cal.validate_rig(rig, required_sensors=["lidar_top", "camera_front"])


def test_validate_rig_on_rigs_built_in_code() -> None:
    cam = cal.CameraModel(640, 480, np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]]))
    ok = cal.Sensor("camera_front", "camera", "camera_front_optical", cal.SE3.identity(), camera=cam)
    cal.validate_rig(cal.Rig({"camera_front": ok}))
    mm = cal.Sensor("lidar_top", "lidar", "lidar_top", cal.SE3(np.eye(3), np.array([1000.0, 0.0, 1800.0])))
    with pytest.raises(cal.UnitsError, match=r"sensor 'lidar_top' field T_base_sensor.translation_m.*millimetres"):
        cal.validate_rig(cal.Rig({"camera_front": ok, "lidar_top": mm}))
    with pytest.raises(cal.CalibrationError, match=r"rig key 'lidar' holds sensor named 'lidar_top'"):
        cal.Rig({"lidar": mm})
    with pytest.raises(cal.CalibrationError, match=r"sensor 'lidar_top': field 'camera'.*kind is 'lidar'"):
        cal.Sensor("lidar_top", "lidar", "lidar_top", camera=cam)
