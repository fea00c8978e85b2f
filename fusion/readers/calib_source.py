"""Calibration sources in a bag: ``/tf_static`` transforms and the first CameraInfo per camera.

Feeds :func:`calibration.rig_from_ros`. Streams only the static topics and the
CameraInfo topics (small), never the sensor data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fusion.errors import DecodeError
from fusion.readers.records import CameraInfoRecord, SensorKind, TransformBatch
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
    """

    static_transforms: list[StaticTransform] = field(default_factory=list)
    camera_infos: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def collect_calibration(source: BagSource) -> CalibrationSources:
    """Collect ``/tf_static`` (every TF_STATIC topic) and the first CameraInfo of each frame."""
    topics = source.topics
    wanted = [
        t for t, i in topics.items() if i.kind in (SensorKind.TF_STATIC, SensorKind.CAMERA_INFO) and not i.type_error
    ]
    out = CalibrationSources()
    edges: dict[tuple[str, str], StaticTransform] = {}
    for raw in source.messages(wanted) if wanted else iter(()):
        is_info = topics[raw.topic].kind is SensorKind.CAMERA_INFO
        if is_info and any(v["topic"] == raw.topic for v in out.camera_infos.values()):
            continue
        try:
            rec = source.decode(raw)
        except DecodeError as exc:
            out.skipped.append(str(exc))
            continue
        if isinstance(rec, TransformBatch):
            for tf in rec.transforms:
                edges[tf.parent_frame, tf.child_frame] = (
                    tf.parent_frame,
                    tf.child_frame,
                    tf.translation_m,
                    tf.rotation_xyzw,
                )
        elif isinstance(rec, CameraInfoRecord) and rec.meta.frame_id not in out.camera_infos:
            out.camera_infos[rec.meta.frame_id] = {
                "width": rec.width,
                "height": rec.height,
                "distortion_model": rec.distortion_model,
                "d": rec.d.tolist(),
                "k": rec.k.reshape(-1).tolist(),
                "topic": raw.topic,
            }
    images = {i.frame_id: t for t, i in topics.items() if i.kind is SensorKind.CAMERA and i.frame_id}
    for frame, info in out.camera_infos.items():
        info["info_topic"] = info["topic"]
        info["topic"] = images.get(frame, info["topic"])
    out.static_transforms = list(edges.values())
    return out
