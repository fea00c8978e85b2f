"""A new stream kind is one module: a toy ``range`` kind (``sensor_msgs/Range``) defined here only.

Everything about it — the message type it decodes, its record, its store columns, its frame view
and its validation — lives in this file; registering it is enough for ``fusion convert`` to
store a bag containing it, ``fusion validate`` to check it and ``fusion.open`` to show it in
every frame (``frame.ranges``) and at full rate (``ds.stream(name)``). It then passes the same
conformance suite as the built-in kinds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from rosbags.typesys.store import Typestore

from fusion import kinds
from fusion.errors import DecodeError
from fusion.kinds.base import KindBase, Role, StreamWriterLike
from fusion.readers.records import MessageMeta
from fusion.store import layout as lay
from fusion.store.frame import MessageView
from fusion.store.sink import FrameSink, StreamGroup, StreamHeader
from fusion.store.streams import StreamWriter
from fusion.testing.kinds import NS, T0, StreamKindConformance, header


@dataclass(frozen=True, slots=True)
class RangeReading:
    """One ``sensor_msgs/Range``: distance (m) and field of view (rad)."""

    meta: MessageMeta
    range_m: float
    field_of_view_rad: float


class RangeWriter(StreamWriter):
    """``streams/<name>``: ``range_m (M,) float32`` and ``field_of_view_rad (M,) float32``."""

    def __init__(self, group: StreamGroup, expected_messages: int) -> None:
        super().__init__(group, expected_messages, ragged=False)
        self._add("range_m", "float32", (), lay.MESSAGE, expected_messages)
        self._add("field_of_view_rad", "float32", (), lay.MESSAGE, expected_messages)

    def append(self, rec: RangeReading, time_ns: int) -> None:
        self._cols["range_m"].append(np.array([rec.range_m], np.float32))
        self._cols["field_of_view_rad"].append(np.array([rec.field_of_view_rad], np.float32))
        self._times(stamp_ns=rec.meta.stamp_ns, record_time_ns=rec.meta.record_time_ns, time_ns=time_ns)


class RangeView(MessageView):
    """A range reading matched to a frame."""

    @property
    def range_m(self) -> float:
        return float(self.column("range_m")[0])


class RangeKind(KindBase):
    name = "range"
    role = Role.FRAME
    msgtypes = ("sensor_msgs/msg/Range",)
    records = (RangeReading,)
    frame_attr = "ranges"

    def decode(self, msg: Any, meta: MessageMeta, options: Any) -> Any:
        if not np.isfinite(msg.range):
            raise DecodeError(f"range {msg.range} is not finite")
        return RangeReading(meta, float(msg.range), float(msg.field_of_view))

    def open_stream(self, sink: FrameSink, sensor: Any, table: Any, ctx: Any) -> StreamWriterLike:
        header_ = StreamHeader(sensor.name, self.name, sensor.topic, sensor.frame_id, {"msgtype": sensor.msgtype})
        return sink.add_stream(header_, lambda g: RangeWriter(g, len(table.stamp_ns)))

    def write(self, ctx: Any, name: str, writer: StreamWriterLike, record: Any, common_ns: int) -> None:
        if not isinstance(record, RangeReading) or not isinstance(writer, RangeWriter):
            raise DecodeError(f"decoded as {type(record).__name__}, expected {self.name}")
        writer.append(record, common_ns)

    def view(self, state: Any, stream: Any, message: int, frame_time_ns: int, dt_ns: int, frame_pose: Any) -> Any:
        return RangeView(state, stream, message, frame_time_ns, dt_ns, frame_pose)

    def validate(self, stream: Any) -> list[str]:
        values = np.asarray(stream.array("range_m")[...])
        bad = ~np.isfinite(values) | (values < 0)
        return [f"streams/{stream.name}/range_m: {int(bad.sum())} negative or non-finite"] if bad.any() else []


RANGE = RangeKind()


@pytest.fixture(autouse=True, scope="module")
def registered() -> Iterator[None]:
    kinds.register(RANGE)
    yield
    kinds.unregister(RANGE.name)


class TestRangeKind(StreamKindConformance):
    kind_name = "range"
    sensor = "range_front"
    topic = "/range_front/range"

    def messages(self, store: Typestore) -> list[tuple[str, str, int, Any]]:
        out = []
        for k in range(15):
            stamp = T0 + k * NS // 10 + 1_000_000
            msg = store.types["sensor_msgs/msg/Range"](
                header=header(store, stamp, self.sensor), radiation_type=0, field_of_view=0.5, min_range=0.1,
                max_range=40.0, range=float(1 + 0.5 * k), variance=0.0)
            out.append((self.topic, "sensor_msgs/msg/Range", stamp + 2_000_000, msg))
        for k, value in enumerate((2.0, float("nan"), 3.0)):  # a second sensor; its middle reading is corrupt
            stamp = T0 + k * 750_000_000
            msg = store.types["sensor_msgs/msg/Range"](header=header(store, stamp, "range_rear"), radiation_type=0,
                                                       field_of_view=0.5, min_range=0.1, max_range=40.0, range=value,
                                                       variance=0.0)
            out.append(("/range_rear/range", "sensor_msgs/msg/Range", stamp + 2_000_000, msg))
        out.sort(key=lambda m: m[2])
        return out

    def check_message(self, stored: Any, written: Any) -> None:
        assert stored.range_m == np.float32(written.range)
        assert stored.column("field_of_view_rad")[0] == np.float32(written.field_of_view)

    def test_frame_attribute_and_skipped_message(self, converted: dict[str, Any]) -> None:
        ds = converted["ds"]
        frame = ds[5]
        assert frame.ranges["range_front"].range_m == pytest.approx(frame.views("range")["range_front"].range_m)
        # the second range topic's only message does not decode: skipped, counted, listed with its reason
        listed = [s for s in ds.report["skipped"] if s["topic"] == "/range_rear/range"]
        assert len(listed) == 1 and "not finite" in str(listed[0]), listed
        assert converted["result"].counts["range_rear"] == 2
        np.testing.assert_array_equal([ds.stream("range_rear")[i].range_m for i in range(2)], [2.0, 3.0])


def test_unregistered_kind_is_gone() -> None:
    kinds.unregister(RANGE.name)
    try:
        assert kinds.detect("sensor_msgs/msg/Range", "/r", ()) is None
    finally:
        kinds.register(RANGE)
