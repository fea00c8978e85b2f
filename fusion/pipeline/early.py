"""Payloads written in pass 1 (streams of ``early`` kinds: cameras), so that pass 2 never reads them again.

Images are most of a drive log's bytes. Their payload needs nothing from the frame plan: only
their times do (the common clock may use an offset estimated from every stamp of the log). So
pass 1, which reads every message for its header stamp anyway, also decodes each message of an
``early`` stream kind and hands its payload (:meth:`~fusion.kinds.base.StreamKind.early_payload`)
to the stream the kind opened (:meth:`~fusion.kinds.base.StreamKind.open_early`); the time columns
are written once the plan is known (:meth:`EarlyStreams.settle`). Pass 2 then reads only the other
topics.

Which messages are stored is decided online with the stamp filter the plan applies
(:class:`fusion.sync.stamps.StampFilter`, the online form of ``MessageTable.mark_unusable``'s
batch rule): a zero stamp or a stamp already seen on the topic is not stored. Two cases can
only be decided with the whole log, and there the stream is dropped and written again in
pass 2: a stream whose header stamps are mostly zero (aligned by record time), and a stream
timed by a trigger topic (never written early).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fusion.errors import DecodeError
from fusion.kinds.base import EarlyWriter, StreamKind
from fusion.pipeline.report import REASON_DECODE, ReportBuilder
from fusion.pipeline.sensors import SelectedSensor, SelectedSensors
from fusion.pipeline.streams import MessageTable
from fusion.readers.source import BagSource, RawMessage
from fusion.store.sink import FrameSink
from fusion.sync.stamps import StampFilter


@dataclass
class _Early:
    name: str
    sensor: SelectedSensor
    kind: StreamKind
    writer: EarlyWriter
    by_record: bool  # the config aligns this stream by record time
    stamps: StampFilter = field(default_factory=StampFilter)  # on the clock the stream is aligned by
    rows: list[int] = field(default_factory=list)  # topic index -> stored row, -1 when not stored
    unusable: list[int] = field(default_factory=list)  # zero or repeated stamp (online rule)
    failed: list[tuple[int, int, str]] = field(default_factory=list)  # (index, record ns, reason)


class EarlyStreams:
    """Pass-1 writer of the early streams of one conversion (see module docstring).

    Args:
        source: The open log (decodes the messages).
        selected: Selected sensors; every one of an ``early`` kind not timed by a trigger topic is
            written early.
        writer: The store writer (``add_camera``, ``drop_stream``).
    """

    def __init__(self, source: BagSource, selected: SelectedSensors, writer: FrameSink) -> None:
        from fusion import kinds

        self._source = source
        self._options = selected.decode_options
        self._writer = writer
        self._cams: dict[str, _Early] = {}
        for name, sel in selected.sensors.items():
            kind = kinds.get(sel.kind)
            if not kind.early or sel.trigger_topic is not None:
                continue
            w = kind.open_early(writer, sel)
            self._cams[sel.topic] = _Early(name, sel, kind, w, by_record=sel.stamp_source == "record")

    @property
    def topics(self) -> set[str]:
        """Topics written early."""
        return set(self._cams)

    def add(self, raw: RawMessage, stamp_ns: int | None) -> None:
        """Store one message of an early topic (record order; ``stamp_ns`` None when unreadable)."""
        cam = self._cams[raw.topic]
        i = raw.index
        while len(cam.rows) < i:  # indices the reader never yielded: nothing stored
            cam.rows.append(-1)
        key = raw.record_time_ns if cam.by_record else (stamp_ns or 0)
        if cam.stamps.offer(i, key) is not None:
            cam.unusable.append(i)
            cam.rows.append(-1)
            return
        try:
            rec = self._source.decode(raw, options=self._options)
            payload, fmt = cam.kind.early_payload(rec)
        except DecodeError as exc:
            cam.failed.append((i, raw.record_time_ns, exc.reason))
            cam.rows.append(-1)
            return
        cam.rows.append(cam.writer.payloads)
        cam.writer.append_payload(payload, format=fmt)

    def settle(
        self, tables: dict[str, MessageTable], report: ReportBuilder, truncated: str | None
    ) -> dict[str, np.ndarray]:
        """After the plan: write the time columns and account for every message.

        Args:
            tables: The plan's message tables (usable masks, reasons, common-clock times).
            report: Receives stored counts and skips.
            truncated: Why pass 1 stopped early (a damaged bag), else None.

        Returns:
            name -> rows (M,) stored row per topic index or -1, for every stream kept; a camera
            missing here was dropped and is written in pass 2.
        """
        done: dict[str, np.ndarray] = {}
        for topic, cam in self._cams.items():
            tab = tables[cam.name]
            m = len(tab.stamp_ns)
            rows = np.full(m, -1, dtype=np.int64)
            rows[: min(m, len(cam.rows))] = cam.rows[:m]
            online = np.ones(m, dtype=bool)
            online[[i for i in cam.unusable if i < m]] = False
            if not np.array_equal(online, tab.usable):
                self._writer.drop_stream(cam.name)
                continue
            for i in np.flatnonzero(~tab.usable).tolist():
                reason, detail = tab.reason[i]  # the same mask as the online rule's: always a stamp reason
                report.skip(topic, i, int(tab.record_ns[i]), reason, detail)
            for i, rec_ns, reason in cam.failed:
                report.skip(topic, i, rec_ns, REASON_DECODE, reason)
            stored = np.flatnonzero(rows >= 0)
            cam.writer.set_times(tab.stamp_ns[stored], tab.record_ns[stored], tab.common_ns[stored])
            cam.writer.update_attrs({"stamp_source": tab.stamp_source, "time_offset_ns": int(tab.offset_ns)})
            report.stored(topic, len(stored))
            if (lost := int(getattr(cam.writer, "rows_without_keyframe", 0))) > 0:
                report.warn(f"{cam.name} ({topic}): {lost} video frame(s) before the first keyframe (the recording "
                            "starts mid-GOP): stored as they came, but they cannot be decoded")
            report.skip_unread(topic, m, tab.record_ns, truncated or "not read")
            cam.writer.seal()  # complete: its last shards compress during pass 2
            done[cam.name] = rows
        return done
