"""Which topics a conversion reads, as which sensors.

Sensors come from the reader layer's discovery (message types and frame ids),
overridden by a sensor-mapping YAML (``sensors:`` in the config), and filtered
by ``--include-topic`` / ``--exclude-topic``. Every selected topic gets a tally
in the report so that each of its messages is accounted for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from calibration import Rig
from fusion.errors import ConfigError
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.report import ReportBuilder
from fusion.readers.source import BagSource, DecodeOptions


@dataclass
class SelectedSensor:
    """One sensor stream a conversion writes.

    Attributes:
        name: Sensor name (rig key).
        topic: Topic name.
        kind: Registered stream-kind name (:mod:`fusion.kinds`): ``lidar``, ``radar``, ``camera``, ``imu``, ...
        frame_id: Sensor frame.
        msgtype: ROS message type.
        compressed: Camera stream of CompressedImage.
        stamp_source: ``header``, ``record`` or ``topic:<trigger topic>`` (see docs/READERS.md).
        fields: Extra per-point fields to keep (LiDAR/radar), name -> dtype; filled in pass 1.
    """

    name: str
    topic: str
    kind: str
    frame_id: str
    msgtype: str
    compressed: bool = False
    fields: dict[str, np.dtype] = field(default_factory=dict)
    stamp_source: str = "header"
    spec: Any = None  # the reader layer's SensorSpec

    @property
    def trigger_topic(self) -> str | None:
        """Topic whose stamps time this sensor (``stamp_source: topic:<name>``), else None."""
        return self.stamp_source[6:] if self.stamp_source.startswith("topic:") else None


@dataclass
class SelectedSensors:
    """The conversion's sensors, ego source, and per-topic decode options."""

    sensors: dict[str, SelectedSensor]
    imu: SelectedSensor | None
    ego_topic: str | None
    ego_name: str
    world_frame: str | None
    base_frame: str
    decode_options: dict[str, DecodeOptions]
    calibration_topics: list[str]
    continuous: list[SelectedSensor] = field(default_factory=list)
    """Continuous streams besides ``imu`` (the frame IMU): GNSS, further IMUs; stored at full rate."""
    ego_kind: str | None = None
    """Stream kind of ``ego_topic`` (``odometry`` or ``tf``)."""

    def offset_ns(self, rig: Rig, name: str) -> int:
        """The rig's time offset of a sensor (0 when the rig does not know it)."""
        return int(rig.sensor(name).time_offset_ns) if name in rig else 0

    def name_of_topic(self, topic: str) -> str:
        """Sensor name of a selected LiDAR/radar/camera topic."""
        for name, s in self.sensors.items():
            if s.topic == topic:
                return name
        raise KeyError(topic)

    @property
    def topics(self) -> list[str]:
        out = [s.topic for s in self.sensors.values()]
        if self.imu is not None:
            out.append(self.imu.topic)
        out.extend(c.topic for c in self.continuous)
        if self.ego_topic:
            out.append(self.ego_topic)
        return sorted(set(out))


def _wanted(topic: str, cfg: ConvertConfig) -> bool:
    if cfg.include_topics and topic not in cfg.include_topics:
        return False
    return topic not in cfg.exclude_topics


