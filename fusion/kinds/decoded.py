"""Stream kinds decoded but not stored yet: ``radar_tracks``.

They are recognised (``fusion inspect`` names them; the sensor map may select them) and decoded
into typed records, but a conversion does not write them: they are not selected as sensors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fusion.kinds.base import KindBase, Role

if TYPE_CHECKING:
    from fusion.readers.records import MessageMeta, Record
    from fusion.readers.source import DecodeOptions


class RadarTracksKind(KindBase):
    """``radar_msgs/RadarTracks``: tracked objects."""

    name = "radar_tracks"
    role = Role.DECODED
    msgtypes = ("radar_msgs/msg/RadarTracks",)

    def decode(self, msg: Any, meta: MessageMeta, options: DecodeOptions) -> Record:
        from fusion.readers.radar import decode_radar_tracks

        return decode_radar_tracks(msg, meta)


RADAR_TRACKS = RadarTracksKind()
