"""Clock domains of a conversion: analyse every selected stream, estimate and apply offsets.

Every stream (LiDAR, camera, radar, IMU, ego) is compared with the record clock and with the
common clock (:func:`fusion.sync.domains.analyse_domains`). A stream whose clock is evidently
another domain (``clock.domain_threshold_s`` or more away: another wall clock, an uptime clock,
simulated time) has its offset estimated **and applied** by default (``clock.auto_apply``); a
stream named in ``clock.estimate`` is estimated and applied only with ``clock.apply``. An estimate
whose uncertainty exceeds ``clock.max_uncertainty_fraction`` of the stream's period is refused
(reported, not applied). Everything lands in ``report.clock`` (one entry per stream).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fusion.errors import ConfigError
from fusion.pipeline.config import ClockConfig
from fusion.pipeline.report import ReportBuilder
from fusion.pipeline.streams import MessageTable
from fusion.sync.domains import ClockDomain, StreamClock, analyse_domains


@dataclass(frozen=True)
class ClockDecision:
    """Per stream: the offset to use (``common = stamp + offset_ns``) and why."""

    offset_ns: int
    applied: bool
    finding: ClockDomain


def _on_common(stamp_ns: np.ndarray, offset_ns: int) -> np.ndarray:
    s = np.asarray(stamp_ns, dtype=np.int64)
    return np.where(s != 0, s + np.int64(offset_ns), 0)


def stream_clocks(
    tables: dict[str, MessageTable], continuous: dict[str, tuple[np.ndarray, np.ndarray, int]]
) -> dict[str, StreamClock]:
    """Clock samples of every stream with the rig's offsets applied (zero stamps stay 0).

    Args:
        tables: The sensors' message tables (LiDAR publication = its last point time).
        continuous: name -> (stamp_ns, record_ns, rig offset_ns) of the IMU and ego streams.
    """
    out: dict[str, StreamClock] = {}
    for name, tab in tables.items():
        if tab.stamp_source == "record":
            out[name] = StreamClock(np.zeros(len(tab.stamp_ns), np.int64), tab.record_ns, frozen=tab.record_why)
            continue
        stamp = _on_common(tab.stamp_ns, tab.offset_ns)
        publish = None
        if tab.sweep_end_ns is not None:
            publish = np.where(tab.sweep_end_ns >= 0, np.maximum(tab.sweep_end_ns, stamp), stamp)
        out[name] = StreamClock(stamp, np.asarray(tab.record_ns, np.int64), publish)
    for name, (stamp, record, offset) in continuous.items():
        if len(stamp):
            out[name] = StreamClock(_on_common(stamp, offset), np.asarray(record, np.int64))
    return out


def decide_offsets(
    cfg: ClockConfig,
    clocks: dict[str, StreamClock],
    rig_offsets: dict[str, int],
    reference: str | None,
    report: ReportBuilder,
) -> dict[str, ClockDecision]:
    """Analyse the streams' clocks and decide, per stream, the offset to use (reported).

    Args:
        cfg: The ``clock`` section.
        clocks: name -> clock samples on the rig's common clock (:func:`stream_clocks`).
        rig_offsets: name -> the rig's time offset, ns.
        reference: The frame reference sensor (its clock is the common clock), or None.
        report: Gets ``clock`` (per stream) and a warning per applied or refused estimate.

    Raises:
        ConfigError: ``clock.estimate`` names a stream that is not selected.
    """
    for name in cfg.estimate:
        if name not in clocks:
            raise ConfigError(
                f"clock.estimate names '{name}', not a selected stream with stamps "
                f"(known: {', '.join(sorted(clocks)) or 'none'})"
            )
    findings = analyse_domains(
        clocks, reference, threshold_ns=round(cfg.domain_threshold_s * 1e9), exclude_from_reference=cfg.estimate
    )
    out: dict[str, ClockDecision] = {}
    entries: dict[str, Any] = {}
    for name, f in findings.items():
        rig = int(rig_offsets.get(name, 0))
        explicit = name in cfg.estimate
        wanted = (explicit and cfg.apply) or (f.other_domain and cfg.auto_apply)
        reason = ""
        if f.relative_ns is None or f.uncertainty_ns is None:
            wanted, reason = False, f.detail
        elif wanted and f.period_ns and f.uncertainty_ns > cfg.max_uncertainty_fraction * f.period_ns:
            wanted = False
            reason = (
                f"uncertainty {f.uncertainty_ns / 1e6:.3f} ms exceeds {cfg.max_uncertainty_fraction:g} of the "
                f"period ({f.period_ns / 1e6:.3f} ms)"
            )
            report.warn(f"clock: the offset estimate of {name} is not applied: {reason}")
        elif not wanted:
            reason = (
                "another clock domain; clock.auto_apply is false"
                if f.other_domain
                else ("sub-second: reported only (clock.apply applies the estimates of clock.estimate)")
            )
        offset = rig + int(f.relative_ns) if wanted and f.relative_ns is not None else rig
        if wanted:
            report.warn(
                f"clock: {name} {f.detail}; applied offset {int(f.relative_ns or 0) / 1e9:+.6f} s "
                f"(± {int(f.uncertainty_ns or 0) / 1e6:.3f} ms, vs {f.relative_to or 'record time'})"
            )
        elif f.other_domain:
            report.warn(f"clock: {name} {f.detail}; offset NOT applied ({reason})")
        out[name] = ClockDecision(offset, wanted, f)
        entry = f.to_dict()
        entry.pop("stream")
        entry.update(
            offset_ns=rig + int(f.relative_ns) if f.relative_ns is not None else rig,
            applied=wanted,
            rig_offset_ns=rig,
            estimated=explicit or f.other_domain,
        )
        if reason:
            entry["reason"] = reason
        entries[name] = entry
    report.clock = entries
    return out


def apply_to_table(tab: MessageTable, offset_ns: int) -> None:
    """Move a table to a new offset (its common-clock sweep bounds move with it)."""
    delta = np.int64(offset_ns - tab.offset_ns)
    if not delta:
        return
    for attr in ("sweep_start_ns", "sweep_end_ns"):
        arr = getattr(tab, attr)
        if arr is not None:
            setattr(tab, attr, np.where(arr >= 0, arr + delta, arr))
    tab.offset_ns = offset_ns


def warn_unmatched(frames: Any, imu_samples: int | None, imu_name: str | None, report: ReportBuilder) -> None:
    """Warn for every stream that matched nothing in any frame, with the likely reason."""
    if frames.n_frames == 0:
        return
    lo, hi = int(frames.time_ns[0]), int(frames.time_ns[-1])
    for name, m in frames.sensors.items():
        if not bool(np.asarray(m.valid).any()):
            report.warn(
                f"{name} matched no frame (frames span {lo} .. {hi} ns on the common clock; "
                f"tolerance {m.tolerance_ns / 1e6:.1f} ms): check its clock domain (report.clock) or clock.estimate"
            )
    if imu_name is not None and frames.imu_range is not None and imu_samples:
        r = np.asarray(frames.imu_range)
        if int((r[:, 1] - r[:, 0]).sum()) == 0:
            report.warn(
                f"{imu_name}: no IMU sample falls in any frame ({imu_samples} samples; frames span {lo} .. {hi} ns "
                "on the common clock): its clock is another domain (report.clock) or set clock.estimate"
            )
