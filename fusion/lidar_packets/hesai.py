"""Hesai packet decoders: Pandar40P, Pandar64, PandarQT64, PandarQT128, PandarXT16/XT32/XT32M,
Pandar128E3X, OT128 (Pandar128E4X) (angle CSV) and AT128 (``.dat`` correction, mirror frames)."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import numpy as np

from fusion.errors import ConfigError
from fusion.lidar_packets.calibration import HesaiCalibration, load_hesai_csv
from fusion.lidar_packets.decoded import DecodedPoints, PacketDecoderBase
from fusion.lidar_packets.hesai_at128_kernel import FULL, decode_at128
from fusion.lidar_packets.hesai_correction import AT128Correction, load_at128_dat
from fusion.lidar_packets.hesai_kernel import decode_hesai
from fusion.lidar_packets.hesai_models import MODELS, HesaiModel, find_model
from fusion.lidar_packets.kernels_common import WANT
from fusion.lidar_packets.payload import PacketBatch


@functools.cache
def _block_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every 0.01° block azimuth in rad (float32, as the angles are single precision) and its sin, cos."""
    rad = (np.arange(36000) / 100.0 * (math.pi / 180.0)).astype(np.float32)
    return rad, np.sin(rad.astype(np.float64)), np.cos(rad.astype(np.float64))


class _HesaiBase(PacketDecoderBase):
    """What every Hesai decoder shares: the model, range limits, return selection, ring numbering."""

    vendor = "hesai"

    def __init__(self, model: HesaiModel, elevation: np.ndarray, *, min_range_m: float, max_range_m: float,
                 dual_return_distance_threshold_m: float, time_source: str, return_mode: str) -> None:
        self.model = model
        # the sensor's own limits bound the configured ones
        self.min_range_m = max(float(min_range_m), model.min_range_m)
        self.max_range_m = min(float(max_range_m), model.max_range_m)
        self.dual_threshold_m = float(dual_return_distance_threshold_m)
        self.time_source = time_source
        self.return_mode = return_mode
        self._elevation = np.asarray(elevation[: model.n_channels])
        super().__init__(model.n_channels)

    @property
    def model_name(self) -> str:
        return self.model.name

    @property
    def points_per_packet(self) -> int:
        return self.model.n_blocks * self.model.n_channels

    def ring(self, channel: np.ndarray) -> np.ndarray:
        """Ring = rank of the channel's elevation (0 = lowest)."""
        order = np.argsort(self._elevation, kind="stable")
        rank = np.empty(order.size, np.uint16)
        rank[order] = np.arange(order.size, dtype=np.uint16)
        return rank[channel]


class HesaiDecoder(_HesaiBase):
    """Stateful decoder for one Hesai topic (sweep state carried between messages)."""

    def __init__(self, model: HesaiModel, calibration: HesaiCalibration, *, min_range_m: float = 0.3,
                 max_range_m: float = 300.0, cut_angle_deg: float = 0.0,
                 dual_return_distance_threshold_m: float = 0.1, time_source: str = "packet",
                 return_mode: str = "auto") -> None:
        if model.angle_model != "csv":
            raise ConfigError(f"packets.model: {model.name} is decoded by its own angle model (make_hesai)")
        if calibration.n_channels < model.n_channels:
            raise ConfigError(f"packets.calibration: {model.name} has {model.n_channels} channels but the "
                              f"calibration holds {calibration.n_channels}; pass the sensor's angle-correction CSV")
        super().__init__(model, calibration.elevation_rad, min_range_m=min_range_m, max_range_m=max_range_m,
                         dual_return_distance_threshold_m=dual_return_distance_threshold_m,
                         time_source=time_source, return_mode=return_mode)
        self.cal = calibration
        self._block_rad, self._block_sin, self._block_cos = _block_tables()
        el = calibration.elevation_rad[: model.n_channels]
        self._ecos = np.cos(el).astype(np.float32)
        self._esin = np.sin(el).astype(np.float32)
        self._az = calibration.azimuth_offset_rad[: model.n_channels].astype(np.float32)
        self._off_sin = np.sin(self._az.astype(np.float64))
        self._off_cos = np.cos(self._az.astype(np.float64))
        self._layout = model.layout()
        self._block_times = model.block_times()
        self._cut = float(np.float32(math.radians(cut_angle_deg % 360.0)))

    def _run(self, batch: PacketBatch, out: DecodedPoints) -> int:
        return int(decode_hesai(
            batch.data, batch.size, batch.stamp_ns, self.time_source == "stamp", WANT[self.return_mode],
            self.model.first_last_flipped, self._layout, self._block_rad,
            self._block_sin, self._block_cos, self._ecos, self._esin, self._az, self._off_sin, self._off_cos,
            self._block_times, self.model.channel_time_ns, np.float32(self.min_range_m),
            np.float32(self.max_range_m), np.float32(self.dual_threshold_m), self._cut, self._last_az,
            self._sweep_of, out.xyz, out.intensity, out.channel, out.return_index, out.time_ns, out.sweep,
            self.counters))


