"""Every decoder, on messages built with the typestore and read back from bags in all three formats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from test_readers_util import FORMATS, NS, T0, header, mk, pointcloud2, store_for, write_bag

from fusion.readers import DecodeOptions, decode_image, open_bags, to_bgr8
from fusion.readers.records import (
    CameraImage,
    CameraInfoRecord,
    GnssFix,
    ImuSample,
    PointCloud,
    PoseSample,
    RadarDetections,
    RadarTrackList,
    SensorKind,
    TransformBatch,
)

RNG = np.random.default_rng(7)
N = 24  # points per cloud

# --- point clouds -----------------------------------------------------------------------------
ALL_TYPES = np.dtype(
    {
        "names": ["x", "y", "z", "i8", "u8", "i16", "u16", "i32", "u32", "f64", "normal"],
        "formats": ["f4", "f4", "f4", "i1", "u1", "i2", "u2", "i4", "u4", "f8", ("f4", (3,))],
        "offsets": [0, 4, 8, 12, 13, 14, 16, 20, 24, 32, 40],
        "itemsize": 64,  # 12 bytes of padding at the end
    }
)


def all_types_points() -> np.ndarray:
    rng = np.random.default_rng(11)
    p = np.zeros(N, dtype=ALL_TYPES)
    for name in ("x", "y", "z"):
        p[name] = rng.normal(size=N).astype(np.float32)
    p["i8"] = np.arange(N) - 12
    p["u8"] = np.arange(N) + 200
    p["i16"] = -(np.arange(N) * 1000)
    p["u16"] = np.arange(N) * 2000
    p["i32"] = -(np.arange(N) * 100_000)
    p["u32"] = np.arange(N) * 150_000_000
    p["f64"] = np.linspace(-1e9, 1e9, N)
    p["normal"] = rng.normal(size=(N, 3))
    return p


def time_cloud(fields: list[tuple[str, str]], values: dict[str, np.ndarray]) -> np.ndarray:
    names = ["x", "y", "z"] + [f for f, _ in fields]
    dt = np.dtype({"names": names, "formats": ["f4"] * 3 + [t for _, t in fields]})
    p = np.zeros(N, dtype=dt)
    p["x"] = np.arange(N)
    for f, _ in fields:
        p[f] = values[f]
    return p


STAMP = T0 + 123_456_789
OFFS = np.arange(N, dtype=np.int64) * 4_000_000  # 0 .. 92 ms, ns
TIME_CASES: dict[str, tuple[list[tuple[str, str]], dict[str, np.ndarray], np.ndarray, int]] = {
    # name: (fields, values, expected absolute ns, tolerance ns)
    "ouster_t": ([("t", "u4")], {"t": OFFS}, STAMP + OFFS, 0),
    "velodyne_time": ([("time", "f4")], {"time": (OFFS - OFFS[-1]) / 1e9}, STAMP + OFFS - OFFS[-1], 10),
    "hesai_timestamp": ([("timestamp", "f8")], {"timestamp": (STAMP + OFFS) / 1e9}, STAMP + OFFS, 500),
    "livox_timestamp": ([("timestamp", "f8")], {"timestamp": (STAMP + OFFS).astype(np.float64)}, STAMP + OFFS, 256),
    "livox_offset_time": ([("offset_time", "u4")], {"offset_time": OFFS}, STAMP + OFFS, 0),
    "autoware_time_stamp": ([("time_stamp", "u4")], {"time_stamp": OFFS}, STAMP + OFFS, 0),
    "aeva_time_offset_ns": (
        [("time_offset_ns", "i4")],
        {"time_offset_ns": OFFS - 50_000_000},
        STAMP + OFFS - 50_000_000,
        0,
    ),
    "luminar_time_sec_nsec": (
        [("time_sec", "u4"), ("time_nsec", "u4")],
        {"time_sec": (STAMP + OFFS) // NS, "time_nsec": (STAMP + OFFS) % NS},
        STAMP + OFFS,
        0,
    ),
}


def messages_for(fmt: str) -> list[tuple[str, str, int, Any]]:
    s = store_for(fmt)
    pc2 = "sensor_msgs/msg/PointCloud2"
    out: list[tuple[str, str, int, Any]] = []

    def add(topic: str, msgtype: str, msg: Any) -> None:
        out.append((topic, msgtype, T0 + len(out) * 1000, msg))

    add("/pc/le", pc2, pointcloud2(s, STAMP, "lidar", all_types_points()))
    add("/pc/be", pc2, pointcloud2(s, STAMP, "lidar", all_types_points(), big_endian=True))
    f64 = np.zeros(N, dtype=[("x", "f8"), ("y", "f8"), ("z", "f8")])
    f64["x"], f64["y"], f64["z"] = np.arange(N) * 0.5, -np.arange(N), 1e3
    add("/pc/f64", pc2, pointcloud2(s, STAMP, "lidar", f64))
    org = time_cloud([("intensity", "f4")], {"intensity": np.arange(N, dtype=np.float32)})
    org["x"][::5] = np.nan
    add("/pc/organized", pc2, pointcloud2(s, STAMP, "lidar", org, height=4, row_pad=6, is_dense=False))
    for name, (fields, values, _exp, _tol) in TIME_CASES.items():
        add(f"/time/{name}", pc2, pointcloud2(s, STAMP, "lidar", time_cloud(fields, values)))
    add("/time/none", pc2, pointcloud2(s, STAMP, "lidar", time_cloud([("intensity", "f4")], {"intensity": OFFS})))
    radar = time_cloud([("doppler_mps", "f4"), ("rcs", "f4")], {"doppler_mps": OFFS / 1e8, "rcs": -OFFS / 1e7})
    add("/radar/pc", pc2, pointcloud2(s, STAMP, "radar_front", radar))
    add_images(s, add)
    add_radar_msgs(s, add)
    add_motion(s, add, fmt)
    return out


# --- images -----------------------------------------------------------------------------------
H, W = 6, 8
BGR = RNG.integers(0, 255, size=(H, W, 3), dtype=np.uint8)
YUV_RED = (81, 90, 240)  # BT.601 limited-range red


def image_cases() -> dict[str, tuple[np.ndarray, bool]]:
    """encoding -> (pixel array in native layout, big endian)."""
    bayer = np.zeros((H, W), np.uint8)
    b, g, r = 10, 100, 200  # RGGB mosaic of a flat colour
    bayer[0::2, 0::2], bayer[0::2, 1::2], bayer[1::2, 0::2], bayer[1::2, 1::2] = r, g, g, b
    y, u, v = YUV_RED
    uyvy = np.tile(np.array([u, y, v, y], np.uint8), (H, W // 2)).reshape(H, W, 2)
    yuyv = np.tile(np.array([y, u, y, v], np.uint8), (H, W // 2)).reshape(H, W, 2)
    nv21 = np.concatenate([np.full((H, W), y, np.uint8), np.tile(np.array([v, u], np.uint8), (H // 2, W // 2))])
    nv24 = np.concatenate([np.full((H, W), y, np.uint8), np.tile(np.array([u, v], np.uint8), (H, W)).reshape(2 * H, W)])
    depth = np.random.default_rng(3).random((H, W)).astype(np.float32)
    depth[0, 0] = np.nan
    return {
        "bgr8": (BGR, False), "rgb8": (BGR[..., ::-1].copy(), False),
        "bgra8": (np.dstack([BGR, np.full((H, W), 255, np.uint8)]), False),
        "rgba8": (np.dstack([BGR[..., ::-1], np.full((H, W), 7, np.uint8)]), False),
        "mono8": (BGR[..., 0].copy(), False), "mono16": (BGR[..., 0].astype(np.uint16) * 257, True),
        "16UC1": (np.arange(H * W, dtype=np.uint16).reshape(H, W) * 1000, False), "32FC1": (depth, False),
        "bayer_rggb8": (bayer, False), "bayer_bggr8": (bayer[::-1, ::-1].copy(), False),
        "bayer_gbrg8": (bayer[::-1].copy(), False), "bayer_grbg8": (bayer[:, ::-1].copy(), False),
        "bayer_rggb16": (bayer.astype(np.uint16) * 256, True),
        "uyvy": (uyvy, False), "yuv422": (uyvy, False), "yuyv": (yuyv, False), "yuv422_yuy2": (yuyv, False),
        "nv21": (nv21, False), "nv24": (nv24, False),
    }  # fmt: skip


def raw_image(s: Any, enc: str, px: np.ndarray, big: bool) -> Any:
    rows = px.shape[0]
    arr = px.astype(px.dtype.newbyteorder(">" if big else "<"))
    row = arr.reshape(rows, -1).view(np.uint8).reshape(rows, -1)
    pad = 5
    data = np.hstack([row, np.full((rows, pad), 0xAB, np.uint8)])
    height = H
    return mk(s, "sensor_msgs/msg/Image", header=header(s, STAMP, "cam_optical"), height=height, width=W,
              encoding=enc, is_bigendian=big, step=row.shape[1] + pad, data=data.reshape(-1))  # fmt: skip


def add_images(s: Any, add: Any) -> None:
    for enc, (px, big) in image_cases().items():
        add(f"/img/{enc}", "sensor_msgs/msg/Image", raw_image(s, enc, px, big))
    ci = "sensor_msgs/msg/CompressedImage"
    jpg = cv2.imencode(".jpg", np.zeros((H, W, 3), np.uint8) + 100)[1].reshape(-1)
    png = cv2.imencode(".png", BGR)[1].reshape(-1)
    depth16 = (np.arange(H * W, dtype=np.uint16).reshape(H, W) * 100).astype(np.uint16)
    cdepth = np.concatenate([np.frombuffer(np.array([0, 0, 0], "<i4").tobytes(), np.uint8),
                             cv2.imencode(".png", depth16)[1].reshape(-1)])  # fmt: skip
    for topic, fmt_, data in (("/cimg/jpeg", "jpeg", jpg), ("/cimg/png", "bgr8; png compressed bgr8", png),
                              ("/cimg/depth", "16UC1; compressedDepth png", cdepth)):  # fmt: skip
        add(topic, ci, mk(s, ci, header=header(s, STAMP, "cam_optical"), format=fmt_, data=data))


# --- radar_msgs, IMU, motion, GNSS, CameraInfo ------------------------------------------------
RANGES = np.array([5.0, 10.0, 20.0], np.float32)
AZ = np.array([0.0, 0.5, -1.0], np.float32)
EL = np.array([0.0, 0.1, -0.2], np.float32)


def add_radar_msgs(s: Any, add: Any) -> None:
    rets = [mk(s, "radar_msgs/msg/RadarReturn", range=float(r), azimuth=float(a), elevation=float(e),
               doppler_velocity=float(i), amplitude=float(10 * i))
            for i, (r, a, e) in enumerate(zip(RANGES, AZ, EL))]  # fmt: skip
    add(
        "/radar/scan",
        "radar_msgs/msg/RadarScan",
        mk(s, "radar_msgs/msg/RadarScan", header=header(s, STAMP, "radar"), returns=rets),
    )
    v3, pt = s.types["geometry_msgs/msg/Vector3"], s.types["geometry_msgs/msg/Point"]
    tracks = [
        mk(s, "radar_msgs/msg/RadarTrack",
           uuid=mk(s, "unique_identifier_msgs/msg/UUID", uuid=np.arange(16, dtype=np.uint8) + i),
           position=pt(x=1.0 + i, y=2.0, z=0.0), velocity=v3(x=3.0, y=-i, z=0.0), acceleration=v3(x=0.0, y=0.0, z=0.5),
           size=v3(x=4.0, y=2.0, z=1.5), classification=2, position_covariance=np.zeros(6, np.float32),
           velocity_covariance=np.zeros(6, np.float32), acceleration_covariance=np.zeros(6, np.float32),
           size_covariance=np.zeros(6, np.float32))
        for i in range(2)
    ]  # fmt: skip
    add(
        "/radar/tracks",
        "radar_msgs/msg/RadarTracks",
        mk(s, "radar_msgs/msg/RadarTracks", header=header(s, STAMP, "radar"), tracks=tracks),
    )


def pose(s: Any) -> Any:
    return mk(s, "geometry_msgs/msg/Pose", position=s.types["geometry_msgs/msg/Point"](x=1.0, y=2.0, z=3.0),
              orientation=mk(s, "geometry_msgs/msg/Quaternion", x=0.0, y=0.0, z=0.6, w=0.8))  # fmt: skip


def add_motion(s: Any, add: Any, fmt: str) -> None:
    v3 = s.types["geometry_msgs/msg/Vector3"]
    q = mk(s, "geometry_msgs/msg/Quaternion", x=0.0, y=0.0, z=0.6, w=0.8)
    cov9 = np.zeros(9)
    imu = mk(s, "sensor_msgs/msg/Imu", header=header(s, STAMP, "imu_link"), orientation=q,
             orientation_covariance=np.array([-1.0] + [0.0] * 8), angular_velocity=v3(x=0.1, y=0.2, z=0.3),
             angular_velocity_covariance=cov9, linear_acceleration=v3(x=0.0, y=0.5, z=9.81),
             linear_acceleration_covariance=np.array([-1.0] + [0.0] * 8))  # fmt: skip
    add("/imu", "sensor_msgs/msg/Imu", imu)
    pwc = mk(s, "geometry_msgs/msg/PoseWithCovariance", pose=pose(s), covariance=np.zeros(36))
    twc = mk(s, "geometry_msgs/msg/TwistWithCovariance",
             twist=mk(s, "geometry_msgs/msg/Twist", linear=v3(x=5.0, y=0.0, z=0.0), angular=v3(x=0.0, y=0.0, z=0.2)),
             covariance=np.zeros(36))  # fmt: skip
    add("/odom", "nav_msgs/msg/Odometry", mk(s, "nav_msgs/msg/Odometry", header=header(s, STAMP, "/odom"),
        child_frame_id="base_link", pose=pwc, twist=twc))  # fmt: skip
    add(
        "/pose",
        "geometry_msgs/msg/PoseStamped",
        mk(s, "geometry_msgs/msg/PoseStamped", header=header(s, STAMP, "map"), pose=pose(s)),
    )
    add("/pose_cov", "geometry_msgs/msg/PoseWithCovarianceStamped",
        mk(s, "geometry_msgs/msg/PoseWithCovarianceStamped", header=header(s, STAMP, "map"), pose=pwc))  # fmt: skip
    tr = mk(s, "geometry_msgs/msg/Transform", translation=v3(x=1.0, y=2.0, z=3.0), rotation=q)
    ts = [mk(s, "geometry_msgs/msg/TransformStamped", header=header(s, STAMP + i, "/base_link"),
             child_frame_id=f"sensor{i}", transform=tr) for i in range(2)]  # fmt: skip
    add("/ts", "geometry_msgs/msg/TransformStamped", ts[0])
    add("/tf_static", "tf2_msgs/msg/TFMessage", mk(s, "tf2_msgs/msg/TFMessage", transforms=ts))
    if fmt == "bag":  # legacy ROS 1 tf/tfMessage
        add("/tf", "tf/msg/tfMessage", mk(s, "tf/msg/tfMessage", transforms=ts))
    status = mk(s, "sensor_msgs/msg/NavSatStatus", status=0, service=1)
    add("/fix", "sensor_msgs/msg/NavSatFix", mk(s, "sensor_msgs/msg/NavSatFix", header=header(s, STAMP, "/gps"),
        status=status, latitude=48.1, longitude=11.5, altitude=520.0,
        position_covariance=np.arange(9.0), position_covariance_type=2))  # fmt: skip
    names = {f[0] for f in s.fielddefs["sensor_msgs/msg/CameraInfo"][1]}
    d, k, r, p = ("D", "K", "R", "P") if "K" in names else ("d", "k", "r", "p")
    roi = mk(s, "sensor_msgs/msg/RegionOfInterest", x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    info = {d: np.array([0.1, -0.2, 0.0, 0.0, 0.01]), k: np.array([500.0, 0, 320, 0, 500, 240, 0, 0, 1]),
            r: np.eye(3).reshape(-1), p: np.array([500.0, 0, 320, 0, 0, 500, 240, 0, 0, 0, 1, 0])}  # fmt: skip
    add("/camera_info", "sensor_msgs/msg/CameraInfo", mk(s, "sensor_msgs/msg/CameraInfo",
        header=header(s, STAMP, "cam_optical"),
        height=480, width=640, distortion_model="plumb_bob", binning_x=0, binning_y=0, roi=roi, **info))  # fmt: skip


@pytest.fixture(scope="module", params=FORMATS)
def recs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    fmt = request.param
    path = write_bag(tmp_path_factory.mktemp(fmt) / "dec", fmt, store_for(fmt), messages_for(fmt))
    with open_bags(path) as src:
        out = {m.topic: src.decode(m) for m in src.messages()}
        out["__kinds__"] = {t: i.kind for t, i in src.topics.items()}
        raw = next(src.messages(["/time/ouster_t"]))
        out["__override_none__"] = src.decode(raw, options=DecodeOptions(time_convention="none"))
        out["__override_map__"] = src.decode(
            raw, options={"/time/ouster_t": DecodeOptions(time_convention="relative_s:t")}
        )
        radar_raw = next(src.messages(["/radar/pc"]))
        out["__radar_as_lidar__"] = src.decode(radar_raw, options=DecodeOptions(kind=SensorKind.LIDAR))
    return out


def test_pointcloud_all_datatypes_padding_both_endians(recs: dict[str, Any]) -> None:
    ref = all_types_points()
    for topic in ("/pc/le", "/pc/be"):
        pc = recs[topic]
        assert isinstance(pc, PointCloud) and pc.xyz.dtype == np.float32 and pc.xyz.shape == (N, 3)
        np.testing.assert_array_equal(pc.xyz, np.stack([ref["x"], ref["y"], ref["z"]], axis=1))
        for name in ("i8", "u8", "i16", "u16", "i32", "u32", "f64"):
            assert pc.fields[name].dtype == ref.dtype[name].newbyteorder("=")
            np.testing.assert_array_equal(pc.fields[name], ref[name])
        assert pc.fields["normal"].shape == (N, 3)
        np.testing.assert_array_equal(pc.fields["normal"], ref["normal"])
        assert pc.fields["u32"].dtype.isnative


def test_pointcloud_float64_xyz(recs: dict[str, Any]) -> None:
    pc = recs["/pc/f64"]
    assert pc.xyz.dtype == np.float32 and pc.fields == {} and pc.time_convention == "none"
    np.testing.assert_array_equal(pc.xyz, np.stack([np.arange(N) * 0.5, -np.arange(N), np.full(N, 1e3)], 1))


def test_pointcloud_organized_nan_row_padding(recs: dict[str, Any]) -> None:
    pc = recs["/pc/organized"]
    assert (pc.height, pc.width) == (4, N // 4) and pc.xyz.shape == (N, 3)
    assert np.isnan(pc.xyz[::5, 0]).all() and int(np.isnan(pc.xyz[:, 0]).sum()) == len(range(0, N, 5))
    np.testing.assert_array_equal(pc.fields["intensity"], np.arange(N, dtype=np.float32))


@pytest.mark.parametrize("name", sorted(TIME_CASES))
def test_per_point_time_conventions(recs: dict[str, Any], name: str) -> None:
    _fields, _values, expected, tol = TIME_CASES[name]
    pc = recs[f"/time/{name}"]
    assert pc.time_convention == name
    assert pc.point_time_ns.dtype == np.int64
    assert int(np.abs(pc.point_time_ns - expected).max()) <= tol


def test_time_none_and_overrides(recs: dict[str, Any]) -> None:
    assert recs["/time/none"].time_convention == "none" and recs["/time/none"].point_time_ns is None
    assert recs["__override_none__"].point_time_ns is None
    ov = recs["__override_map__"]  # t read as relative seconds: offsets scaled by 1e9
    np.testing.assert_array_equal(ov.point_time_ns - STAMP, OFFS * NS)


def test_images_native_layout_and_bgr(recs: dict[str, Any]) -> None:
    for enc, (px, _big) in image_cases().items():
        img = recs[f"/img/{enc}"]
        assert isinstance(img, CameraImage) and not img.compressed and img.encoding == enc
        assert (img.width, img.height) == (W, H)
        np.testing.assert_array_equal(img.data, px, err_msg=enc)
        assert img.data.dtype.isnative
        bgr = to_bgr8(img)
        assert bgr.shape == (H, W, 3) and bgr.dtype == np.uint8, enc
    for enc in ("bgr8", "rgb8", "bgra8", "rgba8"):
        np.testing.assert_array_equal(to_bgr8(recs[f"/img/{enc}"]), BGR, err_msg=enc)
    for enc in ("bayer_rggb8", "bayer_bggr8", "bayer_gbrg8", "bayer_grbg8", "bayer_rggb16"):
        inner = to_bgr8(recs[f"/img/{enc}"])[2:-2, 2:-2].reshape(-1, 3)
        assert (inner == [10, 100, 200]).all(), enc
    for enc in ("uyvy", "yuv422", "yuyv", "yuv422_yuy2", "nv21", "nv24"):
        b, g, r = to_bgr8(recs[f"/img/{enc}"]).reshape(-1, 3).astype(int).T
        assert (r >= 250).all() and (g <= 5).all() and (b <= 5).all(), enc
    np.testing.assert_array_equal(to_bgr8(recs["/img/mono16"])[..., 0], BGR[..., 0])


def test_compressed_images_keep_bytes(recs: dict[str, Any]) -> None:
    jpg = recs["/cimg/jpeg"]
    assert jpg.compressed and bytes(jpg.data[:2]) == b"\xff\xd8" and jpg.encoding == "jpeg"
    assert np.abs(decode_image(jpg).astype(int) - 100).max() <= 2
    png = recs["/cimg/png"]
    np.testing.assert_array_equal(decode_image(png), BGR)
    depth = decode_image(recs["/cimg/depth"])
    np.testing.assert_array_equal(depth, np.arange(H * W, dtype=np.uint16).reshape(H, W) * 100)


def test_radar(recs: dict[str, Any]) -> None:
    pcr = recs["/radar/pc"]
    assert isinstance(pcr, RadarDetections) and recs["__kinds__"]["/radar/pc"] is SensorKind.RADAR
    np.testing.assert_array_equal(pcr.radial_velocity_mps, (OFFS / 1e8).astype(np.float32))
    np.testing.assert_array_equal(pcr.fields["rcs"], (-OFFS / 1e7).astype(np.float32))
    assert isinstance(recs["__radar_as_lidar__"], PointCloud)
    scan = recs["/radar/scan"]
    assert isinstance(scan, RadarDetections) and recs["__kinds__"]["/radar/scan"] is SensorKind.RADAR
    r, a, e = RANGES.astype(float), AZ.astype(float), EL.astype(float)
    want = np.stack([r * np.cos(e) * np.cos(a), r * np.cos(e) * np.sin(a), r * np.sin(e)], axis=1)
    np.testing.assert_allclose(scan.xyz, want, atol=2e-6)
    np.testing.assert_array_equal(scan.radial_velocity_mps, [0, 1, 2])
    np.testing.assert_array_equal(scan.fields["amplitude_db"], [0, 10, 20])
    tr = recs["/radar/tracks"]
    assert isinstance(tr, RadarTrackList) and tr.uuid_hex[1] == bytes(range(1, 17)).hex()
    np.testing.assert_array_equal(tr.position, [[1, 2, 0], [2, 2, 0]])
    np.testing.assert_array_equal(tr.velocity[:, 1], [0, -1])
    np.testing.assert_array_equal(tr.classification, [2, 2])
    assert tr.meta.stamp_ns == STAMP and tr.meta.frame_id == "radar"


def test_imu_absent_covariance(recs: dict[str, Any]) -> None:
    imu = recs["/imu"]
    assert isinstance(imu, ImuSample) and imu.orientation_xyzw is None
    assert imu.angular_velocity_valid and not imu.linear_acceleration_valid
    np.testing.assert_array_equal(imu.angular_velocity_radps, [0.1, 0.2, 0.3])
    assert imu.meta.stamp_ns == STAMP and imu.meta.frame_id == "imu_link"


def test_ego_motion_types(recs: dict[str, Any]) -> None:
    odom = recs["/odom"]
    assert isinstance(odom, PoseSample) and (odom.parent_frame, odom.child_frame) == ("odom", "base_link")
    np.testing.assert_array_equal(odom.rotation_xyzw, [0, 0, 0.6, 0.8])
    np.testing.assert_array_equal(odom.linear_velocity_mps, [5, 0, 0])
    np.testing.assert_array_equal(odom.angular_velocity_radps, [0, 0, 0.2])
    for topic in ("/pose", "/pose_cov"):
        p = recs[topic]
        assert isinstance(p, PoseSample) and p.parent_frame == "map" and p.child_frame == ""
        np.testing.assert_array_equal(p.translation_m, [1, 2, 3])
    ts = recs["/ts"]
    assert (ts.parent_frame, ts.child_frame) == ("base_link", "sensor0")
    tf = recs["/tf_static"]
    assert isinstance(tf, TransformBatch) and tf.static and len(tf.transforms) == 2
    assert [t.meta.stamp_ns for t in tf.transforms] == [STAMP, STAMP + 1]
    assert recs["__kinds__"]["/tf_static"] is SensorKind.TF_STATIC
    if "/tf" in recs:
        legacy = recs["/tf"]
        assert (
            isinstance(legacy, TransformBatch) and not legacy.static and legacy.transforms[1].child_frame == "sensor1"
        )
    fix = recs["/fix"]
    assert isinstance(fix, GnssFix) and fix.meta.frame_id == "gps" and fix.latitude_deg == 48.1
    np.testing.assert_array_equal(fix.position_covariance_m2, np.arange(9.0).reshape(3, 3))


def test_camera_info_ros1_and_ros2_names(recs: dict[str, Any]) -> None:
    ci = recs["/camera_info"]
    assert isinstance(ci, CameraInfoRecord) and (ci.width, ci.height) == (640, 480)
    np.testing.assert_array_equal(ci.k, [[500, 0, 320], [0, 500, 240], [0, 0, 1]])
    np.testing.assert_array_equal(ci.d, [0.1, -0.2, 0, 0, 0.01])
    assert ci.p.shape == (3, 4) and ci.distortion_model == "plumb_bob"


def test_stamps_fast_path_for_every_header_type(tmp_path: Path) -> None:
    """The byte-level stamp equals the decoded header stamp for every header-first type, all formats."""
    for fmt in FORMATS:
        path = write_bag(tmp_path / f"s{fmt}", fmt, store_for(fmt), messages_for(fmt))
        with open_bags(path) as src:
            topics = list(src.topics)
            st = src.stamps(topics)
            for raw in src.messages():
                want = src.decode(raw).meta.stamp_ns
                assert st[raw.topic][0][raw.index] == want == STAMP, raw.topic


def test_radar_scan_raw_fast_path_equals_object_path(tmp_path: Path) -> None:
    """RadarScan is decoded from the bytes (no per-return objects); it must equal the deserialized path,
    for ROS 1, CDR little and big endian; a short message is a DecodeError."""
    from fusion.errors import DecodeError
    from fusion.readers.radar import decode_radar_scan

    for fmt, little in (("bag", True), ("mcap", True), ("mcap", False)):
        s = store_for(fmt)
        rets = [mk(s, "radar_msgs/msg/RadarReturn", range=float(i), azimuth=0.1 * i, elevation=-0.05 * i,
                   doppler_velocity=-float(i), amplitude=3.0) for i in range(7)]  # fmt: skip
        typ = "radar_msgs/msg/RadarScan"
        msg = mk(s, typ, header=header(s, STAMP, "radar_odd_len"), returns=rets)
        data = bytes(s.serialize_ros1(msg, typ) if fmt == "bag" else s.serialize_cdr(msg, typ, little_endian=little))
        path = write_bag(
            tmp_path / f"r{fmt}{little}",
            fmt,
            s,
            [("/scan", typ, T0, data), ("/scan", typ, T0 + 1, data[:-8])],
            raw=True,
        )
        with open_bags(path) as src:
            good, bad = list(src.messages())
            fast = src.decode(good)
            slow = decode_radar_scan(src.deserialize(good), fast.meta)
            assert fast.meta.stamp_ns == STAMP and fast.meta.frame_id == "radar_odd_len"
            np.testing.assert_array_equal(fast.xyz, slow.xyz)
            np.testing.assert_array_equal(fast.radial_velocity_mps, -np.arange(7, dtype=np.float32))
            for k in slow.fields:
                np.testing.assert_array_equal(fast.fields[k], slow.fields[k])
            with pytest.raises(DecodeError, match="announces 7 returns"):
                src.decode(bad)
