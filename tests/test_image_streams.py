"""Non-camera ``sensor_msgs/Image`` topics (LiDAR panoramas, depth images) stored as ``image`` streams.

A generated log holds a calibrated camera, a camera without CameraInfo on an optical frame, an 8-bit
camera without CameraInfo and without an optical frame, a depth image and a LiDAR range panorama;
the detection rule sorts them, ``fusion convert`` + ``fusion validate`` run through the CLI, the
image streams are stored at full rate and never in a frame, ``fusion config init`` writes
``kind: image`` and ``fusion calib check`` skips them with a note. The real Ouster pcap in
``../shared/data`` gives a log of real packets with the range / reflectivity panoramas the SDK
decodes from the same packets.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import fusion
from fusion.kinds.image import is_non_camera
from fusion.readers import open_bags
from fusion.testing.kinds import NS, T0, header, typestore, write_mcap

REPO = Path(__file__).resolve().parents[1]
M = 10
RNG = np.random.default_rng(11)


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fusion", *args], capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, cwd=cwd)


@pytest.mark.parametrize(("topic", "frame", "encoding", "infos", "lidar_frames", "want"), [
    ("/ouster/range_image", "os_lidar", "mono16", {}, set(), True),  # range encoding, panorama word
    ("/ouster/reflec_image", "os_lidar", "mono8", {}, set(), True),  # 8-bit: the topic word decides
    ("/lidar/img", "os_lidar", "mono8", {}, {"os_lidar"}, True),  # 8-bit: the LiDAR's frame decides
    ("/tof/image", "tof", "32FC1", {}, set(), True),  # depth encoding
    ("/camera/depth/image_rect_raw", "camera_depth_optical_frame", "16UC1", {}, set(), False),  # optical frame
    ("/camera/depth/image_rect_raw", "depth", "16UC1", {"/camera/depth/camera_info": "depth"}, set(), False),
    ("/cam/image_raw", "cam", "16UC1", {"/cam/camera_info": "other"}, set(), False),  # CameraInfo beside it
    ("/stereo/left/image_raw", "stereo_left", "mono8", {}, set(), False),  # uncalibrated camera stays one
    ("/orange_cam/image_raw", "orange_cam", "bgr8", {}, set(), False),  # "orange" is no "range" word
    ("/thermal/image_raw", "thermal", "mono16", {"/thermal/camera_info": "thermal"}, set(), False),
])
def test_detection_rule(topic: str, frame: str, encoding: str, infos: dict[str, str], lidar_frames: set[str],
                        want: bool) -> None:
    assert is_non_camera(topic, frame, encoding, infos, lidar_frames) is want


def _image(store: Any, stamp: int, frame: str, img: np.ndarray, encoding: str) -> Any:
    h, w = img.shape[:2]
    return store.types["sensor_msgs/msg/Image"](
        header=header(store, stamp, frame), height=h, width=w, encoding=encoding, is_bigendian=0,
        step=img.nbytes // h, data=np.ascontiguousarray(img).view(np.uint8).ravel())


def _camera_info(store: Any, stamp: int, frame: str) -> Any:
    T = store.types
    K = np.array([[20.0, 0, 16], [0, 20.0, 12], [0, 0, 1]])
    P = np.zeros((3, 4))
    P[:, :3] = K
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return T["sensor_msgs/msg/CameraInfo"](header=header(store, stamp, frame), height=24, width=32,
                                           distortion_model="plumb_bob", d=np.zeros(5), k=K.ravel(),
                                           r=np.eye(3).ravel(), p=P.ravel(), binning_x=0, binning_y=0, roi=roi)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The generated log (10 Hz cameras, 20 Hz depth and panorama) and what was written on each topic."""
    tmp = tmp_path_factory.mktemp("images")
    store = typestore()
    msgs: list[tuple[str, str, int, Any]] = []
    written: dict[str, list[np.ndarray]] = {}

    def add(topic: str, stamp: int, msg: Any, img: np.ndarray | None = None, t: str = "sensor_msgs/msg/Image") -> None:
        msgs.append((topic, t, stamp + 4_000_000, msg))
        if img is not None:
            written.setdefault(topic, []).append(img)

    for k in range(M):
        s = T0 + k * NS // 10 + 1_000_000
        for topic, frame in (("/front/image_raw", "front_optical"), ("/rear/image_raw", "rear_optical_frame")):
            img = RNG.integers(0, 255, (24, 32, 3), dtype=np.uint8)
            add(topic, s, _image(store, s, frame, img, "bgr8"), img)
        add("/front/camera_info", s, _camera_info(store, s, "front_optical"), t="sensor_msgs/msg/CameraInfo")
        img8 = RNG.integers(0, 255, (24, 32), dtype=np.uint8)
        add("/stereo/left/image_raw", s, _image(store, s, "stereo_left", img8, "mono8"), img8)
        for h in range(2):  # 20 Hz
            s2 = s + h * NS // 20 + 2_000_000
            depth = RNG.random((12, 16), dtype=np.float32) * 5
            add("/tof/image", s2, _image(store, s2, "tof", depth, "32FC1"), depth)
            rng = RNG.integers(0, 65535, (16, 64), dtype=np.uint16)
            add("/ouster/range_image", s2, _image(store, s2, "os_lidar", rng, "mono16"), rng)
        depth16 = RNG.integers(0, 9000, (12, 16), dtype=np.uint16)  # mm, as image_transport compressedDepth
        blob = np.concatenate([np.zeros(12, np.uint8), cv2.imencode(".png", depth16)[1].ravel()])
        add("/tof2/depth/compressedDepth", s, store.types["sensor_msgs/msg/CompressedImage"](
            header=header(store, s, "tof2"), format="16UC1; compressedDepth png", data=blob), depth16,
            t="sensor_msgs/msg/CompressedImage")
    msgs.sort(key=lambda m: m[2])
    bag = write_mcap(tmp / "log", store, msgs)
    out = tmp / "out.zarr"
    r = _cli("convert", str(bag), "-o", str(out), "--json")
    return {"bag": bag, "tmp": tmp, "written": written, "convert": r, "store": out}


