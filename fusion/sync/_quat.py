"""Scalar quaternion / rotation helpers for numba kernels (no allocation).

All quaternions are **x, y, z, w** (ROS / scipy order) and passed as four scalars
so the kernels never allocate. Rotation matrices are returned as nine scalars,
row-major ``(r00, r01, r02, r10, ..., r22)``. ``slerp4`` is :mod:`calibration.interpolate`'s
(the pose interpolator's), re-exported.
"""

from __future__ import annotations

import math

from numba import njit

from calibration.interpolate import slerp4

__all__ = ["axis_angle_to_mat", "quat_to_mat", "relative_axis_angle", "slerp4"]

@njit(cache=True, inline="always")
def quat_to_mat(
    x: float, y: float, z: float, w: float
) -> tuple[float, float, float, float, float, float, float, float, float]:
    """Rotation matrix (row-major nine scalars) of a unit quaternion (x, y, z, w)."""
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    return (
        1.0 - 2.0 * (yy + zz), 2.0 * (xy - wz), 2.0 * (xz + wy),
        2.0 * (xy + wz), 1.0 - 2.0 * (xx + zz), 2.0 * (yz - wx),
        2.0 * (xz - wy), 2.0 * (yz + wx), 1.0 - 2.0 * (xx + yy),
    )  # fmt: skip


@njit(cache=True, inline="always")
def relative_axis_angle(
    x0: float, y0: float, z0: float, w0: float, x1: float, y1: float, z1: float, w1: float
) -> tuple[float, float, float, float]:
    """Axis (unit, in the frame of q0) and angle (rad, ≥ 0) of ``q0⁻¹ ⊗ q1``, short way.

    ``slerp(q0, q1, a) = q0 ⊗ rot(axis, a·angle)``, which is what the deskew kernel uses.
    """
    # r = conj(q0) * q1
    rx = w0 * x1 - x0 * w1 - y0 * z1 + z0 * y1
    ry = w0 * y1 + x0 * z1 - y0 * w1 - z0 * x1
    rz = w0 * z1 - x0 * y1 + y0 * x1 - z0 * w1
    rw = w0 * w1 + x0 * x1 + y0 * y1 + z0 * z1
    if rw < 0.0:
        rx, ry, rz, rw = -rx, -ry, -rz, -rw
    s = math.sqrt(rx * rx + ry * ry + rz * rz)
    if s < 1e-15:
        return 1.0, 0.0, 0.0, 0.0
    angle = 2.0 * math.atan2(s, rw)
    return rx / s, ry / s, rz / s, angle


@njit(cache=True, inline="always")
def axis_angle_to_mat(
    ax: float, ay: float, az: float, angle: float
) -> tuple[float, float, float, float, float, float, float, float, float]:
    """Rodrigues: rotation matrix (row-major nine scalars) of a unit axis and an angle (rad)."""
    c = math.cos(angle)
    s = math.sin(angle)
    C = 1.0 - c
    return (
        c + ax * ax * C, ax * ay * C - az * s, ax * az * C + ay * s,
        ay * ax * C + az * s, c + ay * ay * C, ay * az * C - ax * s,
        az * ax * C - ay * s, az * ay * C + ax * s, c + az * az * C,
    )  # fmt: skip
