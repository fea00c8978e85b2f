"""The rig a conversion uses: the bag's /tf_static + CameraInfo, overridden by a rig file.

Precedence (per sensor, see ``calibration.merge_rigs``): a rig file (``--rig`` or
``rig:`` in the config) overrides what the bag carries. A selected sensor that
neither source calibrates gets an identity extrinsic and a loud warning in the
report, so a bag without /tf_static still converts (in the sensor's own frame).
"""

from __future__ import annotations

from typing import Any

from calibration import SE3, CalibrationError, Rig, Sensor, load_rig, merge_rigs, rig_from_ros, validate_rig
from calibration.sources.ros import camera_from_camera_info
from fusion.errors import ConfigError
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.report import ReportBuilder
from fusion.pipeline.scan import Scan
from fusion.pipeline.sensors import SelectedSensor, SelectedSensors


def bag_rig(scan: Scan, base_frame: str, report: ReportBuilder) -> Rig | None:
    """The rig the bag carries (``None`` when it has no usable /tf_static or CameraInfo)."""
    if not scan.static_transforms and not scan.camera_infos:
        return None
    try:
        return rig_from_ros(scan.static_transforms, scan.camera_infos, base_frame=base_frame)
    except CalibrationError as exc:
        report.warn(f"the bag's /tf_static + CameraInfo do not form a rig ({exc}); using the rig file only")
        return None


def _intrinsics(scan: Scan, frame_id: str, report: ReportBuilder) -> Any:
    """A camera model from the bag's CameraInfo for ``frame_id`` (None when absent or invalid)."""
    info = scan.camera_infos.get(frame_id)
    if info is None:
        return None
    try:
        return camera_from_camera_info(frame_id, info)
    except CalibrationError as exc:
        report.warn(f"CameraInfo of {frame_id} is unusable: {exc}")
        return None


def _by_frame(rig: Rig, frame_id: str) -> Sensor | None:
    for s in rig.sensors.values():
        if s.frame_id == frame_id:
            return s
    return None


def _align_names(bag: Rig, file: Rig) -> Rig:
    """Rename the bag's sensors to the rig file's names where their frame ids agree."""
    by_frame = {s.frame_id: n for n, s in file.sensors.items()}
    sensors = {}
    for n, s in bag.sensors.items():
        new = by_frame.get(s.frame_id, n)
        sensors[new] = s.replace(name=new)
    return Rig(sensors, bag.base_frame)


def _rename_selected(selected: SelectedSensors, rig: Rig, report: ReportBuilder) -> None:
    """Selected sensors take the rig's name for their frame (the rig file names sensors)."""
    by_frame = {s.frame_id: n for n, s in rig.sensors.items()}
    renamed: dict[str, SelectedSensor] = {}
    for name, sel in selected.sensors.items():
        new = name if name in rig else by_frame.get(sel.frame_id, name)
        sel.name = new
        renamed[new] = sel
        if sel.topic in report.topics:
            report.topics[sel.topic].sensor = new
    selected.sensors = renamed
    if selected.imu is not None and selected.imu.name not in rig and selected.imu.frame_id in by_frame:
        selected.imu.name = by_frame[selected.imu.frame_id]
        if selected.imu.topic in report.topics:
            report.topics[selected.imu.topic].sensor = selected.imu.name


def check_rig_file(cfg: ConvertConfig) -> None:
    """Load the rig file (``--rig`` / ``rig:``) once before any store is created.

    Raises:
        ConfigError: the rig file cannot be read (names the file).
    """
    path = cfg.resolve(cfg.rig) if cfg.rig is not None else None
    if path is None:
        return
    try:
        load_rig(path)
    except CalibrationError as exc:
        raise ConfigError(f"rig file {path}: {exc}") from None


def resolve_rig(scan: Scan, selected: SelectedSensors, cfg: ConvertConfig, report: ReportBuilder) -> Rig:
    """Merge bag and file calibration, then make sure every selected sensor is in the rig.

    Sensors are matched by name first, then by frame id (the bag names sensors after
    frames; a sensor mapping may name them otherwise).

    Raises:
        ConfigError: the rig file cannot be read.
    """
    base = selected.base_frame
    rig = bag_rig(scan, base, report)
    if cfg.rig is not None:
        path = cfg.resolve(cfg.rig)
        try:
            file_rig = load_rig(path) if path is not None else None
        except CalibrationError as exc:
            raise ConfigError(f"rig file {path}: {exc}") from None
        if file_rig is not None:
            if rig is not None and rig.base_frame == file_rig.base_frame:
                rig = merge_rigs(_align_names(rig, file_rig), file_rig)
            else:
                rig = file_rig
    rig = rig if rig is not None else Rig({}, base)
    _rename_selected(selected, rig, report)
    sensors: dict[str, Sensor] = {}
    wanted = list(selected.sensors.values()) + ([selected.imu] if selected.imu else [])
    for sel in wanted:
        s = rig.sensors.get(sel.name) or _by_frame(rig, sel.frame_id)
        if s is None:
            report.warn(
                f"sensor {sel.name} (frame {sel.frame_id or '?'}) has no calibration in the bag or rig file: "
                "using an identity extrinsic (pass --rig with its T_base_sensor)"
            )
            s = Sensor(
                sel.name,
                sel.kind,
                sel.frame_id or sel.name,
                SE3.identity(),
                0,
                _intrinsics(scan, sel.frame_id, report),
                sel.topic,
            )
        sensors[sel.name] = s.replace(name=sel.name, topic=sel.topic)
    for name, s in rig.sensors.items():  # keep the rest of the rig (other frames) for reference
        if name not in sensors and all(x.frame_id != s.frame_id for x in sensors.values()):
            sensors[name] = s
    out = Rig(sensors, rig.base_frame)
    try:
        validate_rig(out)
    except CalibrationError as exc:
        raise ConfigError(f"rig: {exc}") from None
    report.sensors = {
        n: {"kind": s.kind, "frame_id": s.frame_id, "topic": s.topic, "time_offset_ns": s.time_offset_ns}
        for n, s in out.sensors.items()
    }
    return out


def rig_summary(rig: Rig) -> dict[str, Any]:
    """A short dict for printing."""
    return {n: {"kind": s.kind, "frame": s.frame_id} for n, s in rig.sensors.items()}
