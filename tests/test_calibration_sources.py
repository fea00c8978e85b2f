"""Rig sources parsed from real-looking files: YAML rig, ROS tf_static + CameraInfo, Kalibr, nuScenes; merge."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import calibration as cal

REPO = Path(__file__).resolve().parents[1]
SYNTHETIC_YAML = REPO / "configs" / "rigs" / "synthetic.yaml"
NUSCENES_YAML = REPO / "configs" / "rigs" / "nuscenes_example.yaml"

# Optical axes in base_link (columns = optical x, y, z): forward- and left-looking cameras.
R_FRONT = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
R_LEFT = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


# ---------------------------------------------------------------- YAML rig
def test_synthetic_rig_file_matches_the_specified_values() -> None:
    rig = cal.load_rig(SYNTHETIC_YAML)
    assert rig.base_frame == "base_link"
    assert rig.names == ["lidar_top", "camera_front", "camera_left", "radar_front", "imu"]
    lidar = rig.sensor("lidar_top")
    assert (lidar.kind, lidar.frame_id) == ("lidar", "lidar_top")
    yaw = 0.00872665
    np.testing.assert_allclose(
        lidar.T_base_sensor.rotation,
        [[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]],
        atol=1e-15,
    )
    np.testing.assert_array_equal(lidar.T_base_sensor.translation, [1.0, 0.0, 1.8])
    front = rig.sensor("camera_front")
    assert front.frame_id == "camera_front_optical" and front.time_offset_ns == 0
    np.testing.assert_array_equal(front.T_base_sensor.rotation, R_FRONT)
    # optical z (viewing direction) is base +x; optical y (image down) is base −z
    np.testing.assert_array_equal(front.T_base_sensor.rotate(np.array([0.0, 0.0, 1.0])), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(front.T_base_sensor.rotate(np.array([0.0, 1.0, 0.0])), [0.0, 0.0, -1.0])
    assert front.camera is not None
    np.testing.assert_array_equal(front.camera.K, [[500, 0, 320], [0, 500, 240], [0, 0, 1]])
    np.testing.assert_array_equal(front.camera.D, [-0.05, 0.01, 0.0005, -0.0005, 0.0])
    left = rig.sensor("camera_left")
    np.testing.assert_allclose(left.T_base_sensor.rotate(np.array([0.0, 0.0, 1.0])), [0.0, 1.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(left.T_base_sensor.rotate(np.array([0.0, 1.0, 0.0])), [0.0, 0.0, -1.0], atol=1e-15)
    np.testing.assert_array_equal(left.T_base_sensor.translation, [1.2, 0.5, 1.5])
    assert left.camera is not None and left.camera.K[0, 0] == 450.0
    np.testing.assert_array_equal(rig.sensor("radar_front").T_base_sensor.matrix[:3, 3], [2.0, 0.0, 0.6])
    imu = rig.sensor("imu")
    assert imu.frame_id == "imu_link" and imu.topic == "/imu/data"
    # a point 10 m ahead of the front camera lands 11.6 m ahead of base_link, 1.5 m up
    T_lidar_cam = rig.T_a_b("lidar_top", "camera_front")
    p_base = lidar.T_base_sensor.apply(T_lidar_cam.apply(np.array([0.0, 0.0, 10.0])))
    np.testing.assert_allclose(p_base, [11.6, 0.0, 1.5], atol=1e-12)


def test_save_load_round_trip_is_exact(tmp_path: Path) -> None:
    rig = cal.load_rig(SYNTHETIC_YAML)
    out = tmp_path / "rig.yaml"
    cal.save_rig(rig, out)
    again = cal.load_rig(out)
    assert again == rig
    for name in rig.names:
        a, b = rig.sensor(name), again.sensor(name)
        np.testing.assert_array_equal(a.T_base_sensor.matrix, b.T_base_sensor.matrix)
        np.testing.assert_array_equal(a.T_base_sensor.quat_xyzw, b.T_base_sensor.quat_xyzw)
    cal.save_rig(again, tmp_path / "rig2.yaml")
    assert (tmp_path / "rig2.yaml").read_text() == out.read_text()
    assert "quat_xyzw" in out.read_text() and "rpy_rad" not in out.read_text()


def test_rotation_forms_are_equivalent(tmp_path: Path) -> None:
    base = {"kind": "lidar", "frame_id": "lidar"}
    forms = {
        "quat_xyzw": [0.0, 0.0, np.sin(np.pi / 8), np.cos(np.pi / 8)],
        "rpy_rad": [0.0, 0.0, np.pi / 4],
        "rpy_deg": [0.0, 0.0, 45.0],
        "matrix": Rotation.from_euler("z", [[45.0]], degrees=True).as_matrix()[0].tolist(),
    }
    for key, value in forms.items():
        data = {"sensors": {"l": {**base, "T_base_sensor": {"translation_m": [1, 2, 3], key: value}}}}
        rig = cal.Rig.from_dict(data)
        np.testing.assert_allclose(
            rig.sensor("l").T_base_sensor.apply([1.0, 0.0, 0.0]), [1 + 0.5**0.5, 2 + 0.5**0.5, 3]
        )


def test_camera_block_with_k_matrix_and_rolling_shutter_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "fisheye.yaml"
    path.write_text(
        """\
