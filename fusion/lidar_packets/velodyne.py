"""Velodyne packet decoder: VLP-16, VLP-32C, HDL-32E, HDL-64E, VLS-128 (single/strongest/last/dual)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fusion.errors import ConfigError
from fusion.lidar_packets.calibration import VelodyneCalibration, load_velodyne_yaml, velodyne_from_angles
from fusion.lidar_packets.decoded import DecodedPoints, PacketDecoderBase
from fusion.lidar_packets.kernels_common import WANT
from fusion.lidar_packets.payload import PacketBatch
from fusion.lidar_packets.velodyne_kernel import V32, VLP16, VLS128, decode_velodyne


@dataclass(frozen=True, slots=True)
class VelodyneModel:
    """One Velodyne model: packet family, laser count, native distance unit (m), range limits."""

    name: str
    family: int
    n_lasers: int
    unit_m: float
    default_calibration: str


MODELS = {
    "VLP16": VelodyneModel("VLP16", VLP16, 16, 0.002, "VLP16.yaml"),
    "VLP32C": VelodyneModel("VLP32C", V32, 32, 0.004, "VLP32.yaml"),
    "HDL32E": VelodyneModel("HDL32E", V32, 32, 0.002, "HDL32.yaml"),
    "HDL64E": VelodyneModel("HDL64E", V32, 64, 0.002, "HDL64E.yaml"),
    "VLS128": VelodyneModel("VLS128", VLS128, 128, 0.004, "VLS128.yaml"),
}
#: Packet factory byte (offset 1205) -> model.
FACTORY_IDS = {0x22: "VLP16", 0x28: "VLP32C", 0x21: "HDL32E", 0xA1: "VLS128", 0x24: "VLP16"}


def find_model(name: str) -> VelodyneModel | None:
    key = name.upper().replace("-", "").replace("_", "").replace(" ", "")
    aliases = {"VLP32": "VLP32C", "HDL32": "HDL32E", "HDL64": "HDL64E", "VLS128AP": "VLS128", "ALPHAPRIME": "VLS128",
               "PUCK": "VLP16"}
    return MODELS.get(aliases.get(key, key))


def default_calibration(model: VelodyneModel) -> VelodyneCalibration | None:
    """Nominal angles from the user manuals where they are a fixed pattern, else None."""
    if model.name == "VLP16":
        return velodyne_from_angles([float(i if i % 2 else i - 15) for i in range(16)])
    if model.name == "HDL32E":
        return velodyne_from_angles([(-9.33 if i % 2 else -30.67) + (i // 2) * 4.0 / 3.0 for i in range(32)])
    return None


@functools.cache
def _tables(model: VelodyneModel) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(cos, sin of every 0.01° azimuth as float32, slot fractions, firing times in ns), per model."""
    rad = np.radians(np.arange(36000) * 0.01).astype(np.float32)
    return (np.cos(rad).astype(np.float32), np.sin(rad).astype(np.float32), _fractions(model),
            np.round(_timing(model) * 1e9).astype(np.int64))


