"""Scalar quaternion / rotation helpers for numba kernels (no allocation).

All quaternions are **x, y, z, w** (ROS / scipy order) and passed as four scalars
so the kernels never allocate. Rotation matrices are returned as nine scalars,
row-major ``(r00, r01, r02, r10, ..., r22)``.
"""

from __future__ import annotations

import math

from numba import njit

#: Below this angle (rad) between two unit quaternions slerp falls back to a
#: normalised lerp; the difference is far below float64 resolution there.
_SLERP_EPS = 1e-9


@njit(cache=True, inline="always")
def slerp4(
    x0: float, y0: float, z0: float, w0: float, x1: float, y1: float, z1: float, w1: float, a: float
) -> tuple[float, float, float, float]:
    """Slerp between unit quaternions q0, q1 (x, y, z, w) at fraction ``a`` ∈ [0, 1].

    Hemisphere check: if ``q0·q1 < 0``, q1 is negated first (short way round).
    Returns a unit quaternion (x, y, z, w) with ``w``'s sign following q0.
    """
    d = x0 * x1 + y0 * y1 + z0 * z1 + w0 * w1
    if d < 0.0:
        x1, y1, z1, w1, d = -x1, -y1, -z1, -w1, -d
    d = min(d, 1.0)
    theta = math.acos(d)
    if theta < _SLERP_EPS:
        s0 = 1.0 - a
        s1 = a
    else:
        st = math.sin(theta)
        s0 = math.sin((1.0 - a) * theta) / st
        s1 = math.sin(a * theta) / st
    x = s0 * x0 + s1 * x1
    y = s0 * y0 + s1 * y1
    z = s0 * z0 + s1 * z1
    w = s0 * w0 + s1 * w1
    n = math.sqrt(x * x + y * y + z * z + w * w)
    return x / n, y / n, z / n, w / n


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
