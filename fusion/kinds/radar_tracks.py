"""Stream kind ``radar_tracks``: ``radar_msgs/RadarTracks`` — the objects a radar tracks.

Also a ``sensor_msgs/PointCloud2`` of tracked objects, one point per track (a track-id field and a
velocity vector ``vx``, ``vy``; the SICK RMS driver's ``cloud_radar_track``):
:func:`fusion.readers.radar.decode_radar_track_cloud`.

- Decode: per track its 16-byte uuid, position (m), velocity (m/s), acceleration (m/s²), size (m),
  classification and the four covariances (upper triangles, 6 values each) in the sensor frame
  (:func:`fusion.readers.radar.decode_radar_tracks`).
- Pass 1: stamps and the rows at (0, 0, 0); with the spool the decoded message is kept for pass 2.
- Plan: matched to frames like a radar scan (nearest message within the tolerance); never the
  default frame reference.
- Pass 2: stored as the radar reported it: track states are estimates at the message time, so
  nothing is deskewed or compensated (``dt_ns`` says how far the message is from the frame).
- Store: ragged, one row per track: ``uuid (T, 16) uint8``, ``position_m``, ``velocity_mps``,
  ``acceleration_mps2``, ``size_m`` (T, 3) float32, ``classification (T,) uint16``,
  ``position_covariance_m2``, ``velocity_covariance_m2ps2``, ``acceleration_covariance_m2ps4``,
  ``size_covariance_m2`` (T, 6) float32 (xx, xy, xz, yy, yz, zz).
- Read: :class:`RadarTracksView` (``frame.radar_tracks[name]``, ``ds.stream(name)[i]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from calibration.se3 import transform_points
from fusion.errors import DecodeError
from fusion.kinds.base import KindBase, Role, StreamWriterLike, TopicScanner
from fusion.readers.kinds import track_id_field
from fusion.readers.records import RadarTrackList
from fusion.store import layout as lay
from fusion.store.frame import MessageView
from fusion.store.sink import StreamGroup, StreamHeader
from fusion.store.streams import StreamWriter

if TYPE_CHECKING:
    from fusion.pipeline.execute import WriteContext
    from fusion.pipeline.scan import ScanContext
    from fusion.pipeline.sensors import SelectedSensor
    from fusion.pipeline.streams import MessageTable
    from fusion.readers.records import MessageMeta, Record
    from fusion.readers.source import DecodeOptions, RawMessage
    from fusion.store.sink import FrameSink
    from fusion.store.state import StoreState, StreamState

#: Stored per-track columns: column -> (record attribute, dtype, shape of one track).
COLUMNS: dict[str, tuple[str, Any, tuple[int, ...]]] = {
    "uuid": ("uuid", np.uint8, (16,)),
    "position_m": ("position", np.float32, (3,)),
    "velocity_mps": ("velocity", np.float32, (3,)),
    "acceleration_mps2": ("acceleration", np.float32, (3,)),
    "size_m": ("size", np.float32, (3,)),
    "classification": ("classification", np.uint16, ()),
    "position_covariance_m2": ("position_covariance", np.float32, (6,)),
    "velocity_covariance_m2ps2": ("velocity_covariance", np.float32, (6,)),
    "acceleration_covariance_m2ps4": ("acceleration_covariance", np.float32, (6,)),
    "size_covariance_m2": ("size_covariance", np.float32, (6,)),
}


class RadarTracksWriter(StreamWriter):
    """``streams/<name>`` of a track topic: the columns of :data:`COLUMNS`, ragged by message."""

    def __init__(self, group: StreamGroup, *, expected_messages: int) -> None:
        super().__init__(group, expected_messages)
        rows = max(expected_messages * 32, 1)
        for col, (_, dtype, shape) in COLUMNS.items():
            self._add(col, dtype, shape, lay.RADAR_POINT, rows)

    def append(self, stamp_ns: int, record_time_ns: int, time_ns: int, tracks: RadarTrackList) -> None:
        """Append one message's tracks (every attribute of :class:`RadarTrackList` with N rows).

        Raises:
            StoreError: An attribute of another length or row shape (nothing is appended then).
        """
        n = int(np.asarray(tracks.uuid).shape[0])
        arrays = {}
        for col, (attr, dtype, shape) in COLUMNS.items():
            arr = np.asarray(getattr(tracks, attr), dtype=dtype)
            self._check_len(col, arr, n, shape)
            arrays[col] = arr
        for col, arr in arrays.items():
            self._cols[col].append(arr)
        self._times(stamp_ns=stamp_ns, record_time_ns=record_time_ns, time_ns=time_ns)
        self._ragged(n)


class RadarTracksView(MessageView):
    """One stored ``RadarTracks`` message: its tracks in the sensor frame at the message time."""

    def __len__(self) -> int:
        return self._rows[1] - self._rows[0]

    def _group_of(self, col: str) -> list[str]:
        return list(COLUMNS)  # tens of rows: read every column of the message at once

    def __getitem__(self, col: str) -> np.ndarray:
        if col not in COLUMNS:
            raise KeyError(f"streams/{self.name} has no track column {col!r}; have {list(COLUMNS)}")
        return self.column(col)

    @property
    def uuid(self) -> list[str]:
        """(T,) track ids as 32-character hex strings (the stored ``uuid (T, 16) uint8``)."""
        return [bytes(u).hex() for u in self.column("uuid")]

    @property
    def position_m(self) -> np.ndarray:
        """(T, 3) float32 track positions, sensor frame, m, at the message time."""
        return self.column("position_m")

    @property
    def velocity_mps(self) -> np.ndarray:
        """(T, 3) float32 track velocities, sensor frame, m/s."""
        return self.column("velocity_mps")

    @property
    def acceleration_mps2(self) -> np.ndarray:
        """(T, 3) float32 track accelerations, sensor frame, m/s²."""
        return self.column("acceleration_mps2")

    @property
    def size_m(self) -> np.ndarray:
        """(T, 3) float32 box sizes (x, y, z extent), m."""
        return self.column("size_m")

    @property
    def classification(self) -> np.ndarray:
        """(T,) uint16 class (0 none, 1 static, 2 dynamic, or the vendor's codes)."""
        return self.column("classification")

    def covariance(self, quantity: str) -> np.ndarray:
        """(T, 3, 3) float32 full covariance of ``position``, ``velocity``, ``acceleration`` or ``size``."""
        col = next((c for c in COLUMNS if c.startswith(f"{quantity}_covariance")), None)
        if col is None:
            raise KeyError(f"no covariance of {quantity!r}; have position, velocity, acceleration, size")
        return upper_to_full(self.column(col))

    def in_base(self) -> np.ndarray:
        """(T, 3) float64 track positions in the base frame, m."""
        return transform_points(self._state.T_base_sensor(self.name), self.position_m)


def upper_to_full(upper: np.ndarray) -> np.ndarray:
    """(…, 6) upper triangles (xx, xy, xz, yy, yz, zz) → (…, 3, 3) symmetric matrices."""
    u = np.asarray(upper)
    i, j = np.triu_indices(3)
    out = np.zeros((*u.shape[:-1], 3, 3), dtype=u.dtype)
    out[..., i, j] = u
    out[..., j, i] = u
    return out


class _Scanner:
    """Pass 1 of a track topic: stamps and rows at (0, 0, 0); the decoded message kept when the spool is active."""

    def __init__(self, ctx: ScanContext, topic: str, sensor: SelectedSensor) -> None:
        self.ctx, self.sensor = ctx, sensor
        self.clocks = ctx.clocks[topic]

    def message(self, raw: RawMessage) -> None:
        if self.ctx.spool is not None and self.ctx.spool.active:
            self.ctx.spool_message(raw, self.sensor, KIND)
            return
        self.clocks.add(self.ctx.extractor.stamp(raw), raw.record_time_ns)
        try:  # decoded (tens of tracks) for the rows a list being filled leaves at 0
            self.clocks.note_rows(raw.index, self.ctx.decode(raw))
        except DecodeError:
            return  # pass 2 reports it


class RadarTracksKind(KindBase):
    """The ``radar_tracks`` stream kind (see module docstring)."""

    name = "radar_tracks"
    role = Role.FRAME
    msgtypes = ("radar_msgs/msg/RadarTracks", "sensor_msgs/msg/PointCloud2")
    records = (RadarTrackList,)
    frame_attr = "radar_tracks"
    spooled = True

    def claims(self, msgtype: str, topic: str, fields: Sequence[str]) -> bool:
        """A RadarTracks, or a PointCloud2 of tracked objects (a track-id field and ``vx``, ``vy``)."""
        return msgtype != "sensor_msgs/msg/PointCloud2" or track_id_field(fields) is not None

    def decode(self, msg: Any, meta: MessageMeta, options: DecodeOptions) -> Record:
        from fusion.readers.radar import decode_radar_track_cloud, decode_radar_tracks

        if hasattr(msg, "tracks"):
            return decode_radar_tracks(msg, meta)
        return decode_radar_track_cloud(msg, meta)

    def scanner(self, ctx: ScanContext, topic: str, sensor: SelectedSensor | None) -> TopicScanner:
        assert sensor is not None
        return _Scanner(ctx, topic, sensor)

    def open_stream(self, sink: FrameSink, sensor: SelectedSensor, table: MessageTable,
                    ctx: WriteContext) -> StreamWriterLike:
        n = len(table.stamp_ns)
        attrs = {"msgtype": sensor.msgtype, "stamp_source": table.stamp_source, "time_offset_ns": table.offset_ns}
        header = StreamHeader(sensor.name, self.name, table.topic, sensor.frame_id, attrs, None)
        return sink.add_stream(header, lambda g: RadarTracksWriter(g, expected_messages=n))

    def write(self, ctx: WriteContext, name: str, writer: StreamWriterLike, record: Record, common_ns: int) -> None:
        if not isinstance(record, RadarTrackList) or not isinstance(writer, RadarTracksWriter):
            raise DecodeError(f"decoded as {type(record).__name__}, expected {self.name}")
        writer.append(record.meta.stamp_ns, record.meta.record_time_ns, common_ns, record)

    def view(self, state: StoreState, stream: StreamState, message: int, frame_time_ns: int, dt_ns: int,
             frame_pose: Any) -> RadarTracksView:
        return RadarTracksView(state, stream, message, frame_time_ns, dt_ns, frame_pose)

    def validate(self, stream: StreamState) -> list[str]:
        """Every track column present, one row per track (``offsets[-1]``)."""
        out = []
        total = int(stream.offsets[-1]) if stream.offsets is not None and len(stream.offsets) else 0
        for col in COLUMNS:
            if col not in stream.columns:
                out.append(f"streams/{stream.name}/{col}: missing")
            elif int(stream.array(col).shape[0]) != total:
                out.append(f"streams/{stream.name}/{col}: {int(stream.array(col).shape[0])} rows, expected {total}")
        return out


KIND = RadarTracksKind()
__all__ = ["COLUMNS", "KIND", "RadarTracksKind", "RadarTracksView", "RadarTracksWriter", "upper_to_full"]
