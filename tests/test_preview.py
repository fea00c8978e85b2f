"""``fusion preview``: the MP4 opens with the right frame count and size; a PNG still shows a known box
at its projected place (camera and bird's-eye view) and the LiDAR points; refusals are one error line."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from synthlog import make_log
from test_cli_errors import fails

import fusion
from calibration import SE3, Trajectory
from fusion.annotations.model import Cuboid
from fusion.annotations.openlabel_encode import encode_openlabel
from fusion.cli.main import main
from fusion.export.preview_panels import BOX_BGR, GREY
from fusion.export.preview_video import make_layout
from fusion.pipeline.config import ConvertConfig, FramesConfig
from fusion.pipeline.convert import convert
from fusion.sync import FrameReference
from fusion.testing.synth.config import Faults

BOX_FRAME = 3
CENTER = np.array([15.0, 0.0, 0.75])
SIZE = np.array([4.0, 2.0, 1.5])


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 1 s log converted with its rig, one box (world frame) imported at frame 3's time."""
    tmp = tmp_path_factory.mktemp("preview")
    bags, _, rig = make_log(tmp, ("mcap",), duration_s=1.0)
    store = tmp / "s.zarr"
    cfg = ConvertConfig(rig=str(rig), frames=FramesConfig(reference=FrameReference("lidar", sensor="lidar_top")))
    convert([bags["mcap"]], str(store), cfg)
    t = int(fusion.open(str(store))[BOX_FRAME].time_ns)
    label = Cuboid.from_yaw(CENTER, SIZE, 0.0, "car", "obj0", time_ns=t, frame="odom")
    labels = tmp / "labels.json"
    labels.write_text(json.dumps(encode_openlabel([label])))
    assert main(["annotate", "import", str(store), str(labels)]) is None
    no_cam = tmp / "nocam.zarr"
    convert([bags["mcap"]], str(no_cam), ConvertConfig(rig=str(rig), include_topics=("/lidar/points", "/odom")))
    return {"store": store, "tmp": tmp, "nocam": no_cam}


def _png(env: dict[str, Path], index: int) -> np.ndarray:
    out = env["tmp"] / f"f{index}.png"
    if not out.exists():
        assert main(["preview", str(env["store"]), "--png", str(index), "-o", str(out)]) is None
    img = cv2.imread(str(out))
    assert img is not None
    return img


def _near(img: np.ndarray, uv: np.ndarray, color: tuple[int, int, int], r: int = 3, tol: int = 40) -> np.ndarray:
    """For each pixel (N, 2) (x, y): whether a pixel within ``r`` has ``color`` (± tol per channel)."""
    out = []
    for x, y in np.rint(uv).astype(int):
        patch = img[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1].astype(int)
        out.append(bool((np.abs(patch - np.array(color)).max(axis=-1) <= tol).any()))
    return np.array(out)


def _box_edge_pixels(env: dict[str, Path]) -> tuple[np.ndarray, np.ndarray]:
    """Projected box-edge samples in the PNG: camera_front tile (x, y) and BEV footprint (x, y)."""
    ds = fusion.open(str(env["store"]))
    lay = make_layout(ds)
    frame = ds[BOX_FRAME]
    rig = ds.calibration
    ego = ds.ego
    traj = Trajectory(ego.time_ns, ego.translation_m, ego.rotation_xyzw)
    box = Cuboid.from_yaw(CENTER, SIZE, 0.0, "car", "obj0")
    c = box.corners()
    edges = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7)]
    s = np.linspace(0.05, 0.95, 19)[:, None]
    samples = np.concatenate([c[a] * (1 - s) + c[b] * s for a, b in edges])
    # camera tile: world -> camera at the image's own time, project, scale to the tile
    cam_name = "camera_front"
    sensor = rig.sensor(cam_name)
    T_cam_world = sensor.T_base_sensor.inverse() @ traj.at(int(frame.cameras[cam_name].time_ns)).inverse()
    uv, ok = sensor.camera.project(T_cam_world.apply(samples))
    col = lay.cameras.index(cam_name)
    scale = lay.tile_wh[0] / sensor.camera.width
    cam_px = (uv[ok] + 0.5) * scale - 0.5 + np.array([col * lay.tile_wh[0], 0])
    # BEV: world -> base at the frame time; x forward = up, y left = left; 80 m across
    T_base_world = SE3.from_matrix(frame.ego_pose).inverse()
    foot = T_base_world.apply(samples[: 4 * 19])
    k = lay.bev_px / 80.0
    gw = lay.grid_wh[0]
    bev_px = np.stack([gw + lay.bev_px / 2 - foot[:, 1] * k, lay.bev_px / 2 - foot[:, 0] * k], axis=1)
    return cam_px, bev_px


