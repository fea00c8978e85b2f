"""``fusion export mcap --scene-update``: boxes as ``foxglove_msgs/msg/SceneUpdate`` beside the MarkerArray.

The file is read back with the ``mcap`` package (CRCs validated) and each message decoded by a
rosbags typestore built only from the definitions embedded in the file's schema record (not from
fusion's own .msg files), so the test also checks that the file is self-describing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mcap.reader import make_reader

import fusion
from calibration.rotation import quat_xyzw_from_yaw
from fusion.annotations.model import Cuboid
from fusion.annotations.openlabel_encode import encode_openlabel
from fusion.cli.main import main
from fusion.export.mcap_scene import SCENE_TOPIC, SCENE_UPDATE
from fusion.store.sample import write_sample

BOX_FRAMES = (1, 2, 3)
TRACKS = {  # track id -> (label, size l w h m, yaw rad, centre of frame i = c0 + i * step)
    "obj0": ("car", (4.0, 2.0, 1.5), 0.3, (5.0, 1.0, 0.5), (1.0, 0.0, 0.0)),
    "p7": ("pedestrian", (0.8, 0.6, 1.8), 1.2, (-3.0, 4.0, 0.8), (0.0, -1.0, 0.0)),
}


def _centre(track: str, i: int) -> np.ndarray:
    _, _, _, c0, step = TRACKS[track]
    return np.asarray(c0) + i * np.asarray(step)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The sample store (12 frames at 10 Hz) with two tracks boxed on frames 1-3 (world frame)."""
    tmp = tmp_path_factory.mktemp("scene")
    url = str(tmp / "s.zarr")
    write_sample(url)
    ds = fusion.open(url)
    labels = [Cuboid.from_yaw(_centre(tr, i), np.asarray(size), yaw, label, tr, time_ns=int(ds[i].time_ns),
                              frame="odom")
              for i in BOX_FRAMES for tr, (label, size, yaw, _, _) in TRACKS.items()]
    (tmp / "labels.json").write_text(json.dumps(encode_openlabel(labels)))
    assert main(["annotate", "import", url, str(tmp / "labels.json")]) is None
    return url


def _read(path: Path, topic: str) -> list[tuple[int, Any]]:
    """(log time, message) of ``topic``, decoded with a typestore made from the file's own schema."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    out = []
    ts: Any = None
    with path.open("rb") as f:
        for schema, channel, message in make_reader(f, validate_crcs=True).iter_messages(topics=[topic]):
            assert schema is not None and channel.message_encoding == "cdr" and schema.encoding == "ros2msg"
            if ts is None:
                ts = get_typestore(Stores.EMPTY)
                ts.register(get_types_from_msg(schema.data.decode(), schema.name))
            out.append((message.log_time, ts.deserialize_cdr(message.data, schema.name)))
    return out


def _ns(t: Any) -> int:
    return int(t.sec) * 1_000_000_000 + int(t.nanosec)


def test_scene_update_holds_the_stores_boxes(store: str, tmp_path: Path) -> None:
    out = tmp_path / "scene.mcap"
    assert main(["export", "mcap", store, "-o", str(out), "--scene-update"]) is None
    ds = fusion.open(store)
    scenes = _read(out, SCENE_TOPIC)
    markers = _read(out, "/annotations/markers")
    # one SceneUpdate per frame from the first boxed frame on, at the frame times, like the markers
    assert [t for t, _ in scenes] == ds.times_ns[BOX_FRAMES[0]:].tolist() == [t for t, _ in markers]
    period = int(ds.times_ns[1] - ds.times_ns[0])  # 100 ms
    for (t, msg), i in zip(scenes, range(BOX_FRAMES[0], len(ds)), strict=True):
        boxes = {b.track_id: b for b in ds[i].boxes}
        assert [(d.type, _ns(d.timestamp)) for d in msg.deletions] == [(1, t)]  # ALL earlier entities
        assert len(msg.entities) == len(boxes) == (2 if i in BOX_FRAMES else 0)
        for e in msg.entities:
            box = boxes[e.id]  # entity id = track id
            assert e.frame_id == "odom" and _ns(e.timestamp) == t and not e.frame_locked
            assert _ns(e.lifetime) == period  # to the next frame
            assert len(e.cubes) == 1 and len(e.texts) == 1
            p, q, s = e.cubes[0].pose.position, e.cubes[0].pose.orientation, e.cubes[0].size
            label, size, yaw, _, _ = TRACKS[e.id]
            # truth: the imported labels themselves (not the store's read-back)
            assert np.allclose([p.x, p.y, p.z], _centre(e.id, i), atol=1e-6)  # measured: exact
            assert np.allclose([s.x, s.y, s.z], size, atol=1e-6)
            q_true = quat_xyzw_from_yaw(yaw)
            assert abs(abs(float(np.dot([q.x, q.y, q.z, q.w], q_true))) - 1.0) < 1e-9  # same rotation
            assert np.allclose([p.x, p.y, p.z], box.center_m) and np.allclose([s.x, s.y, s.z], box.size_lwh_m)
            txt = e.texts[0]
            assert txt.text == f"{label} {e.id}" and txt.billboard
            assert txt.pose.position.z == pytest.approx(p.z + size[2] / 2 + 0.3)
            assert {kv.key: kv.value for kv in e.metadata} == {"label": label, "track_id": e.id}
            assert 0.3 <= e.cubes[0].color.r <= 1.0 and e.cubes[0].color.a == 0.5
    # the MarkerArray is still written, with the same boxes (a DELETEALL, then a cube + a text per box)
    assert [len(m.markers) for _, m in markers] == [1 + 2 * len(s.entities) for _, s in scenes]


def test_scene_update_only_when_asked(store: str, tmp_path: Path) -> None:
    out = tmp_path / "plain.mcap"
    assert main(["export", "mcap", store, "-o", str(out)]) is None
    with out.open("rb") as f:
        summary = make_reader(f).get_summary()
    assert summary is not None
    topics = {c.topic for c in summary.channels.values()}
    assert "/annotations/markers" in topics and SCENE_TOPIC not in topics
    assert SCENE_UPDATE not in {s.name for s in summary.schemas.values()}


def test_last_frame_lifetime_and_frame_slice(store: str, tmp_path: Path) -> None:
    """A slice that starts on a boxed frame and ends one frame later: the last entity lives one period."""
    out = tmp_path / "slice.mcap"
    assert main(["export", "mcap", store, "-o", str(out), "--scene-update", "--frames", "2:4"]) is None
    ds = fusion.open(store)
    scenes = _read(out, SCENE_TOPIC)
    assert [t for t, _ in scenes] == ds.times_ns[2:4].tolist()
    assert sorted(e.id for e in scenes[0][1].entities) == ["obj0", "p7"]
    for _, msg in scenes:
        for e in msg.entities:
            assert _ns(e.lifetime) == int(ds.times_ns[1] - ds.times_ns[0])
