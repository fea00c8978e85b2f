"""Trajectory accuracy: rigid alignment (Umeyama, no scale) and absolute trajectory error.

Used by the tests, the benchmark and the Husky check; arrays in, numbers out.
"""

from __future__ import annotations

import numpy as np

from fusion.ego.inputs import F64


def rigid_align(src: F64, dst: F64, dims: int = 3) -> tuple[F64, F64]:
    """(R, t) minimising ‖R src + t − dst‖² over the first ``dims`` axes (2: about z only).

    Args:
        src, dst: (N, 3) corresponding points.

    Returns:
        R (3, 3), t (3,): apply as ``src @ R.T + t``.
    """
    a, b = src[:, :dims], dst[:, :dims]
    ma, mb = a.mean(0), b.mean(0)
    U, _, Vt = np.linalg.svd((b - mb).T @ (a - ma))
    S = np.eye(dims)
    S[-1, -1] = np.sign(np.linalg.det(U @ Vt))
    Rd = U @ S @ Vt
    R = np.eye(3)
    R[:dims, :dims] = Rd
    t = np.zeros(3)
    t[:dims] = mb - Rd @ ma
    return R, t


def ate_rmse(est: F64, truth: F64, dims: int = 3, align: bool = True) -> float:
    """RMSE (m) of ``est`` vs ``truth`` (N, 3) after rigid alignment over ``dims`` axes."""
    if align:
        R, t = rigid_align(est, truth, dims)
        est = est @ R.T + t
    d = (est - truth)[:, :dims]
    return float(np.sqrt((d**2).sum(1).mean()))


def yaw_error_rad(q_est_xyzw: F64, q_true_xyzw: F64) -> F64:
    """(N,) heading difference est − truth, wrapped to (−π, π] (base x projected on the ground)."""
    from calibration.rotation import quat_xyzw_to_matrix

    fe = quat_xyzw_to_matrix(q_est_xyzw)[..., :, 0]
    ft = quat_xyzw_to_matrix(q_true_xyzw)[..., :, 0]
    d = np.arctan2(fe[..., 1], fe[..., 0]) - np.arctan2(ft[..., 1], ft[..., 0])
    return np.asarray((d + np.pi) % (2 * np.pi) - np.pi)


def path_length(xyz: F64) -> float:
    """Length (m) of a polyline (N, 3), horizontal."""
    return float(np.hypot(*np.diff(xyz[:, :2], axis=0).T).sum())
