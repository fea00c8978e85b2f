"""Pass 1 scan: one iteration over the selected topics, collecting clocks and small streams.

Camera and radar messages are read for their header stamps (straight from the
serialized bytes); camera payloads are also handed to the store here when an
:class:`~fusion.pipeline.cameras.EarlyCameras` is given, so pass 2 skips them.
LiDAR clouds are decoded for their per-point time extent (sweep bounds) and
size. With a :class:`~fusion.pipeline.spool.Spool`, LiDAR and radar messages are
decoded fully instead and kept on disk for pass 2, which then never reads the bag.
Odometry/tf, IMU, tf_static and CameraInfo are decoded fully (they are small).
Nothing heavy is kept in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fusion.errors import DecodeError, TruncatedBagError
from fusion.pipeline.cameras import EarlyCameras
from fusion.pipeline.report import REASON_DECODE, ReportBuilder
from fusion.pipeline.sensors import SelectedSensor, SelectedSensors, fields_of
from fusion.pipeline.spool import Spool
from fusion.pipeline.streams import IMU_COLUMNS, POSE_COLUMNS, SampleColumns
from fusion.readers.records import (
    CameraInfoRecord,
    ImuSample,
    PointCloud,
    PoseSample,
    RadarDetections,
    TransformBatch,
)
from fusion.readers.source import BagSource, RawMessage
from fusion.readers.stamps import StampExtractor


@dataclass
class TopicClocks:
    """Per topic, in record order: header stamp, record time, and LiDAR sweep bounds/sizes."""

    stamp: list[int] = field(default_factory=list)
    record: list[int] = field(default_factory=list)
    sweep: dict[int, tuple[int, int]] = field(default_factory=dict)  # index -> (first, last) point time
    points: dict[int, int] = field(default_factory=dict)

    def add(self, stamp_ns: int | None, record_ns: int) -> None:
        """Record one message's clocks (a stamp that cannot be read counts as 0)."""
        self.stamp.append(0 if stamp_ns is None else stamp_ns)
        self.record.append(record_ns)

    def add_sweep(self, index: int, rec: PointCloud) -> None:
        """Record a decoded sweep's first/last point time (the stamp without per-point time) and size."""
        pt = rec.point_time_ns
        if pt is not None and len(pt):
            self.sweep[index] = (int(pt.min()), int(pt.max()))
        else:
            self.sweep[index] = (rec.meta.stamp_ns, rec.meta.stamp_ns)
        self.points[index] = len(rec.xyz)


@dataclass
class Scan:
    """What pass 1 collected."""

    clocks: dict[str, TopicClocks]
    poses: SampleColumns
    imu: SampleColumns
    static_transforms: list[tuple[str, str, np.ndarray, np.ndarray]]
    camera_infos: dict[str, dict[str, Any]]
    ego_decode_errors: int = 0
    pose_frames: tuple[str, str] = ("", "")  # (parent, child) of the first ego pose
    pose_topics: set[str] = field(default_factory=set)  # topics the ego poses came from
    imu_frame: str = ""
    topic_bytes: dict[str, int] = field(default_factory=dict)  # payload bytes read per topic
    truncated: str | None = None  # why pass 1 stopped before the end (a damaged bag)


def _camera_info_dict(rec: CameraInfoRecord, topic: str) -> dict[str, Any]:
    return {
        "width": rec.width,
        "height": rec.height,
        "distortion_model": rec.distortion_model,
        "d": [float(x) for x in rec.d],
        "k": [float(x) for x in np.ravel(rec.k)],
        "topic": topic,
    }


_NAN3 = np.full(3, np.nan)
_NAN4 = np.full(4, np.nan)


