"""Points in oriented boxes: numba kernel vs brute-force numpy, and vs synthetic LiDAR truth."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.rotation import quat_xyzw_to_matrix
from fusion.annotations.model import Cuboid
from fusion.annotations.points_in_box import count_points, points_in_boxes


def brute_force(points: np.ndarray, c: np.ndarray, s: np.ndarray, q: np.ndarray,
                dt_s: np.ndarray | None = None, v: np.ndarray | None = None) -> np.ndarray:
    """(B, N) inside mask; with ``dt_s`` (N,) and ``v`` (B, 3) box b is centred at c_b + v_b·dt_i for point i."""
    R = quat_xyzw_to_matrix(q)
    centers = np.broadcast_to(c[:, None], (c.shape[0], points.shape[0], 3))  # (B, N, 3)
    if dt_s is not None and v is not None:
        centers = c[:, None] + v[:, None] * dt_s[None, :, None]
    local = np.einsum("bji,bnj->bni", R, points.astype(np.float64)[None] - centers)  # R^T (p - c(t))
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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_moving_boxes_with_point_times_equal_brute_force(dtype: type) -> None:
    """Per-point times and per-box velocities: each point against the box at the point's time."""
    rng = np.random.default_rng(12)
    n, nb = 40_000, 20
    pts = rng.uniform(-20, 20, (n, 3)).astype(dtype)
    dt = rng.uniform(-0.1, 0.1, n)  # a 0.2 s sweep around the frame time
    dt[::997] = np.nan  # a point without a valid time is never inside
    c = rng.uniform(-15, 15, (nb, 3))
    s = rng.uniform(0.5, 8.0, (nb, 3))
    q = rng.normal(size=(nb, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    v = rng.uniform(-30, 30, (nb, 3))  # up to 3 m of motion over ±0.1 s: far beyond the box sizes
    v[0] = 0.0  # one static box
    inside = brute_force(pts, c, s, q, dt, v)
    counts, first = points_in_boxes(pts, c, s, q, dt_s=dt, velocities_mps=v, return_mask=True)
    assert counts.tolist() == inside.sum(axis=1).tolist()
    assert counts.sum() > 500
    expected_first = np.where(inside.any(axis=0), np.argmax(inside, axis=0), -1)
    assert first is not None and np.array_equal(first, expected_first)
    assert np.all(first[::997] == -1)
    # the motion matters: the frame-time (static) counts differ, and static boxes are unaffected
    static_counts = brute_force(pts, c, s, q).sum(axis=1)
    assert counts[0] == static_counts[0] - int(brute_force(pts[::997], c[:1], s[:1], q[:1]).sum())
    assert np.sum(counts[1:] != static_counts[1:]) >= nb // 2
    # without times the velocities are unused; zero times reproduce the static call
    assert points_in_boxes(pts, c, s, q, velocities_mps=v)[0].tolist() == static_counts.tolist()
    assert points_in_boxes(pts, c, s, q, dt_s=np.zeros(n), velocities_mps=v)[0].tolist() == static_counts.tolist()


def test_count_points_moves_boxes_with_their_velocity() -> None:
    """A box moving +x at 10 m/s; points swept along the same line over 0.1 s stay inside at
    their own time, and the Cuboid velocity (None = static) is what ``count_points`` uses."""
    t = np.linspace(-0.1, 0.0, 11)  # point times relative to the box (frame) time
    pts = np.c_[10.0 * t, np.zeros_like(t), np.zeros_like(t)]  # the object's centre at each time
    moving = Cuboid.from_yaw([0, 0, 0], [0.25, 1, 1], 0.0, "car", "m", velocity_mps=[10.0, 0, 0])
    static = moving.with_(velocity_mps=None, track_id="s")
    assert count_points(pts, [moving, static], t).tolist() == [11, 2]  # static: |x| <= 0.125 → t in {-0.01, 0}
    assert count_points(pts, [moving, static]).tolist() == [2, 2]  # no times: all at the frame time
    with pytest.raises(ValueError, match="dt_s must be"):
        count_points(pts, [moving], t[:-1])
    with pytest.raises(ValueError, match="velocities_mps must be"):
        points_in_boxes(pts, moving.center_m[None], moving.size_lwh_m[None], moving.rotation_xyzw[None],
                        dt_s=t, velocities_mps=np.zeros((2, 3)))


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
    column's points against the boxes at that column's time, or the whole sweep against the boxes
    at the sweep start moved by their velocity to each point's time, reproduces every object's
    hit count."""
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
        # the whole sweep in one call: boxes at the sweep start + truth velocities, per-point times
        b0 = truth.boxes_at([scan.start_ns])
        moving = [Cuboid.from_yaw(b0.centers[0, m], b0.sizes[m] + eps, b0.yaws[m], "obj", str(m),
                                  velocity_mps=b0.velocities[m]) for m in range(n_boxes)]
        dt_s = (scan.time_ns - scan.start_ns) * 1e-9
        assert count_points(scan.world_xyz, moving, dt_s).tolist() == expected.tolist()
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


def test_import_counts_a_moving_object_at_each_points_time() -> None:
    """``prepare_import`` with timed points: an object moving +x at 10 m/s, scanned over the 0.1 s
    before each frame (its smear is 1 m, the box 0.5 m long), is fully counted at labelled
    frames (velocity derived from the neighbouring labels) and interpolated ones; without point
    times only the part of the smear inside the frame-time box is."""
    from fusion.annotations.annotation_set import AnnotationSet
    from fusion.annotations.importer import prepare_import
    from fusion.annotations.scene import Scene

    t0, dt_frame, n_frames, v = 1_700_000_000_000_000_000, 100_000_000, 7, 10.0
    times = t0 + dt_frame * np.arange(n_frames, dtype=np.int64)
    keys = [Cuboid.from_yaw([v * k * 0.3, 2.0, 0.5], [0.5, 1.0, 1.0], 0.0, "car", "m", time_ns=t0 + 3 * k * dt_frame,
                            frame="world") for k in range(3)]  # labels at frames 0, 3, 6
    keys.append(Cuboid.from_yaw([3.0, -4.0, 0.5], [1.0, 1.0, 1.0], 0.3, "cone", "s", time_ns=t0, frame="world"))
    keys.append(keys[-1].with_(time_ns=int(times[-1])))
    point_dt = -np.linspace(0.0, 0.1, 41)  # one point per 2.5 ms, the sweep ending at the frame time

    def points(kind: str, f: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
        if kind != "lidar":
            return []
        t = (times[f] - t0) * 1e-9 + point_dt
        car = np.c_[v * t, np.full_like(t, 2.0), np.full_like(t, 0.5)]  # the car's centre at each time
        cone = np.tile([3.0, -4.0, 0.5], (len(t), 1))
        return [(np.r_[car, cone], np.r_[point_dt, point_dt])]

    poses = np.tile(np.eye(4), (n_frames, 1, 1))
    scene = Scene(times, poses, lidar=lambda f: [p for p, _ in points("lidar", f)])
    timed = prepare_import(AnnotationSet(tuple(keys)), scene, points=points)
    untimed = prepare_import(AnnotationSet(tuple(keys)), scene)
    for f in range(n_frames):
        car, cone = sorted(timed.frames[f], key=lambda b: b.track_id)
        assert car.source == ("labelled" if f % 3 == 0 else "interpolated")
        assert car.num_lidar_points == 41 and cone.num_lidar_points == 41, f
        assert (car.velocity_mps is None) == (car.source == "labelled")  # labels are stored as labelled
        if car.velocity_mps is not None:
            assert np.allclose(car.velocity_mps, [v, 0, 0], atol=1e-9)
        car0 = next(b for b in untimed.frames[f] if b.track_id == "m")
        assert car0.num_lidar_points == 11  # |v·dt| <= 0.25 m: dt in [-25 ms, 0]
