"""Analytic ground truth for the sync tests (trajectories, spinning scans) + self-checks.

Other ``test_sync_*`` modules import the helpers from here (pytest puts ``tests/`` on sys.path).

* ``Trajectory`` — a smooth SE(3) drive: planar unicycle with speed ``v0 + v1 sin(2πft)`` and yaw
  rate ``w0 + w1 sin(2πft)`` (yaw in closed form; x, y by 8-point Gauss–Legendre from 1 ms nodes,
  exact to ~1e-12 m), plus small z / roll / pitch oscillations. With ``v1 = w1 = 0`` (and no
  roll/pitch/z) the pose is the exact closed form ``x = v/ω sin ωt, y = v/ω (1 − cos ωt)``.
* ``spinning_scan`` — a spinning LiDAR sweep ray-cast into a ground plane ``z = 0`` and a vertical
  cylinder wall, each ray cast from the LiDAR pose at that point's own time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

T0_NS = 1_700_000_000_000_000_000
GL_X, GL_W = np.polynomial.legendre.leggauss(8)


@dataclass(frozen=True)
class Trajectory:
    """T_world_base(t) of an analytic drive (t in ns since ``T0_NS``)."""

    v0: float = 10.0
    v1: float = 0.0
    w0: float = np.deg2rad(30.0)
    w1: float = 0.0
    freq_hz: float = 0.2
    z_amp: float = 0.0
    rp_amp_rad: float = 0.0
    duration_s: float = 6.0

    def _speed(self, s: np.ndarray) -> np.ndarray:
        return self.v0 + self.v1 * np.sin(2 * np.pi * self.freq_hz * s)

    def yaw(self, s: np.ndarray) -> np.ndarray:
        om = 2 * np.pi * self.freq_hz
        return self.w0 * s + self.w1 * (1.0 - np.cos(om * s)) / om

    def _integrate(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        mid, half = (a + b) / 2, (b - a) / 2
        s = mid[:, None] + half[:, None] * GL_X[None, :]
        v, y = self._speed(s), self.yaw(s)
        return np.stack([(v * np.cos(y) * GL_W).sum(1) * half, (v * np.sin(y) * GL_W).sum(1) * half], axis=1)

    def _xy(self, s: np.ndarray) -> np.ndarray:
        if self.v1 == 0.0 and self.w1 == 0.0:
            r = self.v0 / self.w0
            return np.stack([r * np.sin(self.w0 * s), r * (1 - np.cos(self.w0 * s))], axis=1)
        nodes = np.arange(0.0, self.duration_s + 1e-3, 1e-3)
        cum = np.concatenate([[[0.0, 0.0]], np.cumsum(self._integrate(nodes[:-1], nodes[1:]), axis=0)])
        k = np.clip(np.floor(s / 1e-3).astype(int), 0, nodes.size - 1)
        return cum[k] + self._integrate(nodes[k], s)

    def pose(self, t_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(t (N,3), q (N,4) xyzw) of T_world_base at absolute times (ns)."""
        s = (np.asarray(t_ns, dtype=np.int64) - T0_NS) / 1e9
        om = 2 * np.pi * 0.5
        xy = self._xy(s)
        z = 0.5 + self.z_amp * np.sin(om * s)
        roll = self.rp_amp_rad * np.sin(om * s)
        pitch = self.rp_amp_rad * np.cos(0.7 * om * s)
        q = Rotation.from_euler("ZYX", np.stack([self.yaw(s), pitch, roll], axis=1)).as_quat()
        return np.column_stack([xy, z]), q

    def matrices(self, t_ns: np.ndarray) -> np.ndarray:
        t, q = self.pose(t_ns)
        T = np.tile(np.eye(4), (t.shape[0], 1, 1))
        T[:, :3, :3] = Rotation.from_quat(q).as_matrix()
        T[:, :3, 3] = t
        return T


CONSTANT = Trajectory()
VARYING = Trajectory(v0=10.0, v1=3.0, w0=np.deg2rad(30.0), w1=np.deg2rad(15.0), z_amp=0.05,
                     rp_amp_rad=np.deg2rad(2.0))  # fmt: skip


def T_base_lidar() -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("xyz", [0.5, -1.0, 2.0], degrees=True).as_matrix()
    T[:3, 3] = [1.2, 0.05, 1.8]
    return T


