"""The ``urban`` world: buildings (yawed boxes) and poles (vertical cylinders) along the drive.

The default world (ground plane + a dozen small boxes) is degenerate for scan registration: a
flat ground and a few boxes do not constrain the motion along the road. ``world: urban`` lines
the path with buildings whose façades face many directions (yaw ±50° to the road) and with poles
every 8–16 m, so that every sweep sees planes of several orientations and point-like
landmarks: LiDAR odometry is well-posed. Structures are static, hit by the LiDAR and the radar
ray caster, carry the object ids :data:`BUILDING_ID` / :data:`POLE_ID` (not annotated boxes)
and are not drawn by the cameras.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
BUILDING_ID = -3
POLE_ID = -4


@dataclass(frozen=True)
class Structures:
    """Static buildings and poles (odom frame, ENU-like: z up, standing on z = 0).

    Attributes:
        centers: (K, 3) building box centers, m (z = height / 2).
        sizes: (K, 3) length (box x), depth (box y), height, m.
        yaws: (K,) yaw of the box x axis, rad.
        poles: (P, 4) x, y, radius, height, m.
    """

    centers: F64
    sizes: F64
    yaws: F64
    poles: F64

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict."""
        return {"centers": self.centers.tolist(), "sizes": self.sizes.tolist(), "yaws": self.yaws.tolist(),
                "poles": self.poles.tolist()}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Structures:
        """Inverse of :meth:`to_dict`."""
        return Structures(np.asarray(d["centers"], float).reshape(-1, 3), np.asarray(d["sizes"], float).reshape(-1, 3),
                          np.asarray(d["yaws"], float), np.asarray(d["poles"], float).reshape(-1, 4))


def make_structures(length_m: float, rng: np.random.Generator, clearance_m: float = 9.0) -> Structures:
    """Buildings and poles on both sides of a path along +x from ``-40`` to ``length_m + 60`` m.

    Buildings: footprint 8–25 m × 8–16 m, 5–20 m tall, yaw ±50° to the road, their nearest point
    ``clearance_m`` + 0–10 m from the road axis, 2–12 m apart. Poles: radius 0.12–0.25 m, 5–8 m
    tall, 5.5–7.5 m from the axis, every 8–16 m on each side.
    """
    centers, sizes, yaws = [], [], []
    for side in (1.0, -1.0):
        x = -40.0 + rng.uniform(0, 10)
        while x < length_m + 60.0:
            size = rng.uniform([8.0, 8.0, 5.0], [25.0, 16.0, 20.0])
            yaw = rng.uniform(-np.deg2rad(50), np.deg2rad(50))
            c, s = abs(np.cos(yaw)), abs(np.sin(yaw))
            half_x = 0.5 * (size[0] * c + size[1] * s)  # half extents of the yawed footprint
            half_y = 0.5 * (size[0] * s + size[1] * c)
            y = side * (clearance_m + rng.uniform(0, 10) + half_y)
            centers.append([x + half_x, y, size[2] / 2])
            sizes.append(size)
            yaws.append(yaw)
            x += 2 * half_x + rng.uniform(2, 12)
    poles = []
    for side in (1.0, -1.0):
        x = -40.0 + rng.uniform(0, 8)
        while x < length_m + 60.0:
            poles.append([x, side * rng.uniform(5.5, 7.5), rng.uniform(0.12, 0.25), rng.uniform(5.0, 8.0)])
            x += rng.uniform(8, 16)
    return Structures(np.asarray(centers, float), np.asarray(sizes, float), np.asarray(yaws, float),
                      np.asarray(poles, float).reshape(-1, 4))


def intersect_pole(origins: F64, dirs: F64, pole: F64) -> F64:
    """Ray / vertical cylinder (side only) intersection, vectorized over rays.

    Args:
        origins: (N, 3) ray origins; dirs: (N, 3) directions (any length; t is in units of it).
        pole: (4,) x, y, radius, height.

    Returns:
        (N,) ray parameter of the entry point (inf: missed, behind, or outside 0 ≤ z ≤ height).
    """
    ox, oy = origins[:, 0] - pole[0], origins[:, 1] - pole[1]
    dx, dy = dirs[:, 0], dirs[:, 1]
    a = dx * dx + dy * dy
    b = ox * dx + oy * dy
    c = ox * ox + oy * oy - pole[2] ** 2
    disc = b * b - a * c
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (-b - np.sqrt(disc)) / a
    z = origins[:, 2] + t * dirs[:, 2]
    ok = (disc >= 0) & (a > 1e-12) & (t > 0) & (z >= 0) & (z <= pole[3])
    return np.where(ok, t, np.inf)
