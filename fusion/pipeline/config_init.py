"""``fusion config init``: what discovery makes of a log, written as a commented config to edit.

The config (``fusion.yaml``) and its sensor map (``fusion.sensors.yaml`` beside it) state every
choice ``fusion convert`` would make with defaults — the sensors and their topics, kinds and frames,
the frame reference and why, the ego source, each stream's clock domain (and whether its offset
would be applied), the rig's base frame — so that a user fixes what discovery got wrong by editing
YAML, instead of writing it from ``docs/``. Both files load with ``fusion convert --config``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from fusion import kinds
from fusion.errors import ConfigError

#: Largest default frame rate, Hz (as the plan: see ``fusion.pipeline.plan.default_rate_hz``).
_MAX_RATE_HZ = 100.0


@dataclass(frozen=True)
class Discovery:
    """What a log holds, as a conversion with defaults would see it.

    Attributes:
        sensors: Sensor name -> sensor-map entry (``topic``, ``kind``, ``frame_id``, ...).
        notes: Sensor name -> one-line remarks (stamps, counts) written as comments.
        reference: The frame reference text and why it was chosen.
        ego_topic: The ego source topic (None: no recorded trajectory).
        clock: Topic -> its clock-domain finding (``fusion inspect``'s).
        base_frame: The rig's base frame and why.
        rig_sensors: Frames the bag's tf/CameraInfo give an extrinsic or intrinsics for.
    """

    sensors: dict[str, dict[str, Any]]
    notes: dict[str, list[str]]
    reference: tuple[str, str]
    ego_topic: str | None
    clock: dict[str, dict[str, Any]]
    base_frame: tuple[str, str]
    rig_sensors: list[str]


def discover(paths: Sequence[Path], msg_dirs: Sequence[Path] = ()) -> Discovery:
    """Discover the sensors, reference, ego source, clocks and rig of the log ``paths``."""
    from calibration.sources.ros_tree import extract_rig
    from fusion.readers import open_bags
    from fusion.readers.calib_source import collect_calibration
    from fusion.readers.inspect import inspect_source
    from fusion.readers.sensors import resolve_sensors

    with open_bags(list(paths), msg_dirs=list(msg_dirs)) as src:
        specs = resolve_sensors(src, None)
        summary = inspect_source(src)
        found = collect_calibration(src)
    topics = summary["topics"]
    sensors: dict[str, dict[str, Any]] = {}
    notes: dict[str, list[str]] = {}
    for name, spec in specs.items():
        entry: dict[str, Any] = {"topic": spec.topic, "kind": str(getattr(spec.kind, "value", spec.kind))}
        if spec.frame_id:
            entry["frame_id"] = spec.frame_id
        if spec.info_topic:
            entry["info_topic"] = spec.info_topic
        stats = topics.get(spec.topic, {})
        anomalies = stats.get("anomalies") or {}
        count = int(stats.get("count", 0))
        note = [f"{count} messages, {stats.get('msgtype', '?')}"
                + (f", {stats['rate_hz']:.1f} Hz" if stats.get("rate_hz") else "")]
        pk = stats.get("packets") or {}
        if pk.get("model"):  # raw LiDAR packets: what the packets say, the calibration to fill in
            entry["packets"] = {"vendor": pk["vendor"], "model": pk["model"], "calibration": None}
            note.append(f"raw packets ({pk.get('return_mode') or 'unknown'} return): set packets.calibration to "
                        "the sensor's angle file (Velodyne YAML / Hesai CSV / AT128 .dat; VLP-16 and HDL-32E may "
                        "leave it null for nominal angles); keys: docs/READERS.md, Raw LiDAR packets")
        if entry["kind"] == "image":
            note.append("not a camera (no CameraInfo, no optical frame; a LiDAR panorama or depth image): stored "
                        "at full rate, not matched to frames, not projected; write kind: camera if it is one")
        if count and anomalies.get("zero", 0) > count / 2:
            entry["stamp_source"] = "record"
            note.append("header stamps mostly 0: aligned by record time (or stamp_source: topic:<trigger>)")
        sensors[name] = entry
        notes[name] = note
    reference = _reference(specs, topics)
    ego = sorted(((kinds.get(s.kind).ego_priority, n, s.topic) for n, s in specs.items()
                  if s.kind in kinds.KINDS and kinds.get(s.kind).role is kinds.Role.EGO))
    ego_topic = ego[0][2] if ego else next((t for t, i in topics.items() if i.get("kind") == "tf"), None)
    base = ("base_link", "no tf in the log: the default")
    rig_sensors: list[str] = []
    if found.static_transforms or found.camera_infos:
        try:
            rig = extract_rig(found.static_transforms, found.camera_infos, "base_link", found.sensor_frames)
            base = (rig.rig.base_frame, rig.base_reason)
            rig_sensors = sorted(rig.rig.sensors)
        except Exception as exc:  # a broken tree is reported, the rest of the config still written
            base = ("base_link", f"the log's tf tree cannot be used: {exc}")
    return Discovery(sensors, notes, reference, ego_topic, dict(summary.get("clock_domains", {})), base,
                     rig_sensors)


def _reference(specs: dict[str, Any], topics: dict[str, Any]) -> tuple[str, str]:
    """The default frame reference (the plan's rule) and why."""
    ranked = sorted((p, str(getattr(s.kind, "value", s.kind)), n) for n, s in specs.items()
                    if s.kind in kinds.KINDS and (p := kinds.get(s.kind).reference_priority) is not None)
    if ranked:
        _, kind, name = ranked[0]
        return f"{kind}:{name}", f"the first {kind} (default order: LiDAR, camera, radar, then a rate)"
    rates = [(float(t.get("rate_hz") or 0.0), topic) for topic, t in topics.items()
             if t.get("kind") in ("imu", "odometry", "gnss", "tf")]
    rates = [r for r in rates if np.isfinite(r[0]) and r[0] > 0]
    if not rates:
        return "rate:10", "no LiDAR, camera, radar or continuous stream with a rate: 10 Hz"
    hz, topic = max(rates)
    chosen = round(min(hz, _MAX_RATE_HZ), 1) or 10.0
    return f"rate:{chosen:g}", f"no LiDAR, camera or radar: the rate of {topic} ({hz:.1f} Hz, capped at 100)"


def _comment(lines: Sequence[str], indent: str = "") -> str:
    return "".join(f"{indent}# {line}\n" for line in lines)


def render(d: Discovery, sensors_file: str, sources: Sequence[Path]) -> tuple[str, str]:
    """The config and the sensor-map YAML texts."""
    smap = ["# Sensor map discovered by `fusion config init` from:",
            *(f"#   {p}" for p in sources), "# Schema: docs/READERS.md. Edit names, kinds, frames; remove a sensor",
            "# to leave it out, or list its topic under `ignore:`.", "sensors:"]
    for name, entry in d.sensors.items():
        body = yaml.safe_dump({name: entry}, sort_keys=False, default_flow_style=False).rstrip("\n")
        smap.append(_comment(d.notes.get(name, []), "  ").rstrip("\n"))
        smap.append("\n".join("  " + line for line in body.splitlines()))
    ref, why = d.reference
    clock_lines = []
    for topic, f in sorted(d.clock.items()):
        domain = f.get("domain", "?")
        applied = "applied by default" if domain not in ("common", "zero") else "reported only"
        clock_lines.append(f"{topic}: {domain}, {f.get('detail', '')} ({applied})")
    cfg = [
        "# Conversion config written by `fusion config init` (schema and defaults: docs/CONVERT.md).",
        "# Every value below is what `fusion convert` chooses with no config; edit what discovery got wrong.",
        f"sensors: {sensors_file}",
        "frames:",
        f"  # {why}",
        f"  reference: {ref}",
        "ego:",
        "  # the recorded ego trajectory (odometry preferred over /tf); null: no trajectory",
        f"  topic: {yaml.safe_dump(d.ego_topic).splitlines()[0] if d.ego_topic else 'null'}",
        "  # auto: the recorded trajectory, else estimated from IMU + wheel odometry / GNSS (docs/SYNC.md §8);",
        "  # or odom | tf | imu | imu+odom | imu+gnss | imu+odom+gnss",
        "  source: auto",
        f"  # rig base frame: {d.base_frame[0]} ({d.base_frame[1]})",
        f"  base_frame: {d.base_frame[0]}",
        "clock:",
        *(f"  # {line}" for line in clock_lines),
        "  # a stream on another clock (≥ domain_threshold_s away) has its offset estimated and applied;",
        "  # list sub-second streams under estimate (with apply: true) to apply theirs too",
        "  estimate: []",
        "  apply: false",
    ]
    if d.rig_sensors:
        cfg.append(f"# the log's tf / CameraInfo calibrate: {', '.join(d.rig_sensors)} "
                   "(`fusion calib extract` writes them as a rig file for `rig:`)")
    return "\n".join(cfg) + "\n", "\n".join(smap) + "\n"


def write_config(paths: Sequence[Path], output: Path, *, overwrite: bool = False,
                 msg_dirs: Sequence[Path] = ()) -> tuple[Path, Path, Discovery]:
    """Discover ``paths`` and write ``output`` and its sensor map (``<stem>.sensors.yaml`` beside it).

    Raises:
        ConfigError: an output exists and ``overwrite`` is False; discovery found no sensor.
    """
    sensors_path = output.with_name(f"{output.stem}.sensors.yaml")
    for p in (output, sensors_path):
        if p.exists() and not overwrite:
            raise ConfigError(f"{p} exists; pass --overwrite to replace it")
    d = discover(paths, msg_dirs)
    if not d.sensors:
        raise ConfigError(f"{', '.join(map(str, paths))}: no sensor topic fusion reads; nothing to configure")
    text, smap = render(d, sensors_path.name, paths)
    output.parent.mkdir(parents=True, exist_ok=True)
    sensors_path.write_text(smap)
    output.write_text(text)
    return output, sensors_path, d
