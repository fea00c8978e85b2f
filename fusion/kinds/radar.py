"""Stream kind ``radar``: radar detections (PointCloud2 with a Doppler field, ``radar_msgs/RadarScan``).

- Decode: positions (sensor frame, m), radial velocity (m/s, positive away), other fields
  (:mod:`fusion.readers.radar`; the sensor map's ``radar_fields`` names the Doppler field).
- Pass 1: stamps and each scan's rows at (0, 0, 0) (a scan being filled,
  :func:`fusion.sync.stamps.republished`); with the spool the decoded scan is kept for pass 2,
  without it every scan is decoded for its field dtypes and those rows, then dropped.
- Pass 2: radial velocity compensated for the sensor's own motion (:mod:`fusion.pipeline.compensate`).
- Store: ``xyz (P, 3) float32``, ``radial_velocity_mps``, ``radial_velocity_comp_mps`` (P,) float32
  and the selected fields.
- Read: :class:`RadarFrame` (``frame.radar[name]``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from fusion.errors import CarriedOverError, DecodeError
from fusion.kinds.base import KindBase, Role, StreamWriterLike, TopicScanner
from fusion.kinds.points import PointStreamWriter, PointView
from fusion.readers.kinds import is_doppler_field
from fusion.readers.records import RadarDetections
from fusion.store import layout as lay
from fusion.store.sink import Attrs, FrameSink, StreamGroup, StreamHeader

if TYPE_CHECKING:
    from fusion.pipeline.execute import WriteContext
    from fusion.pipeline.scan import ScanContext
    from fusion.pipeline.sensors import SelectedSensor
    from fusion.pipeline.streams import MessageTable
    from fusion.readers.records import MessageMeta, Record
    from fusion.readers.source import DecodeOptions, RawMessage
    from fusion.store.state import StoreState, StreamState


class RadarWriter(PointStreamWriter):
    """``streams/<name>`` of a radar: xyz, measured and ego-compensated radial velocity."""

    def __init__(
        self, group: StreamGroup, *, fields: Mapping[str, npt.DTypeLike], expected_messages: int,
        expected_points: int,
    ) -> None:  # fmt: skip
        super().__init__(group, expected_messages)
        self._add("xyz", "float32", (3,), lay.RADAR_POINT, expected_points)
        self._add("radial_velocity_mps", "float32", (), lay.RADAR_POINT, expected_points)
        self._add("radial_velocity_comp_mps", "float32", (), lay.RADAR_POINT, expected_points)
        self._point_fields(fields, lay.RADAR_POINT, expected_points)

    def append(
        self,
        stamp_ns: int,
        record_time_ns: int,
        time_ns: int,
        xyz: np.ndarray,
        radial_velocity_mps: np.ndarray,
        radial_velocity_comp_mps: np.ndarray,
        fields: Mapping[str, np.ndarray],
    ) -> None:
        """Append one scan: xyz (N,3) f32 sensor frame m; velocities (N,) m/s; fields (N,) each."""
        pts = np.asarray(xyz, dtype=np.float32)
        n = pts.shape[0] if pts.ndim == 2 else -1
        self._check_len("xyz", pts, max(n, 0), (3,))
        vr = np.asarray(radial_velocity_mps, dtype=np.float32).reshape(-1)
        vc = np.asarray(radial_velocity_comp_mps, dtype=np.float32).reshape(-1)
        self._check_len("radial_velocity_mps", vr, n)
        self._check_len("radial_velocity_comp_mps", vc, n)
        self._append_prepared(self._prepare_fields(fields, n))
        self._cols["xyz"].append(pts)
        self._cols["radial_velocity_mps"].append(vr)
        self._cols["radial_velocity_comp_mps"].append(vc)
        self._times(stamp_ns=stamp_ns, record_time_ns=record_time_ns, time_ns=time_ns)
        self._ragged(n)


class RadarFrame(PointView):
    """A radar scan matched to a frame (+ measured and ego-compensated radial velocity)."""

    _own = frozenset({"xyz", "radial_velocity_mps", "radial_velocity_comp_mps"})

    @property
    def time_ns(self) -> np.ndarray:
        """(N,) int64 time of every return (the message time; radar returns share one time)."""
        return np.full(len(self), self.message_time_ns, dtype=np.int64)

    @property
    def radial_velocity_mps(self) -> np.ndarray:
        """(N,) float32 measured range rate, m/s."""
        return self.column("radial_velocity_mps")

    @property
    def radial_velocity_comp_mps(self) -> np.ndarray:
        """(N,) float32 ego-motion-compensated range rate, m/s."""
        return self.column("radial_velocity_comp_mps")


def add_radar_stream(sink: FrameSink, name: str, *, topic: str, frame_id: str, fields: Mapping[str, npt.DTypeLike],
                     expected_messages: int, expected_points: int, attrs: Attrs | None = None,
                     T_base_sensor: Any = None) -> RadarWriter:
    """Create radar stream ``name`` on ``sink`` (see :meth:`RadarWriter.append`)."""
    T = None if T_base_sensor is None else np.asarray(getattr(T_base_sensor, "matrix", T_base_sensor), np.float64)
    header = StreamHeader(name, KIND.name, topic, frame_id, dict(attrs or {}), T)
    return sink.add_stream(header, lambda g: RadarWriter(g, fields=fields, expected_messages=expected_messages,
                                                         expected_points=expected_points))


class _Scanner:
    """Pass 1 of a radar topic (see module docstring)."""

    def __init__(self, ctx: ScanContext, topic: str, sensor: SelectedSensor) -> None:
        self.ctx, self.sensor = ctx, sensor
        self.clocks = ctx.clocks[topic]

    def message(self, raw: RawMessage) -> None:
        ctx = self.ctx
        if ctx.spool is not None and ctx.spool.active:
            ctx.spool_message(raw, self.sensor, KIND)
            return
        spec = self.sensor.spec
        vendor = getattr(spec, "detections", None)
        if vendor is not None:  # a vendor message: its time (a stamp field) and scans come from decoding it
            try:
                rec = ctx.decode(raw)
            except DecodeError as exc:
                if isinstance(exc, CarriedOverError):
                    self.clocks.carried.add(raw.index)
                self.clocks.add(ctx.extractor.stamp(raw), raw.record_time_ns)
                return  # pass 2 reports it (or counts it carried over into a joined scan)
            self.clocks.add(rec.meta.stamp_ns, raw.record_time_ns)
            self.clocks.note_rows(raw.index, rec)
            tail = ctx.trailing(raw)
            if tail is not None:  # the scan a joined vendor log ends in: one more row
                self.clocks.add(tail.meta.stamp_ns, raw.record_time_ns)
        else:
            self.clocks.add(ctx.extractor.stamp(raw), raw.record_time_ns)
            try:  # decoded (a scan is small) for its fields and the rows a scan being filled leaves at 0
                rec = ctx.decode(raw)
            except DecodeError:
                return  # pass 2 reports it
            self.clocks.note_rows(raw.index, rec)
        if not self.sensor.fields and isinstance(rec, RadarDetections):
            self.sensor.fields = {k: v.dtype for k, v in rec.fields.items() if getattr(v, "ndim", 0) == 1}


class RadarKind(KindBase):
    """The ``radar`` stream kind (see module docstring)."""

    name = "radar"
    role = Role.FRAME
    msgtypes = ("sensor_msgs/msg/PointCloud2", "radar_msgs/msg/RadarScan")
    records = (RadarDetections,)
    frame_attr = "radar"
    spooled = True
    reference_priority = 2  # frames from a radar only when there is no LiDAR and no camera

    def claims(self, msgtype: str, topic: str, fields: Sequence[str]) -> bool:
        """A RadarScan, or a PointCloud2 with a radial-velocity field."""
        return msgtype != "sensor_msgs/msg/PointCloud2" or any(is_doppler_field(f) for f in fields)

    def decode(self, msg: Any, meta: MessageMeta, options: DecodeOptions) -> Record:
        from fusion.readers import radar

        if hasattr(msg, "returns"):
            return radar.decode_radar_scan(msg, meta)
        return radar.decode_radar_cloud(msg, meta, options.radar_fields)

    def scanner(self, ctx: ScanContext, topic: str, sensor: SelectedSensor | None) -> TopicScanner:
        assert sensor is not None
        return _Scanner(ctx, topic, sensor)

    def open_stream(self, sink: FrameSink, sensor: SelectedSensor, table: MessageTable,
                    ctx: WriteContext) -> StreamWriterLike:
        n = len(table.stamp_ns)
        attrs = {"msgtype": sensor.msgtype, "stamp_source": table.stamp_source, "time_offset_ns": table.offset_ns}
        return add_radar_stream(sink, sensor.name, topic=table.topic, frame_id=sensor.frame_id,
                                fields=dict(sensor.fields), expected_messages=n, expected_points=max(n * 64, 1),
                                attrs=attrs)

    def write(self, ctx: WriteContext, name: str, writer: StreamWriterLike, record: Record, common_ns: int) -> None:
        if not isinstance(record, RadarDetections) or not isinstance(writer, RadarWriter):
            raise DecodeError(f"decoded as {type(record).__name__}, expected {self.name}")
        keep = ctx.selected.sensors[name].fields
        fields = {k: v for k, v in record.fields.items() if k in keep}
        comp = ctx.compensator.radar(name, record, common_ns)
        writer.append(record.meta.stamp_ns, record.meta.record_time_ns, common_ns, record.xyz,
                      record.radial_velocity_mps, comp, fields)

    def view(self, state: StoreState, stream: StreamState, message: int, frame_time_ns: int, dt_ns: int,
             frame_pose: Any) -> RadarFrame:
        return RadarFrame(state, stream, message, frame_time_ns, dt_ns, frame_pose)


KIND = RadarKind()
__all__ = ["KIND", "RadarFrame", "RadarWriter", "add_radar_stream"]
