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


@pytest.mark.slow
def test_counts_equal_generator_lidar_truth(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The generator's truth LiDAR points (world frame, per-point time, object id): counting each
    column's points against the boxes at that column's time reproduces every object's hit count."""
    synth = pytest.importorskip("fusion.testing.synth")
    out = synth.generate(synth.SynthConfig(duration_s=0.5, lidar_beams=16, lidar_columns=256),
                         tmp_path_factory.mktemp("synth") / "log")
    truth = synth.load_truth(out.truth_path)
    eps = 1e-6  # hit points lie exactly on box faces
    checked = 0
    for i in range(truth.n_lidar_scans):
        scan = truth.lidar_scan(i)
        n_boxes = truth.boxes_at([scan.start_ns]).ids.size
        counts = np.zeros(n_boxes, dtype=np.int64)
        for t in np.unique(scan.time_ns):  # one column = one time
            sel = scan.time_ns == t
            b = truth.boxes_at([t])
            boxes = [Cuboid.from_yaw(b.centers[0, m], b.sizes[m] + eps, b.yaws[m], "obj", str(m))
                     for m in range(n_boxes)]
            counts += count_points(scan.world_xyz[sel], boxes)
        expected = np.bincount(scan.object_id[scan.object_id >= 0], minlength=n_boxes)
        assert counts.tolist() == expected.tolist()
        checked += int(expected.sum())
    assert checked > 500


def test_nan_points_are_never_inside() -> None:
    box = Cuboid.from_yaw([0.0, 0.0, 0.0], [2.0, 2.0, 2.0], 0.0, "car", "a")
    pts = np.array([[0.0, 0.0, 0.0], [np.nan, 0.0, 0.0], [0.0, np.nan, 0.0], [0.0, 0.0, np.nan],
                    [np.nan, np.nan, np.nan]])
    counts, first = points_in_boxes(pts, box.center_m[None], box.size_lwh_m[None], box.rotation_xyzw[None],
                                    return_mask=True)
    assert counts.tolist() == [1]
    assert first is not None and first.tolist() == [0, -1, -1, -1, -1]
