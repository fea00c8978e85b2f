"""Stream kind ``imu``: ``sensor_msgs/Imu`` samples, stored at full rate and sliced per frame.

- Decode: angular velocity (rad/s), specific force (m/s², gravity included), orientation
  x, y, z, w (NaN when the message says absent) in the IMU frame (:mod:`fusion.readers.imu`).
- Pass 1: every sample decoded into columns (no object per sample); decode failures reported.
- Plan: sorted onto the common clock, zero and repeated stamps dropped (reported).
- Store: ``angular_velocity_radps (K, 3)``, ``linear_acceleration_mps2 (K, 3)``,
  ``orientation_xyzw (K, 4)`` float64; ``frames/imu_range`` gives each frame's rows.
- Read: :class:`ImuSamples` (``frame.imu``: the samples since the previous frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fusion.kinds.base import KindBase, Role, TopicScanner
from fusion.pipeline.streams import ImuTable, SampleTable
from fusion.store import layout as lay
from fusion.store.sink import FrameSink, StreamGroup, StreamHeader
from fusion.store.state import read_many
from fusion.store.streams import StreamWriter

if TYPE_CHECKING:
    from fusion.pipeline.scan import ScanContext
    from fusion.pipeline.sensors import SelectedSensor
    from fusion.readers.records import MessageMeta, Record
    from fusion.readers.source import DecodeOptions, RawMessage
    from fusion.store.state import StoreState, StreamState

_NAN4 = np.full(4, np.nan)


class ImuWriter(StreamWriter):
    """``streams/<name>`` of an IMU: float64 (K, 3) rates/accelerations, (K, 4) orientation x,y,z,w."""

    def __init__(self, group: StreamGroup, *, expected_messages: int) -> None:
        super().__init__(group, expected_messages, ragged=False)
        self._add("angular_velocity_radps", "float64", (3,), lay.IMU, expected_messages)
        self._add("linear_acceleration_mps2", "float64", (3,), lay.IMU, expected_messages)
        self._add("orientation_xyzw", "float64", (4,), lay.IMU, expected_messages)

    def append_many(
        self,
        stamp_ns: np.ndarray,
        record_time_ns: np.ndarray,
        time_ns: np.ndarray,
        angular_velocity_radps: np.ndarray,
        linear_acceleration_mps2: np.ndarray,
        orientation_xyzw: np.ndarray,
    ) -> None:
        """Append K samples: times (K,) int64 ns; rates (K,3) rad/s; accelerations (K,3) m/s²; (K,4) xyzw."""
        t = np.asarray(time_ns, dtype=np.int64).reshape(-1)
        k = t.shape[0]
        cols = {
            "stamp_ns": (np.asarray(stamp_ns, dtype=np.int64).reshape(-1), ()),
            "record_time_ns": (np.asarray(record_time_ns, dtype=np.int64).reshape(-1), ()),
            "time_ns": (t, ()),
            "angular_velocity_radps": (np.asarray(angular_velocity_radps, dtype=np.float64), (3,)),
            "linear_acceleration_mps2": (np.asarray(linear_acceleration_mps2, dtype=np.float64), (3,)),
            "orientation_xyzw": (np.asarray(orientation_xyzw, dtype=np.float64), (4,)),
        }
        for col, (arr, inner) in cols.items():
            self._check_len(col, arr, k, inner)
        for col, (arr, _) in cols.items():
            self._cols[col].append(arr)


@dataclass(frozen=True)
class ImuSamples:
    """IMU samples of one frame (rows ``[start, stop)`` of the IMU stream), each (K, …)."""

    stream: str
    start: int
    stop: int
    time_ns: np.ndarray
    stamp_ns: np.ndarray
    angular_velocity_radps: np.ndarray
    linear_acceleration_mps2: np.ndarray
    orientation_xyzw: np.ndarray

    def __len__(self) -> int:
        return self.stop - self.start


def add_imu_stream(sink: FrameSink, name: str, *, topic: str, frame_id: str, expected_messages: int,
                   attrs: dict[str, object] | None = None, T_base_sensor: Any = None) -> ImuWriter:
    """Create IMU stream ``name`` on ``sink`` (see :meth:`ImuWriter.append_many`)."""
    T = None if T_base_sensor is None else np.asarray(getattr(T_base_sensor, "matrix", T_base_sensor), np.float64)
    header = StreamHeader(name, KIND.name, topic, frame_id, dict(attrs or {}), T)
    return sink.add_stream(header, lambda g: ImuWriter(g, expected_messages=expected_messages))


class _Scanner:
    """Pass 1 of the IMU topic: every sample decoded into the scan's IMU columns."""

    def __init__(self, ctx: ScanContext, topic: str) -> None:
        from fusion.pipeline.streams import IMU_COLUMNS

        self.ctx, self.topic = ctx, topic
        primary = ctx.selected.imu
        # the frame IMU's samples go to the scan's IMU columns; a further IMU's to its own
        self.columns = None if primary is not None and primary.topic == topic else ctx.samples(topic, IMU_COLUMNS)

    def message(self, raw: RawMessage) -> None:
        from fusion.readers.records import ImuSample

        ctx = self.ctx
        rec = ctx.decode_or_report(raw)
        if not isinstance(rec, ImuSample):
            return
        out = ctx.out
        if self.columns is None:
            out.imu_frame = out.imu_frame or rec.meta.frame_id
            columns = out.imu
        else:
            ctx.sample_frame(self.topic, rec.meta.frame_id)
            columns = self.columns
        columns.append(
            stamp_ns=rec.meta.stamp_ns,
            index=rec.meta.index,
            record_ns=rec.meta.record_time_ns,
            angular_velocity_radps=rec.angular_velocity_radps,
            linear_acceleration_mps2=rec.linear_acceleration_mps2,
            orientation_xyzw=rec.orientation_xyzw if rec.orientation_xyzw is not None else _NAN4,
        )


