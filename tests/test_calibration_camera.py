"""Camera models against OpenCV: projection, unprojection round trip, valid masks, rolling shutter."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import calibration as cal

K = np.array([[500.0, 0.0, 320.0], [0.0, 480.0, 240.0], [0.0, 0.0, 1.0]])
MODELS = {
    "plumb_bob": [-0.3, 0.1, 0.001, -0.002, -0.02],
    "rational_polynomial": [0.5, -0.2, 0.001, -0.001, 0.05, 0.8, -0.1, 0.1],
    "equidistant": [-0.02, 0.01, -0.003, 0.0005],
    "none": [],
}


def _cv2_project(model: str, P: np.ndarray, D: np.ndarray, Km: np.ndarray = K) -> np.ndarray:
    if model == "equidistant":
        uv, _ = cv2.fisheye.projectPoints(P.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), Km, D)
    else:
        uv, _ = cv2.projectPoints(P, np.zeros(3), np.zeros(3), Km, D if D.size else None)
    return uv.reshape(-1, 2)


def _points(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform([-4.0, -3.0, 0.5], [4.0, 3.0, 6.0], (n, 3))


@pytest.mark.parametrize("model", list(MODELS))
def test_projection_matches_opencv_and_round_trips(model: str) -> None:
    rng = np.random.default_rng(7)
    D = np.array(MODELS[model])
    cam = cal.CameraModel(640, 480, K, model, D)
    P = _points(rng, 5000)
    uv, valid = cam.project(P)
    assert valid.sum() > 1500  # plenty of points fall in the image
    ref = _cv2_project(model, P, D)
    assert np.max(np.abs(uv[valid] - ref[valid])) < 1e-12  # measured 2.3e-13 px (worst model)
    rays = cam.unproject(uv[valid])
    np.testing.assert_allclose(np.linalg.norm(rays, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(rays, P[valid] / np.linalg.norm(P[valid], axis=1, keepdims=True), rtol=0,
                               atol=5e-14)  # fmt: skip  # measured 1.3e-14 (rational_polynomial)
    uv2, valid2 = cam.project(rays)
    assert valid2.all()
    assert np.max(np.abs(uv2 - uv[valid])) < 1e-12  # measured 2.3e-13 px


@pytest.mark.parametrize("model", list(MODELS))
def test_pixel_grid_round_trip_inside_valid_area(model: str) -> None:
    cam = cal.CameraModel(640, 480, K, model, np.array(MODELS[model]))
    mask = cam.valid_pixel_mask()
    v, u = np.mgrid[0:480:7, 0:640:7]
    uv = np.stack([u.ravel(), v.ravel()], axis=1).astype(np.float64) + 0.25
    rays = cam.unproject(uv)
    finite = np.all(np.isfinite(rays), axis=1)
    uv_back, ok = cam.project(rays[finite])
    assert ok.all()
    assert np.max(np.abs(uv_back - uv[finite])) < 1e-12  # measured 2.3e-13 px
    # the mask agrees with per-pixel unprojection
    assert mask.shape == (480, 640)
    grid = np.stack([u.ravel(), v.ravel()], axis=1).astype(np.float64)
    np.testing.assert_array_equal(mask[v.ravel(), u.ravel()], np.all(np.isfinite(cam.unproject(grid)), axis=1))
    if model == "rational_polynomial":
        # this strong model folds over in the image corners: those pixels have no unique ray
        assert 0.9 < mask.mean() < 1.0 and not mask[0, 0] and mask[240, 320]
    else:
        assert mask.all()


def test_unprojection_agrees_with_cv2_undistort_points() -> None:
    D = np.array(MODELS["plumb_bob"])
    cam = cal.CameraModel(640, 480, K, "plumb_bob", D)
    uv = np.array([[10.0, 10.0], [320.0, 240.0], [600.0, 400.0], [100.0, 450.0]])
    rays = cam.unproject(uv)
    xy = cv2.undistortPoints(
        uv.reshape(-1, 1, 2), K, D, criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-15)
    ).reshape(-1, 2)
    np.testing.assert_allclose(rays[:, :2] / rays[:, 2:], xy, rtol=0, atol=1e-12)  # measured 0


def test_valid_mask_behind_outside_and_non_monotonic() -> None:
    cam = cal.CameraModel(640, 480, K, "plumb_bob", np.array(MODELS["plumb_bob"]))
    # k1 = −0.3, k2 = 0.1 is monotonic up to r where d/dr[r(1 + k1 r² + k2 r⁴ + k3 r⁶)] = 0
    r_max = cam.monotonic_limit
    d = np.array(MODELS["plumb_bob"])
    deriv = 1 + 3 * d[0] * r_max**2 + 5 * d[1] * r_max**4 + 7 * d[4] * r_max**6
    assert abs(deriv) < 1e-3 and 1.0 < r_max < 2.0
    P = np.array(
        [
            [0.0, 0.0, 2.0],  # centre: valid
            [0.0, 0.0, -2.0],  # behind
            [0.0, 0.0, 0.0],  # at the centre of projection
            [2.0, 0.0, 1.0],  # r = 2 > r_max: folds back into the image (u = 428) — invalid
            [0.6, 0.0, 1.0],  # in the image, inside the monotonic region
            [0.0, 0.55, 1.0],  # v beyond the bottom of the image
        ]
    )
    uv, valid = cam.project(P)
    assert valid.tolist() == [True, False, False, False, True, False]
    _, valid_any = cam.project(P, require_in_image=False)
    assert valid_any.tolist() == [True, False, False, False, True, True]
    # u = fx·(r·(1 + k1 r² + k2 r⁴ + k3 r⁶) + p2·(r² + 2x²)) + cx = 500·(0.24 − 0.024) + 320 = 428
    assert cam.in_image(uv[3:4])[0] and abs(uv[3, 0] - 428.0) < 1e-9  # in the image, yet invalid
    fish = cal.CameraModel(640, 480, K, "equidistant", np.array(MODELS["equidistant"]))
    _, vf = fish.project(np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 1.0]]), require_in_image=False)
    assert vf.tolist() == [False, True]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"distortion_model": "plumb_bob", "D": [0.1, 0.0, 0.0, 0.0]}, "needs 5 finite coefficients"),
        ({"distortion_model": "rational_polynomial", "D": [0.0] * 5}, "needs 8"),
        ({"distortion_model": "equidistant", "D": [0.0] * 5}, "needs 4"),
        ({"distortion_model": "kannala", "D": []}, "not supported"),
        ({"K": np.diag([-1.0, 500.0, 1.0])}, "focal lengths must be > 0"),
        ({"K": np.array([[500.0, 0, 900], [0, 500, 240], [0, 0, 1]])}, "principal point"),
        ({"K": np.array([[500.0, 3, 320], [0, 500, 240], [0, 0, 1]])}, "no skew"),
    ],
)
def test_camera_model_rejects_bad_intrinsics(kwargs: dict, message: str) -> None:
    args = {"width": 640, "height": 480, "K": K, "distortion_model": "none", "D": []}
    args.update(kwargs)
    with pytest.raises(cal.IntrinsicsError, match=message):
        cal.CameraModel(**args)


def test_radtan_alias_and_rolling_shutter_rows() -> None:
    cam = cal.CameraModel(640, 480, K, "radtan", [0.0] * 5, rolling_shutter_line_ns=30_000.5)
    assert cam.distortion_model == "plumb_bob"
    rows = np.array([0, 1, 240, 479])
    np.testing.assert_array_equal(cam.row_time_offset_ns(rows), [0, 30_000, 7_200_120, 14_370_240])
    sensor = cal.Sensor("cam", "camera", "cam_optical", cal.SE3.identity(), time_offset_ns=-5_000, camera=cam)
    stamp = 1_700_000_000_123_456_789
    np.testing.assert_array_equal(
        sensor.pixel_row_time_ns(stamp, rows), stamp - 5_000 + np.array([0, 30_000, 7_200_120, 14_370_240])
    )
    global_cam = cal.CameraModel(640, 480, K)
    np.testing.assert_array_equal(global_cam.row_time_offset_ns(rows), 0)


def test_real_camera_info_from_fiducials_bag_matches_opencv(shared_data: Path) -> None:
    """A real Raspberry Pi calibration (CameraInfo in a recorded bag) projects like OpenCV."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    bag = shared_data / "real" / "fiducials_camera_jpeg.bag"
    with AnyReader([bag], default_typestore=get_typestore(Stores.ROS1_NOETIC)) as reader:
        conns = [c for c in reader.connections if c.msgtype == "sensor_msgs/msg/CameraInfo"]
        _, _, raw = next(iter(reader.messages(conns)))
        info = reader.deserialize(raw, conns[0].msgtype)
    cam = cal.CameraModel(info.width, info.height, np.asarray(info.K).reshape(3, 3), info.distortion_model, info.D)
    assert (cam.width, cam.height, cam.distortion_model) == (1280, 960, "plumb_bob")
    rng = np.random.default_rng(3)
    P = rng.uniform([-3.0, -2.0, 1.0], [3.0, 2.0, 5.0], (3000, 3))
    uv, valid = cam.project(P)
    ref = _cv2_project("plumb_bob", P, cam.D, cam.K)
    assert valid.sum() > 1000
    assert np.max(np.abs(uv[valid] - ref[valid])) < 1e-6
    uv2, ok = cam.project(cam.unproject(uv[valid]))
    assert ok.all() and np.max(np.abs(uv2 - uv[valid])) < 1e-6
