"""`inspect_store`: a JSON-able summary of a store (what ``fusion inspect STORE`` prints)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fusion.errors import StoreCorruptError
from fusion.store.checks import open_problems
from fusion.store.guard import ADVICE
from fusion.store.state import StoreState, check_root, open_root


def _ego_summary(st: StoreState) -> dict[str, Any]:
    """The ego source, its expected accuracy and the per-frame 1σ (p50 / p95 / max) of an estimate."""
    attrs = dict(st.root["ego"].attrs) if "ego" in st.root else {}
    out: dict[str, Any] = {"source": st.frames_attrs.get("ego_source", attrs.get("estimator", attrs.get("source", ""))),
                           "expected_accuracy": attrs.get("expected_accuracy", "")}
    q = np.asarray(st.ego_quality, np.float64)
    for i, name in enumerate(("position_sigma_m", "yaw_sigma_deg")):
        v = q[:, i][np.isfinite(q[:, i])] * (180 / np.pi if i else 1.0)
        if v.size:
            out[name] = {"p50": float(np.median(v)), "p95": float(np.percentile(v, 95)), "max": float(v.max())}
    return out


def inspect_store(url: Any, **storage_options: Any) -> dict[str, Any]:
    """Summarise a store without reading any point or image data.

    Args:
        url: Local directory, ``*.zip`` or ``s3://bucket/key``.
        **storage_options: Remote options.

    Returns:
        ``{"url", "fusion_format", "complete", "created_by", "input_fingerprint", "base_frame",
        "world_frame", "frames", "start_ns", "end_ns", "duration_s", "frame_rate_hz",
        "sensors": {name: {"kind", "topic", "frame_id", "count", "matched_frames",
        "matched_fraction", "median_abs_dt_ms", "max_abs_dt_ms"}}, "ego_samples", "sync", "report_counts", "warnings",
        "skipped_by_topic": {topic: {reason: count}}, "skipped_total", "damage"}`` (``sync``, ``report_counts``,
        the warnings and the skips come from the conversion report when present; ``damage`` lists what
        ``fusion.open`` would refuse the store for, and an unreadable report).

    Raises:
        StoreError / FormatVersionError: when the location holds no readable fusion store
        (an incomplete store is summarised with ``complete: False``); StoreCorruptError when
        the root metadata or an array read at open (times, offsets, frame table) is damaged.
    """
    location, root = open_root(url, storage_options)
    check_root(location.url, dict(root.attrs), allow_incomplete=True)
    st = StoreState(location, root)
    # an interrupted store is mid-write (preallocated columns, counts not yet set): not damage
    damage = open_problems(st) if st.attrs.get("complete", False) is True else list(st.damage)
    try:
        report = st.report
    except StoreCorruptError as exc:
        report = {}
        damage.append(str(exc).removeprefix(f"{location.url}: ").removesuffix(f"; {ADVICE}"))
    t = st.times_ns
    f = int(t.shape[0])
    duration = float((t[-1] - t[0]) / 1e9) if f > 1 else 0.0
    sensors: dict[str, Any] = {}
    for name, s in st.streams.items():
        entry: dict[str, Any] = {"kind": s.kind, "topic": s.attrs.get("topic", ""),
                                 "frame_id": s.attrs.get("frame_id", ""), "count": s.count}
        if name in st.matches:
            _, dt, valid = st.matches[name]
            matched = int(valid.sum())
            adt = np.abs(dt[valid]) / 1e6
            entry.update({"matched_frames": matched, "matched_fraction": matched / f if f else 0.0,
                          "median_abs_dt_ms": float(np.median(adt)) if adt.size else None,
                          "max_abs_dt_ms": float(adt.max()) if adt.size else None})
        sensors[name] = entry
    return {
        "url": location.url,
        "fusion_format": st.attrs.get("fusion_format"),
        "complete": bool(st.attrs.get("complete", False)),
        "created_by": st.attrs.get("created_by"),
        "input_fingerprint": st.attrs.get("input_fingerprint"),
        "base_frame": st.attrs.get("base_frame"),
        "world_frame": st.attrs.get("world_frame"),
        "frames": f,
        "start_ns": int(t[0]) if f else None,
        "end_ns": int(t[-1]) if f else None,
        "duration_s": duration,
        "frame_rate_hz": (f - 1) / duration if duration > 0 else None,
        "sensors": sensors,
        "ego_samples": int(st.ego["time_ns"].shape[0]),
        "ego": _ego_summary(st),
        "sync": report.get("sync", report.get("sync_quality")),
        "report_counts": report.get("counts"),
        "warnings": list(report.get("warnings") or []),
        "skipped_by_topic": _skipped_by_topic(report),
        "skipped_total": int(report.get("skipped_total",
                                        sum(int(i.get("count", 1)) for i in report.get("skipped") or []))),
        "damage": damage,
    }


def _skipped_by_topic(report: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per topic, the number of messages the conversion skipped per reason (from the report)."""
    out: dict[str, dict[str, int]] = {}
    for topic, t in (report.get("topics") or {}).items():
        reasons = {str(k): int(v) for k, v in (t.get("skipped") or {}).items() if v}
        if reasons:
            out[str(topic)] = reasons
    if not out:  # older reports: only the list of skipped messages
        for item in report.get("skipped") or []:
            reasons = out.setdefault(str(item.get("topic", "?")), {})
            reason = str(item.get("reason", "?"))
            reasons[reason] = reasons.get(reason, 0) + int(item.get("count", 1))
    return out
