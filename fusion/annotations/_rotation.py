"""Quaternion / rotation helpers of the annotations package (quaternions **x, y, z, w**).

``matrix_to_quat_xyzw``, ``quat_multiply_xyzw`` and ``yaw_from_quat_xyzw`` are
``calibration.rotation``'s. Kept here: ``quat_xyzw_to_matrix`` (normalizes first, as label
files carry rounded quaternions), ``slerp_xyzw`` (true slerp down to 1e-9 rad; the calibration
one switches to normalized lerp for rotations below ≈ 3.6°, which bends interpolated headings by
up to 1e-6 rad, measured) and a few transform helpers.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibration.rotation import matrix_to_quat_xyzw, quat_multiply_xyzw, yaw_from_quat_xyzw

__all__ = [
    "invert_transform",
    "make_transform",
    "matrix_to_quat_xyzw",
    "quat_multiply_xyzw",
    "quat_xyzw_from_yaw",
    "quat_xyzw_to_matrix",
    "rpy_to_matrix",
    "slerp_xyzw",
    "yaw_from_quat_xyzw",
]

F64 = NDArray[np.float64]


def quat_xyzw_to_matrix(q: ArrayLike) -> F64:
    """Rotation matrices (..., 3, 3) from quaternions (..., 4) in x, y, z, w order (normalized first)."""
    arr = np.asarray(q, dtype=np.float64)
    arr = arr / np.linalg.norm(arr, axis=-1, keepdims=True)
    x, y, z, w = np.moveaxis(arr, -1, 0)
    R = np.empty((*arr.shape[:-1], 3, 3), dtype=np.float64)
    R[..., 0, 0] = 1 - 2 * (y * y + z * z)
    R[..., 0, 1] = 2 * (x * y - z * w)
    R[..., 0, 2] = 2 * (x * z + y * w)
    R[..., 1, 0] = 2 * (x * y + z * w)
    R[..., 1, 1] = 1 - 2 * (x * x + z * z)
    R[..., 1, 2] = 2 * (y * z - x * w)
    R[..., 2, 0] = 2 * (x * z - y * w)
    R[..., 2, 1] = 2 * (y * z + x * w)
    R[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return R


def slerp_xyzw(q0: ArrayLike, q1: ArrayLike, alpha: ArrayLike) -> F64:
    """Spherical linear interpolation of x, y, z, w quaternions with the hemisphere check.

    ``q1`` is negated where ``q0 · q1 < 0`` so the shorter arc is taken. ``alpha`` may lie
    outside [0, 1] (extrapolation along the same great circle).
    """
    a = np.asarray(q0, dtype=np.float64)
    b = np.asarray(q1, dtype=np.float64)
    t = np.asarray(alpha, dtype=np.float64)[..., None]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0, -b, b)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_theta = np.sin(theta)
    small = sin_theta < 1e-9
    safe = np.where(small, 1.0, sin_theta)
    w0 = np.where(small, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    w1 = np.where(small, t, np.sin(t * theta) / safe)
    out = w0 * a + w1 * b
    return np.asarray(out / np.linalg.norm(out, axis=-1, keepdims=True), dtype=np.float64)


def quat_xyzw_from_yaw(yaw_rad: ArrayLike) -> F64:
    """Quaternions (x, y, z, w) of rotations by ``yaw_rad`` about +z."""
    half = 0.5 * np.asarray(yaw_rad, dtype=np.float64)
    zero = np.zeros_like(half)
    return np.stack([zero, zero, np.sin(half), np.cos(half)], axis=-1)


def rpy_to_matrix(roll: float, pitch: float, yaw: float) -> F64:
    """``Rz(yaw) @ Ry(pitch) @ Rx(roll)`` (ROS fixed-axis RPY = intrinsic Z-Y-X), radians."""
    cr, sr = np.cos(roll), np.sin(roll)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(yaw), np.sin(yaw)
    Rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]], dtype=np.float64)
    Ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]], dtype=np.float64)
    Rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]], dtype=np.float64)
    return Rz @ Ry @ Rx


def make_transform(R: ArrayLike, t: ArrayLike) -> F64:
    """A 4×4 homogeneous transform from a rotation (3, 3) and a translation (3,)."""
    T = np.eye(4, dtype=np.float64)
    T[:3, :3] = np.asarray(R, dtype=np.float64)
    T[:3, 3] = np.asarray(t, dtype=np.float64)
    return T


def invert_transform(T: ArrayLike) -> F64:
    """Inverse of a rigid 4×4 transform (``T_a_b`` → ``T_b_a``)."""
    M = np.asarray(T, dtype=np.float64)
    out = np.eye(4, dtype=np.float64)
    out[:3, :3] = M[:3, :3].T
    out[:3, 3] = -M[:3, :3].T @ M[:3, 3]
    return out
