"""Pass 1 scan: one iteration over the selected topics, each handled by its stream kind's scanner.

Camera and radar messages are read for their header stamps (straight from the
serialized bytes); camera payloads are also handed to the store here when an
:class:`~fusion.pipeline.early.EarlyStreams` is given, so pass 2 skips them.
LiDAR clouds are decoded for their per-point time extent (sweep bounds) and
size. With a :class:`~fusion.pipeline.spool.Spool`, LiDAR and radar messages are
decoded fully instead and kept on disk for pass 2, which then never reads the bag.
Odometry/tf, IMU, tf_static and CameraInfo are decoded fully (they are small).
Nothing heavy is kept in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from calibration.sources.ros_tree import EdgeVariation
from fusion import kinds
from fusion.errors import CarriedOverError, DecodeError, TruncatedBagError
from fusion.kinds.base import StreamKind, TopicScanner
from fusion.pipeline.early import EarlyStreams
from fusion.pipeline.report import REASON_DECODE, ReportBuilder
from fusion.pipeline.sensors import SelectedSensor, SelectedSensors, fields_of
from fusion.pipeline.spool import Spool
from fusion.pipeline.streams import IMU_COLUMNS, POSE_COLUMNS, SampleColumns
from fusion.readers.records import PointCloud, PoseSample, RadarDetections, RadarTrackList, Record, TransformBatch
from fusion.readers.source import BagSource, DecodeOptions, RawMessage
from fusion.readers.stamps import StampExtractor


@dataclass
class TopicClocks:
    """Per topic, in record order: header stamp, record time, and LiDAR sweep bounds/sizes."""

    stamp: list[int] = field(default_factory=list)
    record: list[int] = field(default_factory=list)
    sweep: dict[int, tuple[int, int]] = field(default_factory=dict)  # index -> (first, last) point time
    points: dict[int, int] = field(default_factory=dict)
    carried: set[int] = field(default_factory=set)  # messages carried over into a later record: no row
    #: index -> rows at exactly (0, 0, 0) of a decoded radar scan or track list (a scan being filled:
    #: :func:`fusion.sync.stamps.republished`); messages not decoded in pass 1 have none
    empty_rows: dict[int, int] = field(default_factory=dict)

    def add(self, stamp_ns: int | None, record_ns: int) -> None:
        """Record one message's clocks (a stamp that cannot be read counts as 0)."""
        self.stamp.append(0 if stamp_ns is None else stamp_ns)
        self.record.append(record_ns)

    def note_rows(self, index: int, rec: object) -> None:
        """Record how many rows of a decoded radar scan / track list sit at exactly (0, 0, 0)."""
        pos = rec.xyz if isinstance(rec, RadarDetections) else rec.position if isinstance(rec, RadarTrackList) else None
        if pos is not None:
            self.empty_rows[index] = int(np.count_nonzero(~np.asarray(pos).any(axis=1)))

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
    samples: dict[str, SampleColumns] = field(default_factory=dict)  # other continuous topics' samples
    sample_frames: dict[str, str] = field(default_factory=dict)  # their first frame_id
    topic_bytes: dict[str, int] = field(default_factory=dict)  # payload bytes read per topic
    truncated: str | None = None  # why pass 1 stopped before the end (a damaged bag)
    dynamic_tf: EdgeVariation = field(default_factory=EdgeVariation)  # /tf edges (constant ones join the rig)


_NAN3 = np.full(3, np.nan)


class _ClockScanner:
    """A topic read for its stamps only (a trigger topic that is no sensor of its own)."""

    def __init__(self, ctx: ScanContext, topic: str) -> None:
        self.ctx, self.clocks = ctx, ctx.clocks[topic]

    def message(self, raw: RawMessage) -> None:
        self.clocks.add(self.ctx.extractor.stamp(raw), raw.record_time_ns)


