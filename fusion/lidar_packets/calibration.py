"""Per-laser calibration files: Velodyne ``VLP16.yaml``-style YAML and Hesai angle-correction CSV.

Velodyne YAML (the ``velodyne_pointcloud`` format): ``lasers: [{laser_id, rot_correction,
vert_correction, dist_correction, vert_offset_correction, horiz_offset_correction, ...}]``,
angles in radians, distances in metres. Hesai CSV: a header line, then
``laser_id (1-based), elevation_deg, azimuth_offset_deg`` per channel.
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import yaml

from fusion.errors import ConfigError

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class VelodyneCalibration:
    """Per-laser corrections, indexed by laser id (firing slot order in the packet).

    Attributes:
        rot_rad: (L,) float64 azimuth correction, rad (subtracted from the packet azimuth).
        vert_rad: (L,) float32 elevation, rad.
        dist_m: (L,) float32 distance offset added to non-zero ranges, m.
        vert_offset_m: (L,) float32 vertical offset of the laser origin, m.
        horiz_offset_m: (L,) float32 horizontal offset of the laser origin, m.
        ring: (L,) uint16 ring number (0 = lowest elevation).
    """

    rot_rad: npt.NDArray[np.float64]
    vert_rad: F32
    dist_m: F32
    vert_offset_m: F32
    horiz_offset_m: F32
    ring: npt.NDArray[np.uint16]

    @property
    def n_lasers(self) -> int:
        return int(self.vert_rad.size)


def _rings(vert: np.ndarray) -> npt.NDArray[np.uint16]:
    order = np.argsort(vert, kind="stable")
    ring = np.empty(vert.size, np.uint16)
    ring[order] = np.arange(vert.size, dtype=np.uint16)
    return ring


def velodyne_from_angles(vert_deg: list[float], rot_deg: list[float] | None = None) -> VelodyneCalibration:
    """A calibration from nominal angles (degrees), zero offsets."""
    v = np.radians(np.asarray(vert_deg, np.float64))
    r = np.radians(np.asarray(rot_deg, np.float64)) if rot_deg is not None else np.zeros(v.size)
    z = np.zeros(v.size, np.float32)
    return VelodyneCalibration(r, v.astype(np.float32), z, z.copy(), z.copy(), _rings(v))


def load_velodyne_yaml(path: Path | str) -> VelodyneCalibration:
    """Read a ``velodyne_pointcloud``-style calibration YAML (cached per file and modification time).

    Raises:
        ConfigError: Missing file or keys (names the file and the key).
    """
    p = Path(path)
    try:
        mtime = p.stat().st_mtime_ns
    except FileNotFoundError:
        raise ConfigError(f"packets.calibration: {p} does not exist; pass the sensor's calibration YAML") from None
    return _velodyne_yaml(str(p.resolve()), mtime)


@functools.lru_cache(maxsize=32)
def _velodyne_yaml(path: str, _mtime: int) -> VelodyneCalibration:
    p = Path(path)
    try:
        doc = yaml.load(p.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        lasers = doc["lasers"]
        n = max(int(las["laser_id"]) for las in lasers) + 1
        rot = np.zeros(n)
        vert = np.zeros(n, np.float32)
        dist, vo, ho = (np.zeros(n, np.float32) for _ in range(3))
        for las in lasers:
            i = int(las["laser_id"])
            rot[i] = float(las["rot_correction"])
            vert[i] = np.float32(las["vert_correction"])
            dist[i] = np.float32(las.get("dist_correction", 0.0))
            vo[i] = np.float32(las.get("vert_offset_correction", 0.0))
            ho[i] = np.float32(las.get("horiz_offset_correction", 0.0))
    except FileNotFoundError:
        raise ConfigError(f"packets.calibration: {p} does not exist; pass the sensor's calibration YAML") from None
    except (KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"packets.calibration: {p} is not a Velodyne calibration YAML ({exc!r}); "
                          "expected lasers: [{laser_id, rot_correction, vert_correction, ...}]") from None
    return VelodyneCalibration(rot, vert, dist, vo, ho, _rings(vert.astype(np.float64)))


@dataclass(frozen=True, slots=True)
class HesaiCalibration:
    """Per-channel angles of a Hesai sensor.

    Attributes:
        elevation_rad: (C,) float32 elevation, rad.
        azimuth_offset_rad: (C,) float32 azimuth offset added to the block azimuth, rad.
    """

    elevation_rad: F32
    azimuth_offset_rad: F32

    @property
    def n_channels(self) -> int:
        return int(self.elevation_rad.size)


def load_hesai_csv(path: Path | str) -> HesaiCalibration:
    """Read a Hesai angle-correction CSV (``Laser id,Elevation,Azimuth``, degrees).

    Raises:
        ConfigError: Missing file or malformed rows (names the file and line).
    """
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise ConfigError(f"packets.calibration: {p} does not exist; pass the sensor's angle-correction CSV") from None
    rows: dict[int, tuple[float, float]] = {}
    for lineno, row in enumerate(csv.reader(text.splitlines()), 1):
        cells = [c.strip() for c in row if c.strip()]
        if len(cells) < 3:
            continue
        try:
            rows[int(cells[0])] = (float(cells[1]), float(cells[2]))
        except ValueError:
            if lineno == 1:
                continue  # header
            raise ConfigError(f"packets.calibration: {p} line {lineno} is not 'id,elevation,azimuth'") from None
    if not rows:
        raise ConfigError(f"packets.calibration: {p} holds no 'id,elevation,azimuth' rows")
    n = max(rows)
    el = np.zeros(n, np.float32)
    az = np.zeros(n, np.float32)
    for i, (e, a) in rows.items():
        # the angles are single precision, converted from degrees in double precision
        el[i - 1] = np.float32(np.float32(e) * (math.pi / 180.0))
        az[i - 1] = np.float32(np.float32(a) * (math.pi / 180.0))
    return HesaiCalibration(el, az)