class AT128Decoder(_HesaiBase):
    """Stateful AT128E2X decoder: one sweep = one mirror frame (≈ 120° of motor rotation, 10 Hz)."""

    def __init__(self, model: HesaiModel, correction: AT128Correction, *, min_range_m: float = 0.3,
                 max_range_m: float = 300.0, cut_angle_deg: float = 0.0,
                 dual_return_distance_threshold_m: float = 0.1, time_source: str = "packet",
                 return_mode: str = "auto") -> None:
        if correction.n_channels < model.n_channels:
            raise ConfigError(f"packets.calibration: {model.name} has {model.n_channels} channels but the "
                              f"correction holds {correction.n_channels}")
        super().__init__(model, correction.elevation, min_range_m=min_range_m, max_range_m=max_range_m,
                         dual_return_distance_threshold_m=dual_return_distance_threshold_m,
                         time_source=time_source, return_mode=return_mode)
        self.cor = correction
        n = model.n_channels
        j = np.arange(512) - 256  # rounded adjustment (0.01°) + 256
        to_rad = 2.0 * math.pi / FULL
        az = (-correction.azimuth[:n, None] + 256 * j[None, :]) * to_rad
        el = (correction.elevation[:n, None] + 256 * j[None, :]) * to_rad
        self._az_sin, self._az_cos = np.sin(az), np.cos(az)
        self._el_sin, self._el_cos = np.sin(el).astype(np.float32), np.cos(el).astype(np.float32)
        self._az_adj = np.ascontiguousarray(correction.azimuth_adjust[:n], np.int64)
        self._el_adj = np.ascontiguousarray(correction.elevation_adjust[:n], np.int64)
        self._az_ch = correction.azimuth[:n].copy()
        self._layout = model.layout()
        self._cut = float(math.radians(cut_angle_deg % 360.0))

    def _run(self, batch: PacketBatch, out: DecodedPoints) -> int:
        c = self.cor
        return int(decode_at128(
            batch.data, batch.size, batch.stamp_ns, self.time_source == "stamp", WANT[self.return_mode],
            self._layout, c.frame_start, c.frame_end, self._az_ch, self._az_adj, self._el_adj, self._az_sin,
            self._az_cos, self._el_sin, self._el_cos, self.model.block_time_ns, self.model.channel_time_ns,
            np.float32(self.min_range_m), np.float32(self.max_range_m), np.float32(self.dual_threshold_m),
            self._cut, self._last_az, self._sweep_of, out.xyz, out.intensity, out.channel, out.return_index,
            out.time_ns, out.sweep, self.counters))


def make_hesai(model_name: str, calibration: str | Path | None, **kw: Any) -> HesaiDecoder | AT128Decoder:
    """A decoder for ``model_name`` with its angle-correction file (CSV; AT128: ``.dat``), required:
    no two units match."""
    model = find_model(model_name)
    if model is None:
        raise ConfigError(f"packets.model: unknown Hesai model {model_name!r}; one of {', '.join(MODELS)}")
    if not calibration:
        raise ConfigError(f"packets.calibration: {model.name} needs its angle-correction CSV "
                          f"(like {model.default_calibration}, from the sensor or its driver): "
                          "set sensors.<name>.packets.calibration in the sensor map")
    if model.angle_model == "at128":
        return AT128Decoder(model, load_at128_dat(calibration), **kw)
    return HesaiDecoder(model, load_hesai_csv(calibration), **kw)
