"""What a conversion says about each sensor, and the rule that a selected sensor must store something.

- :func:`check_stored`: a selected sensor (frame-matched, IMU, GNSS, ...) with zero stored
  messages fails the conversion with one line naming the sensor and the dominant reason its
  messages were skipped (a sensor the user does not want is excluded with ``--exclude-topic``).
- :func:`sensor_summary`: per sensor, its topic(s), the clock offset applied, where its extrinsic
  comes from (``bag tf`` / ``rig file`` / ``base frame`` / ``identity``), stored and skipped counts and the main
  skip reason; ``fusion convert`` prints it and ``--json`` gives it (:class:`ConvertResult`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fusion.errors import NothingStoredError

if TYPE_CHECKING:
    from calibration import Rig
    from fusion.pipeline.plan import ConversionPlan
    from fusion.pipeline.report import ReportBuilder, TopicTally
    from fusion.pipeline.sensors import SelectedSensor, SelectedSensors


def selected_streams(selected: SelectedSensors) -> list[SelectedSensor]:
    """Every selected sensor stream: frame-matched, the frame IMU, the other continuous streams."""
    return [*selected.sensors.values(), *([selected.imu] if selected.imu is not None else []), *selected.continuous]


def main_skip_reason(tally: TopicTally) -> str | None:
    """The reason most of a topic's skipped messages share (None: nothing skipped)."""
    if not tally.skipped:
        return None
    return max(sorted(tally.skipped.items()), key=lambda kv: kv[1])[0]


def _first_detail(report: ReportBuilder, topic: str, reason: str) -> str:
    return next((str(s["detail"]) for s in report.skipped if s["topic"] == topic and s["reason"] == reason
                 and s.get("detail")), "")


def check_stored(selected: SelectedSensors, report: ReportBuilder) -> None:
    """Fail when a selected sensor stored nothing.

    Raises:
        NothingStoredError: ``sensor <name> (<topic>): 0 of N message(s) stored; main reason: ...``
            for the first such sensor (every one is named when several stored nothing).
    """
    empty = []
    for sel in selected_streams(selected):
        tally = report.topics.get(sel.topic)
        if tally is None or tally.stored > 0:
            continue
        reason = main_skip_reason(tally)
        if reason is None:
            why = "the bag has no message on it" if tally.in_bag == 0 else "no message reached the store"
        else:
            detail = _first_detail(report, sel.topic, reason)
            why = f"{tally.skipped[reason]} {reason}" + (f" ({detail})" if detail else "")
        empty.append(f"sensor {sel.name} ({sel.topic}): 0 of {tally.in_bag} message(s) stored; main reason: {why}")
    if empty:
        more = f"; also {len(empty) - 1} other sensor(s) stored nothing" if len(empty) > 1 else ""
        raise NothingStoredError(
            f"{empty[0]}{more}; the store is not valid (fix the data or config, or leave the topic out with "
            "--exclude-topic)"
        )


def sensor_summary(selected: SelectedSensors, rig: Rig, plan: ConversionPlan,
                   report: ReportBuilder) -> dict[str, dict[str, Any]]:
    """Per sensor: kind, topics, ``clock_offset_ns`` applied and ``clock_domain`` (:mod:`fusion.sync.domains`),
    ``extrinsic`` source, stored/skipped, main reason."""
    out: dict[str, dict[str, Any]] = {}
    for sel in selected_streams(selected):
        tally = report.topics.get(sel.topic)
        topics = [sel.topic] + ([sel.trigger_topic] if sel.trigger_topic else [])
        table = plan.tables.get(sel.name)
        clock = report.clock.get(sel.name) or {}
        offset = table.offset_ns if table is not None else selected.offset_ns(rig, sel.name)
        if table is None and clock.get("applied"):  # a continuous stream: its offset is the applied estimate
            offset = int(clock["offset_ns"])
        skipped = sum(tally.skipped.values()) if tally is not None else 0
        out[sel.name] = {
            "kind": sel.kind,
            "topics": topics,
            "stamp_source": sel.stamp_source if sel.trigger_topic else (table.stamp_source if table else "header"),
            "clock_offset_ns": int(offset),
            "clock_domain": str(clock.get("domain", "common")),
            "extrinsic": report.extrinsic_sources.get(sel.name, "identity"),
            "stored": tally.stored if tally is not None else 0,
            "skipped": skipped,
            "main_skip_reason": main_skip_reason(tally) if tally is not None else None,
        }
    return out
