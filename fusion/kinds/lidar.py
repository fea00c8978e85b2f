"""Stream kind ``lidar``: ``sensor_msgs/PointCloud2`` LiDAR sweeps with per-point time.

Also decoded into the same :class:`PointCloud` record: raw Ouster packets grouped into sweeps
(``fusion_msgs/PacketSweep``, :mod:`fusion.readers.packets`) and Livox ``CustomMsg``
(:mod:`fusion.readers.livox`).

- Decode: the cloud's points and fields, per-point time normalised to absolute ns
  (:mod:`fusion.readers.lidar_time`).
- Pass 1: stamps and sweep bounds (first/last point time) for the plan; with the spool, the
  decoded sweep is kept for pass 2; without it, only the first cloud is decoded fully (its field
  dtypes) and the others for their time fields — except raw packets, always decoded whole (a
  sweep's stamp is its first point's time, not the header stamp of the message that completed it).
- Pass 2: deskewed to the sweep's reference time (:mod:`fusion.pipeline.compensate`).
- Store: ``xyz (P, 3) float32`` (sensor frame at ``ref_time_ns``), ``time_offset_ns (P,) int32``,
  every other field, ``ref_time_ns (M,)``; optional ``xyz_raw``.
- Read: :class:`LidarFrame` (``frame.lidar[name]``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from fusion.errors import CarriedOverError, DecodeError, StoreError
from fusion.kinds.base import KindBase, Role, StreamWriterLike, TopicScanner
from fusion.kinds.points import PointStreamWriter, PointView
from fusion.lidar_packets.payload import PACKET_LAYOUTS
from fusion.readers.kinds import is_doppler_field, track_id_field
from fusion.readers.records import PointCloud
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


class LidarWriter(PointStreamWriter):
    """``streams/<name>`` of a LiDAR: xyz deskewed to ``ref_time_ns``, per-point time offsets."""

    def __init__(
        self,
        group: StreamGroup,
        *,
        fields: Mapping[str, npt.DTypeLike],
        expected_messages: int,
        expected_points: int,
        with_xyz_raw: bool | None = None,
    ) -> None:
        super().__init__(group, expected_messages, extra_times=("ref_time_ns",))
        self._add("xyz", "float32", (3,), lay.LIDAR_XYZ, expected_points)
        self._add("time_offset_ns", "int32", (), lay.LIDAR_FIELD, expected_points)
        self._point_fields(fields, lay.LIDAR_FIELD, expected_points)
        self._expected_points = expected_points
        self._with_raw = with_xyz_raw
        self._partial: list[int] = []
        if with_xyz_raw:
            self._add("xyz_raw", "float32", (3,), lay.LIDAR_XYZ, expected_points)

    def append(
        self,
        stamp_ns: int,
        record_time_ns: int,
        time_ns: int,
        ref_time_ns: int,
        xyz: np.ndarray,
        time_offset_ns: np.ndarray,
        fields: Mapping[str, np.ndarray],
        xyz_raw: np.ndarray | None = None,
    ) -> None:
        """Append one scan.

        Args:
            stamp_ns: Header stamp (sensor clock), ns.
            record_time_ns: Bag record time, ns.
            time_ns: Common-clock message time, ns.
            ref_time_ns: Common-clock time the points are deskewed to, ns.
            xyz: (N, 3) float32 points in the sensor frame at ``ref_time_ns``, m.
            time_offset_ns: (N,) int32 point time − ``ref_time_ns``.
            fields: Every declared field, each (N,).
            xyz_raw: (N, 3) float32 points before deskew. With ``with_xyz_raw=None`` the first
                message decides whether the stream keeps them; afterwards every message must agree.
        """
        pts = np.asarray(xyz, dtype=np.float32)
        n = pts.shape[0] if pts.ndim == 2 else -1
        self._check_len("xyz", pts, max(n, 0), (3,))
        toff = np.asarray(time_offset_ns).astype(np.int32, copy=False).reshape(-1)
        self._check_len("time_offset_ns", toff, n)
        if self._with_raw is None and self.count == 0:
            self._with_raw = xyz_raw is not None
            if self._with_raw:
                self._add("xyz_raw", "float32", (3,), lay.LIDAR_XYZ, self._expected_points)
                self.create()
        if (xyz_raw is not None) != bool(self._with_raw):
            raise StoreError(
                f"streams/{self.name}: message {self.count}: xyz_raw "
                f"{'given' if xyz_raw is not None else 'missing'} but with_xyz_raw={self._with_raw}"
            )
        prepared = self._prepare_fields(fields, n)
        if xyz_raw is not None:
            prepared["xyz_raw"] = np.asarray(xyz_raw, dtype=np.float32)
            self._check_len("xyz_raw", prepared["xyz_raw"], n, (3,))
        self._append_prepared(prepared)
        self._cols["xyz"].append(pts)
        self._cols["time_offset_ns"].append(toff)
        self._times(stamp_ns=stamp_ns, record_time_ns=record_time_ns, time_ns=time_ns, ref_time_ns=ref_time_ns)
        self._ragged(n)


    def mark_partial(self) -> None:
        """The sweep appended last is not a full rotation (raw packets: the first or last of a log)."""
        self._partial.append(self.count - 1)

    def _final_attrs(self) -> dict[str, object]:
        """``partial_sweeps``: stream rows that are not a full rotation (only when there are any)."""
        return {"partial_sweeps": self._partial} if self._partial else {}


class LidarFrame(PointView):
    """A LiDAR scan matched to a frame (``.xyz``, ``.time_ns`` per point, fields)."""

    _own = frozenset({"xyz", "xyz_raw", "time_offset_ns"})

    @property
    def time_ns(self) -> np.ndarray:
        """(N,) int64 absolute common-clock time of every point (``ref_time_ns + time_offset_ns``)."""
        return self.ref_time_ns + self.column("time_offset_ns").astype(np.int64)

    @property
    def xyz_raw(self) -> np.ndarray | None:
        """(N, 3) float32 points before deskew, if stored."""
        return self.column("xyz_raw") if "xyz_raw" in self.stream.point_columns() else None


def add_lidar_stream(sink: FrameSink, name: str, *, topic: str, frame_id: str, fields: Mapping[str, npt.DTypeLike],
                     expected_messages: int, expected_points: int, attrs: Attrs | None = None,
                     with_xyz_raw: bool | None = None, T_base_sensor: Any = None) -> LidarWriter:
    """Create LiDAR stream ``name`` on ``sink`` (see :meth:`LidarWriter.append`).

    ``with_xyz_raw``: keep pre-deskew points (None: the first ``append`` decides).
    ``T_base_sensor``: optional (4, 4) / SE3 stored as a stream attribute (else the reader uses the rig).
    """
    header = StreamHeader(name, KIND.name, topic, frame_id, dict(attrs or {}), _matrix(T_base_sensor))
    return sink.add_stream(header, lambda g: LidarWriter(g, fields=fields, expected_messages=expected_messages,
                                                         expected_points=expected_points, with_xyz_raw=with_xyz_raw))


def _matrix(T: Any) -> np.ndarray | None:
    return None if T is None else np.asarray(getattr(T, "matrix", T), dtype=np.float64)


class _Scanner:
    """Pass 1 of a LiDAR topic (see module docstring)."""

    def __init__(self, ctx: ScanContext, topic: str, sensor: SelectedSensor) -> None:
        self.ctx, self.sensor = ctx, sensor
        self.clocks = ctx.clocks[topic]
        self.fields_known = False

    def message(self, raw: RawMessage) -> None:
        ctx, c = self.ctx, self.clocks
        if ctx.spool is not None and ctx.spool.active:
            ctx.spool_message(raw, self.sensor, KIND)
            return
        if self.fields_known and raw.msgtype not in PACKET_LAYOUTS:  # after the first cloud: time bounds only
            c.add(ctx.extractor.stamp(raw), raw.record_time_ns)
            try:
                lo, hi, n = ctx.source.lidar_time_bounds(raw, options=ctx.options)
            except DecodeError as exc:
                if isinstance(exc, CarriedOverError):
                    c.carried.add(raw.index)
                return  # no sweep bounds: never a frame; pass 2 reports the message
            c.sweep[raw.index] = (lo, hi)
            c.points[raw.index] = n
            self._trailing(raw)
            return
        try:
            rec = ctx.decode(raw)
        except DecodeError as exc:
            if isinstance(exc, CarriedOverError):
                c.carried.add(raw.index)
            c.add(ctx.extractor.stamp(raw), raw.record_time_ns)  # indices stay aligned; pass 2 reports it
            return
        if not isinstance(rec, PointCloud):
            c.add(ctx.extractor.stamp(raw), raw.record_time_ns)
            return
        c.add(rec.meta.stamp_ns, raw.record_time_ns)
        c.add_sweep(raw.index, rec)
        if not self.fields_known:
            self.sensor.fields = {k: v.dtype for k, v in rec.fields.items() if getattr(v, "ndim", 0) == 1}
            self.fields_known = True
        self._trailing(raw)

    def _trailing(self, raw: RawMessage) -> None:
        """One more row after a raw-packet log's last message (the rotation the log ends in)."""
        tail = self.ctx.trailing(raw)
        if isinstance(tail, PointCloud):
            self.clocks.add(tail.meta.stamp_ns, raw.record_time_ns)
            self.clocks.add_sweep(tail.meta.index, tail)


