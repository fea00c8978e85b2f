"""Ego motion: Odometry, PoseStamped, PoseWithCovarianceStamped, TransformStamped, TF messages.

Frame ids lose any leading slash. Quaternions are x, y, z, w.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fusion.readers.records import MessageMeta, PoseSample, TransformBatch


def frame(name: str) -> str:
    """Frame id without leading slash."""
    return str(name).lstrip("/")


def stamp_ns(header: Any) -> int:
    """``header.stamp`` as int ns."""
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def _t(v: Any) -> np.ndarray:
    return np.array([v.x, v.y, v.z], dtype=np.float64)


def _q(q: Any) -> np.ndarray:
    return np.array([q.x, q.y, q.z, q.w], dtype=np.float64)


def decode_odometry(msg: Any, meta: MessageMeta) -> PoseSample:
    """nav_msgs/Odometry: ``T_parent_child`` with twist in the child frame."""
    pose, twist = msg.pose.pose, msg.twist.twist
    return PoseSample(
        meta, frame(msg.header.frame_id), frame(msg.child_frame_id), _t(pose.position), _q(pose.orientation),
        _t(twist.linear), _t(twist.angular),
    )  # fmt: skip


def decode_pose_stamped(msg: Any, meta: MessageMeta) -> PoseSample:
    """PoseStamped / PoseWithCovarianceStamped: child frame ``""`` (set by the sensor mapping)."""
    pose = msg.pose.pose if hasattr(msg.pose, "pose") else msg.pose
    return PoseSample(meta, frame(msg.header.frame_id), "", _t(pose.position), _q(pose.orientation))


def _transform(ts: Any, meta: MessageMeta, index: int | None = None) -> PoseSample:
    m = (
        meta
        if index is None
        else MessageMeta(meta.topic, meta.index, meta.record_time_ns, stamp_ns(ts.header), frame(ts.header.frame_id))
    )
    tr = ts.transform
    return PoseSample(m, frame(ts.header.frame_id), frame(ts.child_frame_id), _t(tr.translation), _q(tr.rotation))


def decode_transform_stamped(msg: Any, meta: MessageMeta) -> PoseSample:
    """geometry_msgs/TransformStamped → ``T_parent_child``."""
    return _transform(msg, meta)


def decode_tf(msg: Any, meta: MessageMeta, static: bool) -> TransformBatch:
    """tf2_msgs/TFMessage (or ROS 1 tf/tfMessage): every transform with its own stamp."""
    return TransformBatch(meta, static, tuple(_transform(ts, meta, i) for i, ts in enumerate(msg.transforms)))
