"""One frame's LiDAR points moved into an export's coordinate frame, float32, with intensity and
per-point time (shared by the package, KITTI and nuScenes exporters)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from calibration.se3 import transform_points
from fusion.errors import ExportError


@dataclass(frozen=True)
class Cloud:
    """Points of one or more LiDARs of a frame.

    Attributes:
        xyz: (N, 3) float32 m in the requested frame (transformed in float64, then rounded once).
        intensity: (N,) float32 (0 where the LiDAR has no intensity column).
        ring: (N,) float32 beam index (0 where the LiDAR has none).
        t_ns: (N,) int32 point time − frame time, ns.
        dropped: Points left out for a non-finite position.
    """

    xyz: np.ndarray
    intensity: np.ndarray
    ring: np.ndarray
    t_ns: np.ndarray
    dropped: int


def frame_cloud(frame: Any, names: list[str], T_target_sensor: dict[str, np.ndarray | None]) -> Cloud:
    """Concatenate the frame's scans of ``names``, each moved by ``T_target_sensor[name]`` (None: as stored).

    The reader's points are already motion-compensated to the frame time (sensor frame, float32).
    """
    parts: list[tuple[np.ndarray, ...]] = []
    for name in names:
        scan = frame.views("lidar").get(name)
        if scan is None:
            continue
        T = T_target_sensor[name]
        xyz = scan.xyz if T is None else transform_points(T, scan.xyz.astype(np.float64)).astype(np.float32)
        fields = scan.fields
        n = len(xyz)
        inten = np.asarray(fields.get("intensity", np.zeros(n)), dtype=np.float32)
        ring = np.asarray(fields.get("ring", np.zeros(n)), dtype=np.float32)
        dt = scan.time_ns - frame.time_ns
        if dt.size and int(np.abs(dt).max()) > np.iinfo(np.int32).max:
            raise ExportError(f"streams/{name}[{scan.message_index}]: a point is {int(np.abs(dt).max())} ns from the "
                              "frame time, more than int32 t_ns holds (2.1 s)")
        t = dt.astype(np.int32)
        parts.append((np.asarray(xyz, dtype=np.float32), inten, ring, t))
    if not parts:
        z = np.zeros(0, np.float32)
        return Cloud(np.zeros((0, 3), np.float32), z, z, np.zeros(0, np.int32), 0)
    xyz, inten, ring, t = (np.concatenate([p[k] for p in parts]) for k in range(4))
    keep = np.isfinite(xyz).all(axis=1)
    dropped = int((~keep).sum())
    if dropped:
        xyz, inten, ring, t = xyz[keep], inten[keep], ring[keep], t[keep]
    return Cloud(xyz, inten, ring, t, dropped)
