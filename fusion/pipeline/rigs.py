"""The rig a conversion uses: the bag's /tf_static + CameraInfo, overridden by a rig file.

Precedence (per sensor, see ``calibration.merge_rigs``): a rig file (``--rig`` or
``rig:`` in the config) overrides what the bag carries. A selected sensor that
neither source calibrates gets an identity extrinsic and a loud warning in the
report, so a bag without /tf_static still converts (in the sensor's own frame).
"""

from __future__ import annotations

from typing import Any

from calibration import SE3, CalibrationError, Rig, Sensor, load_rig, merge_rigs, validate_rig
from calibration.rig import sensor_kinds
from calibration.sources.ros import camera_from_camera_info, infer_kind
from calibration.sources.ros_tree import extract_rig
from fusion.errors import ConfigError
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.report import ReportBuilder
from fusion.pipeline.scan import Scan
from fusion.pipeline.sensors import SelectedSensor, SelectedSensors


def _sensor_kinds(scan: Scan, selected: SelectedSensors) -> dict[str, str]:
    """Frames of selected sensors the frame names alone would not make sensors (e.g. a camera's
    image frame without CameraInfo), so their extrinsic is kept; the first sensor of a frame wins."""
    out: dict[str, str] = {}
    wanted = list(selected.sensors.values()) + ([selected.imu] if selected.imu else [])
    for sel in wanted:
        fid = (sel.frame_id or "").lstrip("/")
        if fid and fid not in out and fid not in scan.camera_infos and infer_kind(fid) is None \
                and sel.kind in sensor_kinds():
            out[fid] = sel.kind
    return out


def bag_rig(scan: Scan, base_frame: str, report: ReportBuilder, kinds: dict[str, str] | None = None) -> Rig | None:
    """The rig the bag carries (``None`` when it has no usable /tf_static or CameraInfo).

    Without ``base_frame`` in the tf tree, the tree's root connected to the most sensor frames is the
    base frame; the choice, and sensor frames not connected to it, are reported.
    """
    static = list(scan.static_transforms)
    ego_child = scan.pose_frames[1] if len(scan.poses) else ""
    constant, _ = scan.dynamic_tf.split([str(c) for _, c, _, _ in static] + [ego_child])
    if not static and not scan.camera_infos and not constant:
        return None
    if constant:
        report.warn(
            f"{len(constant)} /tf transform(s) constant over the bag taken as static for the rig: "
            + ", ".join(f"{p}->{c}" for p, c, _, _ in constant[:8]) + (" ..." if len(constant) > 8 else "")
        )
    try:
        found = extract_rig(static + constant, scan.camera_infos, base_frame=base_frame, kinds=kinds)
    except CalibrationError as exc:
        report.warn(f"the bag's /tf_static + CameraInfo do not form a rig ({exc}); using the rig file only")
        return None
    if found.fallback:
        report.warn(f"base frame {found.rig.base_frame!r}: {found.base_reason}")
        report.extra["base_frame"] = {
            "frame": found.rig.base_frame,
            "reason": found.base_reason,
            "other_roots": list(found.other_roots),
            "unconnected_sensor_frames": sorted(found.unconnected),
        }
    if found.unconnected:
        report.warn(
            f"sensor frame(s) {', '.join(sorted(found.unconnected))} are not connected to the base frame "
            f"{found.rig.base_frame!r} in the tf tree (other roots: {', '.join(found.other_roots) or 'none'})"
        )
    return found.rig


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
    taken = set(selected.sensors)
    for name, sel in selected.sensors.items():
        new = name if name in rig else by_frame.get(sel.frame_id, name)
        if new != name and new in taken:  # another stream of that frame has (or takes) the name
            new = name
        taken.add(new)
        sel.name = new
        renamed[new] = sel
        if sel.topic in report.topics:
            report.topics[sel.topic].sensor = new
    selected.sensors = renamed
    taken = set(renamed)
    for c in ([selected.imu] if selected.imu is not None else []) + selected.continuous:
        if c.name not in rig and c.frame_id in by_frame and by_frame[c.frame_id] not in taken:
            c.name = by_frame[c.frame_id]
            taken.add(c.name)
            if c.topic in report.topics:
                report.topics[c.topic].sensor = c.name


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
    rig = bag_rig(scan, base, report, _sensor_kinds(scan, selected))
    file_rig: Rig | None = None
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
    wanted = list(selected.sensors.values()) + ([selected.imu] if selected.imu else []) + selected.continuous
    for sel in wanted:
        s = rig.sensors.get(sel.name) or _by_frame(rig, sel.frame_id)
        in_base = s is None and bool(sel.frame_id) and sel.frame_id == rig.base_frame
        report.extrinsic_sources[sel.name] = "base frame" if in_base else extrinsic_source(sel, s, file_rig)
        if s is None and not in_base:
            report.warn(
                f"sensor {sel.name} (frame {sel.frame_id or '?'}) has no calibration in the bag or rig file: "
                "using an identity extrinsic (pass --rig with its T_base_sensor)"
            )
        if s is None:  # identity: unknown (warned), or exact for a sensor in the base frame itself
            s = Sensor(
                sel.name,
                sel.kind,
                sel.frame_id or sel.name,
                SE3.identity(),
                0,
                _intrinsics(scan, sel.frame_id, report),
                sel.topic,
            )
        if s.kind != sel.kind:  # another stream of the sensor in this frame (radar tracks beside detections)
            s = s.replace(kind=sel.kind, camera=s.camera if sel.kind == "camera" else None)
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


def extrinsic_source(sel: SelectedSensor, sensor: Sensor | None, file_rig: Rig | None) -> str:
    """Where a selected sensor's extrinsic comes from: ``rig file``, ``bag tf`` or ``identity``
    (``base frame``, a sensor in the base frame itself, is decided by the caller)."""
    if sensor is None:
        return "identity"
    if file_rig is not None and (sel.name in file_rig or _by_frame(file_rig, sensor.frame_id) is not None):
        return "rig file"
    return "bag tf"


def rig_summary(rig: Rig) -> dict[str, Any]:
    """A short dict for printing."""
    return {n: {"kind": s.kind, "frame": s.frame_id} for n, s in rig.sensors.items()}
