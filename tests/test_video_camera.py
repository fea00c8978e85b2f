"""``foxglove_msgs/CompressedVideo`` (H.264) as a camera: bitstream stored as it came, keyframe index,
decoded on read from the previous keyframe; a frame without its keyframe is reported, not faked.

The video is encoded here with PyAV's libx264 (64×48 moving gradient, a keyframe every 5 frames,
no B-frames, as a low-latency robot camera streams it) and written with rosbags' MCAP writer.
Truth for every decoded frame: the same bitstream decoded once from its start by PyAV.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("av")

import av

import fusion
from fusion.errors import MissingKeyframeError
from fusion.kinds.video import is_keyframe, nal_types
from fusion.readers import open_bags
from fusion.readers.typesys import BUNDLED_MSG_DIR, types_from_msg_dirs
from fusion.testing.kinds import NS, T0, typestore, write_mcap

REPO = Path(__file__).resolve().parents[1]
N, GOP, W, H = 23, 5, 64, 48
TOPIC = "/cam/video"
VIDEO = "foxglove_msgs/msg/CompressedVideo"


def _frames() -> list[np.ndarray]:
    y, x = np.mgrid[0:H, 0:W]
    return [np.stack([(x * 4 + 9 * k) % 256, (y * 5 + 3 * k) % 256, ((x + y) * 2) % 256], -1).astype(np.uint8)
            for k in range(N)]


def _encode(frames: list[np.ndarray]) -> list[bytes]:
    ctx: Any = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = W, H, "yuv420p"
    ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "bf": "0",
                   "x264-params": f"keyint={GOP}:min-keyint={GOP}:scenecut=0"}
    out: list[bytes] = []
    for k, img in enumerate(frames):
        f = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")
        f.pts = k
        out += [bytes(p) for p in ctx.encode(f)]
    out += [bytes(p) for p in ctx.encode(None)]
    assert len(out) == len(frames)  # zerolatency, no B-frames: one packet per frame, in order
    return out


def _decode_all(packets: list[bytes]) -> list[np.ndarray]:
    ctx: Any = av.CodecContext.create("h264", "r")
    out = []
    for p in [*packets, None]:
        out += [f.to_ndarray(format="bgr24") for f in ctx.decode(av.Packet(p) if p is not None else None)]
    return out


def _store() -> Any:
    s = typestore()
    s.register({k: v for k, v in types_from_msg_dirs([BUNDLED_MSG_DIR / "foxglove_msgs"]).items()
                if k not in s.fielddefs})
    return s


def _bag(path: Path, packets: list[bytes], first: int = 0) -> Path:
    s = _store()
    msgs = []
    for k in range(first, len(packets)):
        t = T0 + k * NS // 10
        stamp = s.types["builtin_interfaces/msg/Time"](sec=t // NS, nanosec=t % NS)
        msg = s.types[VIDEO](timestamp=stamp, frame_id="cam_optical", data=np.frombuffer(packets[k], np.uint8),
                             format="h264")
        msgs.append((TOPIC, VIDEO, t + 2_000_000, msg))
    return write_mcap(path, s, msgs)


def _convert(bag: Path, out: Path) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "fusion", "convert", str(bag), "-o", str(out), "--json"],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    v = subprocess.run([sys.executable, "-m", "fusion", "validate", str(out)], capture_output=True, text=True,
                       timeout=300, env=env)
    assert v.returncode == 0, v.stdout + v.stderr
    return r


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("video")
    frames = _frames()
    packets = _encode(frames)
    return {"tmp": tmp, "frames": frames, "packets": packets, "truth": _decode_all(packets)}


def test_keyframes_from_nal_types(video: dict[str, Any]) -> None:
    keys = [k for k, p in enumerate(video["packets"]) if is_keyframe(np.frombuffer(p, np.uint8), "h264")]
    assert keys == list(range(0, N, GOP))
    assert {7, 8, 5} <= set(nal_types(np.frombuffer(video["packets"][0], np.uint8), "h264"))  # SPS, PPS, IDR


def test_stored_as_it_came_and_decoded_on_read(video: dict[str, Any]) -> None:
    bag = _bag(video["tmp"] / "log", video["packets"])
    with open_bags(bag) as src:
        info = src.topics[TOPIC]
        assert info.kind == "camera"
    out = video["tmp"] / "out.zarr"
    _convert(bag, out)
    ds = fusion.open(str(out))
    (name,) = ds.sensors
    assert ds.sensors[name].kind == "camera" and ds.sensors[name].count == N
    stream = ds.stream(name)
    assert ds.state.streams[name].attrs["keyframes"] == list(range(0, N, GOP))
    assert ds.state.streams[name].attrs["rows_without_keyframe"] == 0
    np.testing.assert_array_equal(stream.stamp_ns, [T0 + k * NS // 10 for k in range(N)])
    order = [7, 0, 22, 13, 14, 3]  # random access in any order: each decodes from its own keyframe
    for i in order:
        view = stream[i]
        assert view.data == video["packets"][i]  # the bitstream as it came
        assert view.format == "h264" and view.keyframe_row == i - i % GOP
        np.testing.assert_array_equal(view.image, video["truth"][i])  # = decoding the whole stream
        err = np.abs(view.image.astype(int) - video["frames"][i].astype(int)).mean()
        assert err < 20  # lossy H.264 (ultrafast) on a wrapping gradient: measured mean |error| 2.4–6.5
    assert len(ds) == N  # the video camera defines frames like any camera
    np.testing.assert_array_equal(ds[8].cameras[name].image, video["truth"][8])


def test_missing_keyframe_reported_not_faked(video: dict[str, Any]) -> None:
    first = 2  # the recording starts mid-GOP: rows 0..2 (frames 2..4) have no keyframe
    bag = _bag(video["tmp"] / "midgop", video["packets"], first)
    out = video["tmp"] / "midgop.zarr"
    _convert(bag, out)
    ds = fusion.open(str(out))
    (name,) = ds.sensors
    stream = ds.stream(name)
    assert ds.state.streams[name].attrs["rows_without_keyframe"] == 3
    assert any("before the first keyframe" in w for w in ds.report["warnings"])
    for i in range(3):
        with pytest.raises(MissingKeyframeError, match="no keyframe at or before"):
            _ = stream[i].image
        assert stream[i].data == video["packets"][first + i]  # still stored as it came
    np.testing.assert_array_equal(stream[3].image, video["truth"][5])  # the first keyframe decodes
    np.testing.assert_array_equal(stream[4].image, video["truth"][6])


def test_inspect_names_the_codec(video: dict[str, Any]) -> None:
    import json

    bag = _bag(video["tmp"] / "insp", video["packets"], 2)
    r = subprocess.run([sys.executable, "-m", "fusion", "inspect", str(bag), "--json"], capture_output=True,
                       text=True, timeout=300, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    t = json.loads(r.stdout)["topics"][TOPIC]
    assert t["kind"] == "camera" and t["video"]["format"] == "h264"
    assert t["video"]["first_keyframe"] == 3 and t["video"]["keyframe_interval"] == GOP
    assert t["reader"].startswith("h264 video: bitstream stored as it came")
    assert "the first 3 frame(s) precede the first keyframe" in t["reader"]
    assert t["count"] == N - 2 and t["anomalies"]["zero"] == 0  # stamps read from `timestamp`
