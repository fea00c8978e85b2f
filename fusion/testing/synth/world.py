"""The synthetic world: ground plane z = 0, static boxes and constant-velocity boxes.

Object ids: -1 ground, ``0 .. n_static-1`` static boxes, ``n_static ..`` moving
boxes; with ``world: urban`` also buildings (-3) and poles (-4), see :mod:`.urban`.
Every box stands on the ground (center z = h/2), has a constant yaw (rotation
about world +z) and a constant world velocity (zero for static ones):
``center(t) = center_ref + velocity * (t - ref_time_ns) * 1e-9``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusion.testing.synth.urban import BUILDING_ID, POLE_ID, Structures, intersect_pole

F64 = NDArray[np.float64]
GROUND_ID = -1
NO_HIT = -2


@dataclass(frozen=True)
class World:
    """Boxes of the world.

    Attributes:
        ref_time_ns: time at which ``centers`` hold, int64 ns (log start).
        centers: (M, 3) box centers in odom at ``ref_time_ns``, m.
        sizes: (M, 3) length (along box x), width (box y), height, m.
        yaws: (M,) yaw of the box x axis in odom, rad.
        velocities: (M, 3) constant world velocity, m/s (zeros for static boxes).
        n_static: number of static boxes (ids ``0 .. n_static-1``).
        structures: buildings and poles (``world: urban``), or None.
    """

    ref_time_ns: int
    centers: F64
    sizes: F64
    yaws: F64
    velocities: F64
    n_static: int
    structures: Structures | None = None

    @property
    def n_boxes(self) -> int:
        """Number of boxes (static + moving)."""
        return int(self.centers.shape[0])

    def centers_at(self, times_ns: ArrayLike) -> F64:
        """(T, M, 3) box centers at ``times_ns`` (T,), m."""
        dt = (np.atleast_1d(np.asarray(times_ns, dtype=np.int64)) - np.int64(self.ref_time_ns)) * 1e-9
        return self.centers[None] + dt[:, None, None] * self.velocities[None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict."""
        d = {"ref_time_ns": int(self.ref_time_ns), "centers": self.centers.tolist(),
             "sizes": self.sizes.tolist(), "yaws": self.yaws.tolist(),
             "velocities": self.velocities.tolist(), "n_static": int(self.n_static)}
        if self.structures is not None:
            d["structures"] = self.structures.to_dict()
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> World:
        """Inverse of :meth:`to_dict`."""
        return World(int(d["ref_time_ns"]), np.asarray(d["centers"], float).reshape(-1, 3),
                     np.asarray(d["sizes"], float).reshape(-1, 3), np.asarray(d["yaws"], float),
                     np.asarray(d["velocities"], float).reshape(-1, 3), int(d["n_static"]),
                     Structures.from_dict(d["structures"]) if d.get("structures") else None)


def make_world(start_ns: int, duration_s: float, speed_mps: float, n_static: int, n_moving: int,
               rng: np.random.Generator) -> World:
    """Place boxes along the path (the path runs along +x, weaving about ±1 m in y).

    Static boxes stand 9–14 m left/right of the path over its whole length;
    moving boxes follow the ego lane pattern (ahead, adjacent lanes, alongside on
    the left) at about the ego speed so they stay in view of the LiDAR, the front
    camera (ahead) or the left camera (alongside) for the whole log.
    """
    length = speed_mps * duration_s
    centers, sizes, yaws, vels = [], [], [], []
    xs = np.linspace(-5.0, length + 40.0, max(n_static, 1)) + rng.uniform(-3, 3, max(n_static, 1))
    for i in range(n_static):
        size = rng.uniform([1.0, 1.0, 1.0], [3.0, 3.0, 3.5])
        side = 1.0 if i % 2 == 0 else -1.0
        centers.append([xs[i], side * rng.uniform(9.0, 14.0), size[2] / 2])
        sizes.append(size)
        yaws.append(rng.uniform(-np.pi, np.pi))
        vels.append([0.0, 0.0, 0.0])
    # (center ahead of base_link m, lateral m, speed factor): ahead -> front camera,
    # alongside left (at the left camera's x) -> left camera; the ego weaves ±1 m, heading ±12°
    patterns = [(20.0, 0.0, 1.0), (1.2, 5.0, 1.0), (25.0, 3.6, 1.0), (35.0, -3.6, 1.01),
                (45.0, 1.8, 1.0), (18.0, -3.6, 1.0)]
    for k in range(n_moving):
        if k < len(patterns):
            ahead, lateral, factor = patterns[k]
        else:  # further objects queue up ahead in lanes 0, +3.6, -3.6, 10 m apart
            j = k - len(patterns)
            ahead, lateral, factor = 55.0 + 10.0 * j, (0.0, 3.6, -3.6)[j % 3], 1.0
        ahead += rng.uniform(-0.3, 0.3)
        lateral += rng.uniform(-0.1, 0.1)
        size = np.array([rng.uniform(4.0, 5.0), rng.uniform(1.8, 2.0), rng.uniform(1.5, 1.9)])
        speed = speed_mps * factor
        yaw = rng.uniform(-0.004, 0.004)  # slightly yawed, drifting < 0.05 m/s sideways
        centers.append([ahead, lateral, size[2] / 2])
        sizes.append(size)
        yaws.append(yaw)
        vels.append([speed * np.cos(yaw), speed * np.sin(yaw), 0.0])
    return World(int(start_ns), np.asarray(centers, float).reshape(-1, 3), np.asarray(sizes, float).reshape(-1, 3),
                 np.asarray(yaws, float), np.asarray(vels, float).reshape(-1, 3), n_static)


