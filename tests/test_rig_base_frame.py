"""Base frame and rig from a bag's tf tree (issue 18): no ``base_link``, several roots, streams sharing a
frame, cameras without CameraInfo, camera-only and /tf-only bags (``fusion calib extract``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

import calibration as cal
import fusion
from calibration.sources.ros_tree import constant_edges, extract_rig
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.convert import convert
from fusion.store.validate import validate_store

T0 = 1_700_000_000_000_000_000
YAW_180 = np.array([0.0, 0.0, 1.0, 0.0])  # x, y, z, w: 180° about z (the Ouster LiDAR frame)
LIDAR_T = np.array([0.0, 0.0, 0.036])


def _stamp(ts, ns: int):  # type: ignore[no-untyped-def]
    return ts.types["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9)


def write_bag(path: Path, tf: list[tuple[str, str, np.ndarray, np.ndarray]], images: dict[str, str],
              lidar_frame: str | None = "os1_lidar", dynamic: bool = False) -> None:
    """A ROS 2 bag: tf edges (on /tf_static, or repeated on /tf when ``dynamic``), a 10 Hz PointCloud2 in
    ``lidar_frame`` and one CompressedImage topic per ``images`` entry (topic → frame), 1 s long."""
    ts = get_typestore(Stores.ROS2_HUMBLE)
    H, TFM = ts.types["std_msgs/msg/Header"], ts.types["tf2_msgs/msg/TFMessage"]
    TS, Tr = ts.types["geometry_msgs/msg/TransformStamped"], ts.types["geometry_msgs/msg/Transform"]
    V, Q = ts.types["geometry_msgs/msg/Vector3"], ts.types["geometry_msgs/msg/Quaternion"]
    PC, PF, Img = ts.types["sensor_msgs/msg/PointCloud2"], ts.types["sensor_msgs/msg/PointField"], \
        ts.types["sensor_msgs/msg/CompressedImage"]

    def tf_msg(ns: int) -> object:
        return TFM(transforms=[TS(header=H(stamp=_stamp(ts, ns), frame_id=p), child_frame_id=c,
                                  transform=Tr(translation=V(x=t[0], y=t[1], z=t[2]),
                                               rotation=Q(x=q[0], y=q[1], z=q[2], w=q[3])))
                               for p, c, t, q in tf])

    import cv2

    ok, jpg = cv2.imencode(".jpg", np.full((24, 32, 3), 90, np.uint8))
    assert ok
    pts = np.random.default_rng(0).uniform(-5, 5, (64, 3)).astype(np.float32)
    fields = [PF(name=n, offset=4 * i, datatype=7, count=1) for i, n in enumerate("xyz")]
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as w:
        tf_conn = w.add_connection("/tf" if dynamic else "/tf_static", TFM.__msgtype__, typestore=ts)
        lid = w.add_connection("/os1_cloud_node/points", PC.__msgtype__, typestore=ts) if lidar_frame else None
        cams = {t: w.add_connection(t, Img.__msgtype__, typestore=ts) for t in images}
        w.write(tf_conn, T0, ts.serialize_cdr(tf_msg(T0), TFM.__msgtype__))
        for i in range(10):
            ns = T0 + 1_000_000 + i * 100_000_000
            if dynamic:
                w.write(tf_conn, ns, ts.serialize_cdr(tf_msg(ns), TFM.__msgtype__))
            if lid is not None:
                msg = PC(header=H(stamp=_stamp(ts, ns), frame_id=lidar_frame), height=1, width=len(pts), fields=fields,
                         is_bigendian=False, point_step=12, row_step=12 * len(pts), data=pts.view(np.uint8).ravel(),
                         is_dense=True)
                w.write(lid, ns + 2_000_000, ts.serialize_cdr(msg, PC.__msgtype__))
            for topic, frame in images.items():
                m = Img(header=H(stamp=_stamp(ts, ns), frame_id=frame), format="jpeg", data=jpg.ravel())
                w.write(cams[topic], ns + 3_000_000, ts.serialize_cdr(m, Img.__msgtype__))


OUSTER_TF = [
    ("os1_sensor", "os1_lidar", LIDAR_T, YAW_180),
    ("os1_sensor", "os1_imu", np.array([0.006, -0.012, 0.008]), np.array([0.0, 0.0, 0.0, 1.0])),
]


def _fusion(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``fusion`` CLI (this checkout) in a subprocess: exit status, stdout and stderr."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-c", "from fusion.cli.main import main; main()", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def _stored_rig(store: Path) -> cal.Rig:
    return cal.Rig.from_dict(fusion.open(str(store)).rig_dict)


def test_ouster_bag_without_base_link_keeps_the_lidar_yaw(tmp_path: Path) -> None:
    write_bag(tmp_path / "bag", OUSTER_TF, {})
    store = tmp_path / "out.zarr"
    convert([tmp_path / "bag"], str(store), ConvertConfig())
    rig = _stored_rig(store)
    assert rig.base_frame == "os1_sensor"
    lidar = rig.by_frame("os1_lidar")
    expected = cal.SE3.from_quat_xyzw(YAW_180, LIDAR_T)
    assert lidar.T_base_sensor.allclose(expected, 1e-9)  # measured: exact
    report = fusion.open(str(store)).report
    assert report["base_frame"]["frame"] == "os1_sensor" and "no 'base_link'" in report["base_frame"]["reason"]
    assert not any("identity extrinsic" in w for w in report["warnings"])
    assert validate_store(str(store)).ok


def test_several_roots_pick_the_root_with_most_sensors_and_name_the_others() -> None:
    edges = [*OUSTER_TF, ("mount", "radar_front", np.zeros(3), np.array([0, 0, 0, 1.0]))]
    found = extract_rig(edges, {})
    assert found.rig.base_frame == "os1_sensor"  # 2 sensor frames against 1
    assert found.unconnected == {"radar_front": "radar"}
    assert found.other_roots == ("mount",)
    assert "most sensor frames (2)" in found.base_reason
    # ego.base_frame naming a frame of the tree wins
    assert extract_rig(edges, {}, base_frame="mount").rig.base_frame == "mount"


def test_streams_sharing_a_frame_convert_and_contradictory_extrinsics_are_refused(tmp_path: Path) -> None:
    tf = [*OUSTER_TF, ("os1_sensor", "cam_optical", np.array([0.1, 0.0, 0.2]), np.array([-0.5, 0.5, -0.5, 0.5]))]
    images = {"/cam/image_raw/compressed": "cam_optical", "/cam/image_rect/compressed": "cam_optical"}
    write_bag(tmp_path / "bag", tf, images)
    store = tmp_path / "out.zarr"
    convert([tmp_path / "bag"], str(store), ConvertConfig())
    rig = _stored_rig(store)
    cams = [s for s in rig.sensors.values() if s.frame_id == "cam_optical"]
    assert len(cams) == 2
    expected = cal.SE3.from_quat_xyzw(np.array([-0.5, 0.5, -0.5, 0.5]), np.array([0.1, 0.0, 0.2]))
    assert all(c.T_base_sensor.allclose(expected, 1e-9) and c.kind == "camera" and c.camera is None for c in cams)
    assert validate_store(str(store)).ok
    a = cal.Sensor("a", "radar", "radar")
    b = cal.Sensor("b", "radar", "radar", cal.SE3.from_quat_xyzw(YAW_180, np.zeros(3)))
    assert len(cal.Rig({"a": a, "b": a.replace(name="b")})) == 2
    with pytest.raises(cal.FrameTreeError, match="contradictory extrinsics"):
        cal.Rig({"a": a, "b": b})


def test_calib_extract_writes_a_camera_without_camerainfo_with_intrinsics_missing(tmp_path: Path) -> None:
    tf = [("base_link", "cam_optical", np.array([1.0, 0.0, 1.5]), np.array([-0.5, 0.5, -0.5, 0.5]))]
    write_bag(tmp_path / "bag", tf, {"/cam/image/compressed": "cam_optical"}, lidar_frame=None)
    out = tmp_path / "rig.yaml"
    res = _fusion("calib", "extract", str(tmp_path / "bag"), "-o", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "intrinsics: missing" in out.read_text()
    rig = cal.load_rig(out)
    cam = rig.sensor("cam")
    assert cam.kind == "camera" and cam.camera is None
    expected = cal.SE3.from_quat_xyzw(np.array([-0.5, 0.5, -0.5, 0.5]), np.array([1.0, 0, 1.5]))
    assert cam.T_base_sensor.allclose(expected, 1e-9)
    assert cal.load_rig(out) == rig  # the loader reads intrinsics: missing back


def test_calib_extract_takes_constant_tf_as_static(tmp_path: Path) -> None:
    write_bag(tmp_path / "bag", OUSTER_TF, {}, dynamic=True)
    out = tmp_path / "rig.yaml"
    res = _fusion("calib", "extract", str(tmp_path / "bag"), "-o", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "constant over the bag taken as static" in res.stdout + res.stderr
    rig = cal.load_rig(out)
    assert rig.base_frame == "os1_sensor"
    assert rig.by_frame("os1_lidar").T_base_sensor.allclose(cal.SE3.from_quat_xyzw(YAW_180, LIDAR_T), 1e-9)


def test_conversion_takes_constant_tf_as_static(tmp_path: Path) -> None:
    write_bag(tmp_path / "bag", OUSTER_TF, {}, dynamic=True)
    store = tmp_path / "out.zarr"
    convert([tmp_path / "bag"], str(store), ConvertConfig())
    rig = _stored_rig(store)
    assert rig.base_frame == "os1_sensor"
    assert rig.by_frame("os1_lidar").T_base_sensor.allclose(cal.SE3.from_quat_xyzw(YAW_180, LIDAR_T), 1e-9)


def test_constant_edges_split_moving_from_constant() -> None:
    q = np.tile([0.0, 0.0, 0.0, 1.0], (5, 1))
    t = np.zeros((5, 3))
    moving_t = t.copy()
    moving_t[:, 0] = np.linspace(0, 1, 5)
    turning_q = q.copy()
    turning_q[-1] = [0.0, 0.0, np.sin(0.0015), np.cos(0.0015)]  # 3 mrad: moving
    small_q = q.copy()
    small_q[-1] = [0.0, 0.0, np.sin(0.0004), np.cos(0.0004)]  # 0.8 mrad: constant
    static, moving = constant_edges({("a", "b"): (t, small_q), ("a", "c"): (moving_t, q), ("a", "d"): (t, turning_q)})
    assert [(p, c) for p, c, _, _ in static] == [("a", "b")] and moving == [("a", "c"), ("a", "d")]


def test_calib_extract_with_nothing_to_extract_fails_with_one_error_line(tmp_path: Path) -> None:
    write_bag(tmp_path / "bag", [("world", "thing", np.zeros(3), np.array([0, 0, 0, 1.0]))], {}, lidar_frame=None)
    res = _fusion("calib", "extract", str(tmp_path / "bag"), "-o", str(tmp_path / "rig.yaml"))
    assert res.returncode == 2
    lines = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "nothing to extract" in lines[0]
    assert not (tmp_path / "rig.yaml").exists()


REAL = "real"


def test_real_sick_bag_radar_streams_share_a_frame(shared_data: Path, tmp_path: Path) -> None:
    store = tmp_path / "sick.zarr"
    convert([shared_data / REAL / "sick_rms1xxx_radar_lms1xx_lidar2d.bag"], str(store), ConvertConfig())
    rig = _stored_rig(store)
    assert rig.base_frame == "cloud"  # the root of its /tf-only tree (frame ids "/cloud", "/radar" in the bag)
    radar = [s for s in rig.sensors.values() if s.frame_id == "radar"]
    assert len(radar) == 2 and {s.kind for s in radar} == {"radar", "radar_tracks"}  # detections + tracks
    assert all(s.T_base_sensor.allclose(cal.SE3.identity(), 1e-12) for s in radar)  # /tf cloud->radar: identity
    warnings = fusion.open(str(store)).report["warnings"]
    assert any("constant over the bag taken as static" in w for w in warnings)
    assert not any("identity extrinsic" in w for w in warnings)
    assert validate_store(str(store)).ok


def test_real_jsk_tf_only_bag_extracts(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "rig.yaml"
    res = _fusion("calib", "extract", str(shared_data / REAL / "jsk_watercan_tf_rgb_pointcloud.bag"),
                                   "-o", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    rig = cal.load_rig(out)
    assert "ground" in rig  # the point cloud's frame, reached through constant /tf edges only
    assert "78 /tf transform(s) constant" in res.stdout + res.stderr  # measured: 78 constant, 5 moving


def test_real_camera_only_bag_extracts_the_camera(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "rig.yaml"
    res = _fusion("calib", "extract", str(shared_data / REAL / "fiducials_camera_jpeg.bag"), "-o", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    cam = cal.load_rig(out).sensor("raspicam")
    assert cam.camera is not None and cam.camera.width == 1280
    assert abs(cam.camera.K[0, 0] - 1014.343) < 1e-3