def _timing(model: VelodyneModel) -> np.ndarray:
    """(2 = dual?, 12 blocks, slots) firing time in s after the packet stamp."""
    slots = 128 if model.family == VLS128 else 32
    t = np.zeros((2, 12, slots))
    for dual in (0, 1):
        for b in range(12):
            for s in range(slots):
                if model.family == VLP16:
                    seq = (b - b % 2) + s // 16 if dual else 2 * b + s // 16
                    t[dual, b, s] = 55.296e-6 * seq + 2.304e-6 * (s % 16)
                elif model.family == VLS128:
                    t[dual, b, s] = 53.3e-6 * (b // 4) + 2.665e-6 * (s // 8 + s // 64) - 8.7e-6
                elif model.name == "VLP32C":
                    seq = b // 2 if dual else b
                    t[dual, b, s] = 55.296e-6 * seq + 2.304e-6 * (s // 2)
                elif model.name == "HDL32E":
                    seq = b // 2 if dual else b
                    t[dual, b, s] = 46.08e-6 * seq + 1.152e-6 * s
                else:  # HDL-64E: an upper and a lower block per firing; nominal ≈ 48 µs per firing
                    seq = b // 4 if dual else b // 2
                    t[dual, b, s] = 48.0e-6 * seq
    return t


def _fractions(model: VelodyneModel) -> np.ndarray:
    """Fraction of the block-to-block azimuth step at which each slot fires (float32)."""
    if model.family == VLP16:
        j = np.arange(32)
        fire = np.float32(2.304) * (j % 16) + np.float32(55.296) * (j // 16)
        return (fire / np.float32(110.592)).astype(np.float32)
    if model.family == VLS128:
        fo = np.arange(128) // 8
        return (np.float32(2.665 / 53.3) * (fo + fo // 8)).astype(np.float32)
    j = np.arange(model.n_lasers) % 32
    if model.name == "VLP32C":  # lasers fire in pairs, 2.304 µs apart, 55.296 µs per sequence
        return (np.float32(2.304 / 55.296) * (j // 2)).astype(np.float32)
    if model.name == "HDL32E":  # one laser every 1.152 µs, 46.08 µs per sequence
        return (np.float32(1.152 / 46.08) * j).astype(np.float32)
    return np.zeros(model.n_lasers, np.float32)  # HDL-64E: the block azimuth


class VelodyneDecoder(PacketDecoderBase):
    """Stateful decoder for one Velodyne topic (sweep state carried between messages)."""

    vendor = "velodyne"

    def __init__(self, model: VelodyneModel, calibration: VelodyneCalibration, *, min_range_m: float = 0.3,
                 max_range_m: float = 300.0, cut_angle_deg: float = 0.0, time_source: str = "stamp",
                 return_mode: str = "auto") -> None:
        if calibration.n_lasers < model.n_lasers:
            raise ConfigError(f"packets.calibration: {model.name} has {model.n_lasers} lasers but the calibration "
                              f"holds {calibration.n_lasers}; pass the sensor's own calibration file")
        self.model = model
        self.cal = calibration
        self.time_source = time_source
        self.return_mode = return_mode
        self.min_range_m = float(min_range_m)
        self.max_range_m = float(max_range_m)
        self._cos, self._sin, self._frac, self._toff = _tables(model)
        self._rot_cd = calibration.rot_rad * 180.0 / math.pi * 100.0
        self._vcos = np.cos(calibration.vert_rad).astype(np.float32)
        self._vsin = np.sin(calibration.vert_rad).astype(np.float32)
        self._cut_cd = float(round(cut_angle_deg * 100.0) % 36000)
        super().__init__(calibration.n_lasers)

    @property
    def model_name(self) -> str:
        return self.model.name

    @property
    def points_per_packet(self) -> int:
        return 384

    def _run(self, batch: PacketBatch, out: DecodedPoints) -> int:
        c = self.cal
        short = batch.size < 1206
        if batch.data.shape[1] < 1206 or short.any():  # (``uint8[]`` data) a short packet is a bad one
            fixed = np.zeros((batch.data.shape[0], 1206), np.uint8)
            w = min(1206, batch.data.shape[1])
            fixed[:, :w] = batch.data[:, :w]
            fixed[short, :2] = 0  # no block header: counted as bad
            batch = PacketBatch(fixed, batch.size, batch.stamp_ns, batch.header_stamp_ns, batch.frame_id)
        return int(decode_velodyne(
            batch.data, batch.stamp_ns, self.time_source == "packet", WANT[self.return_mode], self.model.family,
            self.model.n_lasers, self.model.unit_m, self._frac,
            self._toff, self._cos, self._sin, self._rot_cd, self._vcos, self._vsin, c.dist_m, c.vert_offset_m,
            c.horiz_offset_m, np.float32(self.min_range_m), np.float32(self.max_range_m), self._cut_cd,
            self._last_az, self._sweep_of, out.xyz, out.intensity, out.channel, out.return_index, out.time_ns,
            out.sweep, self.counters))

    def ring(self, channel: np.ndarray) -> np.ndarray:
        return self.cal.ring[channel]


def make_velodyne(model_name: str, calibration: str | Path | None, **kw: Any) -> VelodyneDecoder:
    """A decoder for ``model_name`` with the calibration file, or the model's nominal angles."""
    model = find_model(model_name)
    if model is None:
        raise ConfigError(f"packets.model: unknown Velodyne model {model_name!r}; one of {', '.join(MODELS)}")
    cal = load_velodyne_yaml(calibration) if calibration else default_calibration(model)
    if cal is None:
        raise ConfigError(f"packets.calibration: {model.name} has no built-in calibration; "
                          f"pass the sensor's calibration YAML (like {model.default_calibration}) as "
                          "sensors.<name>.packets.calibration in the sensor map")
    return VelodyneDecoder(model, cal, **kw)
