"""Radar Doppler ego-motion compensation, beam-crossing times and point transforms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from fusion.sync import (
    beam_crossing_fraction,
    beam_crossing_time_ns,
    camera_azimuth_rad,
    compensate_doppler,
    compensate_doppler_from_ego,
    sensor_velocity,
    to_base,
    to_world,
)


def rotz(a: float) -> np.ndarray:
    return Rotation.from_rotvec([0.0, 0.0, a]).as_matrix()


def radar_extrinsic():
    T = np.eye(4)
    T[:3, :3] = rotz(np.deg2rad(-60.0))  # front-right corner radar
    T[:3, 3] = [3.6, -0.9, 0.5]
    return T


def test_static_returns_compensate_to_zero():
    rng = np.random.default_rng(0)
    T = radar_extrinsic()
    v_base = np.array([10.0, 0.0, 0.0])
    omega = np.array([0.0, 0.0, np.deg2rad(30.0)])
    # static world points seen from the radar; their world velocity is 0
    p = np.column_stack([rng.uniform(2, 80, 500), rng.uniform(-30, 30, 500), rng.uniform(-1, 3, 500)])
    # ground truth sensor velocity in the radar frame by finite differences of the radar pose
    dt = 1e-6
    R1 = Rotation.from_rotvec(omega * dt).as_matrix()
    pos0 = T[:3, 3]
    pos1 = v_base * dt + R1 @ T[:3, 3]
    v_true = T[:3, :3].T @ ((pos1 - pos0) / dt)
    v_s = sensor_velocity(T, v_base, omega)
    np.testing.assert_allclose(v_s, v_true, rtol=0, atol=1.1e-6)  # finite differences: measured 3.7e-7 m/s
    v_exact = T[:3, :3].T @ (v_base + np.cross(omega, T[:3, 3]))  # rigid body: v + ω × r, in the radar frame
    np.testing.assert_allclose(v_s, v_exact, rtol=0, atol=1e-14)  # measured 0 m/s
    v_true = v_exact
    u = p / np.linalg.norm(p, axis=1, keepdims=True)
    noise = rng.normal(0, 0.02, 500)
    v_r = -(u @ v_true) + noise  # measured range rate of static targets
    comp = compensate_doppler(p, v_r, v_s)
    # exact: what remains of a static return is its measurement noise (median |noise| 0.014 m/s)
    assert np.max(np.abs(comp - noise)) <= 1e-14  # measured 2.6e-15 m/s
    assert np.median(np.abs(v_r)) > 1.0  # uncompensated: metres per second
    np.testing.assert_allclose(compensate_doppler_from_ego(p, v_r, T, v_base, omega), comp)
    # a moving target keeps its own radial speed
    v_t = np.array([0.0, 5.0, 0.0])
    mv = compensate_doppler(p[:1], (u[:1] @ (v_t - v_true)), v_s)
    np.testing.assert_allclose(mv, u[:1] @ v_t, rtol=0, atol=1e-14)  # measured 0 m/s


def test_zero_range_is_nan():
    out = compensate_doppler(np.array([[0.0, 0, 0], [1, 0, 0]]), np.array([1.0, 1.0]), np.array([1.0, 0, 0]))
    assert np.isnan(out[0]) and out[1] == pytest.approx(2.0)


def optical(yaw_deg):
    """T_lidar_camera of a camera whose optical axis points at azimuth yaw (optical z forward, x right)."""
    R_base_opt = np.array([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]])
    T = np.eye(4)
    T[:3, :3] = rotz(np.deg2rad(yaw_deg)) @ R_base_opt
    return T


@pytest.mark.parametrize(("yaw", "start", "direction", "frac"), [
    (0.0, 0.0, "ccw", 0.0), (90.0, 0.0, "ccw", 0.25), (-90.0, 0.0, "ccw", 0.75), (90.0, 0.0, "cw", 0.75),
    (180.0, np.pi / 2, "ccw", 0.25), (-45.0, -np.pi, "cw", 0.625),
])  # fmt: skip
def test_beam_crossing(yaw, start, direction, frac):
    T = optical(yaw)
    az = camera_azimuth_rad(T)
    assert abs(np.angle(np.exp(1j * (az - np.deg2rad(yaw))))) < 1e-12
    assert beam_crossing_fraction(T, start, direction) == pytest.approx(frac, abs=1e-12)
    t = beam_crossing_time_ns(np.array([1_000_000_000, 2_000_000_000]), 100_000_000, T, start, direction)
    assert t.tolist() == [1_000_000_000 + round(frac * 1e8), 2_000_000_000 + round(frac * 1e8)]


def test_to_base_and_to_world():
    T_bs = radar_extrinsic()
    T_wb = np.eye(4)
    T_wb[:3, :3] = rotz(0.3)
    T_wb[:3, 3] = [100.0, -5.0, 0.2]
    p = np.array([[1.0, 2.0, 3.0], [0, 0, 0]], dtype=np.float32)
    b = to_base(p, T_bs)
    assert b.dtype == np.float32
    np.testing.assert_allclose(b[1], T_bs[:3, 3], rtol=0, atol=3e-7)  # float32: measured 9.5e-8 m
    w = to_world(p.astype(np.float64), T_wb, T_bs)
    np.testing.assert_allclose(w, (T_wb @ T_bs @ np.c_[p, np.ones(2)].T).T[:, :3], atol=1e-12)