@dataclass
class ScanContext:
    """What a stream kind's pass-1 scanner works with (:meth:`fusion.kinds.base.StreamKind.scanner`).

    Attributes:
        source: The open log.
        selected: The conversion's sensors (world/base frames, decode options).
        report: Receives decode failures of the continuous streams and warnings.
        extractor: Reads header stamps from the serialized bytes.
        out: What pass 1 collects.
        early: Writes camera payloads during pass 1, if any.
        spool: Keeps decoded spooled-kind messages for pass 2, if any.
    """

    source: BagSource
    selected: SelectedSensors
    report: ReportBuilder
    extractor: StampExtractor
    out: Scan
    early: EarlyStreams | None
    spool: Spool | None

    @property
    def clocks(self) -> dict[str, TopicClocks]:
        """Per topic, the clocks of its messages."""
        return self.out.clocks

    @property
    def options(self) -> Mapping[str, DecodeOptions]:
        """topic -> decode options."""
        return self.selected.decode_options

    def decode(self, raw: RawMessage) -> Record:
        """Decode ``raw`` with its topic's options (raises DecodeError)."""
        return self.source.decode(raw, options=self.selected.decode_options)

    def clock_scanner(self, topic: str) -> _ClockScanner:
        """A scanner that records the stamps of ``topic`` only."""
        self.clocks.setdefault(topic, TopicClocks())
        return _ClockScanner(self, topic)

    def samples(self, topic: str, spec: dict[str, tuple[Any, tuple[int, ...]]]) -> SampleColumns:
        """The pass-1 columns of continuous ``topic`` (``spec``: column -> (dtype, sample shape))."""
        cols = self.out.samples.get(topic)
        if cols is None:
            cols = self.out.samples[topic] = SampleColumns(spec)
        return cols

    def sample_frame(self, topic: str, frame_id: str) -> None:
        """The frame of continuous ``topic`` (its first message's)."""
        if not self.out.sample_frames.get(topic):
            self.out.sample_frames[topic] = frame_id

    def decode_quiet(self, raw: RawMessage) -> Record | None:
        """``raw`` decoded, or None when it does not decode (a topic read only for the rig: not reported)."""
        try:
            return self.decode(raw)
        except DecodeError:
            return None

    def decode_or_report(self, raw: RawMessage) -> Record | None:
        """A continuous-stream (IMU, ego) message decoded, or None when it does not decode (then it is
        reported as skipped and counted)."""
        try:
            return self.decode(raw)
        except DecodeError as exc:
            self.report.skip(raw.topic, raw.index, raw.record_time_ns, REASON_DECODE, exc.reason)
            self.out.ego_decode_errors += 1
            return None

    def add_pose(self, p: PoseSample) -> None:
        """One ego pose ``T_world_base`` (x, y, z, w) with its twist (NaN when absent)."""
        out = self.out
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

    def add_dynamic(self, batch: TransformBatch) -> None:
        """Every transform of a /tf message, to find the edges that never move (part of the rig)."""
        for tf in batch.transforms:
            self.out.dynamic_tf.add(tf.parent_frame, tf.child_frame, tf.translation_m, tf.rotation_xyzw)

    def add_static(self, batch: TransformBatch) -> None:
        """Every transform of a static TF message, for the rig."""
        for tf in batch.transforms:
            self.out.static_transforms.append((tf.parent_frame, tf.child_frame, tf.translation_m, tf.rotation_xyzw))

    def spool_message(self, raw: RawMessage, sensor: SelectedSensor, kind: StreamKind) -> None:
        """A spooled kind's message: decoded once, clocks (and sweep) taken, the record spooled."""
        c = self.clocks[raw.topic]
        spool = self.spool
        assert spool is not None
        try:
            rec = self.decode(raw)
        except DecodeError as exc:
            if isinstance(exc, CarriedOverError):
                c.carried.add(raw.index)
            c.add(self.extractor.stamp(raw), raw.record_time_ns)
            spool.add(raw, None, exc.reason, carried=isinstance(exc, CarriedOverError))
            return
        if not isinstance(rec, kind.records):
            c.add(self.extractor.stamp(raw), raw.record_time_ns)
            spool.add(raw, None, f"decoded as {type(rec).__name__}, expected {sensor.kind}")
            return
        c.add(rec.meta.stamp_ns, raw.record_time_ns)
        c.note_rows(raw.index, rec)
        if not sensor.fields:
            sensor.fields = dict(fields_of(rec))
        if kind.has_sweeps and isinstance(rec, PointCloud):
            c.add_sweep(raw.index, rec)
        spool.add(raw, rec)
        tail = self.trailing(raw)
        if tail is not None:  # the rotation / scan a log ends in: one more row (index = message count)
            c.add(tail.meta.stamp_ns, raw.record_time_ns)
            if isinstance(tail, PointCloud):
                c.add_sweep(tail.meta.index, tail)
            spool.add(replace(raw, index=tail.meta.index, data=b""), tail)

    def trailing(self, raw: RawMessage) -> Record | None:
        """The trailing record the source has after ``raw`` (raw LiDAR packets: the rotation the log
        ends in, when its last message also completed one; :mod:`fusion.lidar_packets.topic`)."""
        take = getattr(self.source, "trailing_record", None)
        rec = take(raw.topic) if take is not None else None
        return rec if isinstance(rec, (PointCloud, RadarDetections)) and rec.meta.index == raw.index + 1 else None


