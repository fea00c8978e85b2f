"""Kernels of LiDAR odometry and of the urban world: SE(3) exp/log, constant-twist deskew, the
pole ray caster, the urban world's round trip (fast; no kiss-icp needed)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.ego import se3
from fusion.ego.lidar_odometry import deskew
from fusion.testing.synth.urban import Structures, intersect_pole, make_structures
from fusion.testing.synth.world import World

twists = st.tuples(st.lists(st.floats(-3.0, 3.0), min_size=3, max_size=3),
                   st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3)).map(lambda a: np.array(a[0] + a[1]))
"""(v m/s, ω rad/s) with a rotation angle < π (log's domain)."""


@given(twists)
@settings(max_examples=60, deadline=None)
def test_se3_log_inverts_exp(xi: np.ndarray) -> None:
    T = se3.exp(xi)
    assert np.allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-12)
    assert np.allclose(se3.log(T), xi, atol=1e-8)
    assert np.allclose(se3.inv(T) @ T, np.eye(4), atol=1e-12)


@given(twists, st.floats(0.01, 0.2))
@settings(max_examples=40, deadline=None)
def test_exp_matches_integrating_the_twist(xi: np.ndarray, dt: float) -> None:
    """exp(ξ·dt) = the pose reached by integrating the constant body twist in 2000 small steps."""
    T = np.eye(4)
    step = se3.exp(xi * dt / 2000)
    for _ in range(2000):
        T = T @ step
    assert np.allclose(se3.exp(xi * dt), T, atol=1e-9)


def test_deskew_moves_points_to_the_reference_pose() -> None:
    """A static world point seen at its own time lands where the sensor at the reference time sees it."""
    rng = np.random.default_rng(0)
    xi = np.array([10.0, 0.3, 0.0, 0.01, -0.02, 0.5])  # m/s, rad/s
    world = rng.uniform(-20, 20, (500, 3))
    dt = rng.uniform(-0.05, 0.05, 500)
    T = np.stack([se3.exp(xi * d) for d in dt])  # T_ref_point
    seen = np.einsum("nji,nj->ni", T[:, :3, :3], world - T[:, :3, 3])  # the point in the frame at its time
    assert np.abs(deskew(seen, dt, xi) - world).max() < 1e-9


def test_pole_intersection_against_sampling() -> None:
    rng = np.random.default_rng(1)
    pole = np.array([5.0, 1.0, 0.2, 6.0])
    o = np.tile([0.0, 0.0, 1.8], (2000, 1))
    d = rng.normal(size=(2000, 3))
    d[:, 0] = np.abs(d[:, 0]) + 1.0
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    t = intersect_pole(o, d, pole)
    hit = np.isfinite(t)
    assert 20 < hit.sum() < 2000
    p = o[hit] + t[hit, None] * d[hit]
    assert np.allclose(np.hypot(p[:, 0] - 5.0, p[:, 1] - 1.0), 0.2, atol=1e-9)
    assert (p[:, 2] >= 0).all() and (p[:, 2] <= 6.0).all()
    # a miss: marching along a missed ray never enters the cylinder below its top
    s = np.linspace(0, 30, 3001)[:, None]
    for k in np.flatnonzero(~hit)[:50]:
        q = o[k] + s * d[k]
        inside = (np.hypot(q[:, 0] - 5.0, q[:, 1] - 1.0) < 0.2) & (q[:, 2] >= 0) & (q[:, 2] <= 6.0)
        assert not inside.any()


def test_urban_world_round_trip_and_layout() -> None:
    st_ = make_structures(600.0, np.random.default_rng([0, 8]))
    assert len(st_.yaws) >= 40 and len(st_.poles) >= 80
    assert np.degrees(np.abs(st_.yaws)).max() > 30  # façades at many orientations
    # clear of the road: every footprint corner ≥ 9 m from the axis
    for c, s, y in zip(st_.centers, st_.sizes, st_.yaws):
        corners = np.array([[sx * s[0] / 2, sy * s[1] / 2] for sx in (-1, 1) for sy in (-1, 1)])
        R = np.array([[np.cos(y), -np.sin(y)], [np.sin(y), np.cos(y)]])
        assert np.abs((corners @ R.T + c[:2])[:, 1]).min() >= 9.0 - 1e-9
    w = World(0, np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0), np.zeros((0, 3)), 0, st_)
    back = World.from_dict(w.to_dict())
    assert isinstance(back.structures, Structures) and np.array_equal(back.structures.poles, st_.poles)
    assert "structures" not in World(0, np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0), np.zeros((0, 3)), 0).to_dict()
