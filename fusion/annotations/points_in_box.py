"""Count (and optionally mask) points inside oriented boxes — a numba kernel.

Points and boxes must be in the same frame. A point is inside a box when its coordinates in
the box frame satisfy ``|x| <= l/2``, ``|y| <= w/2``, ``|z| <= h/2`` (closed box); points with
a NaN coordinate or a NaN time (e.g. a frame without ego pose) are never inside.

Moving boxes: optionally every point carries its time offset ``dt_s`` from the box time
(point time − frame time, s) and every box a velocity ``v`` (m/s, same frame as the points).
Point *i* is then tested against box *b* at the point's own time: centre
``c_b + v_b · dt_s[i]``, **same rotation and size**. This is exact for objects moving with
constant velocity and constant heading over the sweep (the box orientation is not
propagated: a yaw rate ω misplaces box corners by about ``ω · |dt| · l/2``, e.g. 1 cm for
ω = 0.2 rad/s, dt = 0.1 s, l = 1 m). LiDAR points motion-compensated for the ego motion only
(``LidarFrame.in_world()``) are where the object *was* at each point's time, so a moving
object's points are smeared along its velocity; testing them at their own time removes that.
Without times/velocities every box is static (the same as ``dt_s = 0``).

The kernel runs in parallel over fixed point chunks; each chunk accumulates into its own row
of a pre-allocated counts array, so no thread shares a counter and nothing is allocated inside
the per-point loop. The thread count of a call is :func:`fusion.kernel_policy.kernel_threads`'
(1 below the measured crossover or when the other cores are busy).
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibration.rotation import quat_xyzw_to_matrix
from fusion.annotations.model import Cuboid
from fusion.kernel_policy import threads_for

_N_CHUNKS = 64


@numba.njit(cache=True, parallel=True)
def _points_in_boxes_kernel(
    points: np.ndarray,  # (N, 3) float32/float64
    dt_s: np.ndarray,  # (N,) float64 point time − box time, s; ignored (may be empty) unless timed
    timed: bool,  # use dt_s and velocities (moving boxes)
    centers: np.ndarray,  # (B, 3) float64 box centres at the box time
    velocities: np.ndarray,  # (B, 3) float64 box velocities, m/s (same frame as the points)
    R_T: np.ndarray,  # (B, 3, 3) float64: R_frame_object transposed (frame → object)
    half: np.ndarray,  # (B, 3) float64
    radius2: np.ndarray,  # (B,) float64 squared circumscribed radius
    counts: np.ndarray,  # (n_chunks, B) int64, zeroed
    first_box: np.ndarray,  # (N,) int32 out: first box containing the point, -1 none
) -> None:
    n = points.shape[0]
    nb = centers.shape[0]
    n_chunks = counts.shape[0]
    step = (n + n_chunks - 1) // n_chunks
    for c in numba.prange(n_chunks):
        start = c * step
        stop = min(n, start + step)
        for i in range(start, stop):
            px = points[i, 0]
            py = points[i, 1]
            pz = points[i, 2]
            t = dt_s[i] if timed else 0.0
            hit = -1
            for b in range(nb):
                # the box centre at the point's time: c + v·t (t = 0: the static box)
                dx = px - (centers[b, 0] + velocities[b, 0] * t)
                dy = py - (centers[b, 1] + velocities[b, 1] * t)
                dz = pz - (centers[b, 2] + velocities[b, 2] * t)
                # bounding sphere of the box at that time; written as "not inside" so that NaN
                # coordinates (or a NaN time) are never inside
                if not dx * dx + dy * dy + dz * dz <= radius2[b]:
                    continue
                lx = R_T[b, 0, 0] * dx + R_T[b, 0, 1] * dy + R_T[b, 0, 2] * dz
                if not abs(lx) <= half[b, 0]:
                    continue
                ly = R_T[b, 1, 0] * dx + R_T[b, 1, 1] * dy + R_T[b, 1, 2] * dz
                if not abs(ly) <= half[b, 1]:
                    continue
                lz = R_T[b, 2, 0] * dx + R_T[b, 2, 1] * dy + R_T[b, 2, 2] * dz
                if not abs(lz) <= half[b, 2]:
                    continue
                counts[c, b] += 1
                if hit < 0:
                    hit = b
            first_box[i] = hit


def box_arrays(boxes: Sequence[Cuboid]) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Stack boxes into ``centers (B,3)``, ``sizes_lwh (B,3)``, ``rotations_xyzw (B,4)``."""
    if not boxes:
        return np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 4))
    return (
        np.stack([b.center_m for b in boxes]),
        np.stack([b.size_lwh_m for b in boxes]),
        np.stack([b.rotation_xyzw for b in boxes]),
    )


def box_velocities(boxes: Sequence[Cuboid]) -> NDArray[np.float64]:
    """``(B, 3)`` box velocities in the boxes' frame, m/s; a box without ``velocity_mps`` counts as static (0)."""
    out = np.zeros((len(boxes), 3), dtype=np.float64)
    for k, b in enumerate(boxes):
        if b.velocity_mps is not None:
            out[k] = b.velocity_mps
    return out


