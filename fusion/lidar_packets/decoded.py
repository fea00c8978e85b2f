"""Decoded packet points and the decoder base class every vendor shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from fusion.lidar_packets.payload import PacketBatch

N_COUNTERS = 6
COUNTER_NAMES = ("packets", "bad_packets", "empty_returns", "out_of_range", "multi_return_duplicates",
                 "packets_without_wanted_return")


@dataclass(frozen=True, slots=True)
class DecodedPoints:
    """Points decoded from packets, in decode order.

    Attributes:
        xyz: (N, 3) float32 sensor-frame coordinates, m (REP-103 for Velodyne; Hesai's own frame).
        intensity: (N,) uint8 reflectivity as the sensor reports it.
        channel: (N,) uint16 laser/channel index in the packet (calibration order).
        return_index: (N,) uint8 position within the multi-return group (0 = first block).
        time_ns: (N,) int64 absolute firing time of each point, ns.
        sweep: (N,) int64 sweep counter (increments when the channel crosses the cut angle).
    """

    xyz: npt.NDArray[np.float32]
    intensity: npt.NDArray[np.uint8]
    channel: npt.NDArray[np.uint16]
    return_index: npt.NDArray[np.uint8]
    time_ns: npt.NDArray[np.int64]
    sweep: npt.NDArray[np.int64]

    @staticmethod
    def empty(n: int) -> DecodedPoints:
        return DecodedPoints(np.empty((n, 3), np.float32), np.empty(n, np.uint8), np.empty(n, np.uint16),
                             np.empty(n, np.uint8), np.empty(n, np.int64), np.empty(n, np.int64))

    def take(self, sel: slice | np.ndarray) -> DecodedPoints:
        return DecodedPoints(self.xyz[sel], self.intensity[sel], self.channel[sel], self.return_index[sel],
                             self.time_ns[sel], self.sweep[sel])

    def copy(self) -> DecodedPoints:
        return DecodedPoints(*(np.array(getattr(self, f)) for f in
                               ("xyz", "intensity", "channel", "return_index", "time_ns", "sweep")))

    def __len__(self) -> int:
        return int(self.time_ns.size)

    @staticmethod
    def concat(parts: list[DecodedPoints]) -> DecodedPoints:
        if not parts:
            return DecodedPoints.empty(0)
        if len(parts) == 1:
            return parts[0]
        return DecodedPoints(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                               ("xyz", "intensity", "channel", "return_index", "time_ns", "sweep")))


class PacketDecoder(Protocol):
    """What the sweep assembler needs from a vendor decoder."""

    vendor: str
    counters: npt.NDArray[np.int64]
    buffer: DecodedPoints

    @property
    def model_name(self) -> str: ...

    def decode(self, batch: PacketBatch) -> DecodedPoints: ...

    def completed_below(self) -> int: ...

    def reset(self) -> None: ...

    def counts(self) -> dict[str, int]: ...

    def ring(self, channel: np.ndarray) -> np.ndarray: ...


class PacketDecoderBase:
    """Shared state: per-channel cut tracking, counters, the output buffer."""

    vendor = ""

    def __init__(self, n_channels: int) -> None:
        self._last_az = np.full(n_channels, np.nan)
        self._sweep_of = np.zeros(n_channels, np.int64)
        self.counters = np.zeros(N_COUNTERS, np.int64)
        #: output buffer reused by every call (warm memory); :meth:`decode` returns views of it
        self.buffer = DecodedPoints.empty(0)

    @property
    def points_per_packet(self) -> int:
        raise NotImplementedError

    def _run(self, batch: PacketBatch, out: DecodedPoints) -> int:
        raise NotImplementedError

    def decode(self, batch: PacketBatch) -> DecodedPoints:
        """Decode one message's packets; the sweep state carries over to the next call.

        Returns views of :attr:`buffer`, valid until the next call (copy what you keep).
        """
        need = batch.data.shape[0] * self.points_per_packet
        if len(self.buffer) < need:
            self.buffer = DecodedPoints.empty(max(need, 2 * len(self.buffer)))
        n = self._run(batch, self.buffer)
        return self.buffer.take(slice(0, n))

    def reset(self) -> None:
        """Forget the sweep state and the counters (a new pass over the log)."""
        self._last_az[:] = np.nan
        self._sweep_of[:] = 0
        self.counters[:] = 0

    def completed_below(self) -> int:
        """Sweeps with an id below this are complete (every active channel crossed the cut)."""
        seen = ~np.isnan(self._last_az)
        return int(self._sweep_of[seen].min()) if seen.any() else 0

    def counts(self) -> dict[str, int]:
        return {k: int(v) for k, v in zip(COUNTER_NAMES, self.counters, strict=True)}
