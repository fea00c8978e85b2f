"""Pass 2 over one time window of a log: the work of one part of a split conversion.

:class:`WindowPass` is :class:`~fusion.pipeline.execute.StreamPass` restricted to the topic
indices a part owns (:func:`fusion.pipeline.split.windows`). It reads its topics from the bag in
record order, keeping the global topic indices the plan's tables use: messages before its window
are only counted (never decoded), and reading stops as soon as every topic is past its window.
Every message it owns goes through the same ``_arrive`` / decode / ``_put`` path as a
single-process pass 2, so skips, stamps and compensation are decided identically.
"""

from __future__ import annotations

from typing import Any

from fusion.errors import CarriedOverError, DecodeError, TruncatedBagError
from fusion.pipeline.execute import StreamPass
from fusion.pipeline.report import REASON_DECODE


class WindowPass(StreamPass):
    """Pass 2 of the messages ``owned`` (topic -> topic indices ``[lo, hi)``); otherwise as :class:`StreamPass`."""

    def __init__(self, *args: Any, owned: dict[str, tuple[int, int]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owned = owned

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
            for raw in self.source.messages(topics):
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
                if not self._arrive(name, raw.topic, i, raw.record_time_ns, len(raw.data), seen, None):
                    continue
                try:
                    rec = self.source.decode(raw, options=self.selected.decode_options)
                except CarriedOverError:
                    self.report.carried_over(raw.topic)
                    continue
                except DecodeError as exc:
                    self.report.skip(raw.topic, i, raw.record_time_ns, REASON_DECODE, exc.reason)
                    continue
                self._put(name, raw.topic, i, raw.record_time_ns, rec)
        except TruncatedBagError as exc:  # the driver does not split a truncated log; kept for safety
            self.report.warn(f"bag truncated: {exc}; every message before the damage was converted")
            for topic in topics:
                name = by_topic[topic]
                hi = self.owned[topic][1]
                for j in range(seen[name] + 1, hi):
                    self.report.skip(topic, j, int(self.plan.tables[name].record_ns[j]), "bag_truncated", str(exc))
