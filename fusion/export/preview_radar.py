"""Radar in the preview: returns with their Doppler velocity, in the ego frame and in the cameras.

A radar scan is stored in the radar's frame at its message time. For the bird's-eye view each
return is moved to the ``base`` frame at the frame time through the ego trajectory,

    p_base = T_base_world(t_frame) · T_world_base(t_msg) · T_base_radar · p_radar,

like the LiDAR (whose points are already deskewed to the frame); for a camera, to the camera's
optical frame at the image's capture time. Without ego poses the motion term is left out. The
velocity drawn is the ego-motion-compensated radial velocity (the measured one where the
compensated is not finite) as a vector along the line of sight: positive = moving away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from calibration import SE3, Trajectory
from fusion.export.preview import _pose

#: Colour of radar returns and their velocity arrows (BGR): a pink no range colour (JET) uses.
RADAR_BGR = (180, 105, 255)
#: Arrow length per m/s of radial velocity, s (1 m/s is drawn 1 m long in the bird's-eye view).
ARROW_S = 1.0


@dataclass(frozen=True)
class RadarPoints:
    """One frame's radar returns in some frame: positions (N, 3) m, velocity vectors (N, 3) m/s."""

    xyz: np.ndarray
    velocity: np.ndarray

    @staticmethod
    def empty() -> RadarPoints:
        return RadarPoints(np.zeros((0, 3)), np.zeros((0, 3)))

    @staticmethod
    def concat(parts: list[RadarPoints]) -> RadarPoints:
        if not parts:
            return RadarPoints.empty()
        return RadarPoints(np.concatenate([p.xyz for p in parts]), np.concatenate([p.velocity for p in parts]))


def _motion(traj: Trajectory | None, to_ns: int, from_ns: int) -> SE3:
    """``T_base(to)_base(from)`` through the ego trajectory; identity without both poses."""
    a, b = _pose(traj, to_ns), _pose(traj, from_ns)
    return a.inverse() @ b if a is not None and b is not None else SE3.identity()


def radar_points(ds: Any, frame: Any, T_target_base: SE3, target_ns: int, traj: Trajectory | None) -> RadarPoints:
    """Every radar return of ``frame`` in a target frame (``T_target_base`` at time ``target_ns``).

    Returns:
        Finite returns only: positions m and radial velocity vectors m/s, in the target frame.
    """
    rig = ds.calibration
    parts = []
    for name, scan in frame.radar.items():
        if name not in rig:
            continue
        xyz = np.asarray(scan.xyz, dtype=np.float64)
        v = np.asarray(scan.radial_velocity_comp_mps, dtype=np.float64)
        v = np.where(np.isfinite(v), v, np.asarray(scan.radial_velocity_mps, dtype=np.float64))
        rng = np.linalg.norm(xyz, axis=1)
        ok = np.isfinite(xyz).all(axis=1) & np.isfinite(v) & (rng > 0)
        T = T_target_base @ _motion(traj, target_ns, int(scan.message_time_ns)) @ rig.sensor(name).T_base_sensor
        los = xyz[ok] / rng[ok, None]
        parts.append(RadarPoints(T.apply(xyz[ok]), (los * v[ok, None]) @ np.asarray(T.rotation).T))
    return RadarPoints.concat(parts)


def draw_radar_bev(img: np.ndarray, radar: RadarPoints, to_px: Any, scale_px_per_m: float) -> None:
    """Draw returns (discs of radius 2) and velocity arrows in place on a bird's-eye panel.

    Args:
        radar: returns in the panel's (base) frame.
        to_px: (N, 2) base x, y m → (N, 2) pixel x, y.
    """
    if not len(radar.xyz):
        return
    a = to_px(radar.xyz[:, :2])
    b = to_px(radar.xyz[:, :2] + ARROW_S * radar.velocity[:, :2])
    for (x0, y0), (x1, y1) in zip(np.rint(a * 16).astype(int), np.rint(b * 16).astype(int), strict=True):
        if (x0 - x1) ** 2 + (y0 - y1) ** 2 >= 4 * 256:  # ≥ 2 px long
            cv2.arrowedLine(img, (int(x0), int(y0)), (int(x1), int(y1)), RADAR_BGR, 1, cv2.LINE_AA, 4, 0.3)
    for x, y in np.rint(a).astype(int):
        cv2.circle(img, (int(x), int(y)), 2, RADAR_BGR, -1)


def draw_radar_camera(img: np.ndarray, radar_cam: RadarPoints, camera: Any) -> np.ndarray:
    """Draw returns given in a camera's optical frame as rings of radius 3 px (the image is not copied)."""
    if not len(radar_cam.xyz):
        return img
    uv, valid = camera.project(radar_cam.xyz)
    for x, y in np.rint(uv[valid]).astype(int):
        cv2.circle(img, (int(x), int(y)), 3, RADAR_BGR, 2)
    return img
