"""Count (and optionally mask) points inside oriented boxes — a numba kernel.

Points and boxes must be in the same frame. A point is inside a box when its coordinates in
the box frame satisfy ``|x| <= l/2``, ``|y| <= w/2``, ``|z| <= h/2`` (closed box); points with
a NaN coordinate (e.g. a frame without ego pose) are never inside. The kernel
runs in parallel over fixed point chunks; each chunk accumulates into its own row of a
pre-allocated counts array, so no thread shares a counter and nothing is allocated inside the
per-point loop.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusion.annotations._rotation import quat_xyzw_to_matrix
from fusion.annotations.model import Cuboid

_N_CHUNKS = 64


@numba.njit(cache=True, parallel=True)
def _points_in_boxes_kernel(
    points: np.ndarray,  # (N, 3) float32/float64
    centers: np.ndarray,  # (B, 3) float64
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
            hit = -1
            for b in range(nb):
                dx = px - centers[b, 0]
                dy = py - centers[b, 1]
                dz = pz - centers[b, 2]
                # written as "not inside" so that NaN coordinates are never inside
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


def points_in_boxes(
    points: ArrayLike,
    centers_m: ArrayLike,
    sizes_lwh_m: ArrayLike,
    rotations_xyzw: ArrayLike,
    *,
    return_mask: bool = False,
) -> tuple[NDArray[np.int64], NDArray[np.int32] | None]:
    """Count points inside each oriented box.

    Args:
        points: (N, 3) float32/float64 points, same frame as the boxes.
        centers_m: (B, 3) box centres.
        sizes_lwh_m: (B, 3) length, width, height.
        rotations_xyzw: (B, 4) quaternions **x, y, z, w** (``R_frame_object``).
        return_mask: Also return, per point, the index of the first box containing it (-1: none).

    Returns:
        ``(counts (B,) int64, first_box (N,) int32 or None)``.
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
    R_T = np.ascontiguousarray(np.swapaxes(quat_xyzw_to_matrix(q), -1, -2)) if q.size else np.zeros((0, 3, 3))
    radius2 = np.sum(half * half, axis=1) * (1.0 + 1e-9) + 1e-12
    counts = np.zeros((_N_CHUNKS, c.shape[0]), dtype=np.int64)
    first = np.empty(pts.shape[0], dtype=np.int32)
    if c.shape[0] and pts.shape[0]:
        _points_in_boxes_kernel(pts, c, R_T, half, radius2, counts, first)
    else:
        first.fill(-1)
    return counts.sum(axis=0), (first if return_mask else None)


def count_points(points: ArrayLike, boxes: Sequence[Cuboid]) -> NDArray[np.int64]:
    """Points of ``points`` (N, 3) inside each box of ``boxes`` (same frame)."""
    return points_in_boxes(points, *box_arrays(boxes))[0]