def _add_pose(out: Scan, p: PoseSample) -> None:
    if not len(out.poses):
        out.pose_frames = (p.parent_frame, p.child_frame)
    out.pose_topics.add(p.meta.topic)
    out.poses.append(
        stamp_ns=p.meta.stamp_ns,
        index=p.meta.index,
        record_ns=p.meta.record_time_ns,
        translation_m=p.translation_m,
        rotation_xyzw=p.rotation_xyzw,
        linear_velocity_mps=p.linear_velocity_mps if p.linear_velocity_mps is not None else _NAN3,
        angular_velocity_radps=p.angular_velocity_radps if p.angular_velocity_radps is not None else _NAN3,
    )


def _spool_message(
    source: BagSource,
    raw: RawMessage,
    sensor: SelectedSensor,
    c: TopicClocks,
    extractor: StampExtractor,
    spool: Spool,
    opts: Any,
) -> None:
    """A LiDAR/radar message while spooling: decoded once, clocks and sweep taken, arrays spooled."""
    try:
        rec = source.decode(raw, options=opts)
    except DecodeError as exc:
        c.add(extractor.stamp(raw), raw.record_time_ns)
        spool.add(raw, None, exc.reason)
        return
    if not isinstance(rec, (PointCloud, RadarDetections)):
        c.add(extractor.stamp(raw), raw.record_time_ns)
        spool.add(raw, None, f"decoded as {type(rec).__name__}, expected {sensor.kind}")
        return
    c.add(rec.meta.stamp_ns, raw.record_time_ns)
    if not sensor.fields:
        sensor.fields = dict(fields_of(rec))
    if isinstance(rec, PointCloud):
        c.add_sweep(raw.index, rec)
    spool.add(raw, rec)


def _scan_messages(
    source: BagSource,
    topics: list[str],
    by_topic: dict[str, Any],
    clocks: dict[str, TopicClocks],
    cont: set[str],
    triggers: set[str],
    extractor: StampExtractor,
    out: Scan,
    selected: SelectedSensors,
    report: ReportBuilder,
    early: EarlyCameras | None,
    spool: Spool | None,
    tick: Callable[[int], None] | None,
) -> None:
    """The pass-1 loop (see :func:`scan`)."""
    world, base = selected.world_frame, selected.base_frame
    opts = selected.decode_options
    fields_known: set[str] = set()  # LiDAR topics whose first cloud was decoded (field dtypes known)
    info_known: set[str] = set()  # CameraInfo topics whose first message was decoded (the one kept)
    early_topics = early.topics if early is not None else set()
    nbytes = out.topic_bytes
    for raw in source.messages(topics):
        nbytes[raw.topic] = nbytes.get(raw.topic, 0) + len(raw.data)
        if tick is not None:
            tick(len(raw.data))
        sensor = by_topic.get(raw.topic)
        if raw.topic in triggers and sensor is None:
            clocks[raw.topic].add(extractor.stamp(raw), raw.record_time_ns)
            continue
        if sensor is not None and sensor.kind in ("lidar", "radar") and spool is not None and spool.active:
            _spool_message(source, raw, sensor, clocks[raw.topic], extractor, spool, opts)
            continue
        if sensor is not None and sensor.kind != "lidar":
            c = clocks[raw.topic]
            stamp = extractor.stamp(raw)
            c.add(stamp, raw.record_time_ns)
            if raw.topic in early_topics:
                assert early is not None
                early.add(raw, stamp)
                continue
            if sensor.kind == "radar" and not sensor.fields:
                try:
                    rec = source.decode(raw, options=opts)
                    if isinstance(rec, RadarDetections):
                        sensor.fields = dict(fields_of(rec))
                except DecodeError:
                    pass  # pass 2 reports it
            continue
        if raw.topic in info_known:  # only the first intrinsics of a camera are kept: no need to decode more
            continue
        if sensor is not None and raw.topic in fields_known:  # LiDAR after its first cloud: time bounds only
            c = clocks[raw.topic]
            c.add(extractor.stamp(raw), raw.record_time_ns)
            try:
                lo, hi, n = source.lidar_time_bounds(raw, options=opts)
            except DecodeError:
                continue  # no sweep bounds: never a frame; pass 2 reports the message
            c.sweep[raw.index] = (lo, hi)
            c.points[raw.index] = n
            continue
        try:
            rec = source.decode(raw, options=opts)
        except DecodeError as exc:
            reason = exc.reason
            if sensor is not None:  # LiDAR: clocks still needed to keep indices aligned (pass 2 reports it)
                c = clocks[raw.topic]
                c.add(extractor.stamp(raw), raw.record_time_ns)
            elif raw.topic in cont:
                report.skip(raw.topic, raw.index, raw.record_time_ns, REASON_DECODE, reason)
                out.ego_decode_errors += 1
            continue
        if isinstance(rec, PointCloud) and sensor is not None:
            c = clocks[raw.topic]
            c.add(rec.meta.stamp_ns, raw.record_time_ns)
            c.add_sweep(raw.index, rec)
            sensor.fields = dict(fields_of(rec))
            fields_known.add(raw.topic)
        elif isinstance(rec, PoseSample) and raw.topic in cont:
            _add_pose(out, rec)
        elif isinstance(rec, TransformBatch):
            if rec.static:
                for tf in rec.transforms:
                    out.static_transforms.append((tf.parent_frame, tf.child_frame, tf.translation_m, tf.rotation_xyzw))
            if raw.topic in cont:
                for tf in rec.transforms:
                    if tf.child_frame == base and (world is None or tf.parent_frame == world):
                        _add_pose(out, tf)
        elif isinstance(rec, ImuSample) and raw.topic in cont:
            out.imu_frame = out.imu_frame or rec.meta.frame_id
            out.imu.append(
                stamp_ns=rec.meta.stamp_ns,
                index=rec.meta.index,
                record_ns=rec.meta.record_time_ns,
                angular_velocity_radps=rec.angular_velocity_radps,
                linear_acceleration_mps2=rec.linear_acceleration_mps2,
                orientation_xyzw=rec.orientation_xyzw if rec.orientation_xyzw is not None else _NAN4,
            )
        elif isinstance(rec, CameraInfoRecord):
            info_known.add(raw.topic)
            if rec.meta.frame_id not in out.camera_infos:
                out.camera_infos[rec.meta.frame_id] = _camera_info_dict(rec, raw.topic)


