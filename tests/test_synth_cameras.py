"""Optional extra cameras of the synthetic generator (``SynthConfig.extra_cameras``)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from rosbags.highlevel import AnyReader
from scipy.spatial.transform import Rotation

from fusion.errors import ConfigError
from fusion.testing.synth import SynthConfig, generate, load_truth
from fusion.testing.synth import rig as rigdef
from fusion.testing.synth.schedule import build_schedule
from fusion.testing.synth.trajectory import AnalyticTrajectory, TrajectoryParams
from fusion.testing.synth.world import add_follower, make_world

# name -> (topic short name, yaw of the optical axis in base_link deg, position in base_link m)
EXTRA = {
    "camera_right": ("right", -90.0, (1.2, -0.5, 1.5)),
    "camera_rear": ("rear", 180.0, (-0.4, 0.0, 1.5)),
    "camera_front_left": ("front_left", 45.0, (1.5, 0.3, 1.5)),
    "camera_front_right": ("front_right", -45.0, (1.5, -0.3, 1.5)),
}
BASE_TOPICS = list(rigdef.TOPIC_TYPES)
OFFSETS = {"camera_rear": 4_000_000, "camera_front_left": -1_500_000}


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory):
    cfg = SynthConfig.tiny(seed=1, extra_cameras=4, clock_offsets_ns=OFFSETS)
    out = generate(cfg, tmp_path_factory.mktemp("synth_cameras"))
    return out, load_truth(out.truth_path)


def read_topics(path: Path, topics: list[str]) -> dict[str, list[tuple[int, object, str]]]:
    """topic -> [(record_ns, deserialized message, msgtype)] in record order, for ``topics``."""
    out: dict[str, list[tuple[int, object, str]]] = {t: [] for t in topics}
    with AnyReader([path]) as reader:
        conns = [c for c in reader.connections if c.topic in topics]
        for conn, ts, raw in reader.messages(connections=conns):
            out[conn.topic].append((ts, reader.deserialize(raw, conn.msgtype), conn.msgtype))
    return out


def stamp_ns(msg: object) -> int:
    h = msg.header  # type: ignore[attr-defined]
    return int(h.stamp.sec) * 1_000_000_000 + int(h.stamp.nanosec)


def box_pixels(img: np.ndarray) -> int:
    """Pixels of a box: boxes are saturated colours (S 220), sky S ≈ 108, ground grey (S 0)."""
    return int((cv2.cvtColor(img, cv2.COLOR_BGR2HSV)[..., 1] > 170).sum())


@pytest.mark.parametrize("fmt", ["bag", "db3", "mcap"])
def test_extra_topics_types_counts(log, fmt: str) -> None:
    out, truth = log
    with AnyReader([out.bags[fmt]]) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        counts = {c.topic: c.msgcount for c in reader.connections}
    expected = list(BASE_TOPICS)
    for short, _, _ in EXTRA.values():
        expected += [f"/camera/{short}/image/compressed", f"/camera/{short}/camera_info"]
    assert sorted(types) == sorted(expected) == sorted(truth.topics)
    for short, _, _ in EXTRA.values():
        assert types[f"/camera/{short}/image/compressed"] == "sensor_msgs/msg/CompressedImage"
        assert types[f"/camera/{short}/camera_info"] == "sensor_msgs/msg/CameraInfo"
        # 12 Hz over 1 s, phases 5–15 ms: 12 messages each
        assert counts[f"/camera/{short}/image/compressed"] == counts[f"/camera/{short}/camera_info"] == 12
    assert counts == truth.counts()
    assert counts["/camera/front/image/compressed"] == 15 and counts["/camera/left/image_raw"] == 12


def test_images_decode_stamps_and_see_boxes(log) -> None:
    out, truth = log
    topics = [t for short, _, _ in EXTRA.values()
              for t in (f"/camera/{short}/image/compressed", f"/camera/{short}/camera_info")]
    msgs = read_topics(out.bags["mcap"], topics)
    for name, (short, _, _) in EXTRA.items():
        images = msgs[f"/camera/{short}/image/compressed"]
        infos = msgs[f"/camera/{short}/camera_info"]
        table = truth.messages(f"/camera/{short}/image/compressed")
        assert len(images) == len(infos) == len(table) == 12
        cam = truth.camera(name)
        seen = []
        for (ts, m, _), (_, info, _), rec, stamp, true_ns in zip(images, infos, table.record_time_ns, table.stamp_ns,
                                                                 table.true_time_ns, strict=True):
            assert m.format == "jpeg" and m.header.frame_id == f"{name}_optical" == truth.frame_id(name)
            img = cv2.imdecode(m.data, cv2.IMREAD_COLOR)
            assert img is not None and img.shape == (120, 160, 3)
            assert ts == rec and stamp_ns(m) == stamp == true_ns - OFFSETS.get(name, 0)
            assert stamp_ns(info) == stamp and info.header.frame_id == f"{name}_optical"
            np.testing.assert_array_equal(info.k.reshape(3, 3), cam["K"])
            assert info.distortion_model == "plumb_bob" and not np.any(info.d)
            seen.append(box_pixels(img))
        assert max(seen) >= 20, (name, seen)  # every extra camera sees at least one box


def test_base_cameras_see_boxes_too(log) -> None:
    out, _ = log
    msgs = read_topics(out.bags["mcap"], ["/camera/front/image/compressed", "/camera/left/image_raw"])
    front = [box_pixels(cv2.imdecode(m.data, cv2.IMREAD_COLOR)) for _, m, _ in msgs["/camera/front/image/compressed"]]
    left = [box_pixels(m.data.reshape(m.height, m.width, 3)) for _, m, _ in msgs["/camera/left/image_raw"]]
    assert max(front) >= 20 and max(left) >= 20


def test_truth_rig_has_six_cameras(log) -> None:
    _, truth = log
    rig = truth.rig()
    cameras = sorted(n for n in rig.names if rig.sensor(n).kind == "camera")
    assert cameras == sorted(["camera_front", "camera_left", *EXTRA])
    for name, (short, yaw_deg, t) in EXTRA.items():
        s = rig.sensor(name)
        assert s.frame_id == f"{name}_optical" and s.topic == f"/camera/{short}/image/compressed"
        assert s.time_offset_ns == OFFSETS.get(name, 0)
        T = truth.T_base_sensor(name)
        np.testing.assert_allclose(s.T_base_sensor.matrix, T, atol=1e-12)
        yaw = np.deg2rad(yaw_deg)
        # REP-103 optical frame: z forward (body x), x right (-body y), y down (-base z)
        np.testing.assert_allclose(T[:3, 2], [np.cos(yaw), np.sin(yaw), 0.0], atol=1e-12)
        np.testing.assert_allclose(T[:3, 0], [np.sin(yaw), -np.cos(yaw), 0.0], atol=1e-12)
        np.testing.assert_allclose(T[:3, 1], [0.0, 0.0, -1.0], atol=1e-12)
        np.testing.assert_array_equal(T[:3, 3], t)
        assert s.camera.K[0, 0] == s.camera.K[1, 1] == 500.0 * 160 / 640
        assert (s.camera.K[0, 2], s.camera.K[1, 2], s.camera.width, s.camera.height) == (80.0, 60.0, 160, 120)
        assert not np.any(s.camera.D)
    # multiples of 90° are exact 0/±1 entries
    np.testing.assert_array_equal(truth.T_base_sensor("camera_right")[:3, :3], [[-1, 0, 0], [0, 0, -1], [0, -1, 0]])
    np.testing.assert_array_equal(truth.T_base_sensor("camera_rear")[:3, :3], [[0, 0, -1], [1, 0, 0], [0, -1, 0]])


def test_tf_static_has_body_and_optical_frames(log) -> None:
    out, truth = log
    tf = read_topics(out.bags["bag"], ["/tf_static"])["/tf_static"][0][1]
    edges = {}
    for e in tf.transforms:  # type: ignore[attr-defined]
        T = np.eye(4)
        q, p = e.transform.rotation, e.transform.translation
        T[:3, :3] = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()
        T[:3, 3] = [p.x, p.y, p.z]
        edges[e.child_frame_id] = (e.header.frame_id, T)
    for name, (_, yaw_deg, t) in EXTRA.items():
        parent, T_body = edges[name]
        assert parent == "base_link" and edges[f"{name}_optical"][0] == name
        np.testing.assert_allclose(T_body[:3, :3], Rotation.from_euler("z", yaw_deg, degrees=True).as_matrix(),
                                   atol=1e-12)
        np.testing.assert_allclose(T_body[:3, 3], t, atol=1e-12)
        np.testing.assert_allclose(T_body @ edges[f"{name}_optical"][1], truth.T_base_sensor(name), atol=1e-12)


def test_follower_only_with_rear_camera_and_stays_in_view() -> None:
    """camera_rear adds a follower 15 m behind; it stays in the rear view and clear of the ego for 20 s."""
    cfg = SynthConfig(duration_s=20.0)
    traj = AnalyticTrajectory(TrajectoryParams.make(cfg.start_time_ns, 10.0, 30.0, np.random.default_rng([0, 2])))
    base = make_world(cfg.start_time_ns, 20.0, 10.0, 12, 4, np.random.default_rng([0, 1]))
    world = add_follower(base, 10.0, np.random.default_rng([0, 6]))
    assert world.n_boxes == base.n_boxes + 1 and world.n_static == base.n_static
    np.testing.assert_array_equal(world.centers[:-1], base.centers)
    times = cfg.start_time_ns + np.arange(0, 20_000_000_000, 50_000_000, dtype=np.int64)
    T_wc = traj.matrices(times) @ rigdef.sensors(4)["camera_rear"].T_base_sensor
    c = world.centers_at(times)[:, -1]
    pc = np.einsum("tji,tj->ti", T_wc[:, :3, :3], c - T_wc[:, :3, 3])
    assert np.all(pc[:, 2] > 9.0) and np.all(np.abs(pc[:, 0] / pc[:, 2]) < 80.0 / 125.0 * 0.6)
    all_c = world.centers_at(times)
    gap = np.linalg.norm(all_c[:, :-1, :2] - all_c[:, -1:, :2], axis=-1)
    assert gap.min() > 5.0  # far from every other box (sizes ≤ 5 m)


def test_defaults_unchanged_and_streams_separate(tmp_path) -> None:
    assert rigdef.topic_types(0) == rigdef.TOPIC_TYPES and list(rigdef.sensors(0)) == list(rigdef.SENSORS)
    assert rigdef.static_transforms(0) is not None and len(rigdef.static_transforms(0)) == 7
    d = SynthConfig.tiny().to_dict()
    assert "extra_cameras" not in d and "extra_camera_rate_hz" not in d  # default truth.json unchanged
    cfg4 = SynthConfig.tiny(extra_cameras=4, extra_camera_rate_hz=10.0)
    assert SynthConfig.from_dict(cfg4.to_dict()) == cfg4
    a, b = build_schedule(SynthConfig.tiny()), build_schedule(SynthConfig.tiny(extra_cameras=4))
    assert list(a) == BASE_TOPICS and list(b)[: len(BASE_TOPICS)] == BASE_TOPICS and len(b) == len(a) + 8
    for topic in BASE_TOPICS:
        np.testing.assert_array_equal(a[topic].record_time_ns, b[topic].record_time_ns)
    # one extra camera (no follower): every base message identical to the default log
    d0 = generate(SynthConfig.tiny(), tmp_path / "d0", formats=("mcap",))
    d1 = generate(SynthConfig.tiny(extra_cameras=1), tmp_path / "d1", formats=("mcap",))

    def raw(path: Path) -> list[tuple[str, int, bytes]]:
        with AnyReader([path]) as reader:
            return [(c.topic, ts, bytes(data)) for c, ts, data in reader.messages() if c.topic != "/tf_static"]

    r0, r1 = raw(d0.bags["mcap"]), raw(d1.bags["mcap"])
    assert r0 == [m for m in r1 if m[0] in BASE_TOPICS]
    assert {m[0] for m in r1} - set(BASE_TOPICS) == {"/camera/right/image/compressed", "/camera/right/camera_info"}


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="extra_cameras"):
        SynthConfig(extra_cameras=5)
    with pytest.raises(ConfigError, match="extra_camera_rate_hz"):
        SynthConfig(extra_cameras=1, extra_camera_rate_hz=0.0)
    with pytest.raises(ConfigError, match="clock_offsets_ns"):
        SynthConfig(extra_cameras=1, clock_offsets_ns={"camera_rear": 1})
    assert SynthConfig(extra_cameras=2, clock_offsets_ns={"camera_rear": 1}).offset_ns("camera_rear") == 1


def test_cli_extra_cameras(tmp_path) -> None:
    from fusion.cli.synth import synth

    args = ["-o", str(tmp_path), "--duration", "0.3", "--format", "mcap", "--lidar-beams", "4",
            "--lidar-columns", "32", "--width", "32", "--height", "24", "--extra-cameras", "2",
            "--extra-camera-rate", "10"]
    result = CliRunner().invoke(synth, args)
    assert result.exit_code == 0, result.output
    truth = load_truth(tmp_path)
    assert (truth.config.extra_cameras, truth.config.extra_camera_rate_hz) == (2, 10.0)
    assert truth.counts()["/camera/rear/image/compressed"] == 3 and "/camera/front_left/camera_info" not in truth.topics
