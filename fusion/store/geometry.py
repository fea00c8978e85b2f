"""Small pose helpers for the reader: tf2-style trajectory interpolation and 4×4 algebra.

Quaternion math is ``calibration.rotation``'s; quaternions are x, y, z, w.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from calibration.rotation import quat_xyzw_to_matrix as _quat_to_matrix
from calibration.rotation import slerp_xyzw
from fusion.errors import StoreError

F64 = NDArray[np.float64]


def quat_xyzw_to_matrix(q: F64) -> F64:
    """(…, 3, 3) rotation matrices from (…, 4) quaternions x, y, z, w (normalized first)."""
    return _quat_to_matrix(q / np.linalg.norm(q, axis=-1, keepdims=True))


def pose_matrix(translation: F64, quat_xyzw: F64) -> F64:
    """(…, 4, 4) homogeneous transforms from (…, 3) translations and (…, 4) quaternions."""
    shape = translation.shape[:-1]
    M = np.zeros((*shape, 4, 4))
    M[..., :3, :3] = quat_xyzw_to_matrix(quat_xyzw)
    M[..., :3, 3] = translation
    M[..., 3, 3] = 1.0
    return M


def interpolate_pose(times_ns: NDArray[np.int64], translation_m: F64, rotation_xyzw: F64, query_ns: int) -> F64:
    """``T_world_base`` (4, 4) at ``query_ns``: linear translation, slerp rotation (like tf2).

    Raises:
        StoreError: if ``query_ns`` is outside ``[times_ns[0], times_ns[-1]]`` (no extrapolation).
    """
    if times_ns.size == 0 or query_ns < times_ns[0] or query_ns > times_ns[-1]:
        span = f"[{times_ns[0]}, {times_ns[-1]}]" if times_ns.size else "(empty)"
        raise StoreError(
            f"ego trajectory {span} does not cover time {query_ns} ns (nor within "
            f"{MAX_EXTRAPOLATION_NS / 1e6:g} ms of it); cannot motion-compensate"
        )
    i = int(np.searchsorted(times_ns, query_ns, side="right")) - 1
    if times_ns[i] == query_ns or i + 1 >= times_ns.size:
        return pose_matrix(translation_m[i], rotation_xyzw[i])
    alpha = (query_ns - int(times_ns[i])) / (int(times_ns[i + 1]) - int(times_ns[i]))
    t = translation_m[i] + alpha * (translation_m[i + 1] - translation_m[i])
    q = slerp_xyzw(rotation_xyzw[i], rotation_xyzw[i + 1], alpha)
    return pose_matrix(t, q)


#: Largest time outside the ego trajectory a pose is extrapolated over (constant twist).
MAX_EXTRAPOLATION_NS = 100_000_000


def rotation_vector_to_matrix(rotvec: F64) -> F64:
    """(3, 3) rotation of a rotation vector (axis · angle, rad), Rodrigues' formula."""
    theta = float(np.linalg.norm(rotvec))
    if theta < 1e-15:
        return np.eye(3)
    k = rotvec / theta
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * K + (1 - np.cos(theta)) * (K @ K)


def ego_pose_at(ego: dict[str, np.ndarray], query_ns: int,
                max_extrapolation_ns: int = MAX_EXTRAPOLATION_NS) -> F64:
    """``T_world_base`` (4, 4) at ``query_ns`` from the stored ego arrays.

    Inside the trajectory: :func:`interpolate_pose`. Up to ``max_extrapolation_ns`` outside
    it: the end pose moved by the end sample's constant base-frame twist
    (``linear_velocity_mps``, ``angular_velocity_radps``).

    Raises:
        StoreError: further outside (or with no trajectory).
    """
    t = ego["time_ns"]
    if t.size and t[0] <= query_ns <= t[-1]:
        return interpolate_pose(t, ego["translation_m"], ego["rotation_xyzw"], query_ns)
    if t.size:
        i = 0 if query_ns < t[0] else t.size - 1
        dt_ns = query_ns - int(t[i])
        if abs(dt_ns) <= max_extrapolation_ns:
            dt = dt_ns * 1e-9
            motion = np.eye(4)
            motion[:3, :3] = rotation_vector_to_matrix(ego["angular_velocity_radps"][i] * dt)
            motion[:3, 3] = ego["linear_velocity_mps"][i] * dt
            return pose_matrix(ego["translation_m"][i], ego["rotation_xyzw"][i]) @ motion
    return interpolate_pose(t, ego["translation_m"], ego["rotation_xyzw"], query_ns)  # raises


def invert(T: F64) -> F64:
    """Inverse of a rigid (4, 4) transform."""
    R = T[:3, :3]
    out = np.eye(4)
    out[:3, :3] = R.T
    out[:3, 3] = -R.T @ T[:3, 3]
    return out


def apply(T: F64, points: NDArray[np.floating]) -> F64:
    """Apply a (4, 4) transform to (N, 3) points; returns float64 (N, 3)."""
    p = np.asarray(points, dtype=np.float64)
    return p @ T[:3, :3].T + T[:3, 3]