class LidarKind(KindBase):
    """The ``lidar`` stream kind (see module docstring)."""

    name = "lidar"
    role = Role.FRAME
    msgtypes = ("sensor_msgs/msg/PointCloud2", "fusion_msgs/msg/PacketSweep", "livox_ros_driver/msg/CustomMsg",
                "livox_ros_driver2/msg/CustomMsg", *PACKET_LAYOUTS)
    records = (PointCloud,)
    message_columns = ("ref_time_ns",)
    frame_attr = "lidar"
    reference_priority = 0
    spooled = True
    has_sweeps = True

    def claims(self, msgtype: str, topic: str, fields: Sequence[str]) -> bool:
        """A PointCloud2 without a radial-velocity field and not of tracked objects (the other types
        are LiDAR only)."""
        if not msgtype.endswith("PointCloud2"):
            return True
        return not any(is_doppler_field(f) for f in fields) and track_id_field(fields) is None

    def decode(self, msg: Any, meta: MessageMeta, options: DecodeOptions) -> Record:
        from fusion.readers.decode import decode_lidar
        from fusion.readers.livox import decode_livox, is_livox
        from fusion.readers.packets import decode_sweep, is_sweep

        if is_sweep(msg):  # raw packets grouped into a sweep (fusion.readers.packets)
            return decode_sweep(msg, meta)
        if is_livox(msg):  # Livox CustomMsg (fusion.readers.livox)
            return decode_livox(msg, meta)
        return decode_lidar(msg, meta, options.time_convention)

    def scanner(self, ctx: ScanContext, topic: str, sensor: SelectedSensor | None) -> TopicScanner:
        assert sensor is not None
        return _Scanner(ctx, topic, sensor)

    def open_stream(self, sink: FrameSink, sensor: SelectedSensor, table: MessageTable,
                    ctx: WriteContext) -> StreamWriterLike:
        n = len(table.stamp_ns)
        pts = int(table.points.sum()) if table.points is not None else n * 1024
        cfg = ctx.cfg
        attrs = {"msgtype": sensor.msgtype, "stamp_source": table.stamp_source, "time_offset_ns": table.offset_ns,
                 "deskew": cfg.deskew, "reference_time": cfg.frames.reference_time,
                 "keep_raw_points": cfg.store.keep_raw_points}
        writer = add_lidar_stream(sink, sensor.name, topic=table.topic, frame_id=sensor.frame_id,
                                  fields=dict(sensor.fields), expected_messages=n, expected_points=max(pts, 1),
                                  attrs=attrs)
        ctx.start_lidar(sensor.name)
        return writer

    def write(self, ctx: WriteContext, name: str, writer: StreamWriterLike, record: Record, common_ns: int) -> None:
        if not isinstance(record, PointCloud) or not isinstance(writer, LidarWriter):
            raise DecodeError(f"decoded as {type(record).__name__}, expected {self.name}")
        c = ctx.compensator.lidar(name, ctx.plan.tables[name], record, common_ns)
        writer.append(
            record.meta.stamp_ns, record.meta.record_time_ns, common_ns, c.ref_ns,
            np.ascontiguousarray(c.xyz, dtype=np.float32), c.time_offset_ns, c.fields,
            xyz_raw=c.raw if ctx.cfg.store.keep_raw_points else None,
        )  # fmt: skip
        if record.partial:
            writer.mark_partial()

    def view(self, state: StoreState, stream: StreamState, message: int, frame_time_ns: int, dt_ns: int,
             frame_pose: Any) -> LidarFrame:
        return LidarFrame(state, stream, message, frame_time_ns, dt_ns, frame_pose)

    def validate(self, stream: StreamState) -> list[str]:
        """``ref_time_ns`` has one row per message."""
        ref = stream.message_columns.get("ref_time_ns")
        if ref is None:
            return [f"streams/{stream.name}/ref_time_ns: missing"]
        if ref.shape[0] != stream.count:
            return [f"streams/{stream.name}/ref_time_ns: {ref.shape[0]} rows, expected {stream.count} "
                    "(one per message)"]
        return []


KIND = LidarKind()
__all__ = ["KIND", "LidarFrame", "LidarWriter", "add_lidar_stream"]