def test_box_drawn_at_projected_place(env: dict[str, Path]) -> None:
    cam_px, bev_px = _box_edge_pixels(env)
    assert len(cam_px) > 76  # measured: all 228 edge samples project into camera_front
    with_box, without = _png(env, BOX_FRAME), _png(env, BOX_FRAME + 1)  # frame 4 has no box
    hit = _near(with_box, cam_px, BOX_BGR).mean()
    miss = _near(without, cam_px, BOX_BGR).mean()
    assert hit > 0.9, hit  # measured 1.0
    assert miss < 0.3, miss  # measured 0.0 (the green box colour is not in the range colour map there)
    assert _near(with_box, bev_px, BOX_BGR, r=2, tol=10).mean() > 0.9  # measured 1.0
    assert _near(without, bev_px, BOX_BGR, r=2, tol=10).mean() < 0.3  # measured 0.0


def test_lidar_points_drawn(env: dict[str, Path]) -> None:
    ds = fusion.open(str(env["store"]))
    lay = make_layout(ds)
    img = _png(env, 5)
    # camera tile vs the raw image enlarged the same way: the points change many pixels
    raw = ds[5].cameras["camera_front"].image
    col = lay.cameras.index("camera_front")
    tile = img[: lay.tile_wh[1], col * lay.tile_wh[0]:(col + 1) * lay.tile_wh[0]]
    ref = cv2.resize(np.ascontiguousarray(raw), lay.tile_wh, interpolation=cv2.INTER_NEAREST)
    changed = (np.abs(tile.astype(int) - ref.astype(int)).max(axis=-1) > 30).sum()
    assert changed > 12_000, changed  # measured 38 664 of 172 800 (points, colour bar, title)
    # BEV: coloured (non-grey) pixels are LiDAR points (rings and text are grey/white)
    gw = lay.grid_wh[0]
    bev = img[: lay.bev_px, gw:gw + lay.bev_px].astype(int)
    coloured = ((bev.max(axis=-1) - bev.min(axis=-1)) > 60).sum()
    assert coloured > 550, coloured  # measured 1 670


def test_mp4_frame_count_and_size(env: dict[str, Path]) -> None:
    ds = fusion.open(str(env["store"]))
    out = env["tmp"] / "all.mp4"
    assert main(["preview", str(env["store"]), "-o", str(out)]) is None
    cap = cv2.VideoCapture(str(out))
    assert cap.isOpened()
    w, h = make_layout(ds).size_wh
    assert int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == w and int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == h
    n = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        assert img.shape == (h, w, 3)
        n += 1
    cap.release()
    assert n == len(ds) == 10
    assert not list(env["tmp"].glob(".*.part*"))


def test_mp4_is_h264_for_browsers(env: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Decoded with PyAV: H.264 High, yuv420p, every frame at the layout's size, index at the front."""
    av = pytest.importorskip("av")
    ds = fusion.open(str(env["store"]))
    out = env["tmp"] / "h264.mp4"
    assert main(["preview", str(env["store"]), "-o", str(out), "--fps", "5"]) is None
    assert ", h264 (" in capsys.readouterr().out
    w, h = make_layout(ds).size_wh
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.width, stream.height) == (w, h)
        assert stream.average_rate == 5
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(frames) == len(ds) == 10
    assert all(f.shape == (h, w, 3) for f in frames)
    raw = out.read_bytes()
    assert 0 < raw.find(b"moov") < raw.find(b"mdat")  # faststart: playable while downloading
    # the decoded first frame is the rendered one, up to the lossy coding (yuv420p halves the chroma of
    # thin coloured points): |diff| measured mean 5.8, median 2; with B and R swapped the mean is 49
    from fusion.export.preview_video import _path, render_preview

    ref = render_preview(ds, 0, make_layout(ds), _path(ds)).astype(float)
    diff = np.abs(frames[0].astype(float) - ref)
    assert diff.mean() < 18.0 and np.median(diff) <= 6.0


