"""``fusion inspect`` logic: per-topic timing statistics and anomalies of a log, streamed.

Everything comes from one pass of :meth:`BagSource.stamps` (header stamps read
from the raw bytes) plus one decoded message per LiDAR topic (per-point time
convention). Nothing else is deserialized; memory is two int64 per message.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fusion import kinds
from fusion.errors import ConfigError, DecodeError
from fusion.lidar_packets.payload import PACKET_LAYOUTS
from fusion.readers.bag import open_bags
from fusion.readers.records import PointCloud
from fusion.readers.source import BagSource

GAP_PERIODS = 3.0


def is_fusion_store(path: Path) -> bool:
    """True for a directory or zip holding a root ``zarr.json`` whose attributes have ``fusion_format``."""
    try:
        if path.is_dir() and (path / "zarr.json").is_file():
            meta = json.loads((path / "zarr.json").read_text())
        elif path.is_file() and path.suffix == ".zip" and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                meta = json.loads(zf.read("zarr.json"))
        else:
            return False
    except (OSError, KeyError, ValueError):
        return False
    return "fusion_format" in (meta.get("attributes") or {})


def _ms(ns: float) -> float:
    return round(float(ns) / 1e6, 3)


def stamp_stats(
    stamp_ns: np.ndarray, record_ns: np.ndarray, *, has_header: bool, corrupt: Sequence[int] = ()
) -> dict[str, Any]:
    """Rate, jitter, stamp range, latency and anomalies of one topic.

    Consecutive valid stamps (record order) are compared; zero and corrupt stamps are
    left out (a pair spanning k of them needs a gap of ``3 + k`` periods to count).

    Args:
        stamp_ns: (N,) int64 header stamps in record order (0 = missing).
        record_ns: (N,) int64 record times.
        has_header: The type has a header; when no stamp is nonzero, timing comes from
            record time.
        corrupt: Indices whose stamp could not be read (not counted as zero stamps).

    Returns:
        ``time_source``, ``count``, ``first_stamp_ns`` / ``last_stamp_ns`` (min / max valid
        stamp), ``rate_hz``, ``period_ms`` (median interval), ``jitter_ms`` (std of the
        intervals), ``latency_ms`` {median, p99, min, max} of record − stamp, ``anomalies``
        {zero, non_monotonic, duplicated, bursts, gaps, max_gap_ms} (``bursts``: messages that repeat
        the stamp of the next one in a stream of one burst per stamp,
        :func:`fusion.sync.stamps.stamp_bursts`; rate, jitter and gaps count each burst once).
    """
    from fusion.sync.stamps import stamp_bursts

    n = int(stamp_ns.shape[0])
    bad = np.zeros(n, dtype=bool)
    bad[np.asarray(corrupt, dtype=np.int64)] = True
    valid = (stamp_ns != 0) & ~bad
    use_header = bool(valid.any())
    zero = int(np.count_nonzero((stamp_ns == 0) & ~bad)) if (has_header or use_header) else 0
    pre = stamp_bursts(stamp_ns, record_ns) if use_header else np.zeros(0, np.int64)
    timed = valid.copy()
    timed[pre] = False  # a burst of one stamp counts once (its last message)
    idx = np.flatnonzero(timed) if use_header else np.arange(n)
    t = (stamp_ns if use_header else record_ns)[idx]
    out: dict[str, Any] = {"time_source": "header" if use_header else "record", "count": n}
    out["first_stamp_ns"] = int(t.min()) if t.size else None
    out["last_stamp_ns"] = int(t.max()) if t.size else None
    d = np.diff(t)
    missing = np.cumsum(~valid) if use_header else np.zeros(n, np.int64)  # zero/corrupt stamps up to each message
    skipped = missing[idx[1:]] - missing[idx[:-1]] if idx.size > 1 else np.zeros(0, np.int64)
    pos = d[(d > 0) & (skipped == 0)]
    period = float(np.median(pos)) if pos.size else 0.0
    span = float(t.max() - t.min()) if t.size > 1 else 0.0
    out["rate_hz"] = round((t.size - 1) / (span / 1e9), 4) if span > 0 else None
    out["period_ms"] = _ms(period) if period else None
    out["jitter_ms"] = _ms(float(np.std(pos))) if pos.size > 1 else None
    gaps = d > (GAP_PERIODS + skipped) * period if period else np.zeros(d.shape, bool)
    out["anomalies"] = {
        "zero": zero,
        "non_monotonic": int(np.count_nonzero(d < 0)),
        "duplicated": int(np.count_nonzero(d == 0)),
        "bursts": int(pre.size),
        "gaps": int(np.count_nonzero(gaps)),
        "max_gap_ms": _ms(float(d[gaps].max())) if gaps.any() else None,
    }
    out["latency_ms"] = None
    if use_header:
        lat = (record_ns[valid] - stamp_ns[valid]).astype(np.float64)
        out["latency_ms"] = {
            "median": _ms(np.median(lat)),
            "p99": _ms(np.percentile(lat, 99)),
            "min": _ms(lat.min()),
            "max": _ms(lat.max()),
        }
    return out


def _lidar_convention(src: BagSource, topic: str) -> str | None:
    raw = next(iter(src.messages([topic])), None)
    if raw is None:
        return None
    try:
        rec = src.decode(raw)
    except (DecodeError, ConfigError) as exc:
        return f"undecodable: {exc.reason}"
    return rec.time_convention if isinstance(rec, PointCloud) else None


def _packets(src: BagSource, topic: str) -> dict[str, Any] | None:
    """What a raw LiDAR packet topic holds and how fusion reads it (:mod:`fusion.lidar_packets`)."""
    from fusion.lidar_packets.describe import describe_packets

    raw = next(iter(src.messages([topic])), None)
    layouts = getattr(getattr(src, "decoder", None), "packet_layouts", {})
    return describe_packets(raw, layouts.get(raw.msgtype)) if raw is not None else None


VIDEO_TYPE = "foxglove_msgs/msg/CompressedVideo"


def _video(src: BagSource, topic: str, first: int = 300) -> dict[str, Any]:
    """Codec and keyframes of a compressed video topic (its first ``first`` messages), how fusion reads it."""
    from fusion.kinds.video import is_keyframe, is_video

    fmt, keys, n = "", [], 0
    for raw in src.messages([topic]):
        try:
            msg = src.deserialize(raw)
        except DecodeError:
            continue
        fmt = fmt or str(msg.format)
        if is_video(fmt) and is_keyframe(np.asarray(msg.data, np.uint8), fmt):
            keys.append(raw.index)
        n += 1
        if n >= first:
            break
    gop = int(np.median(np.diff(keys))) if len(keys) > 1 else None
    reads = (f"{fmt} video: bitstream stored as it came (camera), decoded on read from the previous keyframe"
             if is_video(fmt) else f"format {fmt!r} is not a video codec fusion decodes (stored, not decodable)")
    if keys and keys[0] > 0:
        reads += f"; the first {keys[0]} frame(s) precede the first keyframe (not decodable)"
    return {"format": fmt, "keyframes_in_first": {"messages": n, "keyframes": len(keys)},
            "first_keyframe": keys[0] if keys else None, "keyframe_interval": gop, "reads_as": reads}


def inspect_source(src: BagSource) -> dict[str, Any]:
    """Summary of an open log (see :func:`inspect_bags`)."""
    topics = src.topics
    readable = [t for t, i in topics.items() if not i.type_error and i.count]
    stamps = src.stamps(readable, keep_partial=True) if readable else {}
    truncated = getattr(src, "truncated", None)
    corrupt = getattr(src, "corrupt_stamps", {})
    rec_all = [r for _s, r in stamps.values() if r.size]
    out_topics: dict[str, Any] = {}
    for name, info in topics.items():
        entry: dict[str, Any] = {
            "msgtype": info.msgtype,
            "count": info.count,
            "connections": info.connections,
            "kind": str(getattr(info.kind, "value", info.kind)),
            "frame_id": info.frame_id,
        }
        if info.type_error:
            entry["type_error"] = info.type_error
        if getattr(info, "reader", ""):
            entry["reader"] = info.reader
        if name in stamps:
            s, r = stamps[name]
            bad = corrupt.get(name, [])
            entry.update(stamp_stats(s, r, has_header=info.has_header, corrupt=bad))
            entry["anomalies"]["corrupt"] = len(bad)
        if info.msgtype in PACKET_LAYOUTS and info.count:
            entry["packets"] = _packets(src, name)
            entry["lidar_time_convention"] = "packets (firing time of every point)"
        elif info.kind in kinds.KINDS and kinds.get(info.kind).has_sweeps and info.count and not info.type_error:
            entry["lidar_time_convention"] = _lidar_convention(src, name)
        if info.msgtype == VIDEO_TYPE and info.count and not info.type_error:
            entry["video"] = _video(src, name)
            entry.setdefault("reader", entry["video"]["reads_as"])
        out_topics[name] = entry
    start = int(min(r.min() for r in rec_all)) if rec_all else None
    end = int(max(r.max() for r in rec_all)) if rec_all else None
    summary = {
        "paths": [str(p) for p in src.paths],
        "format": "ros1" if getattr(src, "ros1", False) else "ros2",
        "format_name": getattr(src, "format_name", ""),
        "message_count": sum(i.count for i in topics.values()),
        "start_record_ns": start,
        "end_record_ns": end,
        "duration_s": round((end - start) / 1e9, 6) if start is not None and end is not None else 0.0,
        "topics": out_topics,
    }
    summary["clock_domains"] = clock_domains(stamps, {t: i.has_header for t, i in topics.items()})
    if truncated is not None:
        summary["error"] = str(truncated)
    return summary


def clock_domains(stamps: dict[str, tuple[np.ndarray, np.ndarray]], has_header: dict[str, bool]) -> dict[str, Any]:
    """Per topic with header stamps, its clock domain against the record clock
    (:func:`fusion.sync.domains.analyse_domains`; ``docs/SYNC.md``)."""
    from fusion.sync.domains import StreamClock, analyse_domains

    streams = {t: StreamClock(np.asarray(s, np.int64), np.asarray(r, np.int64))
               for t, (s, r) in stamps.items() if has_header.get(t) and len(s)}
    return {t: {k: v for k, v in f.to_dict().items() if k != "stream"} for t, f in analyse_domains(streams).items()}


def inspect_bags(paths: Sequence[Path | str] | Path | str, *, msg_dirs: Iterable[Path | str] = ()) -> dict[str, Any]:
    """Summarise one log (like ``ros2 bag info`` plus timing quality), streaming.

    Args:
        paths: Bag paths forming one log (see :func:`fusion.readers.open_bags`).
        msg_dirs: Extra ``.msg`` folders.

    Returns:
        ``{"paths", "format", "message_count", "start_record_ns", "end_record_ns", "duration_s",
        "topics": {topic: {"msgtype", "count", "connections", "kind", "frame_id", "time_source",
        "rate_hz", "period_ms", "jitter_ms", "first_stamp_ns", "last_stamp_ns",
        "latency_ms": {median, p99, min, max} | None, "anomalies": {zero, non_monotonic,
        duplicated, gaps, max_gap_ms, corrupt}, "lidar_time_convention"?, "type_error"?}},
        "clock_domains": {topic: {"domain", "offset_to_record_ns", "relative_ns", "relative_to", "drift_ppm",
        "uncertainty_ns", "period_ns", "n_samples", "detail"}}}`` (see :mod:`fusion.sync.domains`).
        A bag damaged part-way adds ``"error"``; the statistics then cover the intact part.

    Raises:
        BagError: The log cannot be opened (names the file).
    """
    with open_bags(paths, msg_dirs=msg_dirs) as src:
        return inspect_source(src)