def _scanners(ctx: ScanContext, triggers: set[str]) -> dict[str, TopicScanner]:
    """The pass-1 handler of every topic read: its kind's, by the topic's role in the conversion."""
    sel = ctx.selected
    topics = ctx.source.topics
    out: dict[str, TopicScanner] = {}
    for topic in sel.calibration_topics:
        out[topic] = kinds.get(topics[topic].kind).scanner(ctx, topic, None)
    if sel.ego_topic is not None:
        ego_kind = topics[sel.ego_topic].kind
        kind = kinds.get(ego_kind) if ego_kind in kinds.KINDS else kinds.get("tf")
        out[sel.ego_topic] = kind.scanner(ctx, sel.ego_topic, None)
    if sel.imu is not None:
        out[sel.imu.topic] = kinds.get(sel.imu.kind).scanner(ctx, sel.imu.topic, sel.imu)
    for c in sel.continuous:
        out[c.topic] = kinds.get(c.kind).scanner(ctx, c.topic, c)
    for topic in triggers:
        out[topic] = ctx.clock_scanner(topic)
    for s in sel.sensors.values():
        ctx.clocks.setdefault(s.topic, TopicClocks())
        out[s.topic] = kinds.get(s.kind).scanner(ctx, s.topic, s)
    for topic, info in topics.items():  # topics a kind reads for the rig only (/tf: its constant edges)
        rig_scanner = getattr(kinds.get(info.kind), "rig_scanner", None) if info.kind in kinds.KINDS else None
        if topic not in out and rig_scanner is not None and not info.type_error:
            out[topic] = rig_scanner(ctx)
    return out


def scan(
    source: BagSource,
    selected: SelectedSensors,
    report: ReportBuilder,
    early: EarlyStreams | None = None,
    tick: Callable[[int], None] | None = None,
    spool: Spool | None = None,
) -> Scan:
    """Run pass 1 over every selected topic plus the calibration topics (/tf_static, CameraInfo).

    Each topic is handled by its stream kind's scanner (:meth:`fusion.kinds.base.StreamKind.scanner`).

    Args:
        source: The open log.
        selected: Selected sensors.
        report: Receives decode failures of the continuous streams and warnings.
        early: Writes camera payloads during this pass (see :mod:`fusion.pipeline.early`).
        spool: Keeps every decoded LiDAR/radar message for pass 2 (see :mod:`fusion.pipeline.spool`);
            while it is active those messages are decoded fully here.
        tick: Called with each message's payload size (progress).
    """
    out = Scan({}, SampleColumns(POSE_COLUMNS), SampleColumns(IMU_COLUMNS), [], {})
    ctx = ScanContext(source, selected, report, StampExtractor(source), out, early, spool)
    triggers = {s.trigger_topic for s in selected.sensors.values() if s.trigger_topic}
    handlers = _scanners(ctx, triggers)
    nbytes = out.topic_bytes
    try:
        for raw in source.messages(sorted(handlers)):
            nbytes[raw.topic] = nbytes.get(raw.topic, 0) + len(raw.data)
            if tick is not None:
                tick(len(raw.data))
            handlers[raw.topic].message(raw)
    except TruncatedBagError as exc:
        out.truncated = str(exc)
        report.warn(f"pass 1 stopped at the damage: {exc}")
    return out