def points_in_boxes(
    points: ArrayLike,
    centers_m: ArrayLike,
    sizes_lwh_m: ArrayLike,
    rotations_xyzw: ArrayLike,
    *,
    dt_s: ArrayLike | None = None,
    velocities_mps: ArrayLike | None = None,
    return_mask: bool = False,
    threads: int | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int32] | None]:
    """Count points inside each oriented box, each point tested against the box at its own time.

    Point *i* is inside box *b* when ``R_b^T (p_i − (c_b + v_b · dt_s[i]))`` lies in the closed
    box ``[−l/2, l/2] × [−w/2, w/2] × [−h/2, h/2]``: the box translates with constant velocity,
    its rotation and size are held (constant-heading assumption, see the module docstring).

    Args:
        points: (N, 3) float32/float64 points, same frame as the boxes (e.g. world), m.
        centers_m: (B, 3) box centres at the box time ``t_box``, m.
        sizes_lwh_m: (B, 3) length, width, height, m.
        rotations_xyzw: (B, 4) quaternions **x, y, z, w** (``R_frame_object``).
        dt_s: (N,) per-point time offsets ``t_point − t_box``, seconds (float64; for LiDAR
            ``(frame.lidar[name].time_ns − frame.time_ns) · 1e-9``). NaN: the point is never
            inside. ``None``: all 0 (every point at the box time).
        velocities_mps: (B, 3) box velocities in the points' frame, m/s. ``None``: all 0 (static).
        return_mask: Also return, per point, the index of the first box containing it (-1: none).
        threads: Kernel threads; ``None``: :func:`fusion.kernel_policy.kernel_threads` of points x boxes
            (1 below the measured crossover or when the other cores are busy).

    Returns:
        ``(counts (B,) int64, first_box (N,) int32 or None)``.

    Raises:
        ValueError: on mismatched shapes or non-finite velocities.
    """
    pts = np.ascontiguousarray(points)
    if pts.dtype not in (np.float32, np.float64):
        pts = pts.astype(np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"points must be (N, 3), got {pts.shape}")
    c = np.ascontiguousarray(centers_m, dtype=np.float64).reshape(-1, 3)
    half = 0.5 * np.ascontiguousarray(sizes_lwh_m, dtype=np.float64).reshape(-1, 3)
    q = np.asarray(rotations_xyzw, dtype=np.float64).reshape(-1, 4)
    if not (c.shape[0] == half.shape[0] == q.shape[0]):
        raise ValueError(f"box arrays disagree: {c.shape}, {half.shape}, {q.shape}")
    timed = dt_s is not None
    if velocities_mps is None:
        vel = np.zeros_like(c)
    else:
        vel = np.ascontiguousarray(velocities_mps, dtype=np.float64)
        if vel.shape != c.shape:
            raise ValueError(f"velocities_mps must be {c.shape}, got {vel.shape}")
        if not np.all(np.isfinite(vel)):
            raise ValueError("velocities_mps has non-finite values (use 0 for an unknown velocity)")
    if dt_s is None:
        dt = np.zeros(0, dtype=np.float64)
    else:
        dt = np.ascontiguousarray(dt_s, dtype=np.float64)
        if dt.shape != (pts.shape[0],):
            raise ValueError(f"dt_s must be ({pts.shape[0]},), got {dt.shape}")
    R = quat_xyzw_to_matrix(q, normalize=True) if q.size else np.zeros((0, 3, 3))
    R_T = np.ascontiguousarray(np.swapaxes(R, -1, -2))
    radius2 = np.sum(half * half, axis=1) * (1.0 + 1e-9) + 1e-12
    counts = np.zeros((_N_CHUNKS, c.shape[0]), dtype=np.int64)
    first = np.empty(pts.shape[0], dtype=np.int32)
    if c.shape[0] and pts.shape[0]:
        with threads_for(pts.shape[0] * c.shape[0], threads=threads):  # 1 unless large and the cores are free
            _points_in_boxes_kernel(pts, dt, timed, c, vel, R_T, half, radius2, counts, first)
    else:
        first.fill(-1)
    return counts.sum(axis=0), (first if return_mask else None)


def count_points(
    points: ArrayLike, boxes: Sequence[Cuboid], dt_s: ArrayLike | None = None,
    velocities_mps: ArrayLike | None = None,
) -> NDArray[np.int64]:
    """Points of ``points`` (N, 3) inside each box of ``boxes`` (same frame, e.g. world).

    Args:
        points: (N, 3) points, m.
        boxes: B boxes at one time ``t_box``.
        dt_s: (N,) ``t_point − t_box``, s; ``None``: every point at ``t_box`` (no motion).
        velocities_mps: (B, 3) box velocities in the points' frame, m/s, moving each box to every
            point's time; ``None``: the boxes' own ``velocity_mps`` (``None`` there = static).

    Returns:
        (B,) int64 counts.
    """
    vel = None if dt_s is None else (box_velocities(boxes) if velocities_mps is None else velocities_mps)
    return points_in_boxes(points, *box_arrays(boxes), dt_s=dt_s, velocities_mps=vel)[0]