def test_mp4v_when_no_h264(env: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    """Without an H.264 encoder, auto falls back to OpenCV's mp4v with one note; --codec h264 refuses."""
    import fusion.export.video_encode as ve

    monkeypatch.setattr(ve, "h264_available", lambda: False)
    out = env["tmp"] / "fallback.mp4"
    assert main(["preview", str(env["store"]), "-o", str(out), "--frames", ":3"]) is None
    captured = capsys.readouterr()
    assert captured.err.count("note: no H.264 encoder") == 1 and ", mp4v (" in captured.out
    av = pytest.importorskip("av")
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == "mpeg4"  # MPEG-4 Part 2
        assert sum(1 for _ in container.decode(video=0)) == 3
    fails(capsys, ["preview", str(env["store"]), "-o", env["tmp"] / "y.mp4", "--codec", "h264"], "--codec h264")
    assert not (env["tmp"] / "y.mp4").exists()


def test_frames_and_fps(env: dict[str, Path]) -> None:
    out = env["tmp"] / "part.mp4"
    assert main(["preview", str(env["store"]), "-o", str(out), "--frames", "2:5", "--fps", "4"]) is None
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(4.0)
    cap.release()


def test_refusals(env: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    store = str(env["store"])
    out = env["tmp"] / "exists.mp4"
    out.write_bytes(b"keep")
    fails(capsys, ["preview", store, "-o", out], str(out), "--overwrite")
    assert out.read_bytes() == b"keep"
    png = env["tmp"] / "exists.png"
    png.write_bytes(b"keep")
    fails(capsys, ["preview", store, "--png", "1", "-o", png], str(png), "--overwrite")
    fails(capsys, ["preview", store, "--png", "99", "-o", env["tmp"] / "x.png"], "--png 99", "10 frames")
    fails(capsys, ["preview", store, "--frames", "20:30", "-o", env["tmp"] / "x.mp4"], "--frames")
    fails(capsys, ["preview", store, "--frames", "a:b", "-o", env["tmp"] / "x.mp4"], "--frames")
    fails(capsys, ["preview", store, "--fps", "0", "-o", env["tmp"] / "x.mp4"], "--fps")
    fails(capsys, ["preview", store, "-o", env["tmp"]], str(env["tmp"]), "folder")
    fails(capsys, ["preview", store, "--png", "1", "-o", env["tmp"] / "x.mp4"], "x.mp4", ".png")
    fails(capsys, ["preview", store, "-o", env["tmp"] / "x.avi"], "x.avi", ".mp4")
    assert not (env["tmp"] / "x.mp4").exists()
    assert main(["preview", store, "-o", str(out), "--frames", ":2", "--overwrite"]) is None
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 2
    cap.release()


def test_lidar_only_store_is_bev_and_strip(env: dict[str, Path]) -> None:
    """No camera: the video is the bird's-eye view over the sync strip, LiDAR points drawn."""
    ds = fusion.open(str(env["nocam"]))
    lay = make_layout(ds)
    assert lay.cameras == () and lay.size_wh == (lay.bev_px, lay.bev_px + lay.strip_h)
    out = env["tmp"] / "nocam.png"
    assert main(["preview", str(env["nocam"]), "--png", "2", "-o", str(out)]) is None
    img = cv2.imread(str(out)).astype(int)
    assert img.shape == (lay.bev_px + lay.strip_h, lay.bev_px, 3)
    bev = img[: lay.bev_px]
    assert ((bev.max(axis=-1) - bev.min(axis=-1)) > 60).sum() > 550  # measured 1 670 (same LiDAR as above)


def test_missing_camera_is_marked(tmp_path: Path) -> None:
    """Frames without a camera message: a MISSING tile (dark, no image) and a grey strip cell."""
    faults = Faults(drop_rate=0.4, topics=("/camera/front/image/compressed",))
    bags, _, rig = make_log(tmp_path, ("mcap",), duration_s=1.0, faults=faults)
    store = tmp_path / "d.zarr"
    cfg = ConvertConfig(rig=str(rig), frames=FramesConfig(reference=FrameReference("lidar", sensor="lidar_top")))
    convert([bags["mcap"]], str(store), cfg)
    ds = fusion.open(str(store))
    missing = [i for i in range(len(ds)) if not ds[i].valid["camera_front"]]
    assert missing, "the drop faults left every frame with camera_front"  # measured: frames 5, 7, 9 of 10
    lay = make_layout(ds)
    out = tmp_path / "m.png"
    assert main(["preview", str(store), "--png", str(missing[0]), "-o", str(out)]) is None
    img = cv2.imread(str(out)).astype(int)
    col = lay.cameras.index("camera_front")
    tile = img[: lay.tile_wh[1], col * lay.tile_wh[0]:(col + 1) * lay.tile_wh[0]]
    assert (np.abs(tile - 40).max(axis=-1) == 0).mean() > 0.9  # the dark placeholder, not an image
    strip = img[-lay.strip_h:]
    assert (np.abs(strip - np.array(GREY)).max(axis=-1) == 0).sum() > 1000  # grey MISSING cell
    other = tmp_path / "o.png"
    ok = next(i for i in range(len(ds)) if ds[i].valid["camera_front"])
    assert main(["preview", str(store), "--png", str(ok), "-o", str(other)]) is None
    assert (np.abs(cv2.imread(str(other)).astype(int)[-lay.strip_h:] - np.array(GREY)).max(axis=-1) == 0).sum() < 100
