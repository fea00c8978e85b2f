"""Rigid transforms SE(3): a frozen value type and interpolation.

Naming carries the math: ``T_a_b`` maps coordinates in frame ``b`` into frame ``a``
(``p_a = T_a_b.apply(p_b)``), so ``T_a_b @ T_b_c == T_a_c``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from calibration.errors import TransformError
from calibration.rotation import (
    F64,
    check_rotation_matrix,
    matrix_to_quat_xyzw,
    normalize_quat_xyzw,
    quat_xyzw_to_matrix,
    slerp_xyzw,
)


def _readonly(a: F64) -> F64:
    a = np.array(a, dtype=np.float64, copy=True)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class SE3:
    """A rigid transform ``T_a_b``: ``p_a = rotation @ p_b + translation``.

    Attributes:
        rotation: (3, 3) float64 proper rotation matrix (checked: orthonormal to 1e-6, det +1).
        translation: (3,) float64, metres.

    Arrays are stored as read-only copies. The rotation is stored canonically as the matrix
    of a unit quaternion: built from a quaternion, that quaternion is kept (``quat_xyzw``
    returns it unchanged); built from a matrix, the matrix is replaced by ``R(q(matrix))``
    (a change of a few ulp). Hence writing ``quat_xyzw`` and reading it back is bit-exact.
    """

    rotation: F64
    translation: F64
    _quat_xyzw: F64 | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        R = check_rotation_matrix(self.rotation, "SE3.rotation")
        t = np.asarray(self.translation, dtype=np.float64)
        if t.shape != (3,) or not np.all(np.isfinite(t)):
            raise TransformError(f"SE3.translation must be 3 finite values, got {t.tolist()}")
        if self._quat_xyzw is None:
            # Canonical storage: the rotation is always R(q) for the stored quaternion, so a
            # transform written as quat_xyzw and read back is bit-identical (ulp-level change here).
            q = matrix_to_quat_xyzw(R)
            R = quat_xyzw_to_matrix(q)
        else:
            q = self._quat_xyzw
        object.__setattr__(self, "rotation", _readonly(R))
        object.__setattr__(self, "translation", _readonly(t))
        object.__setattr__(self, "_quat_xyzw", _readonly(q))

    @staticmethod
    def _trusted(quat_xyzw: F64, translation: F64) -> SE3:
        """Internal fast path: a quaternion (4,) x,y,z,w known to be unit up to rounding (composition,
        inverse, interpolation of validated transforms); renormalized, not re-validated."""
        return SE3._from_unit_quat(quat_xyzw / np.sqrt(quat_xyzw @ quat_xyzw), translation)

    @staticmethod
    def _from_unit_quat(q: F64, translation: F64) -> SE3:
        """Internal: R = R(q) for a unit quaternion (4,) x,y,z,w kept as is; no validation."""
        x, y, z, w = q
        R = np.array(
            [
                [1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y - w * z), 2.0 * (x * z + w * y)],
                [2.0 * (x * y + w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - w * x)],
                [2.0 * (x * z - w * y), 2.0 * (y * z + w * x), 1.0 - 2.0 * (x * x + y * y)],
            ]
        )
        obj = object.__new__(SE3)
        object.__setattr__(obj, "rotation", _readonly(R))
        object.__setattr__(obj, "translation", _readonly(translation))
        object.__setattr__(obj, "_quat_xyzw", _readonly(q))
        return obj

    @staticmethod
    def identity() -> SE3:
        """The identity transform."""
        return SE3._from_unit_quat(np.array([0.0, 0.0, 0.0, 1.0]), np.zeros(3))

    @staticmethod
    def from_quat_xyzw(quat_xyzw: ArrayLike, translation: ArrayLike) -> SE3:
        """Build from a unit quaternion (4,) in **x, y, z, w** order and a translation (3,) in metres.

        Raises:
            TransformError: quaternion not unit (``|‖q‖ − 1| > 1e-3``) or bad shapes.
        """
        q = normalize_quat_xyzw(quat_xyzw, "SE3.from_quat_xyzw")
        if q.shape != (4,):
            raise TransformError(f"SE3.from_quat_xyzw: quaternion must have shape (4,), got {q.shape}")
        t = np.asarray(translation, dtype=np.float64)
        if t.shape != (3,) or not np.all(np.isfinite(t)):
            raise TransformError(f"SE3.from_quat_xyzw: translation must be 3 finite values, got {t.tolist()}")
        return SE3._from_unit_quat(q, t)

    @staticmethod
    def from_matrix(M: ArrayLike) -> SE3:
        """Build from a homogeneous (4, 4) matrix ``[[R, t], [0 0 0 1]]``."""
        A = np.asarray(M, dtype=np.float64)
        if A.shape != (4, 4):
            raise TransformError(f"SE3.from_matrix: need a (4, 4) matrix, got {A.shape}")
        if not np.allclose(A[3], [0.0, 0.0, 0.0, 1.0], atol=1e-9):
            raise TransformError(f"SE3.from_matrix: last row must be [0, 0, 0, 1], got {A[3].tolist()}")
        return SE3(A[:3, :3], A[:3, 3])

    @property
    def matrix(self) -> F64:
        """Homogeneous (4, 4) float64 matrix."""
        M = np.eye(4)
        M[:3, :3] = self.rotation
        M[:3, 3] = self.translation
        return M

    @property
    def quat_xyzw(self) -> F64:
        """Rotation as a unit quaternion (4,), **x, y, z, w** order."""
        assert self._quat_xyzw is not None
        return self._quat_xyzw

    def __matmul__(self, other: SE3) -> SE3:
        """Composition: ``T_a_b @ T_b_c -> T_a_c``."""
        if not isinstance(other, SE3):
            return NotImplemented
        ax, ay, az, aw = self.quat_xyzw
        bx, by, bz, bw = other.quat_xyzw
        q = np.array(
            [
                aw * bx + ax * bw + ay * bz - az * by,
                aw * by - ax * bz + ay * bw + az * bx,
                aw * bz + ax * by - ay * bx + az * bw,
                aw * bw - ax * bx - ay * by - az * bz,
            ]
        )
        return SE3._trusted(q, self.rotation @ other.translation + self.translation)

    def inverse(self) -> SE3:
        """``T_a_b.inverse() == T_b_a``."""
        q = self.quat_xyzw * np.array([-1.0, -1.0, -1.0, 1.0])
        return SE3._trusted(q, -(self.rotation.T @ self.translation))

    def apply(self, points: ArrayLike) -> F64:
        """Map points (N, 3) (or (3,)) from frame b into frame a; returns float64 of the same shape."""
        p = np.asarray(points, dtype=np.float64)
        if p.shape[-1:] != (3,):
            raise TransformError(f"SE3.apply: points must have shape (..., 3), got {p.shape}")
        return p @ self.rotation.T + self.translation

    def rotate(self, vectors: ArrayLike) -> F64:
        """Rotate direction vectors (..., 3) (no translation)."""
        return np.asarray(vectors, dtype=np.float64) @ self.rotation.T

    def allclose(self, other: SE3, atol: float = 1e-9) -> bool:
        """True when rotations and translations agree to ``atol`` element-wise."""
        return bool(
            np.allclose(self.rotation, other.rotation, atol=atol, rtol=0.0)
            and np.allclose(self.translation, other.translation, atol=atol, rtol=0.0)
        )

    def __eq__(self, other: object) -> bool:
        """Exact equality of rotation and translation (bit-for-bit)."""
        if not isinstance(other, SE3):
            return NotImplemented
        return bool(
            np.array_equal(self.rotation, other.rotation) and np.array_equal(self.translation, other.translation)
        )

    __hash__ = None  # type: ignore[assignment]


def interpolate_se3(a: SE3, b: SE3, alpha: float) -> SE3:
    """Interpolate between two transforms: slerp rotation (short way), linear translation.

    Args:
        a: transform at ``alpha = 0``.
        b: transform at ``alpha = 1`` (same frames as ``a``).
        alpha: fraction; values outside [0, 1] extrapolate.
    """
    q = slerp_xyzw(a.quat_xyzw, b.quat_xyzw, alpha)
    t = (1.0 - alpha) * a.translation + alpha * b.translation
    return SE3._trusted(q, t)


# Array-level helpers on homogeneous (..., 4, 4) matrices ``T_a_b`` (for vectorized code paths).


def make_transform(R: ArrayLike, t: ArrayLike) -> F64:
    """Homogeneous transforms (..., 4, 4) from rotations (..., 3, 3) and translations (..., 3), metres."""
    Rm = np.asarray(R, dtype=np.float64)
    tv = np.asarray(t, dtype=np.float64)
    T = np.zeros((*Rm.shape[:-2], 4, 4))
    T[..., :3, :3] = Rm
    T[..., :3, 3] = tv
    T[..., 3, 3] = 1.0
    return T


def pose_matrix(translation: ArrayLike, quat_xyzw: ArrayLike) -> F64:
    """Homogeneous transforms (..., 4, 4) from translations (..., 3), m, and quaternions (..., 4) x, y, z, w.

    The quaternions are normalized first (stored values may be rounded).
    """
    return make_transform(quat_xyzw_to_matrix(quat_xyzw, normalize=True), translation)


def invert_transform(T: ArrayLike) -> F64:
    """Inverse of rigid transforms (..., 4, 4): ``T_a_b`` → ``T_b_a``."""
    M = np.asarray(T, dtype=np.float64)
    Rt = np.swapaxes(M[..., :3, :3], -1, -2)
    return make_transform(Rt, -(Rt @ M[..., :3, 3:])[..., 0])


def transform_points(T: ArrayLike, points: ArrayLike) -> F64:
    """Map points (N, 3) from frame b into frame a with one (4, 4) ``T_a_b``; float64 (N, 3)."""
    M = np.asarray(T, dtype=np.float64)
    p = np.asarray(points, dtype=np.float64)
    return np.asarray(p @ M[:3, :3].T + M[:3, 3])
