"""SE(3) exponential and logarithm for the LiDAR odometry's constant-twist motion model.

A twist ``xi = (rho, phi)`` (6,) holds the translational part ``rho`` (m) and the rotation vector
``phi`` (rad), both in the body frame at the start of the motion; ``exp(xi)`` is the (4, 4)
transform ``T_start_end`` of moving with that constant body twist for unit time.
"""

from __future__ import annotations

import numpy as np

from fusion.ego.inputs import F64


def _hat(w: F64) -> F64:
    """(..., 3, 3) skew matrices of (..., 3) vectors."""
    z = np.zeros(w.shape[:-1])
    return np.stack([np.stack([z, -w[..., 2], w[..., 1]], -1), np.stack([w[..., 2], z, -w[..., 0]], -1),
                     np.stack([-w[..., 1], w[..., 0], z], -1)], -2)


def exp_rt(xi: F64) -> tuple[F64, F64]:
    """(R (..., 3, 3), t (..., 3)) of ``exp(xi)`` for twists (..., 6) (vectorized, exact)."""
    rho, phi = xi[..., :3], xi[..., 3:]
    th = np.linalg.norm(phi, axis=-1)[..., None, None]
    K = _hat(phi)
    K2 = K @ K
    small = th < 1e-8
    ths = np.where(small, 1.0, th)
    a = np.where(small, 1.0, np.sin(ths) / ths)
    b = np.where(small, 0.5, (1 - np.cos(ths)) / ths**2)
    c = np.where(small, 1.0 / 6.0, (ths - np.sin(ths)) / ths**3)
    eye = np.eye(3)
    R = eye + a * K + b * K2
    V = eye + b * K + c * K2
    return R, np.einsum("...ij,...j->...i", V, rho)


def exp(xi: F64) -> F64:
    """(4, 4) ``exp(xi)`` of one twist (6,)."""
    R, t = exp_rt(np.asarray(xi, np.float64))
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, t
    return T


def log(T: F64) -> F64:
    """(6,) twist ``xi`` with ``exp(xi) = T`` (rotation angle < π)."""
    R = T[:3, :3]
    cos = np.clip((np.trace(R) - 1) / 2, -1.0, 1.0)
    th = float(np.arccos(cos))
    w = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
    phi = w * (0.5 if th < 1e-8 else th / (2 * np.sin(th)))
    K = _hat(phi)
    if th < 1e-8:
        Vinv = np.eye(3) - 0.5 * K + K @ K / 12.0
    else:
        Vinv = np.eye(3) - 0.5 * K + (1 - th * np.sin(th) / (2 * (1 - np.cos(th)))) / th**2 * (K @ K)
    return np.concatenate([Vinv @ T[:3, 3], phi])


def inv(T: F64) -> F64:
    """Inverse of a rigid (4, 4) transform."""
    out = np.eye(4)
    out[:3, :3] = T[:3, :3].T
    out[:3, 3] = -T[:3, :3].T @ T[:3, 3]
    return out
