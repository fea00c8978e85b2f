"""3D cuboid annotations: canonical model, codecs (OpenLABEL, nuScenes, KITTI, vision_msgs bags),
time alignment, points-in-box counting and store I/O. See ``docs/ANNOTATIONS.md``.

Heavy modules (numba kernels, rosbags, jsonschema) load on first use of their module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fusion._lazy import lazy_getattr

if TYPE_CHECKING:
    from fusion.annotations.annotation_set import AnnotationSet, CoordinateSystem, FrameTransform, Issue
    from fusion.annotations.codec import AnnotationCodec, get_codec
    from fusion.annotations.model import Cuboid, to_base, to_sensor

#: public name -> module; imported on first use (the codec registry, ``fusion annotate --help``, needs no numpy)
_LAZY = {
    "AnnotationSet": ".annotation_set", "CoordinateSystem": ".annotation_set", "FrameTransform": ".annotation_set",
    "Issue": ".annotation_set", "AnnotationCodec": ".codec", "get_codec": ".codec", "Cuboid": ".model",
    "to_base": ".model", "to_sensor": ".model",
}  # fmt: skip


__getattr__ = lazy_getattr(__name__, _LAZY)


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
