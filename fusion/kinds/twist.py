"""Stream kind ``twist``: ``geometry_msgs/TwistStamped`` / ``TwistWithCovarianceStamped`` — wheel
odometry published as a twist (no pose), stored at full rate like GNSS.

- Decode: linear (m/s) and angular (rad/s) velocity in the message's frame (base_link for wheels).
- Pass 1: every twist decoded into columns; decode failures reported.
- Plan: sorted onto the common clock; the ego estimator (``ego.source: imu+odom``) takes it as
  wheel odometry when the log has no odometry topic with a twist (:mod:`fusion.pipeline.ego`).
- Store: ``linear_velocity_mps (K, 3)``, ``angular_velocity_radps (K, 3)`` float64.
- Read: ``ds.stream(name).rows()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from fusion.kinds.base import KindBase, Role, TopicScanner
from fusion.kinds.rows import RowStreamWriter, row_problems, write_rows
from fusion.readers.records import TwistSample
from fusion.store.sink import FrameSink

if TYPE_CHECKING:
    from fusion.pipeline.scan import ScanContext
    from fusion.pipeline.sensors import SelectedSensor
    from fusion.pipeline.streams import ImuTable, SampleTable
    from fusion.readers.records import MessageMeta, Record
    from fusion.readers.source import DecodeOptions, RawMessage
    from fusion.store.state import StreamState

#: The stored columns beyond the times: name -> (dtype, shape of one sample).
COLUMNS: dict[str, tuple[Any, tuple[int, ...]]] = {
    "linear_velocity_mps": (np.float64, (3,)), "angular_velocity_radps": (np.float64, (3,)),
}  # fmt: skip
SCAN_COLUMNS: dict[str, tuple[Any, tuple[int, ...]]] = {
    "stamp_ns": (np.int64, ()), "index": (np.int64, ()), "record_ns": (np.int64, ()), **COLUMNS,
}  # fmt: skip


class TwistWriter(RowStreamWriter):
    """``streams/<name>`` of a twist topic: the columns of :data:`COLUMNS`, one row per message."""

    columns = COLUMNS

class _Scanner:
    """Pass 1 of a twist topic: every message decoded into the topic's sample columns."""

    def __init__(self, ctx: ScanContext, topic: str) -> None:
        self.ctx, self.topic = ctx, topic
        self.columns = ctx.samples(topic, SCAN_COLUMNS)

    def message(self, raw: RawMessage) -> None:
        rec = self.ctx.decode_or_report(raw)
        if not isinstance(rec, TwistSample):
            return
        self.ctx.sample_frame(self.topic, rec.meta.frame_id)
        self.columns.append(stamp_ns=rec.meta.stamp_ns, index=rec.meta.index, record_ns=rec.meta.record_time_ns,
                            linear_velocity_mps=rec.linear_velocity_mps,
                            angular_velocity_radps=rec.angular_velocity_radps)


def decode_twist(msg: Any, meta: MessageMeta) -> TwistSample:
    """``TwistStamped`` (``msg.twist``) or ``TwistWithCovarianceStamped`` (``msg.twist.twist``)."""
    tw = msg.twist.twist if hasattr(msg.twist, "twist") else msg.twist
    lin, ang = tw.linear, tw.angular
    return TwistSample(meta, np.array([lin.x, lin.y, lin.z], np.float64), np.array([ang.x, ang.y, ang.z], np.float64))


class TwistKind(KindBase):
    """The ``twist`` stream kind (see module docstring)."""

    name = "twist"
    role = Role.CONTINUOUS
    msgtypes = ("geometry_msgs/msg/TwistStamped", "geometry_msgs/msg/TwistWithCovarianceStamped")
    message_arrays = tuple(COLUMNS)
    records = (TwistSample,)

    def decode(self, msg: Any, meta: MessageMeta, options: DecodeOptions) -> Record:
        return decode_twist(msg, meta)

    def scanner(self, ctx: ScanContext, topic: str, sensor: SelectedSensor | None) -> TopicScanner:
        return _Scanner(ctx, topic)

    def write_table(self, sink: FrameSink, table: ImuTable | SampleTable) -> None:
        """Write the planned twists (common clock, sorted, unique) as one stream."""
        write_rows(self.name, TwistWriter, sink, table)

    def validate(self, stream: StreamState) -> list[str]:
        """Every column has one row per message."""
        return row_problems(stream, COLUMNS)


KIND = TwistKind()
__all__ = ["COLUMNS", "KIND", "TwistKind", "TwistWriter", "decode_twist"]