sensors:
  cam_fisheye:
    kind: camera
    frame_id: /cam_fisheye_optical_frame
    time_offset_ns: -2500000
    T_base_sensor: {translation_m: [0.5, 0.0, 1.2], rpy_deg: [-90.0, 0.0, -90.0]}
    camera:
      width: 1920
      height: 1080
      K: [[700.5, 0.0, 960.25], [0.0, 700.5, 540.75], [0.0, 0.0, 1.0]]
      distortion_model: fisheye
      D: [0.05, -0.01, 0.002, -0.0003]
      rolling_shutter_line_ns: 14814.8
"""
    )
    rig = cal.load_rig(path)
    s = rig.sensor("cam_fisheye")
    assert s.frame_id == "cam_fisheye_optical_frame" and s.time_offset_ns == -2_500_000
    assert s.camera is not None and s.camera.distortion_model == "equidistant"
    assert s.camera.rolling_shutter_line_ns == 14814.8 and s.camera.K[1, 2] == 540.75
    np.testing.assert_allclose(s.T_base_sensor.rotation, R_FRONT, atol=1e-15)
    cal.save_rig(rig, tmp_path / "out.yaml")
    assert cal.load_rig(tmp_path / "out.yaml") == rig
    assert "rolling_shutter_line_ns: 14814.8" in (tmp_path / "out.yaml").read_text()


def test_nuscenes_example_config_loads() -> None:
    rig = cal.load_rig(NUSCENES_YAML)
    assert {"cam_front", "lidar_top", "radar_front"} <= set(rig.names)
    cam = rig.sensor("cam_front").camera
    assert cam is not None and (cam.width, cam.height) == (1600, 900)


# ---------------------------------------------------------------- ROS tf_static + CameraInfo
def _synthetic_tf_static() -> list[tuple[str, str, list[float], list[float]]]:
    """/tf_static of the synthetic rig as a driver publishes it: body frames, then optical frames."""
    q_body_optical = Rotation.from_matrix(R_FRONT).as_quat()  # same for both cameras (body x = look dir)
    q_left_body = [0.0, 0.0, np.sin(np.pi / 4), np.cos(np.pi / 4)]
    return [
        ("/base_link", "/lidar_top", [1.0, 0.0, 1.8], [0.0, 0.0, np.sin(0.00872665 / 2), np.cos(0.00872665 / 2)]),
        ("base_link", "camera_front", [1.6, 0.0, 1.5], [0.0, 0.0, 0.0, 1.0]),
        ("camera_front", "camera_front_optical", [0.0, 0.0, 0.0], list(q_body_optical)),
        ("base_link", "camera_left", [1.2, 0.5, 1.5], q_left_body),
        ("camera_left", "camera_left_optical", [0.0, 0.0, 0.0], list(q_body_optical)),
        ("base_link", "radar_front", [2.0, 0.0, 0.6], [0.0, 0.0, 0.0, 1.0]),
        ("base_link", "imu_link", [0.2, 0.0, 0.5], [0.0, 0.0, 0.0, 1.0]),
        ("base_link", "gps_antenna", [0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 1.0]),
        ("base_footprint", "base_link", [0.0, 0.0, 0.3], [0.0, 0.0, 0.0, 1.0]),
        ("base_link", "wheel_fl", [1.4, 0.8, 0.0], [0.0, 0.0, 0.0, 1.0]),
    ]


def _camera_infos() -> dict[str, dict]:
    return {
        "camera_front_optical": {
            "width": 640,
            "height": 480,
            "distortion_model": "plumb_bob",
            "d": [-0.05, 0.01, 0.0005, -0.0005, 0.0],
            "k": [500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0],
            "topic": "/camera/front/camera_info",
        },
        "/camera_left_optical": {
            "width": 640,
            "height": 480,
            "distortion_model": "plumb_bob",
            "d": [0.0] * 5,
            "k": [450.0, 0.0, 320.0, 0.0, 450.0, 240.0, 0.0, 0.0, 1.0],
        },
    }


def test_rig_from_ros_composes_chains_and_matches_the_rig_file() -> None:
    rig = cal.rig_from_ros(_synthetic_tf_static(), _camera_infos(), base_frame="base_link")
    kinds = {n: rig.sensor(n).kind for n in rig.names}
    assert kinds == {
        "camera_front": "camera",
        "camera_left": "camera",
        "gps_antenna": "gnss",
        "imu_link": "imu",
        "lidar_top": "lidar",
        "radar_front": "radar",
    }
    assert rig.sensor("camera_front").frame_id == "camera_front_optical"
    assert rig.sensor("camera_front").topic == "/camera/front/camera_info"
    truth = cal.load_rig(SYNTHETIC_YAML)
    for name in ("lidar_top", "camera_front", "camera_left", "radar_front"):
        assert rig.sensor(name).T_base_sensor.allclose(truth.sensor(name).T_base_sensor, atol=1e-12), name
    assert rig.sensor("imu_link").T_base_sensor.allclose(truth.sensor("imu").T_base_sensor, atol=1e-15)
    cam = rig.sensor("camera_left").camera
    assert cam is not None and cam.K[0, 0] == 450.0 and cam.distortion_model == "plumb_bob"


def test_rig_from_ros_kinds_override_and_other_base() -> None:
    rig = cal.rig_from_ros(
        _synthetic_tf_static(), {}, base_frame="base_footprint", kinds={"wheel_fl": "odometry", "imu_link": "gnss"}
    )
    assert rig.sensor("wheel_fl").kind == "odometry" and rig.sensor("imu_link").kind == "gnss"
    np.testing.assert_allclose(rig.sensor("lidar_top").T_base_sensor.translation, [1.0, 0.0, 2.1], atol=1e-15)
    assert "camera_front" not in rig  # no camera info: the camera body frame is not a sensor


def test_rig_from_ros_errors_name_the_frame() -> None:
    infos = {**_camera_infos(), "camera_rear_optical": _camera_infos()["camera_front_optical"]}
    with pytest.raises(cal.FrameTreeError, match=r"'camera_rear_optical'.*not connected to 'base_link'"):
        cal.rig_from_ros(_synthetic_tf_static(), infos)
    island = [*_synthetic_tf_static(), ("map", "radar_rear", [0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0])]
    with pytest.raises(cal.FrameTreeError, match=r"'radar_rear'.*not connected"):
        cal.rig_from_ros(island, {})
    two_parents = [*_synthetic_tf_static(), ("camera_front", "lidar_top", [0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0])]
    with pytest.raises(cal.FrameTreeError, match=r"'camera_front'->'lidar_top'.*already has parent 'base_link'"):
        cal.rig_from_ros(two_parents, {})
    with pytest.raises(cal.FrameTreeError, match="base frame 'vehicle'"):
        cal.rig_from_ros(_synthetic_tf_static(), {}, base_frame="vehicle")
    bad_d = {"camera_front_optical": {**_camera_infos()["camera_front_optical"], "d": [0.1, 0.2, 0.0]}}
    with pytest.raises(cal.IntrinsicsError, match=r"camera_front_optical.*needs 5"):
        cal.rig_from_ros(_synthetic_tf_static(), bad_d)
    no_k = {"camera_front_optical": {"width": 640, "height": 480, "distortion_model": "plumb_bob", "d": []}}
    with pytest.raises(cal.RigFileError, match=r"camera_front_optical.*\['k'\]"):
        cal.rig_from_ros(_synthetic_tf_static(), no_k)


def test_rig_from_ros_with_real_bag_messages(shared_data: Path) -> None:
    """Real /tf (leading slashes) from the SICK bag and a real CameraInfo from the fiducials bag."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS1_NOETIC)
    transforms = []
    with AnyReader([shared_data / "real" / "sick_rms1xxx_radar_lms1xx_lidar2d.bag"], default_typestore=store) as r:
        conns = [c for c in r.connections if c.topic == "/tf"]
        for c, _, raw in r.messages(conns):
            for tr in r.deserialize(raw, c.msgtype).transforms:
                t, q = tr.transform.translation, tr.transform.rotation
                transforms.append((tr.header.frame_id, tr.child_frame_id, [t.x, t.y, t.z], [q.x, q.y, q.z, q.w]))
    assert transforms and transforms[0][0].startswith("/")
    with AnyReader([shared_data / "real" / "fiducials_camera_jpeg.bag"], default_typestore=store) as r:
        conns = [c for c in r.connections if c.msgtype == "sensor_msgs/msg/CameraInfo"]
        _, _, raw = next(iter(r.messages(conns)))
        info = r.deserialize(raw, conns[0].msgtype)
    camera_infos = {
        info.header.frame_id: {
            "width": info.width,
            "height": info.height,
            "distortion_model": info.distortion_model,
            "D": list(info.D),  # ROS 1 field names (upper case) are accepted too
            "K": list(info.K),
            "topic": conns[0].topic,
        }
    }
    transforms.append(("/cloud", info.header.frame_id, [0.1, 0.0, 0.2], [0.0, 0.0, 0.0, 1.0]))
    rig = cal.rig_from_ros(transforms, camera_infos, base_frame="/cloud")
    assert rig.base_frame == "cloud"
    radar = rig.sensor("radar")
    assert radar.kind == "radar" and radar.frame_id == "radar"
    assert radar.T_base_sensor.allclose(cal.SE3.identity(), atol=0.0)
    cam = rig.sensor("raspicam")
    assert cam.kind == "camera" and cam.topic == "/raspicam_node/camera_info"
    assert (
        cam.camera is not None and cam.camera.width == 1280 and cam.camera.K[0, 0] == pytest.approx(1014.343103379204)
    )
    cal.validate_rig(rig)


