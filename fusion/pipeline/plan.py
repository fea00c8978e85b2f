"""Pass 1: read every selected message's clocks and the continuous streams, then plan frames.

Pass 1 touches the payload of only the small continuous streams (odometry/tf,
IMU, CameraInfo, tf_static) and of LiDAR clouds (for their per-point time extent,
i.e. the sweep bounds that define frame reference times). Camera and radar
messages are read for their header stamps only. The synchronizer then plans
every frame exactly as a batch algorithm would, and pass 2 executes the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from calibration import Rig
from fusion import kinds
from fusion.errors import ConfigError, SyncError
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.report import REASON_ZERO_STAMP, ReportBuilder
from fusion.pipeline.scan import Scan
from fusion.pipeline.sensors import SelectedSensors
from fusion.pipeline.streams import EgoTable, ImuTable, MessageTable, finite_difference_twist
from fusion.readers.sensors import effective_stamps
from fusion.sync import (
    FramePlan,
    FrameReference,
    FrameSpec,
    StreamTimes,
    beam_crossing_fraction,
    estimate_clock_offset,
    plan_frames,
    relative_offset_ns,
)
from fusion.sync.stamps import filter_stamps


@dataclass
class ConversionPlan:
    """Everything pass 2 needs."""

    tables: dict[str, MessageTable]
    ego: EgoTable
    imu: ImuTable | None
    frames: FramePlan
    reference: FrameReference
    usable_index: dict[str, np.ndarray] = field(default_factory=dict)  # plan row -> topic index
    clock_fits: dict[str, Any] = field(default_factory=dict)


def check_reference(cfg: ConvertConfig, selected: SelectedSensors) -> None:
    """Check ``frames.reference`` against the selected sensors (run before any store is created).

    Raises:
        ConfigError, SyncError: as :func:`make_plan` would, naming the key.
    """
    _reference(cfg, selected)


def _reference(cfg: ConvertConfig, selected: SelectedSensors) -> FrameReference:
    ref = cfg.frames.reference
    if ref is None:  # the first sensor of the kind that defines frames first (LiDAR, then camera)
        ranked = sorted((p, s.kind, n) for n, s in selected.sensors.items()
                        if (p := kinds.get(s.kind).reference_priority) is not None)
        if ranked:
            _, kind, name = ranked[0]
            return FrameReference.parse(f"{kind}:{name}", "frames.reference")
        raise SyncError("no LiDAR or camera to define frames; set frames.reference to 'rate:<hz>' in the config")
    if ref.sensor is not None and ref.sensor not in selected.sensors:
        raise ConfigError(
            f"frames.reference names sensor '{ref.sensor}', which is not among the selected sensors "
            f"({', '.join(sorted(selected.sensors)) or 'none'})"
        )
    if ref.sensor is not None and selected.sensors[ref.sensor].kind != ref.kind:
        raise ConfigError(
            f"frames.reference: '{ref}' names a {selected.sensors[ref.sensor].kind} sensor "
            f"(write '{selected.sensors[ref.sensor].kind}:{ref.sensor}')"
        )
    return ref


def _sort_unique(
    stamps: np.ndarray, indices: np.ndarray, topic: str, record: np.ndarray, report: ReportBuilder, count_topic: bool
) -> np.ndarray:
    """Positions of samples to keep, time-sorted: zero and repeated stamps (the stamp filter,
    :mod:`fusion.sync.stamps`) are reported, in time order, and dropped."""
    verdict = filter_stamps(stamps)
    if count_topic:
        for i in verdict.rejected_in_time_order().tolist():
            reason = verdict.reason(i)
            assert reason is not None
            detail = "header.stamp is 0" if reason == REASON_ZERO_STAMP else "same stamp as an earlier sample"
            report.skip(topic, int(indices[i]), int(record[i]), reason, detail)
    keep = verdict.kept_in_time_order()
    if count_topic and topic in report.topics:
        report.stored(topic, len(keep))
    return keep


def build_ego(scan: Scan, offset_ns: int, topic: str | None, report: ReportBuilder) -> EgoTable:
    """Sort, de-duplicate and complete the ego trajectory (twist by finite differences if absent).

    With fewer than two poses the trajectory is empty: frames are flagged, LiDAR is not
    deskewed and radar Doppler is not compensated (the report says so).
    """
    poses = scan.poses
    from_odometry = len(poses) > 0 and scan.pose_topics == {topic} and topic != "/tf"
    stamps = poses["stamp_ns"]
    keep = _sort_unique(stamps, poses["index"], topic or "", poses["record_ns"], report, count_topic=from_odometry)
    if not from_odometry and topic in report.topics:
        report.stored(topic, report.topics[topic].in_bag - sum(report.topics[topic].skipped.values()))
    if len(keep) < 2:
        report.warn(
            f"no usable ego trajectory ({len(keep)} pose(s) on {topic or 'no ego topic'}): LiDAR is not deskewed, "
            "radar Doppler is not compensated and every frame is flagged (set ego.topic in the config)"
        )
        z3 = np.zeros((0, 3))
        return EgoTable(np.zeros(0, np.int64), z3, np.zeros((0, 4)), z3, z3, "odom", "base_link", topic or "")
    times = stamps[keep] + np.int64(offset_ns)
    t = poses["translation_m"][keep]
    q = poses["rotation_xyzw"][keep]
    v = poses["linear_velocity_mps"][keep]
    w = poses["angular_velocity_radps"][keep]
    if not (np.isfinite(v).all() and np.isfinite(w).all()):
        v, w = finite_difference_twist(times, t, q)
        report.warn(f"ego topic {topic}: no twist in the messages; velocities from finite differences")
    parent, child = scan.pose_frames
    return EgoTable(times, t, q, v, w, parent=parent or "odom", child=child or "base_link", topic=topic or "")


def build_imu(scan: Scan, name: str, topic: str, offset_ns: int, report: ReportBuilder) -> ImuTable | None:
    """Sort and de-duplicate IMU samples onto the common clock (IMU frame)."""
    imu = scan.imu
    if not len(imu):
        return None
    stamps = imu["stamp_ns"]
    idx = _sort_unique(stamps, imu["index"], topic, imu["record_ns"], report, count_topic=True)
    return ImuTable(
        name=name,
        topic=topic,
        frame_id=scan.imu_frame,
        stamp_ns=stamps[idx],
        record_ns=imu["record_ns"][idx],
        times_ns=stamps[idx] + np.int64(offset_ns),
        angular_velocity_radps=imu["angular_velocity_radps"][idx],
        linear_acceleration_mps2=imu["linear_acceleration_mps2"][idx],
        orientation_xyzw=imu["orientation_xyzw"][idx],
    )


def _estimate_clocks(
    cfg: ConvertConfig, tables: dict[str, MessageTable], reference: FrameReference, report: ReportBuilder
) -> dict[str, Any]:
    fits: dict[str, Any] = {}
    if not cfg.clock.estimate:
        return fits
    ref_name = reference.sensor
    if ref_name is None or ref_name not in tables:
        raise ConfigError("clock.estimate needs a sensor reference (frames.reference lidar:/camera:/radar:)")
    ref = tables[ref_name]
    ref_fit = estimate_clock_offset(ref.stamp_ns[ref.usable], ref.record_ns[ref.usable])
    for name in cfg.clock.estimate:
        if name not in tables:
            raise ConfigError(f"clock.estimate names '{name}', not a selected LiDAR/radar/camera")
        tab = tables[name]
        fit = estimate_clock_offset(tab.stamp_ns[tab.usable], tab.record_ns[tab.usable])
        offset = relative_offset_ns(fit, ref_fit) + ref.offset_ns
        fits[name] = {
            "offset_ns": offset,
            "drift_ppm": float(fit.drift_ppm),
            "uncertainty_ns": float(np.hypot(fit.uncertainty_ns, ref_fit.uncertainty_ns)),
            "relative_to": ref_name,
            "applied": bool(cfg.clock.apply),
            "rig_offset_ns": tab.offset_ns,
        }
        if cfg.clock.apply:
            tab.offset_ns = offset
    report.clock = fits
    return fits


def _tables(scan: Scan, selected: SelectedSensors, rig: Rig, report: ReportBuilder) -> dict[str, MessageTable]:
    tables: dict[str, MessageTable] = {}
    for name, sel in selected.sensors.items():
        c = scan.clocks[sel.topic]
        st = np.asarray(c.stamp, dtype=np.int64)
        rt = np.asarray(c.record, dtype=np.int64)
        tab = MessageTable(name, sel.topic, sel.kind, st, rt, offset_ns=selected.offset_ns(rig, name))
        if sel.stamp_source == "record":
            tab.stamp_source = "record"
        elif sel.trigger_topic is not None:
            trig = scan.clocks[sel.trigger_topic]
            tab.stamp_ns = effective_stamps(
                sel.spec,
                {
                    sel.topic: (st, rt),
                    sel.trigger_topic: (np.asarray(trig.stamp, np.int64), np.asarray(trig.record, np.int64)),
                },
            )
            report.warn(
                f"{name} ({sel.topic}): stamps taken from trigger topic {sel.trigger_topic} "
                "(the trigger message nearest before in record time)"
            )
        if tab.stamp_source == "header" and len(tab.stamp_ns) and (tab.stamp_ns == 0).mean() > 0.5:
            tab.stamp_source = "record"
            report.warn(
                f"{name} ({sel.topic}): {int((tab.stamp_ns == 0).sum())}/{len(st)} header stamps are 0; "
                "aligning this stream by bag record time (off by the transport latency)"
            )
        tab.mark_unusable()
        if kinds.get(sel.kind).has_sweeps:
            m = len(st)
            start = np.full(m, -1, dtype=np.int64)
            end = np.full(m, -1, dtype=np.int64)
            points = np.zeros(m, dtype=np.int64)
            for idx, (lo, hi) in c.sweep.items():
                start[idx], end[idx] = lo + tab.offset_ns, hi + tab.offset_ns
                points[idx] = c.points.get(idx, 0)
            tab.sweep_start_ns, tab.sweep_end_ns, tab.points = start, end, points
            tab.usable &= start >= 0  # undecodable clouds cannot define or join frames
        tables[name] = tab
    return tables


def _beam_crossing(cfg: ConvertConfig, rig: Rig, reference: FrameReference) -> dict[str, float]:
    """Per camera, the fraction of the sweep at which the LiDAR beam crosses its optical axis."""
    out: dict[str, float] = {}
    lidar = reference.sensor
    for cam in cfg.frames.beam_crossing:
        if lidar is None or cam not in rig or lidar not in rig:
            raise ConfigError(f"frames.beam_crossing: {cam!r} and the reference LiDAR {lidar!r} must be in the rig")
        T_lidar_cam = rig.sensor(lidar).T_base_sensor.inverse() @ rig.sensor(cam).T_base_sensor
        out[cam] = beam_crossing_fraction(
            T_lidar_cam.matrix, np.radians(cfg.frames.lidar_azimuth_start_deg), cfg.frames.lidar_direction
        )
    return out


def make_plan(
    scan: Scan, selected: SelectedSensors, rig: Rig, cfg: ConvertConfig, report: ReportBuilder
) -> ConversionPlan:
    """Build clock tables, the ego/IMU streams and the frame plan from the pass-1 scan."""
    reference = _reference(cfg, selected)
    tables = _tables(scan, selected, rig, report)
    ego = build_ego(scan, selected.offset_ns(rig, selected.ego_name), selected.ego_topic or "/tf", report)
    imu = None
    if selected.imu is not None:
        imu = build_imu(scan, selected.imu.name, selected.imu.topic, selected.offset_ns(rig, selected.imu.name), report)
    fits = _estimate_clocks(cfg, tables, reference, report)
    spec = FrameSpec(
        reference=reference,
        reference_time=cfg.frames.reference_time,
        tolerances_ns={k: int(v * 1e6) for k, v in cfg.frames.tolerance_ms.items()},
        policy=cfg.frames.policy,
        unique=cfg.frames.unique,
        max_gap_ns=int(cfg.frames.max_gap_ms * 1e6),
        age_penalty=cfg.frames.age_penalty,
        sweep_fraction=_beam_crossing(cfg, rig, reference),
    )
    streams: dict[str, StreamTimes] = {}
    usable_index: dict[str, np.ndarray] = {}
    for name, tab in tables.items():
        rows = np.flatnonzero(tab.usable)
        usable_index[name] = rows
        common = tab.common_ns[rows]
        if tab.sweep_start_ns is not None and tab.sweep_end_ns is not None:
            streams[name] = StreamTimes(
                common_ns=common,
                kind=tab.kind,
                record_ns=tab.record_ns[rows],
                sweep_start_ns=tab.sweep_start_ns[rows],
                sweep_end_ns=tab.sweep_end_ns[rows],
            )
        else:
            streams[name] = StreamTimes(common_ns=common, kind=tab.kind, record_ns=tab.record_ns[rows])
    frames = plan_frames(spec, streams, ego.times_ns, imu.times_ns if imu is not None else None)
    return ConversionPlan(tables, ego, imu, frames, reference, usable_index, fits)
