"""Points in oriented boxes: numba kernel vs brute-force numpy, and vs synthetic LiDAR truth."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.annotations._rotation import quat_xyzw_to_matrix
from fusion.annotations.model import Cuboid
from fusion.annotations.points_in_box import count_points, points_in_boxes


def brute_force(points: np.ndarray, c: np.ndarray, s: np.ndarray, q: np.ndarray) -> np.ndarray:
    R = quat_xyzw_to_matrix(q)
    local = np.einsum("bji,bnj->bni", R, points.astype(np.float64)[None] - c[:, None])  # R^T (p - c)
    return np.all(np.abs(local) <= 0.5 * s[:, None], axis=2)  # (B, N)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_counts_and_mask_equal_brute_force(dtype: type) -> None:
    rng = np.random.default_rng(11)
    pts = rng.uniform(-20, 20, (30_000, 3)).astype(dtype)
    c = rng.uniform(-15, 15, (25, 3))
    s = rng.uniform(0.5, 8.0, (25, 3))
    q = rng.normal(size=(25, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    inside = brute_force(pts, c, s, q)
    counts, first = points_in_boxes(pts, c, s, q, return_mask=True)
    assert counts.tolist() == inside.sum(axis=1).tolist()
    assert counts.sum() > 100  # the test exercises real hits
    expected_first = np.where(inside.any(axis=0), np.argmax(inside, axis=0), -1)
    assert first is not None and np.array_equal(first, expected_first)


def test_closed_box_boundary_and_rotation() -> None:
    box = Cuboid.from_yaw([1.0, 2.0, 0.5], [4.0, 2.0, 1.0], np.pi / 2, "car", "a")  # length along +y
    pts = np.array([
        [1.0, 4.0, 0.5],   # on the front face (|x_obj| = l/2): inside
        [1.0, 4.001, 0.5],  # just outside the front
        [2.0, 2.0, 0.5],   # on the left/right face (|y_obj| = w/2): inside
        [2.001, 2.0, 0.5],  # just outside
        [1.0, 0.5, 1.0],   # top face: inside
        [3.0, 2.0, 0.5],   # would be inside if the yaw were ignored (x extent 2): outside
    ])
    counts, first = points_in_boxes(pts, *[np.array([a]) for a in (box.center_m, box.size_lwh_m, box.rotation_xyzw)],
                                    return_mask=True)
    assert counts.tolist() == [3]
    assert first is not None and first.tolist() == [0, -1, 0, -1, 0, -1]


def test_empty_inputs() -> None:
    assert count_points(np.zeros((0, 3)), [Cuboid.from_yaw([0, 0, 0], [1, 1, 1], 0, "a", "a")]).tolist() == [0]
    assert count_points(np.zeros((5, 3)), []).tolist() == []
    with pytest.raises(ValueError, match=r"points must be \(N, 3\)"):
        points_in_boxes(np.zeros((5, 2)), np.zeros((1, 3)), np.ones((1, 3)), np.array([[0, 0, 0, 1.0]]))


def test_counts_equal_synthetic_lidar_truth() -> None:
    """Rays cast into the generator's world: each box's count = hits whose truth object id is that box."""
    world_mod = pytest.importorskip("fusion.testing.synth.world")
    t0 = 1_700_000_000_000_000_000
    world = world_mod.make_world(t0, 6.0, 10.0, 6, 5, np.random.default_rng(5))
    az = np.linspace(-np.pi, np.pi, 1440, endpoint=False)
    el = np.radians(np.linspace(-24.0, 6.0, 48))
    A, E = np.meshgrid(az, el)
    dirs = np.stack([np.cos(E) * np.cos(A), np.cos(E) * np.sin(A), np.sin(E)], axis=-1).reshape(-1, 3)
    origins = np.tile([20.0, 0.0, 1.9], (dirs.shape[0], 1))
    t = t0 + 2 * 10**9
    rng_m, ids, _ = world_mod.raycast(world, origins, dirs, t, 120.0)
    hit = np.isfinite(rng_m)
    pts = origins[hit] + dirs[hit] * rng_m[hit, None]
    obj = ids[hit]
    centers = world.centers_at(t)[0]
    eps = 1e-6  # hit points lie exactly on the faces; a µm margin absorbs the ray arithmetic rounding
    boxes = [Cuboid.from_yaw(centers[m], world.sizes[m] + eps, world.yaws[m], "obj", str(m))
             for m in range(world.n_boxes)]
    counts = count_points(pts.astype(np.float64), boxes)
    truth = np.array([np.sum(obj == m) for m in range(world.n_boxes)])
    assert truth.sum() > 200 and np.count_nonzero(truth) >= 4
    assert counts.tolist() == truth.tolist()
