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
from fusion.pipeline.clocks import apply_to_table, decide_offsets, stream_clocks, warn_unmatched
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.ego import build_ego_source, lidar_input
from fusion.pipeline.report import REASON_TOO_FEW_POSES, REASON_ZERO_STAMP, ReportBuilder
from fusion.pipeline.scan import Scan
from fusion.pipeline.sensors import SelectedSensors
from fusion.pipeline.stamp_source import choose_stamp_source
from fusion.pipeline.streams import EgoTable, ImuTable, MessageTable, SampleTable, finite_difference_twist
from fusion.readers.sensors import effective_stamps
from fusion.sync import (
    FramePlan,
    FrameReference,
    FrameSpec,
    StreamTimes,
    beam_crossing_fraction,
    plan_frames,
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
    samples: list[SampleTable] = field(default_factory=list)  # continuous streams besides the frame IMU


#: Largest default frame rate, Hz (a log of only continuous streams gets frames at their rate).
MAX_DEFAULT_RATE_HZ = 100.0
#: Default frame rate, Hz, of a log with no sensor and no continuous stream to take a rate from.
DEFAULT_RATE_HZ = 10.0


def default_rate_hz(scan: Scan) -> tuple[float, str]:
    """The default frame rate of a log without LiDAR, camera or radar, and where it comes from.

    The rate of the fastest continuous stream (IMU, GNSS, ego poses; the median spacing of its
    stamps), capped at :data:`MAX_DEFAULT_RATE_HZ` and rounded to 0.1 Hz; :data:`DEFAULT_RATE_HZ`
    when there is none with two distinct stamps.
    """
    best: tuple[float, str] | None = None
    sources = [("ego poses", scan.poses), ("imu", scan.imu), *scan.samples.items()]
    for what, cols in sources:
        if len(cols) < 2:
            continue
        st = np.unique(cols["stamp_ns"][cols["stamp_ns"] > 0])
        if st.size < 2:
            continue
        hz = 1e9 / float(np.median(np.diff(st)))
        if best is None or hz > best[0]:
            best = (hz, what)
    if best is None:
        return DEFAULT_RATE_HZ, f"no sensor or continuous stream to take a rate from: {DEFAULT_RATE_HZ:g} Hz"
    hz = round(min(best[0], MAX_DEFAULT_RATE_HZ), 1) or DEFAULT_RATE_HZ
    capped = " (capped)" if best[0] > MAX_DEFAULT_RATE_HZ else ""
    return hz, f"the rate of the fastest continuous stream ({best[1]}, {best[0]:.1f} Hz){capped}"


def check_reference(cfg: ConvertConfig, selected: SelectedSensors) -> None:
    """Check ``frames.reference`` against the selected sensors (run before any store is created).

    Raises:
        ConfigError, SyncError: as :func:`make_plan` would, naming the key.
    """
    if cfg.frames.reference is not None:  # the default is chosen from the scan (a rate for a log of continuous streams)
        _reference(cfg, selected)


def _reference(cfg: ConvertConfig, selected: SelectedSensors, scan: Scan | None = None,
               report: ReportBuilder | None = None) -> FrameReference:
    ref = cfg.frames.reference
    if ref is None:  # the first sensor of the kind that defines frames first (LiDAR, camera, radar)
        ranked = sorted((p, s.kind, n) for n, s in selected.sensors.items()
                        if (p := kinds.get(s.kind).reference_priority) is not None)
        if ranked:
            _, kind, name = ranked[0]
            chosen = FrameReference.parse(f"{kind}:{name}", "frames.reference")
            why = f"the first {kind} (default order: LiDAR, camera, radar, then a rate)"
        else:
            if scan is None:
                raise SyncError("no LiDAR, camera or radar to define frames; set frames.reference to 'rate:<hz>'")
            hz, why = default_rate_hz(scan)
            chosen = FrameReference("rate", rate_hz=hz)
            why = f"no LiDAR, camera or radar: {why}"
        if report is not None:
            report.reference_choice = f"{chosen} ({why})"
        return chosen
    if report is not None:
        report.reference_choice = f"{ref} (frames.reference in the config)"
    if ref.sensor is not None and ref.sensor not in selected.sensors:
        raise ConfigError(
            f"frames.reference names sensor '{ref.sensor}', which is not among the selected sensors "
            f"({', '.join(sorted(selected.sensors)) or 'none'})"
        )
    if ref.sensor is not None and kinds.get(selected.sensors[ref.sensor].kind).role is kinds.Role.STREAM:
        raise ConfigError(
            f"frames.reference: '{ref}' names a {selected.sensors[ref.sensor].kind} stream, which is stored at full "
            "rate and never matched to frames; name a LiDAR, camera or radar, or 'rate:<hz>'"
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

    With fewer than two poses the trajectory is empty (then :mod:`fusion.pipeline.ego` estimates
    one from the IMU when it can, or warns that frames are flagged, LiDAR is not deskewed and
    radar Doppler is not compensated).
    """
    poses = scan.poses
    from_odometry = len(poses) > 0 and scan.pose_topics == {topic} and topic != "/tf"
    stamps = poses["stamp_ns"]
    keep = _sort_unique(stamps, poses["index"], topic or "", poses["record_ns"], report, count_topic=from_odometry)
    if not from_odometry and topic in report.topics:
        report.stored(topic, report.topics[topic].in_bag - sum(report.topics[topic].skipped.values()))
    if len(keep) < 2:  # fusion.pipeline.ego estimates one, or warns
        if from_odometry and topic in report.topics:  # nothing is stored: the kept pose is skipped
            report.topics[topic].stored -= len(keep)
            for i in keep.tolist():
                report.skip(topic, int(poses["index"][i]), int(poses["record_ns"][i]), REASON_TOO_FEW_POSES,
                            "an ego trajectory needs at least two poses")
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


def _clock_offsets(
    cfg: ConvertConfig, scan: Scan, selected: SelectedSensors, rig: Rig, tables: dict[str, MessageTable],
    reference: FrameReference, report: ReportBuilder,
) -> dict[str, int]:
    """Clock domains of every stream; the offsets to use for IMU and ego (tables are updated)."""
    continuous: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
    rig_offsets = {name: tab.offset_ns for name, tab in tables.items()}
    if selected.imu is not None and len(scan.imu):
        rig_offsets[selected.imu.name] = selected.offset_ns(rig, selected.imu.name)
        continuous[selected.imu.name] = (scan.imu["stamp_ns"], scan.imu["record_ns"], rig_offsets[selected.imu.name])
    ego = selected.ego_name
    if len(scan.poses) and ego not in tables:
        rig_offsets[ego] = selected.offset_ns(rig, ego)
        continuous[ego] = (scan.poses["stamp_ns"], scan.poses["record_ns"], rig_offsets[ego])
    clocks = stream_clocks(tables, continuous)
    decisions = decide_offsets(cfg.clock, clocks, rig_offsets, reference.sensor, report)
    for name, tab in tables.items():
        if name in decisions:
            apply_to_table(tab, decisions[name].offset_ns)
    return {name: d.offset_ns for name, d in decisions.items()}


def _tables(scan: Scan, selected: SelectedSensors, rig: Rig, report: ReportBuilder) -> dict[str, MessageTable]:
    tables: dict[str, MessageTable] = {}
    for name, sel in selected.sensors.items():
        c = scan.clocks[sel.topic]
        st = np.asarray(c.stamp, dtype=np.int64)
        rt = np.asarray(c.record, dtype=np.int64)
        tab = MessageTable(name, sel.topic, sel.kind, st, rt, offset_ns=selected.offset_ns(rig, name))
        if c.empty_rows:
            tab.empty_rows = np.full(len(st), -1, dtype=np.int64)
            for i, n in c.empty_rows.items():
                if i < len(st):
                    tab.empty_rows[i] = n
        if c.carried:
            tab.carried = np.zeros(len(st), dtype=bool)
            tab.carried[[i for i in c.carried if i < len(st)]] = True
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
        choose_stamp_source(tab, report)
        if kinds.get(sel.kind).has_sweeps:
            _short_first_sweep(tab, c.sweep, name, report)
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
            _short_last_sweep(tab, name, report)
        tables[name] = tab
    return tables


def _short_first_sweep(tab: MessageTable, sweeps: dict[int, tuple[int, int]], name: str,
                       report: ReportBuilder) -> None:
    """A first sweep spanning less than half the median sweep (the sliver a raw-packet log starts in
    when its first packets lie just before the cut angle) is stored but neither defines nor joins a
    frame — excluded before the stamp filter (its first point can share the next sweep's first-point
    time, which would mark the full sweep a duplicate)."""
    if len(sweeps) < 3:
        return
    first = min(sweeps)
    spans = np.array([hi - lo for lo, hi in sweeps.values()], dtype=np.float64)
    median = float(np.median(spans))
    lo, hi = sweeps[first]
    if hi - lo < 0.5 * median:
        if tab.carried is None:
            tab.carried = np.zeros(len(tab.stamp_ns), dtype=bool)
        tab.carried[first] = True  # no row of its own in the frame plan, like a carried-over message
        report.warn(f"{name}: its first sweep spans {(hi - lo) / 1e6:.2f} ms (< half the median {median / 1e6:.1f} "
                    "ms): stored (ds.stream), not matched to frames")


def _short_last_sweep(tab: MessageTable, name: str, report: ReportBuilder) -> None:
    """A last sweep spanning less than half the median sweep (the sliver a raw-packet log ends in)
    is stored but neither defines nor joins a frame (``usable`` off without a skip reason)."""
    start, end = tab.sweep_start_ns, tab.sweep_end_ns
    if start is None or end is None or len(start) < 3 or not tab.usable[-1]:
        return
    ok = tab.usable[:-1] & (start[:-1] >= 0)
    if not ok.any():
        return
    median = float(np.median(end[:-1][ok] - start[:-1][ok]))
    span = float(end[-1] - start[-1])
    if span < 0.5 * median:
        tab.usable[-1] = False
        report.warn(f"{name}: its last sweep spans {span / 1e6:.2f} ms (< half the median {median / 1e6:.1f} ms): "
                    "stored (ds.stream), not matched to frames")


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


def build_samples(scan: Scan, name: str, topic: str, offset_ns: int, report: ReportBuilder) -> SampleTable | None:
    """Sort and de-duplicate a continuous stream's samples (GNSS, a further IMU) onto the common clock."""
    cols = scan.samples.get(topic)
    if cols is None or not len(cols):
        return None
    stamps = cols["stamp_ns"]
    idx = _sort_unique(stamps, cols["index"], topic, cols["record_ns"], report, count_topic=True)
    data = {k: cols[k][idx] for k in cols.columns if k not in ("stamp_ns", "index", "record_ns")}
    return SampleTable(name, topic, scan.sample_frames.get(topic, ""), stamps[idx], cols["record_ns"][idx],
                       stamps[idx] + np.int64(offset_ns), data)


def make_plan(
    scan: Scan, selected: SelectedSensors, rig: Rig, cfg: ConvertConfig, report: ReportBuilder,
    read_topic: Any = None,
) -> ConversionPlan:
    """Build clock tables, the ego/IMU streams and the frame plan from the pass-1 scan.

    ``read_topic(topic) -> iterator of decoded records``: reads a LiDAR topic again for LiDAR
    odometry (``ego.source`` with ``lidar``), or None.
    """
    reference = _reference(cfg, selected, scan, report)
    tables = _tables(scan, selected, rig, report)
    offsets = _clock_offsets(cfg, scan, selected, rig, tables, reference, report)
    ego_offset = offsets.get(selected.ego_name, selected.offset_ns(rig, selected.ego_name))
    ego = build_ego(scan, ego_offset, selected.ego_topic or "/tf", report)
    imu = None
    if selected.imu is not None:
        name = selected.imu.name
        imu = build_imu(scan, name, selected.imu.topic, offsets.get(name, selected.offset_ns(rig, name)), report)
    samples = [t for c in selected.continuous
               if (t := build_samples(scan, c.name, c.topic, offsets.get(c.name, selected.offset_ns(rig, c.name)),
                                      report)) is not None]
    lidar = lidar_input(cfg, selected, rig, tables, read_topic)
    ego = build_ego_source(cfg, scan, selected, rig, ego, imu, samples, report, lidar)
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
    unmatched: list[np.ndarray] = []  # times of STREAM kinds: a rate reference may span them
    for name, tab in tables.items():
        rows = np.flatnonzero(tab.usable)
        usable_index[name] = rows
        if kinds.get(tab.kind).role is kinds.Role.STREAM:
            unmatched.append(np.sort(tab.common_ns[rows]))
            continue  # stored at full rate, never matched to frames
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
    frames = plan_frames(spec, streams, ego.times_ns, imu.times_ns if imu is not None else None,
                         [t.times_ns for t in samples] + unmatched)
    warn_unmatched(frames, None if imu is None else len(imu.times_ns), None if imu is None else imu.name, report)
    return ConversionPlan(tables, ego, imu, frames, reference, usable_index, dict(report.clock), samples)
