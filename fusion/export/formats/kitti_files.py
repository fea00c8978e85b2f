"""KITTI raw text files: calibration (``calib_*.txt``), OXTS records, timestamps, and the
Mercator placement of a local world on the globe the KITTI devkit inverts."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np

EARTH_RADIUS_M = 6378137.0
CALIB_TIME = "01-Jan-2000 00:00:00"
#: The 30 OXTS values per line, in order (KITTI raw ``oxts/dataformat.txt``).
OXTS_FIELDS = ("lat", "lon", "alt", "roll", "pitch", "yaw", "vn", "ve", "vf", "vl", "vu", "ax", "ay", "az",
               "af", "al", "au", "wx", "wy", "wz", "wf", "wl", "wu", "pos_accuracy", "vel_accuracy", "navstat",
               "numsats", "posmode", "velmode", "orimode")


def _nums(values: Any) -> str:
    return " ".join(f"{float(v):.12e}" for v in np.asarray(values, dtype=np.float64).ravel())


def kitti_timestamp(time_ns: int) -> str:
    """``YYYY-MM-DD HH:MM:SS.nnnnnnnnn`` (UTC), the KITTI raw timestamps.txt form, exact to the ns."""
    sec, ns = divmod(int(time_ns), 1_000_000_000)
    return datetime.fromtimestamp(sec, tz=UTC).strftime("%Y-%m-%d %H:%M:%S") + f".{ns:09d}"


def kitti_date(time_ns: int) -> str:
    """``YYYY_MM_DD`` (UTC) of a time, the KITTI raw date folder name."""
    return datetime.fromtimestamp(int(time_ns) // 1_000_000_000, tz=UTC).strftime("%Y_%m_%d")


def cam_to_cam(cams: list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]]) -> str:
    """``calib_cam_to_cam.txt`` for cameras ``(width, height, K, D, T_cami_cam0)``, camera 0 first.

    No image is rectified: ``R_rect_0i`` is the identity and ``P_rect_0i = K_i [R_0i | T_0i]``
    (projects camera-0 coordinates into image i, exact for undistorted pixels only).
    """
    lines = [f"calib_time: {CALIB_TIME}", "corner_dist: 0.000000e+00"]
    for i, (w, h, K, D, T) in enumerate(cams):
        lines += [f"S_{i:02d}: {w:.6e} {h:.6e}", f"K_{i:02d}: {_nums(K)}", f"D_{i:02d}: {_nums(D)}",
                  f"R_{i:02d}: {_nums(T[:3, :3])}", f"T_{i:02d}: {_nums(T[:3, 3])}",
                  f"S_rect_{i:02d}: {w:.6e} {h:.6e}", f"R_rect_{i:02d}: {_nums(np.eye(3))}",
                  f"P_rect_{i:02d}: {_nums(np.asarray(K) @ T[:3, :])}"]
    return "\n".join(lines) + "\n"


def rigid(T: np.ndarray, extra: bool = False) -> str:
    """``calib_velo_to_cam.txt`` / ``calib_imu_to_velo.txt``: ``R`` (row-major 3x3) and ``T`` of ``T``."""
    lines = [f"calib_time: {CALIB_TIME}", f"R: {_nums(T[:3, :3])}", f"T: {_nums(T[:3, 3])}"]
    if extra:
        lines += ["delta_f: 0.000000e+00 0.000000e+00", "delta_c: 0.000000e+00 0.000000e+00"]
    return "\n".join(lines) + "\n"


def mercator_scale(lat_deg: float) -> float:
    """The devkit's Mercator scale ``cos(lat0)``."""
    return math.cos(math.radians(lat_deg))


def local_to_latlon(x_east: float, y_north: float, origin: tuple[float, float, float]) -> tuple[float, float]:
    """Latitude/longitude (deg) of a local point: Mercator ``(mx0 + x, my0 + y)`` at the origin's scale."""
    lat0, lon0, _ = origin
    s = mercator_scale(lat0)
    mx = s * math.radians(lon0) * EARTH_RADIUS_M + x_east
    my = s * EARTH_RADIUS_M * math.log(math.tan(math.radians(90.0 + lat0) / 2.0)) + y_north
    lon = math.degrees(mx / (s * EARTH_RADIUS_M))
    lat = math.degrees(2.0 * math.atan(math.exp(my / (s * EARTH_RADIUS_M)))) - 90.0
    return lat, lon


def oxts_line(T_world_base: np.ndarray, v_base: np.ndarray, w_base: np.ndarray,
              origin: tuple[float, float, float]) -> str:
    """One OXTS line from a pose (world = ENU: x east, y north, z up), base-frame velocity (m/s) and
    angular rate (rad/s). Accelerations, accuracies and GPS states are not known: 0 (navstat 4, posmode 5)."""
    R = T_world_base[:3, :3]
    x, y, z = T_world_base[:3, 3]
    lat, lon = local_to_latlon(float(x), float(y), origin)
    roll = math.atan2(R[2, 1], R[2, 2])
    pitch = -math.asin(max(-1.0, min(1.0, float(R[2, 0]))))
    yaw = math.atan2(R[1, 0], R[0, 0])
    v_world = R @ v_base
    vals = [lat, lon, origin[2] + float(z), roll, pitch, yaw, v_world[1], v_world[0], *v_base,
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, *w_base, *w_base, 0.0, 0.0, 4, 0, 5, 5, 5]
    return " ".join(repr(float(v)) if not isinstance(v, int) else str(v) for v in vals) + "\n"


DATAFORMAT = "".join(f"{name}: see the KITTI raw devkit (fusion export kitti writes it; docs/EXPORT.md)\n"
                     for name in OXTS_FIELDS)
