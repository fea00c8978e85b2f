"""Cut decoded packet points into sweeps (one full rotation each) across messages.

Every channel counts its own crossings of the cut angle inside the kernel, so a sweep is
complete once every active channel has crossed into a later one; packets of one message may span
a cut and the remainder waits for the next message.
"""

from __future__ import annotations

from dataclasses import dataclass

from fusion.lidar_packets.decoded import DecodedPoints, PacketDecoder
from fusion.lidar_packets.kernels_common import group_by_sweep
from fusion.lidar_packets.payload import PacketBatch


@dataclass(frozen=True, slots=True)
class Sweep:
    """One rotation's points.

    Attributes:
        points: The points (decode order: time order per channel).
        sweep_id: Counter of the sweep since the decoder started: 1 = the rotation the data starts
            in (partial), 2 = the first full one. (Id 0, points of channels whose azimuth correction
            puts them before the first cut while their block is past it, is dropped.)
        stamp_ns: Time of the sweep's first point, int64 ns.
        partial: True for the first sweep (the data started mid-rotation) and a flushed last one.
    """

    points: DecodedPoints
    sweep_id: int
    stamp_ns: int
    partial: bool


class SweepAssembler:
    """Feed scan messages in order, get the sweeps they complete."""

    def __init__(self, decoder: PacketDecoder) -> None:
        self.decoder = decoder
        self._parts: list[DecodedPoints] = []
        #: points dropped because they precede the first cut on a channel lagging behind its block
        self.dropped_points = 0

    def feed(self, batch: PacketBatch) -> list[Sweep]:
        """Decode one message's packets; return the sweeps it completed (possibly none)."""
        pts = self.decoder.decode(batch)
        if len(pts):
            self._parts.append(pts)
        return self._emit(self.decoder.completed_below())

    def flush(self) -> list[Sweep]:
        """The sweeps still buffered (the last is partial), at the end of the log."""
        return self._emit(None)

    def _emit(self, below: int | None) -> list[Sweep]:
        if not self._parts:
            return []
        pts = DecodedPoints.concat(self._parts)
        if below is not None and (len(pts) == 0 or int(pts.sweep.min()) >= below):
            self._parts = [pts]
            return []
        sw = pts.sweep
        lo, hi = int(sw.min()), int(sw.max())
        last = hi if below is None else min(hi, below - 1)
        n_ids = last - lo + 1
        *cols, starts = group_by_sweep(sw, lo, n_ids, pts.xyz, pts.intensity, pts.channel, pts.return_index,
                                       pts.time_ns)
        grouped = DecodedPoints(*cols)
        out: list[Sweep] = []
        for g in range(n_ids):
            sid, a, b = lo + g, int(starts[g]), int(starts[g + 1])
            if a == b:
                continue
            if sid == 0:  # lagging channels before their first cut: the rotation before the data
                self.dropped_points += b - a
                continue
            sel = grouped.take(slice(a, b))
            out.append(Sweep(sel, sid, int(sel.time_ns.min()), sid <= 1 or below is None))
        a = int(starts[n_ids])
        self._parts = [grouped.take(slice(a, len(grouped)))] if a < len(grouped) else []
        return out
