"""Boxes as ``foxglove_msgs/msg/SceneUpdate`` for the MCAP export (``fusion export mcap --scene-update``).

``foxglove_msgs`` is not in rosbags' typestores: :func:`register_foxglove` registers the ROS 2
definitions kept in ``msgs/foxglove_msgs/msg/`` (see the README there). One message per frame:
a deletion of every earlier entity (``ALL`` at the frame time), then one entity per box, in the
world frame, with a ``CubePrimitive`` (centre, x, y, z, w rotation, size = length, width, height,
m) and a billboard ``TextPrimitive`` label above it; the entity ``id`` is the box's track id and
its ``lifetime`` runs to the next frame, so a viewer that seeks drops stale boxes by itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fusion.export import mcap_msgs as mm

SCENE_UPDATE = "foxglove_msgs/msg/SceneUpdate"
SCENE_TOPIC = "/annotations/scene"
MSG_DIR = Path(__file__).with_name("msgs") / "foxglove_msgs" / "msg"
#: SceneEntityDeletion.type: every entity older than the deletion's timestamp.
DELETE_ALL = 1
#: Height of the label text above the box top, m, and its font size, m.
LABEL_LIFT_M = 0.3
FONT_SIZE_M = 0.6


def register_foxglove(store: Any) -> None:
    """Register the foxglove_msgs definitions of :data:`MSG_DIR` in a rosbags typestore (idempotent)."""
    from rosbags.typesys import get_types_from_msg

    if SCENE_UPDATE in store.types:
        return
    types: dict[str, Any] = {}
    for msg in sorted(MSG_DIR.glob("*.msg")):
        types.update(get_types_from_msg(msg.read_text(), f"foxglove_msgs/msg/{msg.stem}"))
    store.register(types)


def _t(name: str) -> Any:
    return mm.typestore().types[name]


def _time(ns: int) -> Any:
    sec, nsec = divmod(int(ns), mm.NS)
    return _t("builtin_interfaces/msg/Time")(sec=sec, nanosec=nsec)


def _duration(ns: int) -> Any:
    sec, nsec = divmod(max(int(ns), 0), mm.NS)
    return _t("builtin_interfaces/msg/Duration")(sec=sec, nanosec=nsec)


def _color(label: str) -> Any:
    c = mm.label_rgba(label)
    return _t("foxglove_msgs/msg/Color")(r=c[0], g=c[1], b=c[2], a=c[3])


def _kv(key: str, value: str) -> Any:
    return _t("foxglove_msgs/msg/KeyValuePair")(key=key, value=value)


def _entity(stamp_ns: int, frame_id: str, box: Any, lifetime_ns: int) -> Any:
    center = np.asarray(box.center_m, dtype=np.float64)
    size = np.asarray(box.size_lwh_m, dtype=np.float64)
    color = _color(box.label)
    cube = _t("foxglove_msgs/msg/CubePrimitive")(pose=mm.pose(center, box.rotation_xyzw), size=mm.vec3(size),
                                                 color=color)
    top = center + np.array([0.0, 0.0, size[2] / 2 + LABEL_LIFT_M])
    text = _t("foxglove_msgs/msg/TextPrimitive")(pose=mm.pose(top, (0.0, 0.0, 0.0, 1.0)), billboard=True,
                                                 font_size=FONT_SIZE_M, scale_invariant=False, color=color,
                                                 text=f"{box.label} {box.track_id}")
    return _t("foxglove_msgs/msg/SceneEntity")(
        timestamp=_time(stamp_ns), frame_id=frame_id, id=str(box.track_id), lifetime=_duration(lifetime_ns),
        frame_locked=False, metadata=[_kv("label", str(box.label)), _kv("track_id", str(box.track_id))],
        arrows=[], cubes=[cube], spheres=[], cylinders=[], lines=[], triangles=[], texts=[text], models=[],
    )  # fmt: skip


def scene_update(stamp_ns: int, frame_id: str, boxes: list[Any], lifetime_ns: int) -> Any:
    """``SceneUpdate`` of one frame's boxes (world frame ``frame_id``, time ``stamp_ns``).

    Args:
        stamp_ns: Frame time, int64 ns (common clock).
        frame_id: The boxes' frame (the store's world frame).
        boxes: ``frame.boxes`` (``center_m`` (3,), ``rotation_xyzw`` (4,), ``size_lwh_m`` (3,), m).
        lifetime_ns: How long the entities stay without a newer message, ns (0: until replaced).
    """
    deletion = _t("foxglove_msgs/msg/SceneEntityDeletion")(timestamp=_time(stamp_ns), type=DELETE_ALL, id="")
    return _t(SCENE_UPDATE)(deletions=[deletion],
                            entities=[_entity(stamp_ns, frame_id, b, lifetime_ns) for b in boxes])