# ---------------------------------------------------------------- Kalibr
# EuRoC MAV (ETH ASL) stereo + IMU calibration in Kalibr's camchain-imucam format.
CAMCHAIN_IMUCAM = """\
cam0:
  T_cam_imu:
  - [0.0148655429818, 0.999557249008, -0.0257744366974, 0.0652229095355]
  - [-0.999880929699, 0.0149672133247, 0.00375618835797, -0.0207063854927]
  - [0.00414029679422, 0.025715529948, 0.999660727178, -0.00805460246003]
  - [0.0, 0.0, 0.0, 1.0]
  cam_overlaps: [1]
  camera_model: pinhole
  distortion_coeffs: [-0.28340811, 0.07395907, 0.00019359, 1.76187114e-05]
  distortion_model: radtan
  intrinsics: [458.654, 457.296, 367.215, 248.375]
  resolution: [752, 480]
  rostopic: /cam0/image_raw
  timeshift_cam_imu: 0.0055
cam1:
  T_cam_imu:
  - [0.0125552670891, 0.999598781151, -0.0253898008917, -0.0449019806825]
  - [-0.999755099723, 0.0130119051815, 0.0179005838253, -0.0205697712589]
  - [0.0182237714554, 0.0251588363116, 0.999517347078, -0.00863813512603]
  - [0.0, 0.0, 0.0, 1.0]
  T_cn_cnm1:
  - [0.999997256478, 0.00231206719242, 0.000376008102416, -0.110073808127]
  - [-0.00231713572328, 0.999898048507, 0.0140898358466, 0.000399121547014]
  - [-0.000343393120524, -0.0140906684527, 0.999900662638, -0.000853702503358]
  - [0.0, 0.0, 0.0, 1.0]
  cam_overlaps: [0]
  camera_model: pinhole
  distortion_coeffs: [-0.28368365, 0.07451284, -0.00010473, -3.55590700e-05]
  distortion_model: radtan
  intrinsics: [457.587, 456.134, 379.999, 255.238]
  resolution: [752, 480]
  rostopic: /cam1/image_raw
  timeshift_cam_imu: -0.0012
"""


