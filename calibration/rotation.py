"""Rotation helpers: quaternions (**x, y, z, w** order), matrices, roll-pitch-yaw, slerp.

Every function is vectorized over leading axes: a quaternion argument has shape
``(..., 4)`` in x, y, z, w order (ROS / scipy order) and a rotation matrix
``(..., 3, 3)``. Roll-pitch-yaw follows ROS (REP-103, ``tf2::Matrix3x3::setRPY``):
fixed axes, ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)``, radians.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibration.errors import TransformError

F64 = NDArray[np.float64]

#: Largest ``|‖q‖ − 1|`` accepted for a quaternion before it is called "not unit".
QUAT_NORM_TOL = 1e-3
#: Largest ``max|RᵀR − I|`` (and ``|det R − 1|``) accepted for a rotation matrix.
ORTHONORMAL_TOL = 1e-6


def _as_quat(q: ArrayLike) -> F64:
    arr = np.asarray(q, dtype=np.float64)
    if arr.shape[-1:] != (4,):
        raise TransformError(f"quaternion must have shape (..., 4) in x,y,z,w order, got {arr.shape}")
    return arr


def normalize_quat_xyzw(q: ArrayLike, what: str = "quaternion") -> F64:
    """Return unit quaternions (x, y, z, w), shape (..., 4).

    Quaternions already unit to 1e-12 are returned bit-for-bit unchanged (so a value read
    from a file is written back identically); others within :data:`QUAT_NORM_TOL` are
    normalized.

    Raises:
        TransformError: if any norm differs from 1 by more than ``QUAT_NORM_TOL``
            (``what`` names the offending field in the message).
    """
    arr = _as_quat(q)
    norm = np.linalg.norm(arr, axis=-1, keepdims=True)
    if not np.all(np.isfinite(arr)):
        raise TransformError(f"{what}: quaternion (x,y,z,w) has non-finite values {arr.tolist()}")
    bad = np.abs(norm - 1.0) > QUAT_NORM_TOL
    if np.any(bad):
        worst = float(norm.ravel()[np.argmax(np.abs(norm.ravel() - 1.0))])
        raise TransformError(
            f"{what}: quaternion (x,y,z,w) is not unit (norm {worst:.6g}); "
            "check the component order (x,y,z,w here) and normalize it"
        )
    exact = np.abs(norm - 1.0) <= 1e-12
    return np.where(exact, arr, arr / norm)


def quat_xyzw_to_matrix(q: ArrayLike, *, normalize: bool = False) -> F64:
    """Rotation matrices (..., 3, 3) from unit quaternions (..., 4) in x, y, z, w order.

    Args:
        q: quaternions (..., 4), x, y, z, w.
        normalize: divide by the norm first (for rounded quaternions, e.g. from label files).
    """
    arr = _as_quat(q)
    if normalize:
        arr = arr / np.linalg.norm(arr, axis=-1, keepdims=True)
    x, y, z, w = np.moveaxis(arr, -1, 0)
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    rows = [
        [1.0 - 2.0 * (yy + zz), 2.0 * (xy - wz), 2.0 * (xz + wy)],
        [2.0 * (xy + wz), 1.0 - 2.0 * (xx + zz), 2.0 * (yz - wx)],
        [2.0 * (xz - wy), 2.0 * (yz + wx), 1.0 - 2.0 * (xx + yy)],
    ]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def matrix_to_quat_xyzw(R: ArrayLike) -> F64:
    """Unit quaternions (..., 4), x, y, z, w order with w ≥ 0, from rotation matrices (..., 3, 3).

    Uses the numerically stable branch (largest of w, x, y, z) per element.
    """
    M = np.asarray(R, dtype=np.float64)
    if M.shape[-2:] != (3, 3):
        raise TransformError(f"rotation matrix must have shape (..., 3, 3), got {M.shape}")
    m00, m11, m22 = M[..., 0, 0], M[..., 1, 1], M[..., 2, 2]
    trace = m00 + m11 + m22
    # Candidate 4*comp^2 for each branch, pick the largest.
    cand = np.stack([1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22, 1 + trace], axis=-1)
    best = np.argmax(cand, axis=-1)
    s = np.sqrt(np.maximum(np.take_along_axis(cand, best[..., None], axis=-1)[..., 0], 1e-300)) * 2.0
    d10, d01 = M[..., 1, 0], M[..., 0, 1]
    d20, d02 = M[..., 2, 0], M[..., 0, 2]
    d21, d12 = M[..., 2, 1], M[..., 1, 2]
    q_x = np.stack([0.25 * s, (d01 + d10) / s, (d02 + d20) / s, (d21 - d12) / s], axis=-1)
    q_y = np.stack([(d01 + d10) / s, 0.25 * s, (d12 + d21) / s, (d02 - d20) / s], axis=-1)
    q_z = np.stack([(d02 + d20) / s, (d12 + d21) / s, 0.25 * s, (d10 - d01) / s], axis=-1)
    q_w = np.stack([(d21 - d12) / s, (d02 - d20) / s, (d10 - d01) / s, 0.25 * s], axis=-1)
    stacked = np.stack([q_x, q_y, q_z, q_w], axis=-2)
    q = np.take_along_axis(stacked, best[..., None, None], axis=-2)[..., 0, :]
    q = np.where(q[..., 3:4] < 0.0, -q, q)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def quat_multiply_xyzw(a: ArrayLike, b: ArrayLike) -> F64:
    """Hamilton product ``a ⊗ b`` of quaternions (..., 4), x, y, z, w order (rotation ``R(a) @ R(b)``)."""
    ax, ay, az, aw = np.moveaxis(_as_quat(a), -1, 0)
    bx, by, bz, bw = np.moveaxis(_as_quat(b), -1, 0)
    return np.stack(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ],
        axis=-1,
    )


def quat_conjugate_xyzw(q: ArrayLike) -> F64:
    """Conjugate (= inverse for unit quaternions), shape (..., 4), x, y, z, w order."""
    arr = _as_quat(q)
    return np.concatenate([-arr[..., :3], arr[..., 3:]], axis=-1)


def slerp_xyzw(q0: ArrayLike, q1: ArrayLike, alpha: ArrayLike) -> F64:
    """Spherical linear interpolation of unit quaternions (x, y, z, w), the short way.

    Args:
        q0: start quaternions (..., 4), x, y, z, w.
        q1: end quaternions (..., 4), x, y, z, w.
        alpha: interpolation fraction (...,) broadcastable; 0 gives q0, 1 gives q1 (up to sign).

    Returns:
        Unit quaternions (..., 4), x, y, z, w. If ``q0·q1 < 0`` q1 is negated first
        (hemisphere check), so the interpolation never takes the long way round.
    """
    a = _as_quat(q0)
    b = _as_quat(q1)
    t = np.asarray(alpha, dtype=np.float64)[..., None]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0.0, -b, b)
    # Angle between the 4-D unit vectors, accurate for tiny angles (arccos is not near 1).
    theta = 2.0 * np.arctan2(
        np.linalg.norm(a - b, axis=-1, keepdims=True), np.linalg.norm(a + b, axis=-1, keepdims=True)
    )
    close = theta < 1e-9  # true slerp down to 1e-9 rad; below, linear is exact to rounding
    sin_theta = np.sin(theta)
    safe = np.where(close, 1.0, sin_theta)
    w0 = np.where(close, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    w1 = np.where(close, t, np.sin(t * theta) / safe)
    out = w0 * a + w1 * b
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def quat_xyzw_from_yaw(yaw_rad: ArrayLike) -> F64:
    """Quaternions (..., 4), x, y, z, w, of rotations by ``yaw_rad`` (...,) about +z."""
    half = 0.5 * np.asarray(yaw_rad, dtype=np.float64)
    zero = np.zeros_like(half)
    return np.stack([zero, zero, np.sin(half), np.cos(half)], axis=-1)


def yaw_from_quat_xyzw(q: ArrayLike) -> F64:
    """Yaw angle (rad, about +z, in (−π, π]) of quaternions (..., 4), x, y, z, w order."""
    x, y, z, w = np.moveaxis(_as_quat(q), -1, 0)
    return np.asarray(np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z)))


def rpy_to_matrix(rpy_rad: ArrayLike) -> F64:
    """Rotation matrices (..., 3, 3) from roll, pitch, yaw (..., 3) in radians (ROS fixed-axis XYZ)."""
    rpy = np.asarray(rpy_rad, dtype=np.float64)
    if rpy.shape[-1:] != (3,):
        raise TransformError(f"roll/pitch/yaw must have shape (..., 3), got {rpy.shape}")
    cr, cp, cy = np.cos(rpy[..., 0]), np.cos(rpy[..., 1]), np.cos(rpy[..., 2])
    sr, sp, sy = np.sin(rpy[..., 0]), np.sin(rpy[..., 1]), np.sin(rpy[..., 2])
    rows = [
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def matrix_to_rpy(R: ArrayLike) -> F64:
    """Roll, pitch, yaw (..., 3) in radians from rotation matrices (..., 3, 3) (ROS fixed-axis XYZ)."""
    M = np.asarray(R, dtype=np.float64)
    pitch = np.arcsin(np.clip(-M[..., 2, 0], -1.0, 1.0))
    roll = np.arctan2(M[..., 2, 1], M[..., 2, 2])
    yaw = np.arctan2(M[..., 1, 0], M[..., 0, 0])
    return np.stack([roll, pitch, yaw], axis=-1)


def check_rotation_matrix(R: ArrayLike, what: str = "rotation") -> F64:
    """Return ``R`` as a float64 (3, 3) array after checking it is a proper rotation.

    Raises:
        TransformError: wrong shape, non-finite, not orthonormal (``max|RᵀR − I| > 1e-6``)
            or a reflection (``det R < 0``); the message starts with ``what``.
    """
    M = np.asarray(R, dtype=np.float64)
    if M.shape != (3, 3):
        raise TransformError(f"{what}: rotation matrix must have shape (3, 3), got {M.shape}")
    if not np.all(np.isfinite(M)):
        raise TransformError(f"{what}: rotation matrix has non-finite values")
    err = float(np.max(np.abs(M.T @ M - np.eye(3))))
    det = float(np.linalg.det(M))
    if err > ORTHONORMAL_TOL or abs(det - 1.0) > ORTHONORMAL_TOL:
        raise TransformError(
            f"{what}: rotation matrix is not orthonormal (max|RᵀR − I| = {err:.3g}, det = {det:.6g}); "
            "give a proper rotation (det +1), e.g. as quat_xyzw"
        )
    return M