def select_sensors(source: BagSource, cfg: ConvertConfig, report: ReportBuilder) -> SelectedSensors:
    """Resolve sensors from discovery + the sensor-mapping YAML + topic filters."""
    from fusion import kinds
    from fusion.readers.sensors import load_sensor_map, resolve_sensors

    smap_path = cfg.resolve(cfg.sensors)
    overrides = load_sensor_map(smap_path) if smap_path is not None else None
    specs = resolve_sensors(source, overrides)
    topics = source.topics
    sensors: dict[str, SelectedSensor] = {}
    imu: SelectedSensor | None = None
    continuous: list[SelectedSensor] = []
    options: dict[str, DecodeOptions] = {}
    ego_candidates: list[tuple[str, str]] = []
    from fusion.store.names import check_name

    for name, spec in specs.items():
        topic, frame_id = spec.topic, spec.frame_id
        if topic not in topics or not _wanted(topic, cfg):
            continue
        check_name(name, f"sensor name (topic {topic})")
        configured = overrides is not None and name in overrides.sensors
        if topics[topic].count == 0 and not configured:  # advertised, never published: nothing to convert
            report.warn(f"{topic}: no message in the bag; left out (name it in a sensor map to require it)")
            continue
        info = topics[topic]
        options[topic] = spec.decode_options()
        if spec.kind not in kinds.KINDS:
            continue
        stream_kind = kinds.get(spec.kind)
        kind, role = stream_kind.name, stream_kind.role
        if role in (kinds.Role.FRAME, kinds.Role.STREAM):  # STREAM: stored like FRAME, not matched
            sensors[name] = SelectedSensor(
                name,
                topic,
                kind,
                frame_id or info.frame_id,
                info.msgtype,
                compressed=info.msgtype.endswith(("CompressedImage", "CompressedVideo")),
                stamp_source=spec.stamp_source,
                spec=spec,
            )
        elif role is kinds.Role.CONTINUOUS:
            sel = SelectedSensor(name, topic, kind, frame_id or info.frame_id, info.msgtype)
            if imu is None and stream_kind.frame_attr is not None:  # the first one frames slice (imu_range)
                imu = sel
            else:
                continuous.append(sel)
        elif role is kinds.Role.EGO:
            ego_candidates.append((name, topic))
    ego_topic = cfg.ego.topic
    ego_name = "ego"
    if ego_topic is not None:
        if ego_topic not in topics:
            raise ConfigError(f"ego.topic {ego_topic!r} is not in the bag (topics: {', '.join(sorted(topics))})")
        ego_name = next((n for n, t in ego_candidates if t == ego_topic), "ego")
    else:
        ranked = sorted(
            ((kinds.get(topics[t].kind).ego_priority, i, n, t) for i, (n, t) in enumerate(ego_candidates)
             if topics[t].kind in kinds.KINDS and kinds.get(topics[t].kind).role is kinds.Role.EGO)
        )
        if ranked:
            _, _, ego_name, ego_topic = ranked[0]
    calib = [t for t, info in topics.items()
             if info.kind in kinds.KINDS and kinds.get(info.kind).role is kinds.Role.CALIBRATION]
    for name, s in list(sensors.items()) + ([(imu.name, imu)] if imu else []) + [(c.name, c) for c in continuous]:
        report.topic(s.topic, s.msgtype, name, s.kind, topics[s.topic].count)
    if ego_topic is not None:
        report.topic(ego_topic, topics[ego_topic].msgtype, ego_name, "ego", topics[ego_topic].count)
    undecodable = {t: i.type_error for t, i in topics.items() if i.type_error and _wanted(t, cfg)}
    for t, why in undecodable.items():
        report.warn(f"topic {t} is not read: {why}")
    if not sensors and imu is None and not continuous and ego_topic is None:
        why = "".join(f"; {t} cannot be decoded: {e}" for t, e in sorted(undecodable.items()))
        raise ConfigError(
            "no sensor, continuous or ego topic selected (check --include-topic/--exclude-topic or the "
            f"sensors mapping); topics in the bag: {', '.join(sorted(topics))}{why}"
        )
    return SelectedSensors(
        sensors=sensors,
        imu=imu,
        ego_topic=ego_topic,
        ego_name=ego_name,
        world_frame=cfg.ego.world_frame,
        base_frame=cfg.ego.base_frame,
        decode_options=options,
        calibration_topics=sorted(calib),
        continuous=continuous,
        ego_kind=topics[ego_topic].kind if ego_topic is not None else None,
    )


def fields_of(record: Any) -> Mapping[str, np.dtype]:
    """Extra per-point field dtypes of a decoded LiDAR/radar record (1-D fields only)."""
    return {k: v.dtype for k, v in getattr(record, "fields", {}).items() if getattr(v, "ndim", 0) == 1}