FOLLOWER_BEHIND_M = 15.0
"""Distance of the follower's center behind base_link at the log start, m (see :func:`add_follower`)."""


def add_follower(world: World, speed_mps: float, rng: np.random.Generator) -> World:
    """``world`` plus one moving box following the ego in its lane (for the rear camera).

    The follower (id ``world.n_boxes``, after every other box) is a car-sized box
    ``FOLLOWER_BEHIND_M`` (±0.3) m behind base_link at the start, lateral ±0.1 m, yaw ±0.004 rad,
    at the ego's mean speed, so it stays in view of the rear camera and clear of the ego
    and of every other box.
    """
    size = np.array([rng.uniform(4.0, 5.0), rng.uniform(1.8, 2.0), rng.uniform(1.5, 1.9)])
    center = np.array([-FOLLOWER_BEHIND_M + rng.uniform(-0.3, 0.3), rng.uniform(-0.1, 0.1), size[2] / 2])
    yaw = rng.uniform(-0.004, 0.004)
    vel = np.array([speed_mps * np.cos(yaw), speed_mps * np.sin(yaw), 0.0])
    return World(world.ref_time_ns, np.vstack([world.centers, center]), np.vstack([world.sizes, size]),
                 np.append(world.yaws, yaw), np.vstack([world.velocities, vel]), world.n_static, world.structures)


def intersect_box(origins: F64, dirs: F64, center: F64, half: F64, yaw: float) -> tuple[F64, NDArray[np.int8]]:
    """Ray / yawed-box intersection (slab method), vectorized over rays.

    Args:
        origins: (N, 3) or (3,) ray origin(s) (world), m.
        dirs: (N, 3) ray directions (world, any length; the result is in units of it).
        center: (3,) or (N, 3) box center(s) (world), m.
        half: (3,) half sizes (box frame), m.
        yaw: box yaw, rad.

    Returns:
        (t (N,) ray parameter of the entry point, inf when missed or the origin is inside;
        face (N,) int8: 0..5 = -x, +x, -y, +y, -z, +z face of the box). The dtype of
        the computation follows ``dirs`` (float32 for rendering, float64 for LiDAR/radar).
    """
    c, s = np.cos(yaw), np.sin(yaw)
    rel = np.asarray(origins - center, dtype=dirs.dtype)
    rx, ry, rz = rel[..., 0], rel[..., 1], rel[..., 2]
    o = (c * rx + s * ry, -s * rx + c * ry, rz)
    d = (c * dirs[:, 0] + s * dirs[:, 1], -s * dirs[:, 0] + c * dirs[:, 1], dirs[:, 2])
    near, far = [], []
    with np.errstate(divide="ignore", invalid="ignore"):
        for a in range(3):
            da = np.where(np.abs(d[a]) < 1e-12, 1e-12, d[a])
            inv = 1.0 / da
            t1 = (-half[a] - o[a]) * inv
            t2 = (half[a] - o[a]) * inv
            near.append(np.minimum(t1, t2))
            far.append(np.maximum(t1, t2))
    tmin = np.maximum(np.maximum(near[0], near[1]), near[2])
    tmax = np.minimum(np.minimum(far[0], far[1]), far[2])
    hit = (tmax >= tmin) & (tmin > 0)
    t = np.where(hit, tmin, np.inf)
    axis = np.where(near[0] == tmin, 0, np.where(near[1] == tmin, 1, 2))
    d_axis = np.where(axis == 0, d[0], np.where(axis == 1, d[1], d[2]))
    face = (2 * axis + (d_axis < 0)).astype(np.int8)
    return t, face


def azimuth_candidates(origins: F64, group_az: F64, group_dev: F64, center: F64, half: F64,
                       margin_rad: float = 0.03) -> NDArray[np.bool_]:
    """Conservative mask of ray groups whose horizontal directions can meet a box's bounding circle.

    Args:
        origins: (G, 3) group origins; group_az: (G,) representative azimuth; group_dev: (G,)
            largest azimuth deviation of a ray of the group from it, rad; center: (3,) or (G, 3)
            box center(s); half: (3,) half sizes. A group is kept when its azimuth lies within
            ``asin(r / dist) + dev + margin`` of the center's azimuth (r = xy half diagonal), or
            when the origin is within ``r`` of the center.
    """
    rel = center - origins
    dist = np.hypot(rel[..., 0], rel[..., 1])
    r = float(np.hypot(half[0], half[1]))
    width = np.arcsin(np.minimum(r / np.maximum(dist, 1e-9), 1.0)) + group_dev + margin_rad
    diff = group_az - np.arctan2(rel[..., 1], rel[..., 0])
    diff = np.abs((diff + np.pi) % (2 * np.pi) - np.pi)
    return np.asarray((diff <= width) | (dist <= r * 1.01))


