"""Stream kinds ``tf_static`` and ``camera_info``: where a bag carries its rig.

Both are read in pass 1 only (every ``/tf_static`` transform; the first ``CameraInfo`` of each
camera) and become the rig (:func:`fusion.pipeline.rigs.resolve_rig`, ``calibration.rig_from_ros``);
they are never stored as streams: the rig is (``rig/``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fusion.kinds.base import KindBase, Role, TopicScanner
from fusion.kinds.ego import is_static_topic
from fusion.readers.records import CameraInfoRecord, TransformBatch

if TYPE_CHECKING:
    from fusion.pipeline.scan import ScanContext
    from fusion.pipeline.sensors import SelectedSensor
    from fusion.readers.records import MessageMeta, Record
    from fusion.readers.source import DecodeOptions, RawMessage


class _StaticScanner:
    def __init__(self, ctx: ScanContext) -> None:
        self.ctx = ctx

    def message(self, raw: RawMessage) -> None:
        rec = self.ctx.decode_quiet(raw)
        if isinstance(rec, TransformBatch) and rec.static:
            self.ctx.add_static(rec)


class TfStaticKind(KindBase):
    """``/tf_static``: the rig's extrinsics."""

    name = "tf_static"
    role = Role.CALIBRATION
    msgtypes = ("tf2_msgs/msg/TFMessage", "tf/msg/tfMessage")
    is_sensor = False

    def claims(self, msgtype: str, topic: str, fields: Sequence[str]) -> bool:
        """A TF topic named ``.../tf_static``."""
        return is_static_topic(topic)

    def decode(self, msg: Any, meta: MessageMeta, options: DecodeOptions) -> Record:
        from fusion.readers import motion

        return motion.decode_tf(msg, meta, True)

    def scanner(self, ctx: ScanContext, topic: str, sensor: SelectedSensor | None) -> TopicScanner:
        return _StaticScanner(ctx)


def camera_info_dict(rec: CameraInfoRecord, topic: str) -> dict[str, Any]:
    """The rig's view of one CameraInfo: size, distortion model and coefficients, K row-major."""
    return {
        "width": rec.width,
        "height": rec.height,
        "distortion_model": rec.distortion_model,
        "d": [float(x) for x in rec.d],
        "k": [float(x) for x in np.ravel(rec.k)],
        "topic": topic,
    }


class _InfoScanner:
    """Only the first intrinsics of a camera are kept: later messages are not decoded."""

    def __init__(self, ctx: ScanContext, topic: str) -> None:
        self.ctx, self.topic = ctx, topic
        self.known = False

    def message(self, raw: RawMessage) -> None:
        if self.known:
            return
        rec = self.ctx.decode_quiet(raw)
        if isinstance(rec, CameraInfoRecord):
            self.known = True
            infos = self.ctx.out.camera_infos
            if rec.meta.frame_id not in infos:
                infos[rec.meta.frame_id] = camera_info_dict(rec, raw.topic)


class CameraInfoKind(KindBase):
    """``sensor_msgs/CameraInfo``: the rig's intrinsics."""

    name = "camera_info"
    role = Role.CALIBRATION
    msgtypes = ("sensor_msgs/msg/CameraInfo",)
    is_sensor = False
    provides_intrinsics = True

    def decode(self, msg: Any, meta: MessageMeta, options: DecodeOptions) -> Record:
        from fusion.readers.camera_info import decode_camera_info

        return decode_camera_info(msg, meta)

    def scanner(self, ctx: ScanContext, topic: str, sensor: SelectedSensor | None) -> TopicScanner:
        return _InfoScanner(ctx, topic)


TF_STATIC = TfStaticKind()
CAMERA_INFO = CameraInfoKind()