class ImuKind(KindBase):
    """The ``imu`` stream kind (see module docstring)."""

    name = "imu"
    role = Role.CONTINUOUS
    msgtypes = ("sensor_msgs/msg/Imu",)
    frame_attr = "imu"
    message_arrays = ("angular_velocity_radps", "linear_acceleration_mps2", "orientation_xyzw")

    def decode(self, msg: Any, meta: MessageMeta, options: DecodeOptions) -> Record:
        from fusion.readers.imu import decode_imu

        return decode_imu(msg, meta)

    def scanner(self, ctx: ScanContext, topic: str, sensor: SelectedSensor | None) -> TopicScanner:
        return _Scanner(ctx, topic)

    def write_table(self, sink: FrameSink, table: ImuTable | SampleTable) -> None:
        """Write the planned IMU samples (common clock, sorted, unique) as one stream."""
        if isinstance(table, SampleTable):
            c = table.columns
            table = ImuTable(table.name, table.topic, table.frame_id, table.stamp_ns, table.record_ns,
                             table.times_ns, c["angular_velocity_radps"], c["linear_acceleration_mps2"],
                             c["orientation_xyzw"])
        w = add_imu_stream(sink, table.name, topic=table.topic, frame_id=table.frame_id,
                           expected_messages=len(table.times_ns), attrs={})
        w.append_many(table.stamp_ns, table.record_ns, table.times_ns, table.angular_velocity_radps,
                      table.linear_acceleration_mps2, table.orientation_xyzw)

    def frame_view(self, state: StoreState, frame: int) -> ImuSamples | None:
        """The IMU samples since the previous frame (None when the store has no IMU)."""
        if _imu_stream(state) is None:
            return None
        requests, finish = self.frame_requests(state, frame)
        return finish(read_many(requests))

    def frame_requests(self, state: StoreState, frame: int) -> tuple[list[tuple[Any, slice]], Any]:
        """The reads of :meth:`frame_view` and how to build it from their results (a frame's batched
        read, :meth:`fusion.store.dataset.Frame.load`, joins them to the other sensors' reads)."""
        name = _imu_stream(state)
        if name is None:
            return [], lambda _values: None
        stream = state.streams[name]
        a, b = (int(x) for x in state.imu_range[frame])
        names = ("stamp_ns", "angular_velocity_radps", "linear_acceleration_mps2", "orientation_xyzw")

        def finish(values: list[Any]) -> ImuSamples:
            return ImuSamples(stream=name, start=a, stop=b, time_ns=stream.time_ns[a:b].copy(),
                              **dict(zip(names, values, strict=True)))

        return [(stream.array(c), slice(a, b)) for c in names], finish

    def validate(self, stream: StreamState) -> list[str]:
        """Every sample column has one row per message."""
        out = []
        for col in ("angular_velocity_radps", "linear_acceleration_mps2", "orientation_xyzw"):
            if col in stream.columns and int(stream.array(col).shape[0]) != stream.count:
                out.append(f"streams/{stream.name}/{col}: {int(stream.array(col).shape[0])} rows, "
                           f"expected {stream.count}")
        return out


KIND = ImuKind()
def _imu_stream(state: StoreState) -> str | None:
    """The stream ``imu_range`` indexes when it is an IMU stream (stores of an earlier release named a
    GNSS-only log's GNSS stream there), else None."""
    name = state.imu_stream
    if name is None or name not in state.streams or state.streams[name].kind not in ("", KIND.name):
        return None
    return name


__all__ = ["KIND", "ImuSamples", "ImuWriter", "add_imu_stream"]