def _wrap(a: F64) -> F64:
    return np.abs((a + np.pi) % (2 * np.pi) - np.pi)


def raycast(world: World, origins: F64, dirs: F64, times_ns: ArrayLike, max_t: float
            ) -> tuple[F64, NDArray[np.int64], NDArray[np.int8]]:
    """First hit of each ray with the ground and the boxes at the ray's time.

    Rays come in G groups of B rays sharing one origin and one time (a LiDAR column).

    Args:
        origins: (G, 3) world ray origins, m.
        dirs: (G, B, 3) unit world directions.
        times_ns: scalar or (G,) int64 times at which moving boxes are placed.
        max_t: maximum range, m.

    Returns:
        range (G*B,) m (inf for no hit), object id (G*B,) (-1 ground, box ids, -3 building,
        -4 pole, -2 none),
        face (G*B,) int8 (box face 0..5, -1 ground or none); rays in group-major order.
    """
    G, B, _ = dirs.shape
    flat = dirs.reshape(-1, 3)
    o_rays = np.repeat(origins, B, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tg = np.where(flat[:, 2] < -1e-12, -o_rays[:, 2] / flat[:, 2], np.inf)
    best = np.where(tg > 0, tg, np.inf)
    ids = np.where(np.isfinite(best), GROUND_ID, NO_HIT).astype(np.int64)
    faces = np.full(G * B, -1, dtype=np.int8)
    times = np.asarray(times_ns, dtype=np.int64)
    per_group_time = times.ndim == 1 and times.size > 1
    centers = world.centers_at(times.reshape(-1))  # (G or 1, M, 3)
    ray_az = np.arctan2(dirs[..., 1], dirs[..., 0])  # (G, B)
    group_az = ray_az[:, B // 2]
    group_dev = _wrap(ray_az - group_az[:, None]).max(axis=1)
    horiz = np.hypot(dirs[..., 0], dirs[..., 1]).min(axis=1)
    group_dev[horiz < 1e-3] = np.pi  # near-vertical rays: azimuth meaningless, always test
    for m in range(world.n_boxes):
        per_ray = per_group_time and m >= world.n_static
        center = centers[:, m] if per_ray else centers[0, m]
        half = world.sizes[m] / 2
        groups = np.flatnonzero(azimuth_candidates(origins, group_az, group_dev, center, half))
        if groups.size == 0:
            continue
        cand = (groups[:, None] * B + np.arange(B)[None, :]).ravel()
        c = np.repeat(center[groups], B, axis=0) if per_ray else center
        t, face = intersect_box(o_rays[cand], flat[cand], c, half, float(world.yaws[m]))
        sel = t < best[cand]
        hit = cand[sel]
        best[hit], ids[hit], faces[hit] = t[sel], m, face[sel]
    if world.structures is not None:
        _cast_structures(world.structures, origins, o_rays, flat, group_az, group_dev, B, max_t, best, ids, faces)
    far = best > max_t
    best[far], ids[far], faces[far] = np.inf, NO_HIT, -1
    return best, ids, faces


def _cast_structures(st: Structures, origins: F64, o_rays: F64, flat: F64, group_az: F64, group_dev: F64, B: int,
                     max_t: float, best: F64, ids: NDArray[np.int64], faces: NDArray[np.int8]) -> None:
    """Update ``best`` / ``ids`` / ``faces`` in place with the buildings and poles within range."""
    lo, hi = origins.min(axis=0), origins.max(axis=0)
    for m in range(len(st.yaws)):
        half = st.sizes[m] / 2
        reach = max_t + float(np.hypot(half[0], half[1]))
        if np.any(st.centers[m, :2] < lo[:2] - reach) or np.any(st.centers[m, :2] > hi[:2] + reach):
            continue
        groups = np.flatnonzero(azimuth_candidates(origins, group_az, group_dev, st.centers[m], half))
        if groups.size == 0:
            continue
        cand = (groups[:, None] * B + np.arange(B)[None, :]).ravel()
        t, face = intersect_box(o_rays[cand], flat[cand], st.centers[m], half, float(st.yaws[m]))
        sel = t < best[cand]
        hit = cand[sel]
        best[hit], ids[hit], faces[hit] = t[sel], BUILDING_ID, face[sel]
    for pole in st.poles:
        reach = max_t + pole[2]
        if np.any(pole[:2] < lo[:2] - reach) or np.any(pole[:2] > hi[:2] + reach):
            continue
        center = np.array([pole[0], pole[1], pole[3] / 2])
        half = np.array([pole[2], pole[2], pole[3] / 2])
        groups = np.flatnonzero(azimuth_candidates(origins, group_az, group_dev, center, half))
        if groups.size == 0:
            continue
        cand = (groups[:, None] * B + np.arange(B)[None, :]).ravel()
        t = intersect_pole(o_rays[cand], flat[cand], pole)
        sel = t < best[cand]
        hit = cand[sel]
        best[hit], ids[hit], faces[hit] = t[sel], POLE_ID, -1
