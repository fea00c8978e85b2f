"""Point-cloud export of a frame (binary PCD/PLY, :mod:`fusion.export.pcd`) for viewers and annotation tools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fusion.errors import StoreError

FRAMES = ("sensor", "base", "world")


def frame_points(
    ds: Any, index: int, *, lidar: str | None = None, frame: str = "world"
) -> tuple[np.ndarray, np.ndarray]:
    """Points of one frame's LiDAR(s), deskewed to the frame time.

    Args:
        ds: An open dataset.
        index: Frame index.
        lidar: One LiDAR name, or None for all LiDARs of the frame (only with ``frame`` base/world).
        frame: ``sensor`` (the LiDAR frame), ``base`` (base_link) or ``world``.

    Returns:
        (xyz (N, 3) float64 m in the requested frame, intensity (N,) float32; zeros when absent).
    """
    if frame not in FRAMES:
        raise StoreError(f"frame must be one of {FRAMES}, got {frame!r}")
    fr = ds[index]
    names = [lidar] if lidar is not None else sorted(fr.lidar)
    if lidar is not None and lidar not in fr.lidar:
        raise StoreError(f"frame {index} has no LiDAR {lidar!r} (present: {sorted(fr.lidar) or 'none'})")
    if frame == "sensor" and len(names) != 1:
        raise StoreError("frame='sensor' needs exactly one LiDAR: pass lidar=<name>")
    xyz, inten = [], []
    for name in names:
        pts = fr.lidar[name]
        p = pts.xyz.astype(np.float64) if frame == "sensor" else (pts.in_base() if frame == "base" else pts.in_world())
        xyz.append(p)
        f = pts.fields.get("intensity")
        inten.append(np.asarray(f, dtype=np.float32) if f is not None else np.zeros(len(p), np.float32))
    if not xyz:
        return np.zeros((0, 3)), np.zeros(0, np.float32)
    return np.concatenate(xyz), np.concatenate(inten)


def write_point_cloud(path: str | Path, xyz: np.ndarray, intensity: np.ndarray | None = None) -> Path:
    """Write (N, 3) points (as float32 x, y, z, m) and their intensity as PCD or PLY (by suffix)."""
    from fusion.export.pcd import write_points

    p = np.asarray(xyz, dtype=np.float32)
    columns = {"x": p[:, 0], "y": p[:, 1], "z": p[:, 2]}
    if intensity is not None:
        columns["intensity"] = np.asarray(intensity, dtype=np.float32)
    return write_points(path, columns)