def scan(
    source: BagSource,
    selected: SelectedSensors,
    report: ReportBuilder,
    early: EarlyCameras | None = None,
    tick: Callable[[int], None] | None = None,
    spool: Spool | None = None,
) -> Scan:
    """Run pass 1 over every selected topic plus /tf_static and CameraInfo topics.

    Args:
        source: The open log.
        selected: Selected sensors.
        report: Receives decode failures of the continuous streams and warnings.
        early: Writes camera payloads during this pass (see :mod:`fusion.pipeline.cameras`).
        spool: Keeps every decoded LiDAR/radar message for pass 2 (see :mod:`fusion.pipeline.spool`);
            while it is active those messages are decoded fully here.
        tick: Called with each message's payload size (progress).
    """
    extractor = StampExtractor(source)
    by_topic = {s.topic: s for s in selected.sensors.values()}
    clocks = {t: TopicClocks() for t in by_topic}
    cont = {selected.ego_topic} if selected.ego_topic else set()
    if selected.imu is not None:
        cont.add(selected.imu.topic)
    triggers = {s.trigger_topic for s in selected.sensors.values() if s.trigger_topic}
    for t in triggers:
        clocks.setdefault(t, TopicClocks())
    topics = set(by_topic) | cont | set(selected.calibration_topics) | triggers
    out = Scan(clocks, SampleColumns(POSE_COLUMNS), SampleColumns(IMU_COLUMNS), [], {})
    try:
        _scan_messages(
            source,
            sorted(topics),
            by_topic,
            clocks,
            cont,
            triggers,
            extractor,
            out,
            selected,
            report,
            early,
            spool,
            tick,
        )
    except TruncatedBagError as exc:
        out.truncated = str(exc)
        report.warn(f"pass 1 stopped at the damage: {exc}")
    return out
