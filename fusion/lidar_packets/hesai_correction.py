"""The AT128 angle-correction file (``.dat``, correction format 1.5) and its angle model.

Layout (little-endian, after the ``0xEE 0xFF`` delimiter): version major, minor (1, 5), channel
count C, mirror count M, frame count, 8 frame-config bytes, resolution ``res``; then M uint32 frame
start azimuths, M uint32 frame end azimuths, C int32 azimuth offsets, C int32 elevations, C×180
int8 azimuth adjustments, C×180 int8 elevation adjustments, and the SHA-256 of every byte before
it. Every value is multiplied by ``res``: frames and angles are then in 1/25600° (0.01°/256),
adjustments in 0.01°, tabulated every 2° of motor azimuth.

Angle model (one mirror face = one frame): the block azimuth ``a`` (motor, 1/25600°) lies in the
frame ``f`` with ``start[f] ≤ a < end[f]`` (wrapping at 360°). Channel ``c`` then looks at

* azimuth ``2·(a − start[f]) − azimuth[c] + 256·adj_az(c, a)`` (wrapped to [0°, 360°)),
* elevation ``elevation[c] + 256·adj_el(c, a)``,

where ``adj(c, a)`` interpolates the channel's 2° table linearly and rounds to 0.01° (half away from
zero, in exact integer arithmetic; a single-precision interpolation, as tier4/nebula's, can land on
the other side of a tie and differ by 0.01°). The sensor frame is Hesai's:
``x = r·cos(el)·sin(az)``, ``y = r·cos(el)·cos(az)``.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from fusion.errors import ConfigError

I64 = npt.NDArray[np.int64]
UNITS_PER_DEG = 25600  # 1/256 of 0.01°
ADJUST_STEP = 200 * 256  # the adjustment tables' step: 2° in 1/25600°


@dataclass(frozen=True, slots=True)
class AT128Correction:
    """An AT128 correction file, every value already multiplied by its resolution.

    Attributes:
        frame_start, frame_end: (M,) int64 motor azimuth where each mirror frame starts/ends, 1/25600°.
        azimuth: (C,) int64 channel azimuth offset (subtracted), 1/25600°.
        elevation: (C,) int64 channel elevation, 1/25600°.
        azimuth_adjust, elevation_adjust: (C, 181) int64 fine adjustments every 2° of motor
            azimuth, 0.01° (column 180 repeats column 0: the table wraps at 360°).
        version: (major, minor) of the correction format.
    """

    frame_start: I64
    frame_end: I64
    azimuth: I64
    elevation: I64
    azimuth_adjust: I64
    elevation_adjust: I64
    version: tuple[int, int] = (1, 5)

    @property
    def n_channels(self) -> int:
        return int(self.azimuth.size)


def parse_at128_dat(buf: bytes, where: str = "AT128 correction") -> AT128Correction:
    """Parse the bytes of an AT128 ``.dat`` correction (format 1.5).

    Raises:
        ConfigError: No delimiter, another format version, a truncated file or a wrong SHA-256.
    """
    i = buf.find(b"\xee\xff")
    if i < 0 or len(buf) < i + 16:
        raise ConfigError(f"packets.calibration: {where} is not an AT128 correction file (no 0xEEFF header)")
    major, minor, c, m = buf[i + 2], buf[i + 3], buf[i + 4], buf[i + 5]
    res = buf[i + 15] or 1
    if (major, minor) != (1, 5):
        raise ConfigError(f"packets.calibration: {where} has correction format {major}.{minor}; "
                          "only 1.5 (the AT128E2X's) is supported")
    n = 16 + 8 * m + 8 * c + 2 * 180 * c
    if len(buf) < i + n + 32:
        raise ConfigError(f"packets.calibration: {where} is truncated ({len(buf) - i} of {n + 32} bytes)")
    if hashlib.sha256(buf[i:i + n]).digest() != buf[i + n:i + n + 32]:
        raise ConfigError(f"packets.calibration: {where}: SHA-256 does not match (damaged file); "
                          "read the correction from the sensor again")
    pos = i + 16

    def take(dtype: str, count: int) -> I64:
        nonlocal pos
        a = np.frombuffer(buf, dtype, count, pos).astype(np.int64) * res
        pos += count * np.dtype(dtype).itemsize
        return a

    start, end = take("<u4", m), take("<u4", m)
    az, el = take("<i4", c), take("<i4", c)
    az_adj = take("i1", 180 * c).reshape(c, 180)
    el_adj = take("i1", 180 * c).reshape(c, 180)
    return AT128Correction(start, end, az, el, np.concatenate([az_adj, az_adj[:, :1]], 1),
                           np.concatenate([el_adj, el_adj[:, :1]], 1), (int(major), int(minor)))


def load_at128_dat(path: Path | str) -> AT128Correction:
    """Read an AT128 ``.dat`` correction file (cached per file and modification time).

    Raises:
        ConfigError: Missing or malformed file (names the file).
    """
    p = Path(path)
    if p.suffix.lower() == ".csv":
        raise ConfigError(f"packets.calibration: {p}: the AT128 needs its binary angle-correction file "
                          "(.dat, read from the sensor): the CSV lacks the mirror frames and fine adjustments")
    try:
        mtime = p.stat().st_mtime_ns
    except FileNotFoundError:
        raise ConfigError(f"packets.calibration: {p} does not exist; pass the AT128's .dat correction file") from None
    return _load(str(p.resolve()), mtime)


@functools.lru_cache(maxsize=8)
def _load(path: str, _mtime: int) -> AT128Correction:
    return parse_at128_dat(Path(path).read_bytes(), path)
