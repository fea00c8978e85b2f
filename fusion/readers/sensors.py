"""Topic → sensor mapping: discovery from types and frame ids, overridable by YAML.

Discovered names come from the frame id (without ``_optical_frame``, ``_optical``,
``_link``, ``_frame``) or, when the frame is empty, from the topic. The first
odometry-like topic is the ``ego`` sensor. See ``docs/READERS.md`` for the YAML schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from calibration.sources.yaml_errors import yaml_error_line
from fusion.config_values import read_factor, read_name, read_names
from fusion.errors import ConfigError
from fusion.lidar_packets.options import PacketOptions, packet_options
from fusion.readers.records import SensorKind
from fusion.readers.source import BagSource, DecodeOptions, RadarFieldMap, TopicInfo
from fusion.readers.vendor_radar import VendorRadarMap, parse_vendor_radar

_FRAME_SUFFIXES = ("_optical_frame", "_optical", "_link", "_frame")
_TOPIC_NOISE = {
    "image_raw", "image", "compressed", "image_rect", "image_color", "image_rect_color", "points", "data",
    "raw", "fix", "camera_info", "pointcloud", "cloud",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """One sensor of the rig as the bag carries it.

    Attributes:
        name: Sensor name (``lidar_top``, ``camera_front``, ``ego`` ...).
        kind: What it measures.
        topics: Data topic(s); the first is the main one.
        frame_id: Frame of its data (header.frame_id, no leading slash).
        info_topic: CameraInfo topic of a camera, if any.
        radar_fields: Field mapping of a PointCloud2 radar.
        time_convention: LiDAR per-point time convention override (``None`` = detect).
        stamp_source: ``"header"``, ``"record"`` or ``"topic:<trigger topic>"`` (stamp of the
            trigger message nearest before in record time).
        child_frame: Child frame for PoseStamped-like ego topics (default ``base_link``).
        detections: A vendor radar message's detections mapping (``detections:`` key,
            :class:`~fusion.readers.vendor_radar.VendorRadarMap`); requires ``kind: radar``.
        packets: Raw LiDAR packets on the topic (``packets:`` key, :class:`~fusion.lidar_packets.options.PacketOptions`:
            vendor, model, calibration or metadata file, return mode, ranges, cut angle); None = detected
            from the type (Ouster metadata from the bag's ``metadata`` topic).
    """

    name: str
    kind: str
    topics: tuple[str, ...]
    frame_id: str = ""
    info_topic: str | None = None
    radar_fields: RadarFieldMap = field(default_factory=RadarFieldMap)
    time_convention: str | None = None
    stamp_source: str = "header"
    child_frame: str = ""
    packets: PacketOptions | None = None
    detections: VendorRadarMap | None = None

    @property
    def topic(self) -> str:
        """The main data topic."""
        return self.topics[0]

    def decode_options(self) -> DecodeOptions:
        """Per-topic decode options implied by this spec."""
        return DecodeOptions(kind=self.kind, time_convention=self.time_convention, radar_fields=self.radar_fields,
                             packets=self.packets, vendor_radar=self.detections)


@dataclass(frozen=True, slots=True)
class SensorMap:
    """Sensors by name plus topics to ignore (loaded from YAML)."""

    sensors: Mapping[str, SensorSpec]
    ignore: tuple[str, ...] = ()

    def decode_options(self) -> dict[str, DecodeOptions]:
        """topic -> :class:`DecodeOptions`, to pass to ``BagSource.decode``."""
        return {t: s.decode_options() for s in self.sensors.values() for t in s.topics}


def _clean_frame(frame: str) -> str:
    for suffix in _FRAME_SUFFIXES:
        if frame.endswith(suffix) and len(frame) > len(suffix):
            return frame[: -len(suffix)]
    return frame


def _topic_name(topic: str) -> str:
    parts = [p for p in topic.strip("/").split("/") if p and p not in _TOPIC_NOISE]
    return "_".join(parts) or topic.strip("/").replace("/", "_")


def sensor_name(info: TopicInfo) -> str:
    """Name of a discovered sensor: cleaned frame id, else the topic — escaped to a name safe as a store
    path (:func:`fusion.store.names.safe_name`; the frame id and topic stay in the stream's attributes)."""
    from fusion.store.names import safe_name

    return safe_name(_clean_frame(info.frame_id) if info.frame_id else _topic_name(info.name))


def discover_sensors(source: BagSource) -> dict[str, SensorSpec]:
    """Sensors found from message types and frame ids (cameras get their CameraInfo topic)."""
    from fusion import kinds

    topics = source.topics
    infos = {t: i for t, i in topics.items() if i.kind in kinds.KINDS and kinds.get(i.kind).provides_intrinsics}
    out: dict[str, SensorSpec] = {}
    ego_taken = False
    for topic, info in topics.items():
        kind = kinds.get(info.kind) if info.kind in kinds.KINDS else None
        if kind is None or not kind.is_sensor or info.type_error:
            continue
        if kind.role is kinds.Role.EGO and not ego_taken:
            name, ego_taken = "ego", True
        else:
            name = sensor_name(info)
        if name in out:
            name = f"{name}_{_topic_name(topic)}"
        info_topic = None
        if kind.wants_intrinsics:
            ns = topic.rstrip("/").rsplit("/", 2)[0]
            same_frame = [t for t, i in infos.items() if i.frame_id and i.frame_id == info.frame_id]
            same_ns = [t for t in infos if t.startswith(ns + "/") or t.rsplit("/", 1)[0] == topic.rsplit("/", 1)[0]]
            info_topic = next(iter(same_frame or same_ns), None)
        out[name] = SensorSpec(name, info.kind, (topic,), info.frame_id, info_topic)
    return out


def _kind_name(value: Any, where: str) -> str:
    """A sensor map's ``kind``: a registered stream kind (:mod:`fusion.kinds`) or ``other``."""
    from fusion import kinds

    text = str(value)
    if text == SensorKind.OTHER:
        return SensorKind.OTHER
    if text not in kinds.KINDS:
        raise ConfigError(f"{where} {value!r} is not one of {['other', *kinds.KINDS]}")
    try:
        return SensorKind(text)
    except ValueError:
        return text


def _spec_from_yaml(name: str, raw: Any, where: str, base_dir: Path | None = None) -> SensorSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: sensors.{name} must be a mapping")
    known = {
        "topic",
        "topics",
        "kind",
        "frame_id",
        "info_topic",
        "radar_fields",
        "time_convention",
        "stamp_source",
        "child_frame",
        "packets",
        "detections",
    }
    if unknown := set(raw) - known:
        raise ConfigError(
            f"{where}: sensors.{name}: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})"
        )
    at = f"{where}: sensors.{name}"
    if "topics" in raw:
        topics = read_names(raw["topics"], f"{at}.topics")
        if not topics:
            raise ConfigError(f"{at}.topics: expected a non-empty list of topic names, got an empty list")
    elif "topic" in raw:
        topics = (read_name(raw["topic"], f"{at}.topic"),)
    else:
        raise ConfigError(f"{at}.topic is required")
    kind = _kind_name(raw.get("kind", "other"), f"{at}.kind")
    rf = raw.get("radar_fields") or {}
    if not isinstance(rf, dict) or set(rf) - {"doppler", "extras", "doppler_scale"}:
        raise ConfigError(f"{at}.radar_fields takes doppler, extras, doppler_scale")
    stamp_source = _optional_name(raw, "stamp_source", at) or "header"
    if stamp_source not in ("header", "record") and not stamp_source.startswith("topic:"):
        raise ConfigError(f"{at}.stamp_source must be header, record or topic:<trigger topic>")
    return SensorSpec(
        name=name,
        kind=kind,
        topics=topics,
        frame_id=(_optional_name(raw, "frame_id", at) or "").lstrip("/"),
        info_topic=_optional_name(raw, "info_topic", at),
        radar_fields=RadarFieldMap(_optional_name(rf, "doppler", f"{at}.radar_fields"),
                                   read_names(rf.get("extras"), f"{at}.radar_fields.extras"),
                                   read_factor(rf.get("doppler_scale", 1.0), f"{at}.radar_fields.doppler_scale")),
        time_convention=_optional_name(raw, "time_convention", at),
        stamp_source=stamp_source,
        child_frame=_optional_name(raw, "child_frame", at) or "",
        packets=packet_options(raw["packets"], at, base_dir) if "packets" in raw else None,
        detections=_detections(raw, kind, at),
    )


def _optional_name(raw: dict[str, Any], key: str, at: str) -> str | None:
    """``raw[key]`` as a name (:func:`fusion.config_values.read_name`), None when absent or null."""
    value = raw.get(key)
    return None if value is None else read_name(value, f"{at}.{key}")


def _detections(raw: dict[str, Any], kind: str, where: str) -> VendorRadarMap | None:
    if "detections" not in raw:
        return None
    if kind != SensorKind.RADAR:
        raise ConfigError(f"{where}.detections maps a vendor radar message: it needs kind: radar (got {kind!r})")
    return parse_vendor_radar(raw["detections"], f"{where}.detections")


def load_sensor_map(path: Path | str) -> SensorMap:
    """Read a sensor-mapping YAML (schema in docs/READERS.md).

    Raises:
        ConfigError: Missing file, bad YAML or an invalid key (named).
    """
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read sensor map ({exc.strerror or exc})") from None
    except (yaml.YAMLError, ValueError, RecursionError) as exc:  # ValueError: an int literal of > 4300 digits
        raise ConfigError(f"{p}: sensor map is not valid YAML: {yaml_error_line(exc)}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("sensors", {}), dict):
        raise ConfigError(f"{p}: expected a mapping with a 'sensors' mapping")
    sensors = {str(n): _spec_from_yaml(str(n), raw, str(p), p.parent)
               for n, raw in (doc.get("sensors") or {}).items()}
    return SensorMap(sensors, tuple(doc.get("ignore", ()) or ()))


def resolve_sensors(source: BagSource, overrides: SensorMap | Path | str | None = None) -> dict[str, SensorSpec]:
    """Discovered sensors with ``overrides`` applied (an override replaces the sensor on its topic).

    Missing fields of an override (frame_id, kind ``other``, info_topic) are filled from discovery.

    Raises:
        ConfigError: An override names a topic that is not in the bag.
    """
    if overrides is None:
        return discover_sensors(source)
    smap = overrides if isinstance(overrides, SensorMap) else load_sensor_map(overrides)
    configure = getattr(source, "configure_packets", None)
    for spec in smap.sensors.values():
        if spec.packets is not None and spec.packets.vendor in (None, "ouster") and configure is not None:
            configure(spec.topic, spec.packets)  # before discovery: the topic's sweeps need the metadata
    found = discover_sensors(source)
    topics = source.topics
    by_topic = {s.topic: s for s in found.values()}
    out = {n: s for n, s in found.items() if s.topic not in smap.ignore}
    for name, spec in smap.sensors.items():
        for t in (*spec.topics, *([spec.stamp_source[6:]] if spec.stamp_source.startswith("topic:") else [])):
            if t not in topics:
                raise ConfigError(f"sensor map: sensors.{name} names topic {t} which is not in the bag")
        base = by_topic.get(spec.topic)
        if base is not None:
            out.pop(base.name, None)
            info = topics[spec.topic]
            spec = replace(
                spec,
                frame_id=spec.frame_id or base.frame_id,
                kind=base.kind if spec.kind == SensorKind.OTHER else spec.kind,
                info_topic=spec.info_topic or base.info_topic,
            )
            if not spec.frame_id:
                spec = replace(spec, frame_id=info.frame_id)
        out[name] = spec
    return out


def effective_stamps(spec: SensorSpec, stamps: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Stamps of ``spec.topic`` under its ``stamp_source`` (int64 ns, 0 where none is available).

    Args:
        spec: The sensor.
        stamps: ``BagSource.stamps`` output covering the topic (and the trigger topic).
    """
    stamp, rec = stamps[spec.topic]
    if spec.stamp_source == "header":
        return stamp
    if spec.stamp_source == "record":
        return rec.copy()
    trig_stamp, trig_rec = stamps[spec.stamp_source[6:]]
    order = np.argsort(trig_rec, kind="stable")
    idx = np.searchsorted(trig_rec[order], rec, side="right") - 1
    out = np.where(idx >= 0, trig_stamp[order][np.clip(idx, 0, None)], 0)
    return out.astype(np.int64)
