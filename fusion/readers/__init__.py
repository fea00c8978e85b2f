"""Reader layer: rosbags in, typed records out.

Entry point: :func:`open_bags` returns a :class:`BagSource`; see ``docs/READERS.md``.
"""

from fusion.readers.bag import RosBagSource, open_bags
from fusion.readers.camera import decode_image, to_bgr8
from fusion.readers.reorder import reorder_by_stamp
from fusion.readers.source import BagSource, DecodeOptions, RadarFieldMap, RawMessage, TopicInfo

__all__ = [
    "BagSource",
    "DecodeOptions",
    "RadarFieldMap",
    "RawMessage",
    "RosBagSource",
    "TopicInfo",
    "decode_image",
    "open_bags",
    "reorder_by_stamp",
    "to_bgr8",
]
