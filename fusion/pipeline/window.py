"""Pass 2 over one time window of a log: the work of one part of a split conversion.

:class:`WindowPass` is :class:`~fusion.pipeline.execute.StreamPass` restricted to the topic
indices a part owns (:func:`fusion.pipeline.split.windows`). It reads its topics from the bag in
record order, keeping the global topic indices the plan's tables use. With ``start_ns`` it asks the
reader for the messages from its window's start on (:meth:`RosBagSource.messages_from`: MCAP, ROS 1
and SQLite skip what lies before) and numbers them from each topic's first owned index, checking
every record time against pass 1's; without it, messages before its window are only counted (never
decoded). Reading stops as soon as every topic is past its window.
Every message it owns goes through the same ``_arrive`` / decode / ``_put`` path as a
single-process pass 2, so skips, stamps and compensation are decided identically.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from fusion.errors import BagError, TruncatedBagError
from fusion.pipeline.execute import StreamPass
from fusion.pipeline.sensors import SelectedSensors
from fusion.readers.source import RawMessage


class WindowPass(StreamPass):
    """Pass 2 of the messages ``owned`` (topic -> topic indices ``[lo, hi)``); otherwise as :class:`StreamPass`."""

    def __init__(self, *args: Any, owned: dict[str, tuple[int, int]], start_ns: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owned = owned
        self.start_ns = start_ns
        self.nbytes = 0  # serialized bytes of the messages this part owns (the driver's progress)

    def _count(self, n: int) -> None:
        self.nbytes += n

    def _messages(self, topics: list[str]) -> Iterator[RawMessage]:
        """This part's topics in record order with their global topic indices (see module docstring)."""
        from_start = getattr(self.source, "messages_from", None)
        if self.start_ns is None or from_start is None:
            yield from self.source.messages(topics)
            return
        record = {tab.topic: tab.record_ns for tab in self.plan.tables.values()}
        for raw in from_start(topics, self.start_ns):
            i = self.owned[raw.topic][0] + raw.index
            if i >= len(record[raw.topic]) or int(record[raw.topic][i]) != raw.record_time_ns:
                raise BagError(f"{raw.path}: topic {raw.topic}: message {i} read from record time {self.start_ns} "
                                "is not the one pass 1 read; convert without --split and report the bag")
            yield replace(raw, index=i)

    def run(self, *_: Any, **__: Any) -> None:  # type: ignore[override]
        """Decode and write every owned message of this pass's topics (no spool: a part reads the bag)."""
        tables = self.pass2_tables()
        by_topic = {tab.topic: name for name, tab in tables.items()}
        todo = {t for t in by_topic if self.owned[t][0] < self.owned[t][1]}
        seen = {name: self.owned[topic][0] - 1 for topic, name in by_topic.items()}
        if not todo:
            return
        topics = sorted(todo)
        try:
            for raw in self._messages(topics):
                lo, hi = self.owned[raw.topic]
                i = raw.index
                if i < lo:
                    continue
                if i >= hi:
                    todo.discard(raw.topic)
                    if not todo:
                        break
                    continue
                name = by_topic[raw.topic]
                if self._arrive(name, raw.topic, i, raw.record_time_ns, len(raw.data), seen, self._count):
                    self._decode_put(name, raw)
        except TruncatedBagError as exc:  # the driver does not split a truncated log; kept for safety
            self.report.warn(f"bag truncated: {exc}; every message before the damage was converted")
            for topic in topics:
                name = by_topic[topic]
                hi = self.owned[topic][1]
                for j in range(seen[name] + 1, hi):
                    self.report.skip(topic, j, int(self.plan.tables[name].record_ns[j]), "bag_truncated", str(exc))


def stateful_topics(source: Any, selected: SelectedSensors) -> str | None:
    """Why this log's pass 2 cannot be split into parts (None: it can), known before pass 1.

    A part starts decoding mid-log, so a topic whose decoder carries state from one message to the
    next cannot be split: raw LiDAR packets assembled into sweeps, a vendor radar whose scans span
    messages (``scan_counter``). Such a log converts in one piece, exactly as without a split.
    """
    from fusion.lidar_packets.payload import PACKET_LAYOUTS
    from fusion.readers.packets import PACKET_TYPES

    stateful = []
    for sel in selected.sensors.values():
        info = source.topics.get(sel.topic)
        if info is not None and (info.msgtype in PACKET_LAYOUTS or info.msgtype in PACKET_TYPES):
            stateful.append(f"{sel.topic} (raw LiDAR packets: a sweep is assembled from several messages)")
        vendor = getattr(selected.decode_options.get(sel.topic), "vendor_radar", None)
        if getattr(vendor, "scan_counter", None) is not None:
            stateful.append(f"{sel.topic} (a radar scan spans several messages: scan_counter)")
    return f"{'; '.join(stateful)}: a part could not start mid-log" if stateful else None
