"""Deliberate faults appear in the bags exactly as the truth records them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from rosbags.highlevel import AnyReader

from fusion.errors import ConfigError
from fusion.testing.synth import Faults, SynthConfig, generate, load_truth

FAULTS = Faults(drop_rate=0.1, duplicate_count=2, zero_stamp_count=2, out_of_order_count=2, corrupt_count=2,
                gap=(0.4, 0.2))
GAP_TOPICS = ("/odom", "/imu/data", "/tf")


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    cfg = SynthConfig(duration_s=1.5, seed=7, lidar_beams=8, lidar_columns=128, image_width=64, image_height=48,
                      faults=FAULTS, n_static_boxes=4, n_moving_objects=2)
    out = generate(cfg, tmp_path_factory.mktemp("synth_faults"))
    return out, load_truth(out.truth_path)


def raw_messages(path):
    """topic -> [(record_ns, raw bytes, msgtype, deserialized or None)]."""
    out: dict[str, list] = {}
    with AnyReader([path]) as reader:
        for c, ts, raw in reader.messages():
            try:
                msg = reader.deserialize(raw, c.msgtype)
            except Exception:
                msg = None
            out.setdefault(c.topic, []).append((ts, bytes(raw), c.msgtype, msg))
    return out


def header_stamp(msg) -> int:
    h = msg.transforms[0].header if hasattr(msg, "transforms") else msg.header
    return h.stamp.sec * 1_000_000_000 + h.stamp.nanosec


def decodes(msgtype: str, msg) -> bool:
    """True when the message deserialized and its payload is consistent (what a reader checks)."""
    if msg is None:
        return False
    if msgtype == "sensor_msgs/msg/PointCloud2":
        return msg.data.size == msg.width * msg.height * msg.point_step
    if msgtype == "sensor_msgs/msg/Image":
        return msg.data.size == msg.height * msg.step
    if msgtype == "sensor_msgs/msg/CompressedImage":
        return cv2.imdecode(msg.data, cv2.IMREAD_COLOR) is not None
    return True


@pytest.mark.parametrize("fmt", ["bag", "db3", "mcap"])
def test_faults_in_bag_match_truth(log, fmt: str) -> None:
    out, truth = log
    msgs = raw_messages(out.bags[fmt])
    for topic, rows in msgs.items():
        table = truth.messages(topic)
        assert len(rows) == len(table) == truth.counts()[topic]
        np.testing.assert_array_equal([r[0] for r in rows], table.record_time_ns)
        for i, (_, raw, msgtype, msg) in enumerate(rows):
            kind = table.fault[i]
            ok = decodes(msgtype, msg)
            assert ok == (kind != "corrupt"), (topic, i, kind)
            if ok:
                assert header_stamp(msg) == table.stamp_ns[i]
            if kind == "zero_stamp":
                assert header_stamp(msg) == 0
            if kind == "duplicate":
                assert table.seq[i] == table.seq[i - 1] and raw == rows[i - 1][1]
            if kind == "out_of_order":
                # recorded before its predecessor (the previous written message of the topic)
                written_before = np.sort(table.seq[table.seq < table.seq[i]])
                assert table.seq[i + 1] == written_before[-1]
                assert table.true_time_ns[i + 1] < table.true_time_ns[i]
                assert np.all(table.seq[: i] < table.seq[i + 1])


def test_fault_counts_per_topic(log) -> None:
    _, truth = log
    events = truth.faults()
    for topic in truth.topics:
        full = truth.messages(topic, include_unwritten=True)
        kinds = list(full.fault)
        if topic == "/tf_static":
            assert kinds == [""]
            continue
        n_gap = kinds.count("gap")
        n_present = len([k for k in kinds if k != "gap" and k != "duplicate"])
        assert kinds.count("drop") == round(0.1 * n_present)
        assert kinds.count("duplicate") == 2 and kinds.count("zero_stamp") == 2
        assert kinds.count("out_of_order") == 2 and kinds.count("corrupt") == 2
        unwritten = full.index < 0
        assert set(full.fault[unwritten]) <= {"drop", "gap"}
        assert np.all(full.index[~unwritten] == np.arange(int((~unwritten).sum())))
        if topic in GAP_TOPICS:
            t0 = truth.config.start_time_ns
            in_gap = (full.true_time_ns >= t0 + 400_000_000) & (full.true_time_ns < t0 + 600_000_000)
            np.testing.assert_array_equal(full.fault == "gap", in_gap)
            assert n_gap == in_gap.sum() > 0
            written = truth.messages(topic)
            assert not np.any((written.true_time_ns >= t0 + 400_000_000) & (written.true_time_ns < t0 + 600_000_000))
        else:
            assert n_gap == 0
    assert {e["kind"] for e in events} == {"drop", "duplicate", "zero_stamp", "out_of_order", "corrupt", "gap"}


def test_dropped_sweeps_still_have_truth(log) -> None:
    _, truth = log
    full = truth.messages("/lidar/points", include_unwritten=True)
    assert truth.n_lidar_scans == 15
    for seq in full.seq[full.fault == "drop"]:
        assert truth.lidar_scan(int(seq)).world_xyz.shape[0] > 0


def test_too_many_faults_is_a_config_error(tmp_path) -> None:
    cfg = SynthConfig(duration_s=0.2, lidar_beams=4, lidar_columns=32, image_width=32, image_height=24,
                      faults=Faults(corrupt_count=5, topics=("/lidar/points",)))
    with pytest.raises(ConfigError, match="corrupt_count"):
        generate(cfg, tmp_path, formats=("mcap",))
    with pytest.raises(ConfigError, match="drop_rate"):
        Faults(drop_rate=1.0)
