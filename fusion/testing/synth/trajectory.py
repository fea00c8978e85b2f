"""Analytic ego trajectory ``T_odom_base(t)`` with exact closed-form derivatives.

Planar path (world frame ``odom``), with ``τ = (t_ns - start_ns) * 1e-9`` s::

    x(τ) = v0 τ + ax (sin(ws τ + φs) - sin φs)        speed varies ±10 % (period 6 s)
    y(τ) = ay sin(wy τ + φy)                           weave about y = 0, heading amplitude ≈ 12°
    z(τ) = az sin(wz τ)
    yaw  = atan2(y', x')  (heading of the velocity)
    roll = ar sin(wr τ + φr),  pitch = ap sin(wp τ + φp)

Orientation ``R_odom_base = Rz(yaw) Ry(pitch) Rx(roll)``. Velocity, acceleration,
body angular velocity and body angular acceleration are closed-form derivatives,
exact at any time (float64).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial.transform import Rotation

F64 = NDArray[np.float64]

HEADING_AMPLITUDE_RAD = np.deg2rad(12.0)
SPEED_VARIATION = 0.10
SPEED_PERIOD_S = 6.0


@dataclass(frozen=True)
class TrajectoryParams:
    """Coefficients of the analytic path (all SI: m, rad, rad/s)."""

    start_ns: int
    v0: float
    ax: float
    ws: float
    phs: float
    ay: float
    wy: float
    phy: float
    az: float
    wz: float
    ar: float
    wr: float
    phr: float
    ap: float
    wp: float
    php: float

    @staticmethod
    def make(start_ns: int, speed_mps: float, yaw_rate_dps: float, rng: np.random.Generator) -> TrajectoryParams:
        """Path reaching about ``speed_mps`` mean speed and ``yaw_rate_dps`` peak yaw rate."""
        ws = 2 * np.pi / SPEED_PERIOD_S
        omega = np.deg2rad(yaw_rate_dps)
        wy = omega / HEADING_AMPLITUDE_RAD
        ay = speed_mps * np.tan(HEADING_AMPLITUDE_RAD) / wy if wy > 0 else 0.0
        ph = rng.uniform(0, 2 * np.pi, 4)
        params = TrajectoryParams(
            start_ns=int(start_ns), v0=float(speed_mps), ax=float(SPEED_VARIATION * speed_mps / ws), ws=float(ws),
            phs=float(ph[0]), ay=float(ay), wy=float(wy), phy=float(ph[1]),
            az=0.02, wz=2 * np.pi * 0.8, ar=0.01, wr=2 * np.pi * 0.7, phr=float(ph[2]),
            ap=0.008, wp=2 * np.pi * 0.9, php=float(ph[3]),
        )
        if omega > 0:  # scale the weave so the peak yaw rate over 60 s equals yaw_rate_dps
            grid = start_ns + np.arange(0, 60_000_000_000, 5_000_000, dtype=np.int64)
            for _ in range(4):
                peak = np.abs(AnalyticTrajectory(params).yaw_rate(grid)).max()
                params = replace(params, ay=float(params.ay * omega / peak))
        return params

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict."""
        return asdict(self)


def _sin_derivs(a: float, w: float, ph: float, tau: F64, n: int) -> list[F64]:
    """[f, f', ..., f^(n)] of ``a sin(w τ + ph)``."""
    arg = w * tau + ph
    s, c = np.sin(arg), np.cos(arg)
    base = [s, c, -s, -c]
    return [a * w**k * base[k % 4] for k in range(n + 1)]


