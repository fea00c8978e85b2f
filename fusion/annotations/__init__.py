"""3D cuboid annotations: canonical model, codecs (OpenLABEL, nuScenes, KITTI, vision_msgs bags),
time alignment, points-in-box counting and store I/O. See ``docs/ANNOTATIONS.md``.

Heavy modules (numba kernels, rosbags, jsonschema) load on first use of their module.
"""

from __future__ import annotations

from fusion.annotations.annotation_set import AnnotationSet, CoordinateSystem, FrameTransform, Issue
from fusion.annotations.codec import AnnotationCodec, get_codec
from fusion.annotations.model import Cuboid, to_base, to_sensor

__all__ = [
    "AnnotationCodec",
    "AnnotationSet",
    "CoordinateSystem",
    "Cuboid",
    "FrameTransform",
    "Issue",
    "get_codec",
    "to_base",
    "to_sensor",
]
