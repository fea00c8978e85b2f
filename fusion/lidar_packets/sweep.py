"""Cut decoded packet points into sweeps (one full rotation each) across messages.

Every channel counts its own crossings of the cut angle inside the kernel, so a sweep is
complete once every active channel has crossed into a later one; packets of one message may span
a cut and the remainder waits for the next message.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
        pts = self.decoder.decode(batch)  # views of the decoder's reused buffer
        if len(pts):
            self._parts.append(pts)
        out = self._emit(self.decoder.completed_below())
        buf = self.decoder.buffer.time_ns  # what outlives this call must own its memory
        self._parts = [p.copy() if np.may_share_memory(p.time_ns, buf) else p for p in self._parts]
        return [Sweep(s.points.copy(), s.sweep_id, s.stamp_ns, s.partial)
                if np.may_share_memory(s.points.time_ns, buf) else s for s in out]

    def flush(self) -> list[Sweep]:
        """The sweeps still buffered (the last is partial), at the end of the log."""
        return self._emit(None)  # the parts own their memory (see feed)

    def _emit(self, below: int | None) -> list[Sweep]:
        if not self._parts:
            return []
        if below is not None and min(int(p.sweep.min()) for p in self._parts if len(p)) >= below:
            return []
        lo = min(int(p.sweep.min()) for p in self._parts if len(p))
        hi = max(int(p.sweep.max()) for p in self._parts if len(p))
        last = hi if below is None else min(hi, below - 1)
        if lo == last and lo != 0:
            return self._emit_one(lo, below is None)
        pts = DecodedPoints.concat(self._parts)
        sw = pts.sweep
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

    def _emit_one(self, sid: int, flushed: bool) -> list[Sweep]:
        """The common case: one sweep completes. Each part is ``sid`` up to a short mixed stretch
        around the cut, then later sweeps: only that stretch is gathered."""
        done: list[DecodedPoints] = []
        rest: list[DecodedPoints] = []
        for p in self._parts:
            sw = p.sweep
            later = np.flatnonzero(sw > sid)
            if later.size == 0:
                done.append(p)
                continue
            i0 = int(later[0])
            i1 = int(np.flatnonzero(sw <= sid)[-1]) + 1 if i0 < sw.size and (sw[i0:] <= sid).any() else i0
            done.append(p.take(slice(0, i0)))
            if i1 > i0:
                mixed = sw[i0:i1] <= sid
                done.append(p.take(np.flatnonzero(mixed) + i0))
                rest.append(p.take(np.flatnonzero(~mixed) + i0))
            rest.append(p.take(slice(i1, len(p))))
        sel = DecodedPoints.concat([d for d in done if len(d)])
        self._parts = [r for r in rest if len(r)]
        return [Sweep(sel, sid, int(sel.time_ns.min()), sid <= 1 or flushed)] if len(sel) else []
