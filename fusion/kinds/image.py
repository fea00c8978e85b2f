"""Stream kind ``image``: a ``sensor_msgs/Image`` that is not a camera picture to match and project —
LiDAR range/intensity panoramas (Ouster's ``/ouster/range_image``), depth images without intrinsics.

- Detection (:func:`non_camera_images`, run on the bag's topic list): an ``Image`` (or
  ``CompressedImage``, whose ``format`` gives the encoding: ``16UC1; compressedDepth``) topic is an
  ``image`` when **all** of: no CameraInfo pairs with it (same frame id, or a CameraInfo topic in
  its own namespace), its frame is not an optical frame (``*optical*``), and one positive sign:
  a depth/range encoding (one channel of 16 or more bits: ``mono16``, ``16UC1``, ``16SC1``,
  ``32SC1``, ``32FC1``, ``64FC1``, or ``compressedDepth``), or its frame is the frame of a LiDAR
  topic of the bag, or its topic names a panorama or depth (``range``, ``depth``, ``intensity``,
  ``signal``, ``reflec``, ``nearir``, ``ambient``, ``panorama``). Every other image topic stays a
  ``camera`` (an 8-bit colour or mono camera without calibration is still a camera).
  ``kind: image`` / ``kind: camera`` in the sensor map overrides the rule.
- Pass 1: stamps; the pixels are written at once like a camera's (:mod:`fusion.pipeline.early`).
- Plan: stored at full rate on the common clock; never matched to frames, never a frame reference,
  no intrinsics, not projected (``fusion calib check`` skips it with a note).
- Store: the camera layout (``pixels (M, H, W[, C])`` in the encoding's dtype, ``format_code``).
- Read: ``ds.stream(name)[i]`` → :class:`ImageView` (``.image``, ``.format``, ``.time_ns``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from fusion.kinds.base import Role
from fusion.kinds.camera import CameraKind
from fusion.kinds.camera_store import CameraFrame, CameraWriter
from fusion.store.sink import Attrs, FrameSink, StreamHeader

if TYPE_CHECKING:
    from fusion.pipeline.execute import WriteContext
    from fusion.pipeline.sensors import SelectedSensor
    from fusion.pipeline.streams import MessageTable
    from fusion.store.state import StoreState, StreamState

#: Encodings of one channel with ≥ 16 bits: depth and range, not a picture.
DEPTH_ENCODINGS = frozenset({"mono16", "16uc1", "16sc1", "32sc1", "32fc1", "64fc1"})
#: Topic words that name a LiDAR panorama or a depth image.
PANORAMA_WORDS = ("range", "depth", "intensity", "signal", "reflec", "nearir", "ambient", "panorama")
IMAGE_TYPE = "sensor_msgs/msg/Image"
#: Types an ``image`` stream is read from: raw pixels, or compressed (``compressedDepth``, 16-bit PNG).
IMAGE_TYPES = (IMAGE_TYPE, "sensor_msgs/msg/CompressedImage")


class ImageView(CameraFrame):
    """A stored non-camera image: ``.image`` (H, W[, C]) in its encoding's dtype, ``.format``, ``.time_ns``."""


def add_image_stream(sink: FrameSink, name: str, *, topic: str, frame_id: str, expected_messages: int,
                     compressed: bool = False, attrs: Attrs | None = None) -> CameraWriter:
    """Create image stream ``name`` on ``sink`` (raw pixels, one image size and dtype per stream; or the
    compressed bytes as received)."""
    header = StreamHeader(name, KIND.name, topic, frame_id, {**dict(attrs or {}), "compressed": compressed}, None)
    return sink.add_stream(header, lambda g: CameraWriter(g, compressed=compressed,
                                                          expected_messages=expected_messages))


def has_camera_info(topic: str, frame_id: str, infos: Mapping[str, str]) -> bool:
    """Whether a CameraInfo topic (``infos``: topic → frame id) belongs to image ``topic``.

    Same non-empty frame id, or a CameraInfo in the image's own folder (``/cam/image_raw`` and
    ``/cam/camera_info``) or under its parent (``/cam/color/image_raw`` and ``/cam/camera_info``)
    when that parent is not the root.
    """
    if frame_id and any(f == frame_id for f in infos.values()):
        return True
    parent = topic.rstrip("/").rsplit("/", 1)[0]
    grand = parent.rsplit("/", 1)[0]
    for t in infos:
        tp = t.rstrip("/").rsplit("/", 1)[0]
        if tp == parent or (grand.strip("/") and (tp == grand or tp.startswith(grand + "/"))):
            return True
    return False


