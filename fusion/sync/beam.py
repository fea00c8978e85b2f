"""Beam-crossing camera times for a spinning LiDAR (the nuScenes camera trigger).

A spinning LiDAR's beam azimuth (LiDAR frame, CCW from +x about +z, REP-103) at time t is
``az(t) = az_start ± 2π (t − sweep_start) / duration`` (+ for ``"ccw"``, − for ``"cw"``).
A camera is "crossed" when the beam points along its optical axis (+z of the optical frame),
so its target time is ``sweep_start + f·duration`` with ``f`` from :func:`beam_crossing_fraction`.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

LidarDirection = Literal["ccw", "cw"]
"""Spin direction of a LiDAR seen from its +z axis."""


def camera_azimuth_rad(T_lidar_camera: ArrayLike) -> float:
    """Azimuth (rad, in (−π, π], LiDAR frame) of the camera's optical axis (+z optical)."""
    R = np.asarray(T_lidar_camera, dtype=np.float64)[:3, :3]
    return float(math.atan2(R[1, 2], R[0, 2]))


def beam_crossing_fraction(T_lidar_camera: ArrayLike, azimuth_start_rad: float = 0.0, direction: str = "ccw") -> float:
    """Fraction of the sweep (in [0, 1)) at which the beam crosses the camera's optical axis.

    Args:
        T_lidar_camera: (4, 4) camera optical frame → LiDAR frame.
        azimuth_start_rad: beam azimuth at sweep start, LiDAR frame, rad.
        direction: ``"ccw"`` (azimuth increases, seen from +z) or ``"cw"``.
    """
    if direction not in ("ccw", "cw"):
        raise ValueError(f"direction must be 'ccw' or 'cw', got {direction!r}")
    sign = 1.0 if direction == "ccw" else -1.0
    d = sign * (camera_azimuth_rad(T_lidar_camera) - azimuth_start_rad)
    f = (d % (2.0 * math.pi)) / (2.0 * math.pi)
    return 0.0 if f >= 1.0 else f


def beam_crossing_time_ns(
    sweep_start_ns: ArrayLike,
    sweep_duration_ns: ArrayLike,
    T_lidar_camera: ArrayLike,
    azimuth_start_rad: float = 0.0,
    direction: str = "ccw",
) -> NDArray[np.int64]:
    """Per-sweep time (int64 ns) the beam crosses the camera's optical-axis azimuth.

    Args:
        sweep_start_ns: (F,) int64 sweep start times, ns.
        sweep_duration_ns: (F,) or scalar sweep duration, ns.
        T_lidar_camera, azimuth_start_rad, direction: see :func:`beam_crossing_fraction`.

    Returns:
        (F,) int64 ``sweep_start + round(f·duration)`` — a per-camera matching target.
    """
    f = beam_crossing_fraction(T_lidar_camera, azimuth_start_rad, direction)
    start = np.asarray(sweep_start_ns, dtype=np.int64)
    dur = np.asarray(sweep_duration_ns, dtype=np.int64)
    return np.asarray(start + np.round(f * dur).astype(np.int64), dtype=np.int64)