class AnalyticTrajectory:
    """``T_odom_base(t)`` and its exact derivatives at arbitrary int64 ns times."""

    def __init__(self, params: TrajectoryParams) -> None:
        self.params = params

    def _tau(self, times_ns: ArrayLike) -> F64:
        t = np.asarray(times_ns, dtype=np.int64)
        return (t - np.int64(self.params.start_ns)).astype(np.float64) * 1e-9

    def _planar(self, tau: F64) -> tuple[list[F64], list[F64]]:
        p = self.params
        xs = _sin_derivs(p.ax, p.ws, p.phs, tau, 3)
        ys = _sin_derivs(p.ay, p.wy, p.phy, tau, 3)
        xs[0] = xs[0] + p.v0 * tau - p.ax * np.sin(p.phs)
        xs[1] = xs[1] + p.v0
        return xs, ys

    def _euler(self, tau: F64) -> tuple[list[F64], list[F64], list[F64]]:
        """[angle, rate, accel] for roll, pitch, yaw."""
        p = self.params
        (_, x1, x2, x3), (_, y1, y2, y3) = self._planar(tau)
        yaw = np.arctan2(y1, x1)
        N = x1 * y2 - y1 * x2
        D = x1 * x1 + y1 * y1
        yaw1 = N / D
        yaw2 = ((x1 * y3 - y1 * x3) * D - N * 2 * (x1 * x2 + y1 * y2)) / (D * D)
        roll = _sin_derivs(p.ar, p.wr, p.phr, tau, 2)
        pitch = _sin_derivs(p.ap, p.wp, p.php, tau, 2)
        return roll, pitch, [yaw, yaw1, yaw2]

    def rotation_matrices(self, times_ns: ArrayLike) -> F64:
        """(N, 3, 3) ``R_odom_base``."""
        roll, pitch, yaw = self._euler(self._tau(times_ns))
        return Rotation.from_euler("ZYX", np.stack([yaw[0], pitch[0], roll[0]], axis=-1)).as_matrix()

    def position(self, times_ns: ArrayLike) -> F64:
        """(N, 3) position of base_link in odom, m."""
        p = self.params
        tau = self._tau(times_ns)
        xs, ys = self._planar(tau)
        return np.stack([xs[0], ys[0], p.az * np.sin(p.wz * tau)], axis=-1)

    def pose(self, times_ns: ArrayLike) -> tuple[F64, F64]:
        """``T_odom_base``: translations (N, 3) m and quaternions (N, 4) **x, y, z, w**."""
        R = self.rotation_matrices(times_ns)
        return self.position(times_ns), Rotation.from_matrix(R).as_quat()

    def matrices(self, times_ns: ArrayLike) -> F64:
        """(N, 4, 4) ``T_odom_base``."""
        t = np.atleast_1d(np.asarray(times_ns, dtype=np.int64))
        T = np.zeros((t.size, 4, 4))
        T[:, :3, :3] = self.rotation_matrices(t)
        T[:, :3, 3] = self.position(t)
        T[:, 3, 3] = 1.0
        return T

    def velocity(self, times_ns: ArrayLike) -> F64:
        """(N, 3) linear velocity of base_link origin in odom (world frame), m/s."""
        p = self.params
        tau = self._tau(times_ns)
        xs, ys = self._planar(tau)
        return np.stack([xs[1], ys[1], p.az * p.wz * np.cos(p.wz * tau)], axis=-1)

    def acceleration(self, times_ns: ArrayLike) -> F64:
        """(N, 3) linear acceleration of base_link origin in odom (world frame), m/s²."""
        p = self.params
        tau = self._tau(times_ns)
        xs, ys = self._planar(tau)
        return np.stack([xs[2], ys[2], -p.az * p.wz**2 * np.sin(p.wz * tau)], axis=-1)

    def angular_velocity_body(self, times_ns: ArrayLike) -> F64:
        """(N, 3) angular velocity of base_link in base_link (body rates), rad/s."""
        (r, r1, _), (q, q1, _), (_, y1, _) = self._euler(self._tau(times_ns))
        return np.stack([
            r1 - y1 * np.sin(q),
            q1 * np.cos(r) + y1 * np.cos(q) * np.sin(r),
            -q1 * np.sin(r) + y1 * np.cos(q) * np.cos(r),
        ], axis=-1)

    def angular_acceleration_body(self, times_ns: ArrayLike) -> F64:
        """(N, 3) time derivative of :meth:`angular_velocity_body` (base_link), rad/s²."""
        (r, r1, r2), (q, q1, q2), (_, y1, y2) = self._euler(self._tau(times_ns))
        sr, cr, sq, cq = np.sin(r), np.cos(r), np.sin(q), np.cos(q)
        wx = r2 - y2 * sq - y1 * q1 * cq
        wy = q2 * cr - q1 * r1 * sr + y2 * cq * sr - y1 * q1 * sq * sr + y1 * r1 * cq * cr
        wz = -q2 * sr - q1 * r1 * cr + y2 * cq * cr - y1 * q1 * sq * cr - y1 * r1 * cq * sr
        return np.stack([wx, wy, wz], axis=-1)

    def yaw_rate(self, times_ns: ArrayLike) -> F64:
        """(N,) heading rate d(yaw)/dt, rad/s."""
        return self._euler(self._tau(times_ns))[2][1]

    def point_velocity_world(self, times_ns: ArrayLike, r_base: ArrayLike) -> F64:
        """(N, 3) world velocity of the rig point ``r_base`` (3,) (base_link coordinates), m/s."""
        R = self.rotation_matrices(times_ns)
        w_world = np.einsum("nij,nj->ni", R, self.angular_velocity_body(times_ns))
        r_world = R @ np.asarray(r_base, dtype=np.float64)
        return self.velocity(times_ns) + np.cross(w_world, r_world)

    def point_acceleration_world(self, times_ns: ArrayLike, r_base: ArrayLike) -> F64:
        """(N, 3) world acceleration of rig point ``r_base``: a + α×r + ω×(ω×r), m/s²."""
        R = self.rotation_matrices(times_ns)
        w = np.einsum("nij,nj->ni", R, self.angular_velocity_body(times_ns))
        alpha = np.einsum("nij,nj->ni", R, self.angular_acceleration_body(times_ns))
        r = R @ np.asarray(r_base, dtype=np.float64)
        return self.acceleration(times_ns) + np.cross(alpha, r) + np.cross(w, np.cross(w, r))