def is_non_camera(topic: str, frame_id: str, encoding: str, infos: Mapping[str, str], lidar_frames: set[str]) -> bool:
    """The detection rule of the module docstring for one ``Image`` topic."""
    if "optical" in frame_id.lower() or has_camera_info(topic, frame_id, infos):
        return False
    tokens = [t for t in topic.lower().replace("/", "_").split("_") if t]  # "orange_cam" names no range
    enc = encoding.split(";")[0].strip().lower()  # CompressedImage.format: "16UC1; compressedDepth png"
    depth = enc in DEPTH_ENCODINGS or "compresseddepth" in encoding.lower()
    return (depth or (bool(frame_id) and frame_id in lidar_frames)
            or any(tok.startswith(w) for tok in tokens for w in PANORAMA_WORDS))


def non_camera_images(topics: Mapping[str, Any], encoding_of: Callable[[str], str]) -> set[str]:
    """The ``Image`` topics of ``topics`` (name → TopicInfo) that are ``image`` streams.

    ``encoding_of(topic)`` gives the encoding of the topic's first message ('' when unreadable);
    it is called only for topics the frame and CameraInfo rules leave open.
    """
    from fusion import kinds

    infos = {t: i.frame_id for t, i in topics.items()
             if i.kind in kinds.KINDS and kinds.get(i.kind).provides_intrinsics}
    lidar_frames = {i.frame_id for i in topics.values() if str(getattr(i.kind, "value", i.kind)) == "lidar"}
    out = set()
    for t, i in topics.items():
        if i.msgtype not in IMAGE_TYPES or i.type_error or not i.count:
            continue
        if "optical" in i.frame_id.lower() or has_camera_info(t, i.frame_id, infos):
            continue
        if is_non_camera(t, i.frame_id, encoding_of(t), infos, lidar_frames):
            out.add(t)
    return out


class ImageKind(CameraKind):
    """The ``image`` stream kind (see module docstring)."""

    name = "image"
    role = Role.STREAM
    msgtypes: tuple[str, ...] = IMAGE_TYPES
    message_columns = ("format_code",)
    message_arrays = ("pixels",)
    frame_attr = None
    reference_priority = None
    wants_intrinsics = False

    def claims(self, msgtype: str, topic: str, fields: Any) -> bool:
        """Never from the type alone: :func:`non_camera_images` decides with the whole topic list."""
        return False

    def refine_topics(self, topics: Mapping[str, Any], encoding_of: Callable[[str], str]) -> set[str]:
        """Topics the bag reader re-labels as this kind (see :func:`non_camera_images`)."""
        return non_camera_images(topics, encoding_of)

    def open_early(self, sink: FrameSink, sensor: SelectedSensor) -> CameraWriter:
        return add_image_stream(sink, sensor.name, topic=sensor.topic, frame_id=sensor.frame_id,
                                expected_messages=1024, compressed=sensor.compressed,
                                attrs={"msgtype": sensor.msgtype})

    def open_stream(self, sink: FrameSink, sensor: SelectedSensor, table: MessageTable,
                    ctx: WriteContext) -> CameraWriter:
        attrs = {"msgtype": sensor.msgtype, "stamp_source": table.stamp_source, "time_offset_ns": table.offset_ns}
        return add_image_stream(sink, sensor.name, topic=table.topic, frame_id=sensor.frame_id,
                                expected_messages=len(table.stamp_ns), compressed=sensor.compressed, attrs=attrs)

    def view(self, state: StoreState, stream: StreamState, message: int, frame_time_ns: int, dt_ns: int,
             frame_pose: Any) -> ImageView:
        return ImageView(state, stream, message, frame_time_ns, dt_ns, frame_pose)

    def frame_view(self, state: StoreState, frame: int) -> dict[str, ImageView]:
        """Frames do not show image streams (they are not matched): always empty."""
        return {}


KIND = ImageKind()
__all__ = ["DEPTH_ENCODINGS", "KIND", "ImageKind", "ImageView", "has_camera_info", "is_non_camera",
           "non_camera_images"]
