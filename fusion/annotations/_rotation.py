"""Quaternion / rotation helpers of the annotations package (quaternions **x, y, z, w**).

The quaternion math is ``calibration.rotation``'s (``slerp_xyzw`` is a true slerp down to
1e-9 rad). Kept here: ``quat_xyzw_to_matrix`` normalizes first (label files carry rounded
quaternions), plus a few transform helpers.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibration.rotation import matrix_to_quat_xyzw, quat_multiply_xyzw, slerp_xyzw, yaw_from_quat_xyzw
from calibration.rotation import quat_xyzw_to_matrix as _quat_to_matrix

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
    return _quat_to_matrix(arr / np.linalg.norm(arr, axis=-1, keepdims=True))


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
