"""Which topics the MCAP replay export writes, from a store's streams, rig and ego trajectory.

Topic names are the store's own (each stream's ``topic`` attribute, else ``/<name>``);
``CameraInfo`` goes beside its image topic (``…/image_raw`` or ``…/image/compressed`` →
``…/camera_info``), raw LiDAR points on ``<topic>/raw``, the ego trajectory on the ego source topic
(``/odom`` when that was ``/tf``) and ``/tf``, the rig on ``/tf_static`` (transient local, like a
latched publisher) and boxes on ``/annotations/markers`` (and, asked for, ``/annotations/scene``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fusion.errors import StoreError
from fusion.export import mcap_msgs as mm
from fusion.export.mcap_scene import SCENE_TOPIC, SCENE_UPDATE
from fusion.readers.kinds import is_doppler_field
from fusion.readers.lidar_time import TIME_FIELDS

#: Kinds the export writes; other streams (GNSS, …) are left out with a note.
EXPORTED_KINDS = ("lidar", "radar", "camera", "imu")
MARKERS_TOPIC = "/annotations/markers"
#: Per-point fields never written with deskewed points: re-conversion would read them as point
#: times (and deskew again) or as Doppler (and take the cloud for radar).
_TIME_NAMES = frozenset([*TIME_FIELDS, "time_sec", "time_nsec"])


def _latched() -> tuple[Any, ...]:
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

    zero = QosTime(0, 0)
    return (Qos(QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, zero, zero,
                QosLiveliness.AUTOMATIC, zero, False),)


@dataclass(frozen=True)
class Channel:
    """One output topic: name, ROS 2 message type, offered QoS profiles (empty: rosbag2's default)."""

    topic: str
    msgtype: str
    qos: tuple[Any, ...] = ()


@dataclass(frozen=True)
class SensorChannels:
    """The topics of one stream: ``main`` (its data), ``raw`` (LiDAR raw points), ``info`` (CameraInfo)."""

    name: str
    kind: str
    frame_id: str
    main: Channel
    raw: Channel | None = None
    info: Channel | None = None
    camera: Any = None
    drop: frozenset[str] = frozenset()

    def keep_fields(self, fields: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The per-point fields written (``drop`` left out)."""
        return {k: v for k, v in fields.items() if k not in self.drop}


@dataclass
class TopicPlan:
    """Every output topic and the frame names of a store's export."""

    sensors: dict[str, SensorChannels]
    world: str
    base: str
    odom: Channel | None
    tf: Channel | None
    static: Channel | None
    static_transforms: list[tuple[str, str, np.ndarray, np.ndarray]]
    markers: Channel = field(default_factory=lambda: Channel(MARKERS_TOPIC, mm.MARKER_ARRAY))
    scene: Channel | None = None
    notes: list[str] = field(default_factory=list)
    ego: Any = None

    def static_message(self, stamp_ns: int) -> Any:
        """The ``/tf_static`` message (every rig sensor ``T_base_sensor``) at ``stamp_ns``."""
        return mm.tf_message([mm.transform_stamped(stamp_ns, p, c, t, q) for p, c, t, q in self.static_transforms])


def info_topic(image_topic: str) -> str:
    """``/cam/image_raw`` → ``/cam/camera_info``; ``/cam/image/compressed`` → ``/cam/camera_info``."""
    t = image_topic.rstrip("/")
    if t.endswith("/compressed"):
        t = t[: -len("/compressed")]
    parent = t.rsplit("/", 1)[0]
    return f"{parent}/camera_info"


def plan_topics(ds: Any, sensors: Sequence[str] | None, raw_points: bool, scene_update: bool = False) -> TopicPlan:
    """The topics of exporting ``ds`` (``sensors``: stream names, None = every exported kind;
    ``scene_update``: boxes also as ``foxglove_msgs/SceneUpdate`` on ``/annotations/scene``).

    Raises:
        StoreError: an unknown sensor name, a sensor of a kind the export cannot write, or
            ``raw_points`` for a LiDAR stored without raw points (each naming the option).
    """
    infos = ds.sensors
    notes: list[str] = []
    if sensors is not None:
        unknown = [s for s in sensors if s not in infos]
        if unknown:
            raise StoreError(f"--sensors: no stream {', '.join(map(repr, unknown))} in {ds.url}; "
                             f"streams: {', '.join(sorted(infos))}")
        bad = [s for s in sensors if infos[s].kind not in EXPORTED_KINDS]
        if bad:
            raise StoreError(f"--sensors: {', '.join(bad)} cannot be exported to MCAP (kinds: "
                             f"{', '.join(EXPORTED_KINDS)})")
        names = list(dict.fromkeys(sensors))
    else:
        names = [n for n in sorted(infos) if infos[n].kind in EXPORTED_KINDS]
        skipped = sorted(n for n in infos if infos[n].kind not in EXPORTED_KINDS)
        if skipped:
            notes.append(f"not exported (kind not supported by the MCAP export): {', '.join(skipped)}")
    rig = ds.calibration
    rig_sensors = dict(rig.sensors)
    out: dict[str, SensorChannels] = {}
    for name in names:
        info = infos[name]
        topic = info.topic or f"/{name}"
        frame_id = info.frame_id or name
        if info.kind == "lidar":
            raw = None
            if raw_points:
                sv = ds.stream(name)
                if len(sv) == 0 or sv[0].xyz_raw is None:
                    raise StoreError(f"--raw-points: LiDAR {name!r} was stored without raw points (convert with "
                                     "store.keep_raw_points: true, or leave out --raw-points)")
                raw = Channel(f"{topic.rstrip('/')}/raw", mm.POINTCLOUD2)
            drop = frozenset(f for f in _field_names(ds, name) if f in _TIME_NAMES or is_doppler_field(f))
            out[name] = SensorChannels(name, "lidar", frame_id, Channel(topic, mm.POINTCLOUD2), raw=raw, drop=drop)
        elif info.kind == "radar":
            drop = frozenset(f for f in _field_names(ds, name) if is_doppler_field(f)
                             or f in ("doppler_mps", "doppler_comp_mps"))
            out[name] = SensorChannels(name, "radar", frame_id, Channel(topic, mm.POINTCLOUD2), drop=drop)
        elif info.kind == "camera":
            sv = ds.stream(name)
            compressed = bool(sv[0].compressed) if len(sv) else bool(sv.attrs.get("compressed", True))
            cam = rig_sensors[name].camera if name in rig_sensors else None
            ch_info = Channel(info_topic(topic), mm.CAMERA_INFO) if cam is not None else None
            if cam is None:
                notes.append(f"{name}: no intrinsics in the rig, so no CameraInfo")
            out[name] = SensorChannels(name, "camera", frame_id,
                                       Channel(topic, mm.COMPRESSED_IMAGE if compressed else mm.IMAGE),
                                       info=ch_info, camera=cam)
        else:
            out[name] = SensorChannels(name, "imu", frame_id, Channel(topic, mm.IMU))
    attrs = ds.attrs
    base = str(getattr(rig, "base_frame", "") or attrs.get("base_frame") or "base_link")
    world = str(attrs.get("world_frame") or "odom")
    ego = ds.ego
    odom = tf = None
    if ego.time_ns.size:
        src = str(ego.attrs.get("source", ""))
        world = str(ego.attrs.get("parent") or world)
        base = str(ego.attrs.get("child") or base)
        odom_topic = src if src.startswith("/") and not src.rstrip("/").endswith(("tf", "tf_static")) else "/odom"
        odom, tf = Channel(odom_topic, mm.ODOMETRY), Channel("/tf", mm.TF)
    else:
        notes.append("the store has no ego trajectory: no /odom, no /tf")
    static: list[tuple[str, str, np.ndarray, np.ndarray]] = []
    seen: set[str] = set()
    for s in rig_sensors.values():
        if s.frame_id in seen or s.frame_id == rig.base_frame:
            continue
        seen.add(s.frame_id)
        static.append((rig.base_frame, s.frame_id, np.asarray(s.T_base_sensor.translation),
                       np.asarray(s.T_base_sensor.quat_xyzw)))
    ch_static = Channel("/tf_static", mm.TF, _latched()) if static else None
    scene = Channel(SCENE_TOPIC, SCENE_UPDATE) if scene_update else None
    return TopicPlan(out, world, base, odom, tf, ch_static, static, scene=scene, notes=notes)


def _field_names(ds: Any, name: str) -> list[str]:
    sv = ds.stream(name)
    return list(sv[0].fields) if len(sv) else []
