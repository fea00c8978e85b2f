"""Calibration sources in a bag: ``/tf_static`` transforms and the first CameraInfo per camera.

Feeds :func:`calibration.rig_from_ros`. Streams only the static topics and the
CameraInfo topics (small), never the sensor data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fusion.errors import DecodeError
from fusion.readers.records import CameraInfoRecord, TransformBatch
from fusion.readers.source import BagSource

StaticTransform = tuple[str, str, np.ndarray, np.ndarray]


@dataclass
class CalibrationSources:
    """What a bag says about its rig.

    Attributes:
        static_transforms: ``(parent, child, translation_m (3,), rotation_xyzw (4,))`` per edge
            (``T_parent_child``), later messages replacing earlier edges.
        camera_infos: camera frame_id → {width, height, distortion_model, d, k, topic, info_topic};
            ``topic`` is the image topic with the same frame id (else the CameraInfo topic).
        skipped: reasons for messages that could not be decoded (topic[index]: reason).
        dynamic_constant: ``(parent, child)`` of dynamic ``/tf`` edges constant over the bag, taken
            as static (only edges ``/tf_static`` does not give).
        dynamic_moving: ``(parent, child)`` of dynamic ``/tf`` edges that move (not part of the rig).
        sensor_frames: frame_id → kind of the bag's sensor topics (LiDAR, camera, radar, IMU, ...).
    """

    static_transforms: list[StaticTransform] = field(default_factory=list)
    camera_infos: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    dynamic_constant: list[tuple[str, str]] = field(default_factory=list)
    dynamic_moving: list[tuple[str, str]] = field(default_factory=list)
    sensor_frames: dict[str, str] = field(default_factory=dict)


def collect_calibration(source: BagSource) -> CalibrationSources:
    """Collect ``/tf_static`` (every TF_STATIC topic), the first CameraInfo of each frame and the
    dynamic ``/tf`` edges that stay constant over the bag (taken as static)."""
    from calibration.rig import sensor_kinds
    from calibration.sources.ros_tree import EdgeVariation
    from fusion import kinds
    from fusion.kinds.calibration import camera_info_dict
    from fusion.kinds.ego import TfKind

    topics = source.topics
    known = {t: kinds.get(i.kind) for t, i in topics.items() if i.kind in kinds.KINDS and not i.type_error}
    dynamic = [t for t, k in known.items() if isinstance(k, TfKind)]
    wanted = [t for t, k in known.items() if k.role is kinds.Role.CALIBRATION] + dynamic
    out = CalibrationSources()
    edges: dict[tuple[str, str], StaticTransform] = {}
    moving = EdgeVariation()
    for raw in source.messages(wanted) if wanted else iter(()):
        is_info = known[raw.topic].provides_intrinsics
        if is_info and any(v["topic"] == raw.topic for v in out.camera_infos.values()):
            continue
        try:
            rec = source.decode(raw)
        except DecodeError as exc:
            out.skipped.append(str(exc))
            continue
        if isinstance(rec, TransformBatch) and not rec.static:
            for tf in rec.transforms:
                moving.add(tf.parent_frame, tf.child_frame, tf.translation_m, tf.rotation_xyzw)
        elif isinstance(rec, TransformBatch):
            for tf in rec.transforms:
                edges[tf.parent_frame, tf.child_frame] = (
                    tf.parent_frame,
                    tf.child_frame,
                    tf.translation_m,
                    tf.rotation_xyzw,
                )
        elif isinstance(rec, CameraInfoRecord) and rec.meta.frame_id not in out.camera_infos:
            out.camera_infos[rec.meta.frame_id] = camera_info_dict(rec, raw.topic)
    images = {topics[t].frame_id: t for t, k in known.items() if k.wants_intrinsics and topics[t].frame_id}
    for frame, info in out.camera_infos.items():
        info["info_topic"] = info["topic"]
        info["topic"] = images.get(frame, info["topic"])
    out.static_transforms = list(edges.values())
    children = {str(c).lstrip("/") for _, c, _, _ in out.static_transforms}
    const, out.dynamic_moving = moving.split(children)
    out.static_transforms += [(p, c, np.asarray(t), np.asarray(q)) for p, c, t, q in const]
    out.dynamic_constant = [(str(p), str(c)) for p, c, _, _ in const]
    for t, k in known.items():
        fid = topics[t].frame_id.lstrip("/") if topics[t].frame_id else ""
        if fid and k.is_sensor and k.name in sensor_kinds() and fid not in out.sensor_frames:
            out.sensor_frames[fid] = k.name
    return out