def test_topics_detected(mixed: dict[str, Any]) -> None:
    with open_bags(mixed["bag"]) as src:
        kinds = {t: str(getattr(i.kind, "value", i.kind)) for t, i in src.topics.items()}
    assert kinds == {"/front/image_raw": "camera", "/rear/image_raw": "camera", "/stereo/left/image_raw": "camera",
                     "/front/camera_info": "camera_info", "/tof/image": "image", "/ouster/range_image": "image",
                     "/tof2/depth/compressedDepth": "image"}
    r = _cli("inspect", str(mixed["bag"]), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["topics"]["/ouster/range_image"]["kind"] == "image"


def test_convert_validate_and_read(mixed: dict[str, Any]) -> None:
    r = mixed["convert"]
    assert r.returncode == 0, r.stderr
    v = _cli("validate", str(mixed["store"]))
    assert v.returncode == 0, v.stdout + v.stderr
    ds = fusion.open(str(mixed["store"]))
    kinds = {n: s.kind for n, s in ds.sensors.items()}
    assert kinds == {"front": "camera", "rear": "camera", "stereo_left": "camera", "tof": "image",
                     "os_lidar": "image", "tof2": "image"}, kinds
    for name, topic, n in (("tof", "/tof/image", 2 * M), ("os_lidar", "/ouster/range_image", 2 * M)):
        stream = ds.stream(name)
        assert len(stream) == n  # full rate: every message, not one per frame
        for i, want in enumerate(mixed["written"][topic]):
            got = stream[i].image
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
    assert ds.stream("tof")[0].format == "32FC1"
    depth = ds.stream("tof2")
    assert len(depth) == M and ds.state.streams["tof2"].attrs["compressed"] is True
    for i, want in enumerate(mixed["written"]["/tof2/depth/compressedDepth"]):
        assert depth[i].image.dtype == np.uint16
        np.testing.assert_array_equal(depth[i].image, want)  # PNG is lossless
    assert len(ds) == M  # frames from the first camera (10 Hz)
    for frame in ds:
        assert set(frame.valid) == {"front", "rear", "stereo_left"}  # image streams are not matched
        assert set(frame.cameras) == {"front", "rear", "stereo_left"}
        assert frame.views("image") == {}
    assert ds.calibration.sensor("tof").kind == "image" and ds.calibration.sensor("tof").camera is None
    assert ds.calibration.sensor("front").camera is not None


def test_config_init_writes_kind_image(mixed: dict[str, Any]) -> None:
    r = _cli("config", "init", str(mixed["bag"]), "-o", str(mixed["tmp"] / "fusion.yaml"), "--overwrite")
    assert r.returncode == 0, r.stderr
    import yaml

    text = (mixed["tmp"] / "fusion.sensors.yaml").read_text()
    sensors = yaml.safe_load(text)["sensors"]
    assert sensors["os_lidar"]["kind"] == "image" and sensors["tof"]["kind"] == "image"
    assert sensors["front"]["kind"] == "camera" and sensors["stereo_left"]["kind"] == "camera"
    assert "not a camera" in text


def test_calib_check_skips_images(mixed: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "cal.zarr"
    topics = ("/front/image_raw", "/front/camera_info", "/ouster/range_image", "/tof/image")
    r = _cli("convert", str(mixed["bag"]), "-o", str(out), *(a for t in topics for a in ("--include-topic", t)))
    assert r.returncode == 0, r.stderr
    png = tmp_path / "check.png"
    r = _cli("calib", "check", str(out), "-o", str(png))
    assert r.returncode == 0, r.stderr
    assert png.stat().st_size > 0
    assert "note: skipped os_lidar, tof: image streams" in r.stdout
    only = tmp_path / "only.zarr"
    r = _cli("convert", str(mixed["bag"]), "-o", str(only), "--include-topic", "/tof/image", "--reference", "rate:10")
    assert r.returncode == 0, r.stderr
    r = _cli("calib", "check", str(only), "-o", str(png))
    assert r.returncode == 2
    assert r.stderr.count("error:") == 1 and "image streams tof are not cameras" in r.stderr


def test_sensor_map_overrides_the_rule(mixed: dict[str, Any], tmp_path: Path) -> None:
    """``kind: camera`` keeps a panorama a camera (matched to frames); ``kind: image`` makes a camera an image."""
    smap = tmp_path / "sensors.yaml"
    smap.write_text("sensors:\n  pano:\n    topic: /ouster/range_image\n    kind: camera\n"
                    "  left:\n    topic: /stereo/left/image_raw\n    kind: image\n"
                    "  front:\n    topic: /front/image_raw\n    kind: camera\n")
    cfg = tmp_path / "fusion.yaml"
    cfg.write_text(f"sensors: {smap}\n")
    out = tmp_path / "o.zarr"
    r = _cli("convert", str(mixed["bag"]), "-o", str(out), "--config", str(cfg), "--include-topic",
             "/ouster/range_image", "--include-topic", "/stereo/left/image_raw", "--include-topic", "/front/image_raw")
    assert r.returncode == 0, r.stderr
    ds = fusion.open(str(out))
    assert {n: s.kind for n, s in ds.sensors.items()} == {"pano": "camera", "left": "image", "front": "camera"}
    assert "pano" in ds[0].valid and "left" not in ds[0].valid
    assert len(ds.stream("left")) == M


@pytest.mark.shared
def test_real_uncalibrated_optical_camera_stays_a_camera(shared_data: Path) -> None:
    """The one real raw ``Image`` topic in ../shared/data (no CameraInfo, frame ``camera_optical_frame``)."""
    with open_bags(shared_data / "edge" / "ros2" / "ros2_dir_named_images.bag") as src:
        info = src.topics["/image"]
    assert info.frame_id == "camera_optical_frame" and info.kind == "camera"
