"""The conversion report: what went in, what came out, and everything skipped.

"Nothing is lost silently": every message of a selected topic is either written
to the store or listed here under ``skipped`` with its topic, index, record time
and reason. The report is stored in the store (``report`` blob) and summarised
by ``fusion convert``.
"""

from __future__ import annotations

import functools
import platform
import sys
from collections import Counter
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fusion.sync.stamps import REASON_DUPLICATE as REASON_DUPLICATE
from fusion.sync.stamps import REASON_ZERO_STAMP as REASON_ZERO_STAMP

# Reasons a message is not in the store (stable strings; documented in docs/FORMAT.md). The two
# stamp reasons are the stamp filter's (fusion.sync.stamps), re-exported here with the others.
REASON_DECODE = "decode_error"
REASON_PARTIAL_SWEEP = "partial_sweep"  # raw LiDAR packets of a rotation the log never completed
REASON_NO_SENSOR = "no_sensor"
REASON_TRUNCATED = "bag_truncated"
REASON_EXTRAPOLATION = "outside_ego_trajectory"
REASON_TOO_FEW_POSES = "too_few_poses"  # an odometry topic with fewer than two usable poses stores none


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    """Looked up once per process (``importlib.metadata`` scans ``sys.path``: ≈ 10 ms a call)."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("fusion", "rosbags", "zarr", "numcodecs", "numpy", "numba", "scipy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return tuple(out.items())


def software_versions() -> dict[str, str]:
    """Versions of fusion and the libraries that shape its output."""
    return dict(_versions())


@dataclass
class TopicTally:
    """Per-topic bookkeeping."""

    msgtype: str
    sensor: str | None
    kind: str
    in_bag: int = 0
    stored: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    carried_over: int = 0
    """Of ``stored``: messages with no record of their own, stored inside a later message's record
    (raw LiDAR packets that completed no rotation go into the sweep a later message completes)."""
    trailing: int = 0
    """Rows stored beyond the messages (raw LiDAR packets: the rotation the log ends in, when the
    last message also completed one); not messages, so not in ``stored``."""

    def to_dict(self) -> dict[str, Any]:
        out = {
            "msgtype": self.msgtype,
            "sensor": self.sensor,
            "kind": self.kind,
            "in_bag": self.in_bag,
            "stored": self.stored,
            "skipped": dict(sorted(self.skipped.items())),
        }
        if self.carried_over:
            out["carried_over"] = self.carried_over
        if self.trailing:
            out["trailing_rows"] = self.trailing
        return out


@dataclass
class ReportBuilder:
    """Accumulates the report during a conversion."""

    inputs: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    topics: dict[str, TopicTally] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    clock: dict[str, Any] = field(default_factory=dict)
    sync_quality: dict[str, Any] = field(default_factory=dict)
    sensors: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    extrinsic_sources: dict[str, str] = field(default_factory=dict)
    """Sensor -> ``bag tf`` / ``rig file`` / ``base frame`` / ``identity`` (for the conversion summary, not stored)."""
    reference_choice: str = ""
    """The frame reference and why it was chosen (for the conversion summary, not stored)."""

    def topic(self, topic: str, msgtype: str, sensor: str | None, kind: str, count: int) -> TopicTally:
        tally = self.topics.get(topic)
        if tally is None:
            tally = TopicTally(msgtype=msgtype, sensor=sensor, kind=kind, in_bag=count)
            self.topics[topic] = tally
        return tally

    def skip(self, topic: str, index: int, record_time_ns: int, reason: str, detail: str = "") -> None:
        """Record one message that is not in the store, and why."""
        self.skipped.append(
            {
                "topic": topic,
                "index": int(index),
                "record_time_ns": int(record_time_ns),
                "reason": reason,
                "detail": detail,
            }
        )
        if topic in self.topics:
            self.topics[topic].skipped[reason] += 1

    def skip_unread(self, topic: str, start: int, record_ns: Any, detail: str) -> None:
        """Every message of ``topic`` from topic index ``start`` on was never read (a damaged bag).

        ``record_ns`` holds the record times known from pass 1 (-1 is reported beyond them); the
        topic's bag count bounds the range (``len(record_ns)`` for a topic the report does not know).
        """
        in_bag = self.topics[topic].in_bag if topic in self.topics else len(record_ns)
        known = min(in_bag, len(record_ns))
        for i in range(start, known):
            self.skip(topic, i, int(record_ns[i]), REASON_TRUNCATED, detail)
        first = max(start, known)
        if in_bag > first:
            # promised by the bag's index/metadata but never seen, not even in pass 1: one entry for the range
            # (a count from the file is untrusted: 99 999 999 promised messages are one line, not a list)
            self.skipped.append({"topic": topic, "index": int(first), "count": int(in_bag - first),
                                 "record_time_ns": -1, "reason": REASON_TRUNCATED,
                                 "detail": f"{detail} (promised by the bag's index or metadata, never found)"})
            if topic in self.topics:
                self.topics[topic].skipped[REASON_TRUNCATED] += in_bag - first

    def skip_rest_unread(self, detail: str) -> None:
        """After a damaged bag: every topic's messages neither stored nor skipped were never read.

        Streams read in pass 1 only (ego, IMU, GNSS, ...) stop at the damage; their remaining
        messages are reported as one :data:`REASON_TRUNCATED` range each, so that
        ``stored + skipped == in_bag`` holds for every topic.
        """
        for topic, missing in self.unaccounted().items():
            if missing > 0:
                self.skip_unread(topic, self.topics[topic].in_bag - missing, (), detail)

    @property
    def skipped_count(self) -> int:
        """Messages skipped in all (an entry with ``count`` stands for that many messages)."""
        return sum(int(item.get("count", 1)) for item in self.skipped)

    def stored(self, topic: str, n: int = 1) -> None:
        self.topics[topic].stored += n

    def trailing(self, topic: str) -> None:
        """One row of ``topic`` stored beyond its messages (see :class:`TopicTally`)."""
        self.topics[topic].trailing += 1

    def uncarry(self, topic: str, index: int, record_time_ns: int, detail: str) -> None:
        """A message counted as carried over whose packets were never stored after all: skipped
        with :data:`REASON_PARTIAL_SWEEP` instead."""
        self.topics[topic].stored -= 1
        self.topics[topic].carried_over -= 1
        self.skip(topic, index, record_time_ns, REASON_PARTIAL_SWEEP, detail)

    def carried_over(self, topic: str, n: int = 1) -> None:
        """``n`` messages of ``topic`` stored inside a later message's record (see :class:`TopicTally`)."""
        self.topics[topic].stored += n
        self.topics[topic].carried_over += n

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def unaccounted(self) -> dict[str, int]:
        """Per topic, messages neither stored nor skipped (must be empty at the end)."""
        out = {}
        for name, t in self.topics.items():
            missing = t.in_bag - t.stored - sum(t.skipped.values())
            if missing:
                out[name] = missing
        return out

    def counts(self) -> dict[str, int]:
        """Stored message count per sensor stream (what ``fusion validate`` checks)."""
        out: Counter[str] = Counter()
        for t in self.topics.values():
            if t.sensor is not None:
                out[t.sensor] += t.stored - t.carried_over + t.trailing  # stream rows
        return dict(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "software": software_versions(),
            "inputs": self.inputs,
            "config": self.config,
            "sensors": self.sensors,
            "topics": {k: v.to_dict() for k, v in sorted(self.topics.items())},
            "counts": self.counts(),
            "skipped_total": self.skipped_count,
            "skipped": self.skipped,
            "warnings": self.warnings,
            "clock": self.clock,
            "sync_quality": self.sync_quality,
            **self.extra,
        }