def test_kalibr_camchain_imucam_with_timeshift(tmp_path: Path) -> None:
    path = tmp_path / "camchain-imucam.yaml"
    path.write_text(CAMCHAIN_IMUCAM)
    rig = cal.rig_from_kalibr(path, imu_topic="/imu0")
    assert rig.names == ["cam0", "cam1", "imu"]
    imu = rig.sensor("imu")
    assert imu.kind == "imu" and imu.time_offset_ns == 0 and imu.T_base_sensor == cal.SE3.identity()
    cam0 = rig.sensor("cam0")
    assert cam0.topic == "/cam0/image_raw"
    # Kalibr: t_imu = t_cam + timeshift_cam_imu; IMU clock is common, so common = stamp + 5.5 ms
    assert cam0.time_offset_ns == 5_500_000 and rig.sensor("cam1").time_offset_ns == -1_200_000
    t_cam = 1_403_636_580_013_555_456
    assert int(cam0.to_common_time_ns(t_cam)) == t_cam + round(0.0055 * 1e9)
    # T_base_cam = inverse(T_cam_imu): the camera origin in the IMU frame, and a round trip
    T_cam_imu = np.array(
        [
            [0.0148655429818, 0.999557249008, -0.0257744366974, 0.0652229095355],
            [-0.999880929699, 0.0149672133247, 0.00375618835797, -0.0207063854927],
            [0.00414029679422, 0.025715529948, 0.999660727178, -0.00805460246003],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )
    p_imu = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    p_cam = p_imu @ T_cam_imu[:3, :3].T + T_cam_imu[:3, 3]
    np.testing.assert_allclose(cam0.T_base_sensor.apply(p_cam), p_imu, rtol=0, atol=1e-12)  # measured 2.1e-13 m
    # the two camera extrinsics agree with the file's T_cn_cnm1 (Kalibr writes both)
    T_c1_c0 = rig.T_a_b("cam1", "cam0")
    expected_t = [-0.110073808127, 0.000399121547014, -0.000853702503256]
    np.testing.assert_allclose(T_c1_c0.translation, expected_t, rtol=0, atol=1e-12)  # measured 1.5e-13 m
    K0 = cam0.camera.K if cam0.camera else None
    np.testing.assert_array_equal(K0, [[458.654, 0, 367.215], [0, 457.296, 248.375], [0, 0, 1]])
    assert cam0.camera is not None and cam0.camera.distortion_model == "plumb_bob"
    np.testing.assert_array_equal(cam0.camera.D, [-0.28340811, 0.07395907, 0.00019359, 1.76187114e-05, 0.0])


def test_kalibr_camchain_without_imu_chains_cameras(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    T10 = cal.SE3(Rotation.random(random_state=rng).as_matrix(), rng.normal(size=3))
    T21 = cal.SE3(Rotation.random(random_state=rng).as_matrix(), rng.normal(size=3))

    def cam(i: int, T: cal.SE3 | None) -> str:
        chain = "" if T is None else "  T_cn_cnm1: " + json.dumps(T.matrix.tolist()) + "\n"
        return (
            f"cam{i}:\n{chain}  camera_model: pinhole\n  distortion_model: equidistant\n"
            "  distortion_coeffs: [-0.0097, 0.0019, -0.0007, 0.0001]\n"
            "  intrinsics: [190.97, 190.97, 254.93, 256.89]\n  resolution: [512, 512]\n"
            f"  rostopic: /cam{i}/image_raw\n"
        )

    path = tmp_path / "camchain.yaml"
    path.write_text(cam(0, None) + cam(1, T10) + cam(2, T21))
    rig = cal.rig_from_kalibr(path)
    assert rig.names == ["cam0", "cam1", "cam2"]
    assert rig.sensor("cam0").T_base_sensor == cal.SE3.identity()
    expected = (T21 @ T10).inverse()  # T_c0_c2
    assert rig.sensor("cam2").T_base_sensor.allclose(expected, atol=1e-12)
    c2 = rig.sensor("cam2").camera
    assert c2 is not None and c2.distortion_model == "equidistant" and c2.D.size == 4
    assert all(s.time_offset_ns == 0 for s in rig.sensors.values())


def test_kalibr_errors_name_file_camera_and_key(tmp_path: Path) -> None:
    path = tmp_path / "camchain.yaml"
    path.write_text(
        CAMCHAIN_IMUCAM.replace("camera_model: pinhole", "camera_model: omni", 1).replace(
            "intrinsics: [458.654", "intrinsics: [0.9, 458.654", 1
        )
    )
    with pytest.raises(cal.IntrinsicsError, match=r"camchain.yaml: cam0 key 'camera_model': omni"):
        cal.rig_from_kalibr(path)
    path.write_text(CAMCHAIN_IMUCAM.replace("  intrinsics: [457.587, 456.134, 379.999, 255.238]\n", ""))
    with pytest.raises(cal.RigFileError, match=r"cam1: missing key 'intrinsics'"):
        cal.rig_from_kalibr(path)


# ---------------------------------------------------------------- nuScenes
SENSOR_TABLE = [
    {"token": "725903f5b62f56118f4094b46a4470d8", "channel": "CAM_FRONT", "modality": "camera"},
    {"token": "ec4b5d41840a509984f7ec36419d4c09", "channel": "CAM_FRONT_LEFT", "modality": "camera"},
    {"token": "dc8b396651c05aedbb9cdaae573bb567", "channel": "LIDAR_TOP", "modality": "lidar"},
    {"token": "47fcd48f71d75e0da5c8c1704a9bfe0a", "channel": "RADAR_FRONT", "modality": "radar"},
]
CALIBRATED_SENSOR_TABLE = [
    {
        "token": "1d31c729b073425e8e0202c5c6e66ee1",
        "sensor_token": "725903f5b62f56118f4094b46a4470d8",
        "translation": [1.70079118954, 0.0159456324149, 1.51095763913],
        "rotation": [0.4998015430569128, -0.5030316162024876, 0.4997798114386805, -0.49737083824542755],
        "camera_intrinsic": [
            [1266.417203046554, 0.0, 816.2670197447984],
            [0.0, 1266.417203046554, 491.50706579294757],
            [0.0, 0.0, 1.0],
        ],
    },
    {
        "token": "75ad8e2a8a3f4594a13db2398430d097",
        "sensor_token": "ec4b5d41840a509984f7ec36419d4c09",
        "translation": [1.52387798135, 0.494631336551, 1.50932822144],
        "rotation": [0.6757265034669446, -0.6736266522251881, 0.21214015046209478, -0.21122827103904068],
        "camera_intrinsic": [
            [1272.5979470598488, 0.0, 826.6154927353808],
            [0.0, 1272.5979470598488, 479.75165386361925],
            [0.0, 0.0, 1.0],
        ],
    },
    {
        "token": "a183049901c24361a6b0b11b8013137c",
        "sensor_token": "dc8b396651c05aedbb9cdaae573bb567",
        "translation": [0.943713, 0.0, 1.84023],
        "rotation": [0.7077955119163518, -0.006492242056004365, 0.010646214713995808, -0.7063073142877817],
        "camera_intrinsic": [],
    },
    {
        "token": "f4d2a6c281f34a7eb8bb033d82321f79",
        "sensor_token": "47fcd48f71d75e0da5c8c1704a9bfe0a",
        "translation": [3.412, 0.0, 0.5],
        "rotation": [0.9999984769132877, 0.0, 0.0, 0.0017453283658983088],
        "camera_intrinsic": [],
    },
]
OTHER_LOG_CAM_FRONT = {
    "token": "d3ab655f3cc540a88491ec218751f9c6",
    "sensor_token": "725903f5b62f56118f4094b46a4470d8",
    "translation": [1.72200568478, 0.00475453292289, 1.49491291905],
    "rotation": [0.5077241387638071, -0.4973392230703816, 0.49837167536166627, -0.4964832014373754],
    "camera_intrinsic": [
        [1252.8131021185304, 0.0, 826.588114781398],
        [0.0, 1252.8131021185304, 469.9846626224581],
        [0.0, 0.0, 1.0],
    ],
}


def _write_nuscenes(tmp_path: Path, cs_rows: list[dict]) -> tuple[Path, Path]:
    cs, s = tmp_path / "calibrated_sensor.json", tmp_path / "sensor.json"
    cs.write_text(json.dumps(cs_rows, indent=0))
    s.write_text(json.dumps(SENSOR_TABLE, indent=0))
    return cs, s


def test_nuscenes_tables_scalar_first_rotation(tmp_path: Path) -> None:
    cs, s = _write_nuscenes(tmp_path, CALIBRATED_SENSOR_TABLE)
    rig = cal.rig_from_nuscenes(cs, s)
    assert rig.names == ["cam_front", "cam_front_left", "lidar_top", "radar_front"]
    for rec in CALIBRATED_SENSOR_TABLE:
        sensor = rig.by_frame(next(r["channel"] for r in SENSOR_TABLE if r["token"] == rec["sensor_token"]))
        w, x, y, z = rec["rotation"]
        ref = Rotation.from_quat([x, y, z, w]).as_matrix()
        np.testing.assert_allclose(sensor.T_base_sensor.rotation, ref, atol=1e-12)
        np.testing.assert_array_equal(sensor.T_base_sensor.translation, rec["translation"])
    front = rig.sensor("cam_front")
    # CAM_FRONT looks forward: optical z ≈ ego +x, optical y (down) ≈ ego −z
    np.testing.assert_allclose(front.T_base_sensor.rotate(np.array([0.0, 0.0, 1.0])), [1, 0, 0], atol=0.02)
    np.testing.assert_allclose(front.T_base_sensor.rotate(np.array([0.0, 1.0, 0.0])), [0, 0, -1], atol=0.02)
    assert front.camera is not None and front.camera.distortion_model == "none"
    np.testing.assert_array_equal(front.camera.K, CALIBRATED_SENSOR_TABLE[0]["camera_intrinsic"])
    # LIDAR_TOP is yawed −90°: its x axis points to the ego's right (−y)
    lidar = rig.sensor("lidar_top")
    assert lidar.kind == "lidar" and lidar.camera is None
    np.testing.assert_allclose(lidar.T_base_sensor.rotate(np.array([1.0, 0.0, 0.0])), [0, -1, 0], atol=0.03)
    assert rig.sensor("radar_front").kind == "radar"


def test_nuscenes_several_logs_need_tokens_and_matches_example_config(tmp_path: Path) -> None:
    cs, s = _write_nuscenes(tmp_path, [*CALIBRATED_SENSOR_TABLE, OTHER_LOG_CAM_FRONT])
    with pytest.raises(cal.RigFileError, match="CAM_FRONT has several calibrated_sensor records"):
        cal.rig_from_nuscenes(cs, s)
    tokens = [r["token"] for r in CALIBRATED_SENSOR_TABLE]
    rig = cal.rig_from_nuscenes(cs, s, calibrated_sensor_tokens=tokens)
    assert rig == cal.load_rig(NUSCENES_YAML)
    other = cal.rig_from_nuscenes(cs, s, calibrated_sensor_tokens=[OTHER_LOG_CAM_FRONT["token"]])
    np.testing.assert_array_equal(
        other.sensor("cam_front").T_base_sensor.translation, OTHER_LOG_CAM_FRONT["translation"]
    )
    with pytest.raises(cal.RigFileError, match=r"token.*'nope'.*not found"):
        cal.rig_from_nuscenes(cs, s, calibrated_sensor_tokens=["nope"])


# ---------------------------------------------------------------- merge
def test_merge_precedence_file_over_bag(tmp_path: Path) -> None:
    bag = cal.rig_from_ros(_synthetic_tf_static(), _camera_infos())
    override_yaml = tmp_path / "override.yaml"
    override_yaml.write_text(
        """\
base_frame: base_link
sensors:
  camera_front:             # re-calibrated extrinsic + clock offset; intrinsics not given
    kind: camera
    frame_id: camera_front_optical
    time_offset_ns: -12000000
    T_base_sensor: {translation_m: [1.61, 0.01, 1.49], rpy_deg: [-90.0, 0.0, -90.0]}
  camera_left:              # new intrinsics and topic replace the bag's whole camera block
    kind: camera
    frame_id: camera_left_optical
    topic: /camera/left/image_raw
    T_base_sensor: {translation_m: [1.2, 0.5, 1.5], matrix: [[1, 0, 0], [0, 0, 1], [0, -1, 0]]}
    camera: {width: 1280, height: 960, fx: 900.0, fy: 900.0, cx: 640.0, cy: 480.0,
             distortion_model: equidistant, D: [0.01, 0.0, 0.0, 0.0]}
  gnss:                     # only in the file: added
    kind: gnss
    frame_id: gnss_link
    T_base_sensor: {translation_m: [0.0, 0.0, 2.0], quat_xyzw: [0, 0, 0, 1]}
"""
    )
    override = cal.load_rig(override_yaml)
    merged = cal.merge_rigs(bag, override)
    assert merged.names == [*bag.names, "gnss"]
    front = merged.sensor("camera_front")
    np.testing.assert_array_equal(front.T_base_sensor.translation, [1.61, 0.01, 1.49])
    np.testing.assert_allclose(front.T_base_sensor.rotation, R_FRONT, atol=1e-15)
    assert front.time_offset_ns == -12_000_000
    assert front.camera is bag.sensor("camera_front").camera  # override has no camera: bag's kept
    assert front.topic == "/camera/front/camera_info"  # override has no topic: bag's kept
    left = merged.sensor("camera_left")
    assert left.camera is override.sensor("camera_left").camera and left.topic == "/camera/left/image_raw"
    assert merged.sensor("lidar_top") is bag.sensor("lidar_top")
    assert merged.sensor("gnss").frame_id == "gnss_link"
    with pytest.raises(cal.FrameTreeError, match="different base frames"):
        cal.merge_rigs(bag, cal.rebase_rig(override, cal.SE3.identity(), "base_footprint"))


def test_rebase_rig_moves_every_extrinsic() -> None:
    rig = cal.load_rig(SYNTHETIC_YAML)
    T_fp_base = cal.SE3(np.eye(3), np.array([0.0, 0.0, 0.3]))
    moved = cal.rebase_rig(rig, T_fp_base, "base_footprint")
    assert moved.base_frame == "base_footprint"
    np.testing.assert_allclose(moved.sensor("imu").T_base_sensor.translation, [0.2, 0.0, 0.8], atol=1e-15)


def test_rigs_built_from_matrices_round_trip_exactly(tmp_path: Path) -> None:
    path = tmp_path / "camchain-imucam.yaml"
    path.write_text(CAMCHAIN_IMUCAM)
    rig = cal.rig_from_kalibr(path)
    cal.save_rig(rig, tmp_path / "kalibr_rig.yaml")
    again = cal.load_rig(tmp_path / "kalibr_rig.yaml")
    assert again == rig
    assert again.sensor("cam1").time_offset_ns == -1_200_000
