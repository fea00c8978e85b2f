"""Pass 2: every LiDAR/radar message (and any camera not written in pass 1) compensated and written.

LiDAR and radar messages come from pass 1's spool (:mod:`fusion.pipeline.spool`), else from a
second read of the bag; each is decoded exactly once and handed to the store writer, which
buffers whole shards, so memory is bounded by those buffers, not by log length. LiDAR clouds
are deskewed to their sweep's reference time and radar Doppler is ego-compensated
(:mod:`fusion.pipeline.compensate`); camera bytes pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from calibration import Rig
from fusion import kinds
from fusion.errors import CarriedOverError, DecodeError, TruncatedBagError
from fusion.kinds.base import StreamWriterLike
from fusion.pipeline.compensate import Compensator, LidarStats
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.plan import ConversionPlan
from fusion.pipeline.report import REASON_DECODE, ReportBuilder
from fusion.pipeline.sensors import SelectedSensors
from fusion.pipeline.spool import Spool
from fusion.pipeline.streams import MessageTable
from fusion.readers.records import Record
from fusion.readers.source import BagSource, RawMessage
from fusion.store.sink import FrameSink, SensorMatches
from fusion.sync import interpolate_poses


@dataclass
class WriteContext:
    """What a stream kind's pass-2 hooks work with (:meth:`fusion.kinds.base.StreamKind.write`).

    Attributes:
        cfg: The conversion config.
        plan: The plan (message tables, ego trajectory, frames).
        selected: The conversion's sensors (kept point fields).
        compensator: Deskew and Doppler compensation against the plan's ego trajectory.
    """

    cfg: ConvertConfig
    plan: ConversionPlan
    selected: SelectedSensors
    compensator: Compensator

    def start_lidar(self, name: str) -> None:
        """Begin the deskew bookkeeping of LiDAR ``name`` (reported per LiDAR)."""
        self.compensator.lidar_stats[name] = LidarStats()


class StreamPass:
    """Pass 2 of one log: every selected message decoded once and written to the store writer."""

    def __init__(
        self,
        source: BagSource,
        selected: SelectedSensors,
        rig: Rig,
        cfg: ConvertConfig,
        plan: ConversionPlan,
        writer: FrameSink,
        report: ReportBuilder,
        prewritten: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.source = source
        self.selected = selected
        self.rig = rig
        self.cfg = cfg
        self.plan = plan
        self.writer = writer
        self.report = report
        self.streams: dict[str, StreamWriterLike] = {}
        self.rows: dict[str, np.ndarray] = {}  # sensor -> topic index -> stored row (-1: not stored)
        self.next_row: dict[str, int] = {}
        fields = {name: dict(sel.fields) for name, sel in selected.sensors.items()}
        self.compensator = Compensator(rig, cfg, plan, fields)
        self.lidar_stats = self.compensator.lidar_stats
        self.context = WriteContext(cfg, plan, selected, self.compensator)
        self.prewritten = dict(prewritten or {})  # camera streams written in pass 1: name -> rows
        ego = plan.ego
        self._ego = (ego.times_ns, ego.translation_m, ego.rotation_xyzw)

    # -- setup ---------------------------------------------------------------------------
    def open_streams(self) -> None:
        """Create the store stream of every sensor this pass writes (its kind's columns)."""
        self.rows.update(self.prewritten)
        for name, tab in self.pass2_tables().items():
            sel = self.selected.sensors[name]
            self.rows[name] = np.full(len(tab.stamp_ns), -1, dtype=np.int64)
            self.next_row[name] = 0
            self.streams[name] = kinds.get(tab.kind).open_stream(self.writer, sel, tab, self.context)

    def pass2_tables(self) -> dict[str, MessageTable]:
        """The tables of the sensors this pass reads (all but the streams written in pass 1)."""
        return {k: v for k, v in self.plan.tables.items() if k not in self.prewritten}

    # -- per message ---------------------------------------------------------------------
    def run(
        self,
        progress: Callable[[int], None] | None = None,
        spool: Spool | None = None,
        truncated: str | None = None,
    ) -> None:
        """Write every selected discrete message of this pass once, or report why not.

        Args:
            progress: Called with each message's serialized size.
            spool: Pass 1's spool; while active, the LiDAR/radar messages come from it and the bag
                is read again only for the other streams of this pass (if any).
            truncated: Why pass 1 stopped early (a damaged bag): messages the spool lacks for it.
        """
        tables = self.pass2_tables()
        by_topic = {tab.topic: name for name, tab in tables.items()}
        seen: dict[str, int] = dict.fromkeys(by_topic.values(), -1)
        from_bag = sorted(by_topic)
        if spool is not None and spool.active:
            spooled = {tab.topic for tab in tables.values() if kinds.get(tab.kind).spooled}
            from_bag = [t for t in from_bag if t not in spooled]
            for e in spool.entries():
                if e.topic not in spooled:
                    continue
                name = by_topic[e.topic]
                if not self._arrive(name, e.topic, e.index, e.record_time_ns, e.nbytes, seen, progress):
                    continue
                if e.record is None and e.carried:
                    self.report.carried_over(e.topic)
                elif e.record is None:
                    self.report.skip(e.topic, e.index, e.record_time_ns, REASON_DECODE, e.error)
                else:
                    self._put(name, e.topic, e.index, e.record_time_ns, e.record)
            if truncated:
                self._unread(sorted(spooled), by_topic, seen, truncated)
            self._seal(by_topic[t] for t in spooled)  # last shards compress while the rest goes on
        if from_bag:
            self._run_bag(from_bag, by_topic, seen, progress)
            self._seal(by_topic[t] for t in from_bag)
        self._unfinished(by_topic)

    def _unfinished(self, by_topic: dict[str, str]) -> None:
        """Carried-over raw-packet messages whose rotation no record completed (the log ended early):
        reported as skipped (``partial_sweep``) rather than stored."""
        packets = getattr(getattr(self.source, "decoder", None), "packets", None)
        if packets is None:
            return
        for topic, name in by_topic.items():
            for i in packets.unfinished(topic):
                tab = self.plan.tables[name]
                rec_ns = int(tab.record_ns[i]) if i < len(tab.record_ns) else -1
                self.report.uncarry(topic, i, rec_ns, "its packets wait for a rotation the log never completed "
                                    "(the log ends, is cut short, or its last message is undecodable)")

    def _seal(self, names: Iterable[str]) -> None:
        """The streams ``names`` are complete: hand their last shards to the pool now."""
        for name in names:
            self.streams[name].seal()

    def _run_bag(
        self,
        topics: list[str],
        by_topic: dict[str, str],
        seen: dict[str, int],
        progress: Callable[[int], None] | None,
    ) -> None:
        """Read ``topics`` from the bag (record order), decode and write each message."""
        try:
            for raw in self.source.messages(topics):
                name = by_topic[raw.topic]
                i = raw.index
                if not self._arrive(name, raw.topic, i, raw.record_time_ns, len(raw.data), seen, progress):
                    continue
                if not self._decode_put(name, raw):
                    continue
                take = getattr(self.source, "trailing_record", None)
                tail = take(raw.topic) if take is not None else None
                if tail is not None and tail.meta.index < len(self.plan.tables[name].stamp_ns):
                    self._put(name, raw.topic, tail.meta.index, raw.record_time_ns, tail)
        except TruncatedBagError as exc:
            self.report.warn(f"bag truncated: {exc}; every message before the damage was converted")
            self._unread(topics, by_topic, seen, str(exc))

    def _decode_put(self, name: str, raw: RawMessage) -> bool:
        """Decode one bag message and write it (False, and reported, when it carries over to a later
        message or cannot be decoded)."""
        try:
            rec = self.source.decode(raw, options=self.selected.decode_options)
        except CarriedOverError:
            self.report.carried_over(raw.topic)
            return False
        except DecodeError as exc:
            self.report.skip(raw.topic, raw.index, raw.record_time_ns, REASON_DECODE, exc.reason)
            return False
        self._put(name, raw.topic, raw.index, raw.record_time_ns, rec)
        return True

    def _unread(self, topics: list[str], by_topic: dict[str, str], seen: dict[str, int], why: str) -> None:
        """Report every message of ``topics`` after the last one seen as never read, because ``why``."""
        for topic in topics:
            name = by_topic[topic]
            self.report.skip_unread(topic, seen[name] + 1, self.plan.tables[name].record_ns, why)

    def _arrive(
        self,
        name: str,
        topic: str,
        i: int,
        record_ns: int,
        nbytes: int,
        seen: dict[str, int],
        progress: Callable[[int], None] | None,
    ) -> bool:
        """Account for message ``i`` of ``topic`` (seen, progress); False (and reported) when the plan
        set it aside (zero or repeated stamp)."""
        seen[name] = max(seen[name], i)
        if progress is not None:
            progress(nbytes)
        tab = self.plan.tables[name]
        if i < len(tab.usable) and not tab.usable[i]:
            stamp_reason = tab.reason.get(i)  # None: no sweep bounds (undecodable), reported when decoded
            if stamp_reason is not None:
                self.report.skip(topic, i, record_ns, *stamp_reason)
                return False
        return True

    def _put(self, name: str, topic: str, i: int, record_ns: int, rec: Record) -> None:
        """Write one decoded message to its stream, or report why it is invalid."""
        tab = self.plan.tables[name]
        try:
            self._store(name, tab, rec, int(tab.common_ns[i]))
        except DecodeError as exc:
            self.report.skip(topic, i, record_ns, REASON_DECODE, exc.reason)
            return
        self.rows[name][i] = self.next_row[name]
        self.next_row[name] += 1
        if i >= self.report.topics[topic].in_bag:  # a trailing record (no message of its own)
            self.report.trailing(topic)
        else:
            self.report.stored(topic)

    def _store(self, name: str, tab: MessageTable, rec: Record, common: int) -> None:
        """Write one decoded record through its kind (raises DecodeError for a payload that is invalid)."""
        kinds.get(tab.kind).write(self.context, name, self.streams[name], rec, common)

    # -- frame table ---------------------------------------------------------------------
    def frame_sensors(self) -> dict[str, SensorMatches]:
        """Frame table per sensor with plan rows mapped to stored rows."""
        out = {}
        for name, m in self.plan.frames.sensors.items():
            index = np.asarray(m.index, dtype=np.int64)
            dt = np.asarray(m.dt_ns, dtype=np.int64)
            valid = np.asarray(m.valid, dtype=bool) & (index >= 0)
            topic_idx = np.where(index >= 0, self.plan.usable_index[name][np.maximum(index, 0)], -1)
            stored = np.where(topic_idx >= 0, self.rows[name][np.maximum(topic_idx, 0)], -1)
            lost = valid & (stored < 0)
            if lost.any():
                self.report.warn(
                    f"{name}: {int(lost.sum())} frame(s) matched a message that could not be stored; marked missing"
                )
            valid &= stored >= 0
            out[name] = SensorMatches(np.where(valid, stored, -1), np.where(valid, dt, 0), valid)
        return out

    def ego_at_frames(self) -> np.ndarray:
        """(F, 4, 4) ``T_world_base`` at every frame time (NaN where outside the trajectory)."""
        from calibration.rotation import quat_xyzw_to_matrix

        times = np.asarray(self.plan.frames.time_ns, dtype=np.int64)
        t, q, inside = interpolate_poses(*self._ego, times)
        T = np.tile(np.eye(4), (len(times), 1, 1))
        T[:, :3, :3] = quat_xyzw_to_matrix(q)
        T[:, :3, 3] = t
        T[~np.asarray(inside)] = np.nan
        return T
