"""Hesai packet layouts and firing-time tables (from the sensors' published user manuals).

Each :class:`HesaiModel` describes one packet family: byte offsets of the header, the blocks
and the tail fields, the distance unit, the sensor's range limits, and the firing time of every
(block, channel) relative to the packet timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fusion.lidar_packets.hesai128_timing import AT128_CHANNEL_NS, e3x_channel_times, e4x_channel_times

I64 = npt.NDArray[np.int64]

# Per-channel firing offsets (ns, relative to the block) as published in the user manuals.
_P40_CH = [-42220, -28470, -16040, -3620, -45490, -31740, -47460, -54670, -20620, -33710,
           -40910, -8190, -20620, -27160, -50730, -8190, -14740, -36980, -45490, -52700,
           -23890, -31740, -38950, -11470, -18650, -25190, -48760, -6230, -12770, -35010,
           -21920, -9500, -43520, -29770, -17350, -4920, -42220, -28470, -16040, -3620]
_P64_CH = [-23180, -21876, -20572, -19268, -17964, -16660, -11444, -46796, -7532, -36956, -50732,
           -54668, -40892, -44828, -31052, -34988, -48764, -52700, -38924, -42860, -29084, -33020,
           -46796, -25148, -36956, -50732, -27116, -40892, -44828, -31052, -34988, -48764, -25148,
           -38924, -42860, -29084, -33020, -52700, -6228, -54668, -15356, -27116, -10140, -23180,
           -4924, -21876, -14052, -17964, -8836, -19268, -3620, -20572, -12748, -16660, -7532,
           -11444, -6228, -15356, -10140, -4924, -3620, -14052, -8836, -12748]
_QT64_CH = [12310, 14370, 16430, 18490, 20540, 22600, 24660, 26710, 29160, 31220, 33280,
            35340, 37390, 39450, 41500, 43560, 46610, 48670, 50730, 52780, 54840, 56900,
            58950, 61010, 63450, 65520, 67580, 69630, 71690, 73740, 75800, 77860, 80900,
            82970, 85020, 87080, 89140, 91190, 93250, 95300, 97750, 99820, 101870, 103930,
            105980, 108040, 110100, 112150, 115200, 117260, 119320, 121380, 123430, 125490, 127540,
            12960, 132050, 134110, 136170, 138220, 140280, 142340, 144390, 146450]
# PandarQT128: two firing loops; in each, 32 of the 128 channels do not fire (offset 0).
_QT128_LOOP1 = [0] * 32 + [
    27656, 53000, 2312, 78344, 81512, 5480, 56168, 30824, 33992, 59336, 8648, 84680, 87848, 11816,
    62504, 37160, 40328, 65672, 14984, 91016, 94184, 18152, 68840, 43496, 46664, 72008, 21320,
    97352, 100520, 24488, 75176, 49832, 1456, 77488, 26800, 52144, 55312, 29968, 80656, 4624, 7792,
    83824, 33136, 58480, 61648, 36304, 86992, 10960, 14128, 90160, 39472, 64816, 67984, 42640,
    93328, 17296, 20464, 96496, 45808, 71152, 74320, 48976, 99664, 23632, 25944, 51288, 600, 76632,
    79800, 3768, 54456, 29112, 32280, 57624, 6936, 82968, 86136, 10104, 60792, 35448, 38616, 63960,
    13272, 89304, 92472, 16440, 67128, 41784, 44952, 70296, 19608, 95640, 98808, 22776, 73464, 48120]
_QT128_LOOP2 = [
    2312, 78344, 27656, 53000, 56168, 30824, 81512, 5480, 8648, 84680, 33992, 59336, 62504, 37160,
    87848, 11816, 14984, 91016, 40328, 65672, 68840, 43496, 94184, 18152, 21320, 97352, 46664,
    72008, 75176, 49832, 100520, 24488] + [0] * 32 + [
    600, 76632, 25944, 51288, 54456, 29112, 79800, 3768, 6936, 82968, 32280, 57624, 60792, 35448,
    86136, 10104, 13272, 89304, 38616, 63960, 67128, 41784, 92472, 16440, 19608, 95640, 44952,
    70296, 73464, 48120, 98808, 22776, 26800, 52144, 1456, 77488, 80656, 4624, 55312, 29968, 33136,
    58480, 7792, 83824, 86992, 10960, 61648, 36304, 39472, 64816, 14128, 90160, 93328, 17296,
    67984, 42640, 45808, 71152, 20464, 96496, 99664, 23632, 74320, 48976]


@dataclass(frozen=True, slots=True)
class HesaiModel:
    """One Hesai packet family.

    Attributes:
        name: Model name (``"Pandar40P"``...).
        n_blocks, n_channels, max_returns: Packet geometry.
        header_len: Bytes before the first block (0 for Pandar40P).
        block_prefix: Bytes before the azimuth in each block (2: the 0xFFEE start-of-block).
        unit_size: Bytes per channel measurement (3: distance+reflectivity, 4: + confidence).
        tail_offset: Byte offset of the tail (after blocks, body CRC, functional safety).
        return_mode_at, datetime_at, timestamp_at: Offsets inside the tail.
        mode_flag_at: Offset of the QT128 loop flag inside the tail, -1 when absent.
        year_offset: Year base of the tail's date (2000 or 1900).
        dis_unit_mm: Fixed distance unit in mm, or 0 to read it from header byte ``dis_unit_at``.
        dis_unit_at: Header byte holding the distance unit (mm).
        min_range_m, max_range_m: The sensor's own valid range.
        block_time_ns: (3, n_blocks) firing offset of each block per number of returns - 1.
        channel_time_ns: (2, n_channels) firing offset of each channel (two loops for QT128).
        loop_select: Row of ``channel_time_ns``: 0 = always row 0; 1 = QT128 (single: by block
            parity; multi: tail flag); 2 = Pandar128E3X (operational state, the block's azimuth
            state, near field ≤ 2.85 m); 3 = OT128 (operational state, azimuth state).
        default_calibration: File name of the usual angle-correction file.
        protocol_major: Header byte 2 (UDP protocol major version) the model's packets carry,
            0 when it does not tell the model apart.
        opstate_at, azstate_at: Tail offsets of the operational state (byte) and the azimuth
            states (uint16, 2 bits per block from the top), -1 when absent.
        min_raw: Raw distances below this are no-return codes (OT128: 0–3), not ranges.
        first_last_flipped: The 0x3B (first, last) mode orders its blocks last, first.
        azimuth_bytes: Bytes of the block azimuth (3: AT128's azimuth + fine azimuth).
        time_format: Tail date: 0 = year/month/day/h/m/s bytes, 1 = AT128's zero byte + 40-bit
            big-endian seconds since the epoch.
        angle_model: ``csv`` (elevation + azimuth offset per channel) or ``at128`` (the ``.dat``
            correction: mirror frames and fine adjustments, :mod:`.hesai_correction`).
        block_time_hires_ns: (3, n_blocks) block offsets in the high-resolution operational state
            (Pandar128E3X), None when they do not depend on it.
    """

    name: str
    n_blocks: int
    n_channels: int
    max_returns: int
    header_len: int
    block_prefix: int
    unit_size: int
    tail_offset: int
    return_mode_at: int
    datetime_at: int
    timestamp_at: int
    mode_flag_at: int
    year_offset: int
    dis_unit_mm: int
    dis_unit_at: int
    min_range_m: float
    max_range_m: float
    block_time_ns: I64
    channel_time_ns: I64
    loop_select: int
    default_calibration: str
    protocol_major: int = 0
    opstate_at: int = -1
    azstate_at: int = -1
    min_raw: int = 1
    first_last_flipped: bool = False
    azimuth_bytes: int = 2
    time_format: int = 0
    angle_model: str = "csv"
    block_time_hires_ns: I64 | None = None

    def block_times(self) -> I64:
        """(6, n_blocks): ``block_time_ns`` then the high-resolution state's (the same when none)."""
        hi = self.block_time_hires_ns if self.block_time_hires_ns is not None else self.block_time_ns
        return np.concatenate([self.block_time_ns, hi])

    @property
    def block_size(self) -> int:
        return self.block_prefix + self.azimuth_bytes + self.n_channels * self.unit_size

    @property
    def min_packet_size(self) -> int:
        return self.tail_offset + max(self.return_mode_at + 1, self.datetime_at + 6, self.timestamp_at + 4,
                                      self.mode_flag_at + 1, self.opstate_at + 1, self.azstate_at + 2)

    def layout(self) -> I64:
        """Integer layout vector handed to the numba kernel."""
        return np.array([self.n_blocks, self.n_channels, self.header_len, self.block_prefix,
                         self.unit_size, self.tail_offset, self.return_mode_at, self.datetime_at,
                         self.timestamp_at, self.mode_flag_at, self.year_offset, self.dis_unit_mm,
                         self.dis_unit_at, self.min_packet_size, self.loop_select, self.opstate_at,
                         self.azstate_at, self.min_raw, self.azimuth_bytes, self.time_format], np.int64)


def _blocks(n_blocks: int, fn: object) -> I64:
    out = np.zeros((3, n_blocks), np.int64)
    for r in (1, 2, 3):
        for b in range(n_blocks):
            out[r - 1, b] = fn(b, r)  # type: ignore[operator]
    return out


def _chan(*loops: list[int]) -> I64:
    rows = list(loops) if len(loops) == 2 else [loops[0], loops[0]]
    return np.array(rows, np.int64)


def _trunc_div(a: int, b: int) -> int:
    """C integer division (toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _xt_block(n: int) -> object:
    return lambda b, r: 5632 - 50000 * _trunc_div(n - b - 1, r)


MODELS: dict[str, HesaiModel] = {}


def _add(m: HesaiModel) -> None:
    MODELS[m.name] = m


_add(HesaiModel("Pandar40P", 10, 40, 2, 0, 2, 3, 1240, 14, 16, 10, -1, 2000, 4, 0, 0.3, 200.0,
                _blocks(10, lambda b, r: -28580 - 55560 * _trunc_div(10 - b - 1, r)), _chan(_P40_CH), 0,
                "Pandar40P.csv"))
_add(HesaiModel("Pandar64", 6, 64, 2, 8, 0, 3, 8 + 6 * 194, 14, 16, 10, -1, 2000, 0, 5, 0.3, 200.0,
                _blocks(6, lambda b, r: -42580 - 55560 * _trunc_div(6 - b - 1, r)), _chan(_P64_CH), 0,
                "Pandar64.csv"))
_add(HesaiModel("PandarQT64", 4, 64, 2, 12, 0, 4, 12 + 4 * 258, 16, 18, 12, -1, 1900, 0, 9, 0.1, 60.0,
                _blocks(4, lambda b, r: 25710 + (500000 * (b // r)) // 3), _chan(_QT64_CH), 0,
                "PandarQT64.csv"))
_add(HesaiModel("PandarQT128", 2, 128, 2, 12, 0, 4, 12 + 2 * 514 + 4 + 17, 12, 15, 21, 5, 1900, 0, 9, 0.05,
                50.0, _blocks(2, lambda b, r: 9000 + _trunc_div(111110 * (2 - b - 1), r)),
                _chan(_QT128_LOOP1, _QT128_LOOP2), 1, "PandarQT128.csv", protocol_major=3))
_add(HesaiModel("PandarXT16", 8, 16, 2, 12, 0, 4, 12 + 8 * 66, 10, 13, 19, -1, 1900, 0, 9, 0.05, 120.0,
                _blocks(8, _xt_block(8)), _chan([368 + 3024 * c for c in range(16)]), 0, "PandarXT16.csv",
                first_last_flipped=True))
_add(HesaiModel("PandarXT32", 8, 32, 2, 12, 0, 4, 12 + 8 * 130, 10, 13, 19, -1, 1900, 0, 9, 0.05, 120.0,
                _blocks(8, _xt_block(8)), _chan([368 + 1512 * c for c in range(32)]), 0, "PandarXT32.csv",
                first_last_flipped=True))
_add(HesaiModel("PandarXT32M", 6, 32, 3, 12, 0, 4, 12 + 6 * 130, 10, 13, 19, -1, 1900, 0, 9, 0.5, 300.0,
                _blocks(6, lambda b, r: 5632 - 50000 * (_trunc_div(7 - b, r) if r < 3 else _trunc_div(5 - b, 3))),
                _chan([368 + 2888 * (c % 16) for c in range(32)]), 0, "PandarXT32M.csv",
                first_last_flipped=True))
# Pandar128E3X / OT128 (Pandar128E4X): 2 blocks × 128 channels of 3-byte units, CRC, 17 bytes of
# functional safety, then the tail (azimuth states at 9, operational state 11, return mode 12, date 15,
# µs 21). AT128E2X: 2 blocks of azimuth + fine azimuth (1/256 of 0.01°) × 128 4-byte units, CRC, tail
# (µs 20, return mode 24, seconds since the epoch 27–31).
_P128_TAIL = 12 + 2 * (2 + 128 * 3) + 4 + 17
# Pandar128E3X block start (manual): single return, block 1 t0 + 3.148 − 55.556 µs (standard) or − 27.778 µs
# (high resolution), block 2 t0 + 3.148 µs; dual return, both blocks t0 + 3.148 µs.
_add(HesaiModel("Pandar128E3X", 2, 128, 2, 12, 0, 3, _P128_TAIL, 12, 15, 21, -1, 1900, 0, 9, 0.1, 230.0,
                _blocks(2, lambda b, r: 3148 - (55556 * (1 - b) if r == 1 else 0)), e3x_channel_times(), 2,
                "Pandar128E3X.csv", protocol_major=1, opstate_at=11, azstate_at=9, first_last_flipped=True,
                block_time_hires_ns=_blocks(2, lambda b, r: 3148 - (27778 * (1 - b) if r == 1 else 0))))
_add(HesaiModel("Pandar128E4X", 2, 128, 2, 12, 0, 3, _P128_TAIL, 12, 15, 21, -1, 1900, 0, 9, 0.1, 230.0,
                _blocks(2, lambda b, r: 43346 - (55556 * (2 - b - 1) if r == 1 else 0)), e4x_channel_times(), 3,
                "Pandar128E4X.csv", protocol_major=1, opstate_at=11, azstate_at=9, min_raw=4,
                first_last_flipped=True))
_add(HesaiModel("AT128", 2, 128, 2, 12, 0, 4, 12 + 2 * (3 + 128 * 4) + 4, 24, 26, 20, -1, 0, 0, 9, 1.0, 180.0,
                _blocks(2, lambda b, r: -9249 - 41666 * ((2 - b) if r == 1 else 1)), _chan(AT128_CHANNEL_NS), 0,
                "PandarAT128.dat", protocol_major=4, azimuth_bytes=3, time_format=1, angle_model="at128"))

ALIASES = {"40p": "Pandar40P", "pandar40": "Pandar40P", "pandar40p": "Pandar40P", "pandar40m": "Pandar40P",
           "64": "Pandar64", "pandar64": "Pandar64", "qt64": "PandarQT64", "pandarqt64": "PandarQT64",
           "qt128": "PandarQT128", "pandarqt128": "PandarQT128", "xt16": "PandarXT16", "pandarxt16": "PandarXT16",
           "xt32": "PandarXT32", "pandarxt32": "PandarXT32", "xt32m": "PandarXT32M", "pandarxt32m": "PandarXT32M",
           "pandar128": "Pandar128E3X", "128e3x": "Pandar128E3X", "pandar128e3x": "Pandar128E3X",
           "ot128": "Pandar128E4X", "pandarot128": "Pandar128E4X", "128e4x": "Pandar128E4X",
           "pandar128e4x": "Pandar128E4X", "at128": "AT128", "pandarat128": "AT128", "at128e2x": "AT128"}


def find_model(name: str) -> HesaiModel | None:
    """The model for a name or alias (case-insensitive), None when unknown."""
    key = name.strip()
    if key in MODELS:
        return MODELS[key]
    canon = ALIASES.get(key.lower().replace("-", "").replace("_", ""))
    return MODELS.get(canon) if canon else None


def sniff_model(packet: np.ndarray, size: int) -> HesaiModel | None:
    """Guess the model from one packet: header laser/block counts and the packet size."""
    if size >= 1262 and packet[0] == 0xFF and packet[1] == 0xEE:
        return MODELS["Pandar40P"]
    if packet.size < 8 or packet[0] != 0xEE or packet[1] != 0xFF:
        return None
    if packet[2] == 64 and packet[3] == 6:  # Header8B: laser_num, block_num
        return MODELS["Pandar64"]
    lasers, blocks, major = int(packet[6]), int(packet[7]), int(packet[2])
    for m in MODELS.values():  # Pandar128E3X before OT128: their packets look alike (set packets.model)
        if (m.header_len == 12 and m.n_channels == lasers and m.n_blocks == blocks
                and m.protocol_major in (0, major)):
            return m
    return None
