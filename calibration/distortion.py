"""Distortion maps of the camera models (OpenCV semantics), their monotonic region and inverses.

Pure vectorized functions on normalized image coordinates (``x = X/Z``, ``y = Y/Z``); the
coefficient vector ``D`` is in ROS/OpenCV order:

- pinhole models (``plumb_bob`` k1 k2 p1 p2 k3, ``rational_polynomial`` k1 k2 p1 p2 k3 k4 k5 k6):
  ``x_d = x·N(r²)/M(r²) + 2 p1 x y + p2 (r² + 2x²)``, ``y_d = y·N/M + p1 (r² + 2y²) + 2 p2 x y`` with
  ``N = 1 + k1 r² + k2 r⁴ + k3 r⁶`` and ``M = 1 + k4 r² + k5 r⁴ + k6 r⁶``;
- ``equidistant`` (k1..k4): ``θ_d = θ (1 + k1 θ² + k2 θ⁴ + k3 θ⁶ + k4 θ⁸)``, ``θ = atan(r)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from calibration.rotation import F64

R_GRID_MAX = 20.0
"""Pinhole models: undistorted normalized radius searched for monotonicity (≈ 87° off axis)."""
NEWTON_ITERS = 60
NEWTON_TOL = 1e-13


def radial_factor(D: F64, r2: F64) -> tuple[F64, F64, F64]:
    """Pinhole models: radial factor ``N/M``, its derivative with respect to r², and ``M``."""
    d = np.zeros(8)
    d[: D.size] = D
    k1, k2, _, _, k3, k4, k5, k6 = d
    num = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    den = 1.0 + r2 * (k4 + r2 * (k5 + r2 * k6))
    dnum = k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2)
    dden = k4 + r2 * (2.0 * k5 + 3.0 * k6 * r2)
    return num / den, (dnum * den - num * dden) / (den * den), den


def theta_d(D: F64, theta: F64) -> tuple[F64, F64]:
    """Equidistant: distorted angle ``θ_d(θ)`` and its derivative ``dθ_d/dθ``."""
    k1, k2, k3, k4 = D
    t2 = theta * theta
    poly = 1.0 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4)))
    dpoly = 1.0 + t2 * (3.0 * k1 + t2 * (5.0 * k2 + t2 * (7.0 * k3 + t2 * 9.0 * k4)))
    return theta * poly, dpoly


def distort_pinhole(D: F64, x: F64, y: F64) -> tuple[F64, F64, F64]:
    """Pinhole models (or no distortion when ``D`` is empty): ``(x_d, y_d, r²)`` of normalized points."""
    r2 = x * x + y * y
    if D.size == 0:
        return x, y, r2
    rad, _, _ = radial_factor(D, r2)
    p1, p2 = D[2], D[3]
    xy = x * y
    xd = x * rad + 2.0 * p1 * xy + p2 * (r2 + 2.0 * x * x)
    yd = y * rad + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * xy
    return xd, yd, r2


def _increasing_up_to(x: F64, f: F64, ok: NDArray[np.bool_]) -> float:
    """Largest grid value up to which ``f`` increases strictly (and ``ok`` holds)."""
    good = (np.diff(f) > 0.0) & ok[1:]
    bad = np.flatnonzero(~good)
    return float(x[-1] if bad.size == 0 else x[bad[0]])


def monotonic_limit(model: str, D: F64) -> float:
    """``r_max`` (pinhole models, on the undistorted normalized radius; inf for ``none``) or
    ``θ_max`` (equidistant, radians) up to which the radial distortion is strictly increasing."""
    if model == "none":
        return float("inf")
    if model == "equidistant":
        theta = np.linspace(0.0, np.pi / 2.0, 20001)[:-1]
        td, _ = theta_d(D, theta)
        return _increasing_up_to(theta, td, np.ones(theta.size, dtype=bool))
    r = np.linspace(0.0, R_GRID_MAX, 40001)
    rad, _, den = radial_factor(D, r * r)
    return _increasing_up_to(r, r * rad, den > 0.0)


def undistort_pinhole(D: F64, xd: F64, yd: F64, r_max: float) -> tuple[F64, F64, NDArray[np.bool_]]:
    """Invert :func:`distort_pinhole` by vectorized 2-D Newton (analytic Jacobian).

    Iterates are kept inside ``r ≤ r_max`` so Newton stays on the monotonic branch.

    Returns:
        ``(x, y, ok)``: undistorted normalized coordinates (N,) and (N,) bool, True where the
        residual is < 1e-10 and the solution lies inside the monotonic region.
    """
    p1, p2 = D[2], D[3]
    x, y = xd.copy(), yd.copy()
    act = np.arange(x.size)  # indices still iterating (converged points drop out)
    for _ in range(NEWTON_ITERS):
        if act.size == 0:
            break
        xa, ya, xda, yda = x[act], y[act], xd[act], yd[act]
        r2 = xa * xa + ya * ya
        rad, drad, _ = radial_factor(D, r2)
        xy = xa * ya
        fx = xa * rad + 2.0 * p1 * xy + p2 * (r2 + 2.0 * xa * xa) - xda
        fy = ya * rad + p1 * (r2 + 2.0 * ya * ya) + 2.0 * p2 * xy - yda
        j11 = rad + 2.0 * xa * xa * drad + 2.0 * p1 * ya + 6.0 * p2 * xa
        j12 = 2.0 * xy * drad + 2.0 * p1 * xa + 2.0 * p2 * ya
        j22 = rad + 2.0 * ya * ya * drad + 6.0 * p1 * ya + 2.0 * p2 * xa
        det = j11 * j22 - j12 * j12  # the Jacobian is symmetric (j21 == j12)
        with np.errstate(divide="ignore", invalid="ignore"):
            dx = (j22 * fx - j12 * fy) / det
            dy = (j11 * fy - j12 * fx) / det
        step_ok = np.isfinite(dx) & np.isfinite(dy)
        dx, dy = np.where(step_ok, dx, 0.0), np.where(step_ok, dy, 0.0)
        xa, ya = xa - dx, ya - dy
        r = np.hypot(xa, ya)
        shrink = np.where(r > r_max, r_max / np.where(r > 0, r, 1.0), 1.0)
        x[act], y[act] = xa * shrink, ya * shrink
        act = act[np.abs(dx) + np.abs(dy) >= NEWTON_TOL]
    exd, eyd, r2 = distort_pinhole(D, x, y)
    ok = (np.hypot(exd - xd, eyd - yd) < 1e-10) & (r2 < r_max**2)
    return x, y, ok


def unproject_equidistant(D: F64, xd: F64, yd: F64, theta_max: float) -> F64:
    """Unit rays (N, 3) for equidistant normalized distorted points: 1-D Newton on θ.

    Rows are NaN where ``θ_d ≥ θ_d(θ_max)`` (outside the monotonic region).
    """
    td = np.hypot(xd, yd)
    td_max, _ = theta_d(D, np.array([theta_max]))
    theta = np.minimum(td, theta_max)
    for _ in range(NEWTON_ITERS):
        f, df = theta_d(D, theta)
        step = (f - td) / df
        theta = np.clip(theta - step, 0.0, theta_max)
        if np.all(np.abs(step) < NEWTON_TOL):
            break
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(td > 1e-12, np.sin(theta) / np.where(td > 1e-12, td, 1.0), 1.0)
    rays = np.stack([xd * s, yd * s, np.cos(theta)], axis=1)
    rays[td >= td_max[0]] = np.nan
    return rays
