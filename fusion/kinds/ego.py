"""Stream kinds ``odometry`` and ``tf``: the recorded ego trajectory ``T_world_base``.

- ``odometry``: ``nav_msgs/Odometry`` (pose + twist in the child frame), ``PoseStamped``,
  ``PoseWithCovarianceStamped`` and ``TransformStamped`` (:mod:`fusion.readers.motion`).
- ``tf``: ``/tf`` (``tf2_msgs/TFMessage``): the transforms ``world → base`` are the trajectory.
- Pass 1: every pose decoded into the scan's pose columns; decode failures reported.
- Plan: sorted onto the common clock, twist by finite differences when absent
  (:func:`fusion.pipeline.plan.build_ego`); stored as ``ego/`` (not a stream) and used for deskew,
  radar compensation and the frames' ``ego_T_world_base``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fusion.kinds.base import KindBase, Role, TopicScanner
from fusion.readers.records import PoseSample, TransformBatch

if TYPE_CHECKING:
    from fusion.pipeline.scan import ScanContext
    from fusion.pipeline.sensors import SelectedSensor
    from fusion.readers.records import MessageMeta, Record
    from fusion.readers.source import DecodeOptions, RawMessage


def is_static_topic(topic: str) -> bool:
    """``/tf_static`` (or any topic whose name ends in ``tf_static``)."""
    return topic.rstrip("/").endswith("tf_static")


class _Scanner:
    """Pass 1 of the ego topic: poses (and, from a TF message, the ``world → base`` transforms)."""

    def __init__(self, ctx: ScanContext) -> None:
        self.ctx = ctx
        self.world, self.base = ctx.selected.world_frame, ctx.selected.base_frame

    def message(self, raw: RawMessage) -> None:
        ctx = self.ctx
        rec = ctx.decode_or_report(raw)
        if isinstance(rec, PoseSample):
            ctx.add_pose(rec)
        elif isinstance(rec, TransformBatch):
            if rec.static:
                ctx.add_static(rec)
            else:
                ctx.add_dynamic(rec)
            for tf in rec.transforms:
                if tf.child_frame == self.base and (self.world is None or tf.parent_frame == self.world):
                    ctx.add_pose(tf)


class _RigTfScanner:
    """Pass 1 of a /tf topic that is not the ego source: its edges, for the rig (constant ones)."""

    def __init__(self, ctx: ScanContext) -> None:
        self.ctx = ctx

    def message(self, raw: RawMessage) -> None:
        rec = self.ctx.decode_quiet(raw)
        if isinstance(rec, TransformBatch) and not rec.static:
            self.ctx.add_dynamic(rec)


class OdometryKind(KindBase):
    """The ``odometry`` stream kind (see module docstring); preferred over ``tf`` as ego source."""

    name = "odometry"
    role = Role.EGO
    msgtypes = (
        "nav_msgs/msg/Odometry",
        "geometry_msgs/msg/PoseStamped",
        "geometry_msgs/msg/PoseWithCovarianceStamped",
        "geometry_msgs/msg/TransformStamped",
    )
    ego_priority = 0

    def decode(self, msg: Any, meta: MessageMeta, options: DecodeOptions) -> Record:
        from fusion.readers import motion

        if hasattr(msg, "child_frame_id") and hasattr(msg, "twist"):
            return motion.decode_odometry(msg, meta)
        if hasattr(msg, "transform"):
            return motion.decode_transform_stamped(msg, meta)
        return motion.decode_pose_stamped(msg, meta)

    def scanner(self, ctx: ScanContext, topic: str, sensor: SelectedSensor | None) -> TopicScanner:
        return _Scanner(ctx)


class TfKind(KindBase):
    """The ``tf`` stream kind: ``/tf`` transforms (see module docstring)."""

    name = "tf"
    role = Role.EGO
    msgtypes = ("tf2_msgs/msg/TFMessage", "tf/msg/tfMessage")
    ego_priority = 1
    is_sensor = False

    def claims(self, msgtype: str, topic: str, fields: Sequence[str]) -> bool:
        """Every TF topic but ``/tf_static``."""
        return not is_static_topic(topic)

    def decode(self, msg: Any, meta: MessageMeta, options: DecodeOptions) -> Record:
        from fusion.readers import motion

        return motion.decode_tf(msg, meta, is_static_topic(meta.topic))

    def scanner(self, ctx: ScanContext, topic: str, sensor: SelectedSensor | None) -> TopicScanner:
        return _Scanner(ctx)

    def rig_scanner(self, ctx: ScanContext) -> TopicScanner:
        """Pass 1 of a /tf topic read only for the rig (its constant edges; see pipeline/rigs.py)."""
        return _RigTfScanner(ctx)


ODOMETRY = OdometryKind()
TF = TfKind()