def samples(traj: Trajectory, t0_ns: int, t1_ns: int, rate_hz: float = 50.0):
    """Odometry-like samples of ``traj`` at ``rate_hz`` covering [t0, t1] (ns, t, q xyzw)."""
    step = round(1e9 / rate_hz)
    times = np.arange(t0_ns - (t0_ns - T0_NS) % step, t1_ns + step, step, dtype=np.int64)
    t, q = traj.pose(times)
    return times, t, q


def spinning_scan(traj: Trajectory, start_ns: int, cols: int = 1024, rows: int = 64, sweep_ns: int = 100_000_000,
                  wall_radius_m: float = 35.0):  # fmt: skip
    """A CCW spinning sweep: (raw xyz (N,3) f32 lidar frame at each point's time, time (N,), world (N,3))."""
    col_t = start_ns + (np.arange(cols) * sweep_ns) // cols
    az = 2 * np.pi * np.arange(cols) / cols
    el = np.deg2rad(np.linspace(-22.0, 22.0, rows))
    d_l = np.stack(
        [np.cos(el)[None, :] * np.cos(az)[:, None], np.cos(el)[None, :] * np.sin(az)[:, None],
         np.broadcast_to(np.sin(el)[None, :], (cols, rows))], axis=-1,
    ).reshape(-1, 3)  # fmt: skip
    t_pt = np.repeat(col_t, rows)
    T_wl = traj.matrices(col_t) @ T_base_lidar()
    T_wl = np.repeat(T_wl, rows, axis=0)
    o = T_wl[:, :3, 3]
    d = np.einsum("nij,nj->ni", T_wl[:, :3, :3], d_l)
    with np.errstate(divide="ignore", invalid="ignore"):
        s_ground = np.where(d[:, 2] < -1e-6, -o[:, 2] / d[:, 2], np.inf)
    center = traj.pose(np.array([start_ns]))[0][0, :2]
    oc = o[:, :2] - center
    a = (d[:, :2] ** 2).sum(1)
    b = 2 * (oc * d[:, :2]).sum(1)
    c = (oc**2).sum(1) - wall_radius_m**2
    s_wall = (-b + np.sqrt(b * b - 4 * a * c)) / (2 * a)
    s = np.minimum(s_ground, s_wall)
    world = o + s[:, None] * d
    p_l = np.einsum("nji,nj->ni", T_wl[:, :3, :3], world - o)
    return p_l.astype(np.float32), t_pt.astype(np.int64), world


def world_to_lidar(traj: Trajectory, world: np.ndarray, t_ns: int) -> np.ndarray:
    T = traj.matrices(np.array([t_ns]))[0] @ T_base_lidar()
    return (world - T[:3, 3]) @ T[:3, :3]


def test_closed_form_matches_quadrature():
    """The quadrature path reproduces the exact closed form (so VARYING truth is trustworthy)."""
    quad = Trajectory(v0=10.0, v1=1e-300, w0=np.deg2rad(30.0))  # forces quadrature, same motion
    t = T0_NS + np.array([0, 123_456_789, 2_500_000_001, 5_999_000_000], dtype=np.int64)
    a, qa = CONSTANT.pose(t)
    b, qb = quad.pose(t)
    assert np.max(np.abs(a - b)) < 6e-13  # measured 1.8e-13 m
    assert np.max(np.abs(qa - qb)) < 1e-15  # measured 0


def test_scan_points_lie_on_surfaces():
    xyz, t, world = spinning_scan(VARYING, T0_NS + 1_000_000_000)
    on_ground = np.abs(world[:, 2]) < 1e-9
    c = VARYING.pose(np.array([T0_NS + 1_000_000_000]))[0][0, :2]
    on_wall = np.abs(np.linalg.norm(world[:, :2] - c, axis=1) - 35.0) < 1e-9
    assert np.all(on_ground | on_wall) and on_ground.any() and on_wall.any()
    # the raw point really is the world point seen from the lidar pose at its own time
    i = 5000
    T = VARYING.matrices(t[i : i + 1])[0] @ T_base_lidar()
    err = np.abs(T[:3, :3] @ xyz[i].astype(np.float64) + T[:3, 3] - world[i])
    assert np.max(err) < 1.5e-6  # float32: measured 4.5e-7 m
