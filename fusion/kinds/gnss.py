"""Stream kind ``gnss``: ``sensor_msgs/NavSatFix`` fixes, stored at full rate like the IMU.

- Decode: WGS-84 latitude/longitude (deg), altitude (m above the ellipsoid), fix status
  (-1 no fix, 0 fix, 1 SBAS, 2 GBAS), position covariance (3, 3) m² (ENU) and its type
  (0 unknown, 1 approximated, 2 diagonal known, 3 known) (:mod:`fusion.readers.gnss`).
- Pass 1: every fix decoded into columns (no object per fix); decode failures reported.
- Plan: sorted onto the common clock, zero and repeated stamps dropped (reported).
- Store: ``latitude_deg``, ``longitude_deg``, ``altitude_m`` (K,) float64, ``status`` (K,) int8,
  ``position_covariance_m2`` (K, 3, 3) float64, ``covariance_type`` (K,) uint8.
- Read: ``ds.stream(name).rows()`` (frames do not slice it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from fusion.kinds.base import KindBase, Role, TopicScanner
from fusion.kinds.rows import RowStreamWriter, row_problems, write_rows
from fusion.readers.records import GnssFix
from fusion.store.sink import FrameSink

if TYPE_CHECKING:
    from fusion.pipeline.scan import ScanContext
    from fusion.pipeline.sensors import SelectedSensor
    from fusion.pipeline.streams import ImuTable, SampleTable
    from fusion.readers.records import MessageMeta, Record
    from fusion.readers.source import DecodeOptions, RawMessage
    from fusion.store.state import StreamState

#: The stored columns beyond the times: name -> (dtype, shape of one fix).
COLUMNS: dict[str, tuple[Any, tuple[int, ...]]] = {
    "latitude_deg": (np.float64, ()), "longitude_deg": (np.float64, ()), "altitude_m": (np.float64, ()),
    "status": (np.int8, ()), "position_covariance_m2": (np.float64, (3, 3)), "covariance_type": (np.uint8, ()),
}  # fmt: skip

#: Pass-1 columns: the bag's clocks and topic index, then :data:`COLUMNS`.
SCAN_COLUMNS: dict[str, tuple[Any, tuple[int, ...]]] = {
    "stamp_ns": (np.int64, ()), "index": (np.int64, ()), "record_ns": (np.int64, ()), **COLUMNS,
}  # fmt: skip


class GnssWriter(RowStreamWriter):
    """``streams/<name>`` of a GNSS receiver: the columns of :data:`COLUMNS`, one row per message."""

    columns = COLUMNS

class _Scanner:
    """Pass 1 of a GNSS topic: every fix decoded into the topic's sample columns."""

    def __init__(self, ctx: ScanContext, topic: str) -> None:
        self.ctx, self.topic = ctx, topic
        self.columns = ctx.samples(topic, SCAN_COLUMNS)

    def message(self, raw: RawMessage) -> None:
        rec = self.ctx.decode_or_report(raw)
        if not isinstance(rec, GnssFix):
            return
        self.ctx.sample_frame(self.topic, rec.meta.frame_id)
        self.columns.append(
            stamp_ns=rec.meta.stamp_ns, index=rec.meta.index, record_ns=rec.meta.record_time_ns,
            latitude_deg=rec.latitude_deg, longitude_deg=rec.longitude_deg, altitude_m=rec.altitude_m,
            status=rec.status, position_covariance_m2=rec.position_covariance_m2,
            covariance_type=rec.covariance_type,
        )


class GnssKind(KindBase):
    """The ``gnss`` stream kind (see module docstring)."""

    name = "gnss"
    role = Role.CONTINUOUS
    msgtypes = ("sensor_msgs/msg/NavSatFix",)
    message_arrays = tuple(COLUMNS)

    records = (GnssFix,)

    def decode(self, msg: Any, meta: MessageMeta, options: DecodeOptions) -> Record:
        from fusion.readers.gnss import decode_navsatfix

        return decode_navsatfix(msg, meta)

    def scanner(self, ctx: ScanContext, topic: str, sensor: SelectedSensor | None) -> TopicScanner:
        return _Scanner(ctx, topic)

    def write_table(self, sink: FrameSink, table: ImuTable | SampleTable) -> None:
        """Write the planned fixes (common clock, sorted, unique) as one stream."""
        write_rows(self.name, GnssWriter, sink, table)

    def validate(self, stream: StreamState) -> list[str]:
        """Every column has one row per fix; latitudes in [-90, 90], longitudes in [-180, 180] (or NaN)."""
        out = row_problems(stream, COLUMNS)
        if not out and stream.count:
            lat = np.asarray(stream.array("latitude_deg")[:])
            lon = np.asarray(stream.array("longitude_deg")[:])
            bad = int(((np.abs(lat) > 90) | (np.abs(lon) > 180)).sum())
            if bad:
                out.append(f"streams/{stream.name}: {bad} fix(es) outside latitude ±90° / longitude ±180°")
        return out


KIND = GnssKind()
__all__ = ["COLUMNS", "KIND", "GnssKind", "GnssWriter"]
