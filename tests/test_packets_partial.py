"""Partial sweeps of raw-packet LiDARs: nothing skipped, nothing lost, the log's last rotation stored.

Every real packet bag in ``../shared/data/real/lidar_packets`` converted: a message that completes no
rotation is ``carried_over`` (stored in the sweep a later message completes), never skipped, so
``stored + skipped == in_bag`` with 0 skipped; the rotation the log ends in is stored as one more
row (``trailing_rows``) flagged in ``partial_sweeps`` with the first; every point the packet kernel
emits is stored once (checked against an independent kernel-only pass over the same packets).
A second log whose last message completes no rotation stores that rotation as its own record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from packets_common import CASES, options
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

import fusion
from fusion.lidar_packets.payload import split_packets
from fusion.lidar_packets.topic import make_decoder
from fusion.pipeline.config import load_config
from fusion.pipeline.convert import convert
from fusion.readers import open_bags
from fusion.readers.typesys import BUNDLED_MSG_DIR, types_from_msg_dirs
from fusion.store.validate import validate_store

pytestmark = [pytest.mark.shared, pytest.mark.slow]

#: case -> (messages, carried over): measured on the real bags (the nebula logs cut scans by packet
#: order, fusion by each channel's azimuth, so a log may start with a message that ends no rotation)
EXPECTED = {"velodyne/vlp16": (4, 0), "velodyne/vls128": (4, 1), "hesai/40p": (4, 1), "hesai/64": (4, 1),
            "hesai/qt128": (2, 0), "hesai/xt32": (4, 0)}


def _bag(root: Path, case: str) -> Path:
    return next(p for p in (root / case).iterdir() if p.is_dir())


def _convert(bag: Path, root: Path, case: str, tmp: Path, extra: str = "") -> Any:
    opts = options(root, case)
    (tmp / "sensors.yaml").write_text(
        f"sensors:\n  lidar:\n    topic: {_topic(bag)}\n    kind: lidar\n    packets:\n"
        f"      calibration: {opts.calibration}\n      min_range_m: {opts.min_range_m}\n"
        f"      max_range_m: {opts.max_range_m}\n")
    (tmp / "fusion.yaml").write_text("sensors: sensors.yaml\n" + extra)
    out = tmp / "out.zarr"
    convert([bag], str(out), load_config(tmp / "fusion.yaml"))
    return out


def _topic(bag: Path) -> str:
    with open_bags(bag) as src:
        return next(t for t, i in src.topics.items() if i.kind == "lidar")


def _kernel_points(bag: Path, root: Path, case: str) -> int:
    """Points the packet kernel emits for every message (no sweep assembly): what must be stored."""
    dec = None
    total = 0
    with open_bags(bag) as src:
        for raw in src.messages([_topic(bag)]):
            batch = split_packets(raw.data, raw.msgtype, ros1=raw.ros1)
            dec = dec or make_decoder(raw.msgtype, options(root, case), batch, raw.topic)
            total += len(dec.decode(batch))
    return total


@pytest.mark.parametrize("case", sorted(CASES))
def test_nothing_skipped_nothing_lost(shared_data: Path, tmp_path: Path, case: str) -> None:
    root = shared_data / "real" / "lidar_packets"
    bag = _bag(root, case)
    out = _convert(bag, root, case, tmp_path)
    assert validate_store(str(out)).ok
    ds = fusion.open(str(out))
    topic = _topic(bag)
    rep = ds.report["topics"][topic]
    n_msgs, carried = EXPECTED[case]
    assert rep["in_bag"] == n_msgs
    assert rep["stored"] + sum(rep["skipped"].values()) == rep["in_bag"]
    assert rep["skipped"] == {}  # a message that ends no rotation is not skipped
    assert rep.get("carried_over", 0) == carried
    pk = ds.report["lidar_packets"][topic]
    assert pk["carried_over_messages"] == carried
    stream = ds.stream("lidar")
    trailing = rep.get("trailing_rows", 0)
    assert trailing == 1  # every one of these logs ends mid-rotation after its last message completed one
    assert len(stream) == n_msgs - carried + trailing
    # first (data starts mid-rotation) and last (log ends) rows are flagged
    assert ds.state.streams["lidar"].attrs["partial_sweeps"] == [0, len(stream) - 1]
    lp = pk["last_partial_sweep"]
    assert lp["row"] == "trailing" and lp["points"] == len(stream[len(stream) - 1])
    stored_points = sum(len(stream[i]) for i in range(len(stream)))
    emitted = _kernel_points(bag, root, case)
    assert stored_points == emitted - pk["points_before_first_cut_dropped"]  # every point stored once
    # a last sweep shorter than half a rotation (VLP-16 40 points, XT32 187, QT128 2005) is stored but
    # makes no frame; a full one (40P, 64, VLS-128: ≈ 101 ms) does
    assert len(ds) == len(stream) - (1 if lp["span_ms"] < 50 else 0)
    t = stream[len(stream) - 1].time_ns  # the trailing row's points come after the previous row's
    assert t.min() >= stream[len(stream) - 2].time_ns.min()


def _cut_last(root: Path, case: str, tmp: Path) -> Path:
    """The case's bag with the second half of its last message's packets left out: the recording
    stops mid-rotation."""
    src_bag = _bag(root, case)
    ts = get_typestore(Stores.LATEST)
    ts.register(types_from_msg_dirs([BUNDLED_MSG_DIR / f"{CASES[case][0]}_msgs"]))
    topic = _topic(src_bag)
    with open_bags(src_bag) as src:
        raws = list(src.messages([topic]))
    msgtype = raws[0].msgtype
    last = ts.deserialize_cdr(raws[-1].data, msgtype)
    head = type(last)(header=last.header, packets=last.packets[: len(last.packets) // 2])
    out = tmp / "cut"
    with Writer(out, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        conn = w.add_connection(topic, msgtype, typestore=ts)
        for r in raws[:-1]:
            w.write(conn, r.record_time_ns, bytes(r.data))
        w.write(conn, raws[-1].record_time_ns, ts.serialize_cdr(head, msgtype))
    return out


def test_log_ending_mid_rotation_stores_the_partial(shared_data: Path, tmp_path: Path) -> None:
    """VLP-16 with its last message cut in half: that message completes no rotation, so its record is
    the half rotation the log ends in (flagged), no trailing row, nothing skipped or carried."""
    root = shared_data / "real" / "lidar_packets"
    case = "velodyne/vlp16"
    (tmp_path / "orig").mkdir()
    ref = fusion.open(str(_convert(_bag(root, case), root, case, tmp_path / "orig"))).stream("lidar")
    out = _convert(_cut_last(root, case, tmp_path), root, case, tmp_path)
    assert validate_store(str(out)).ok
    ds = fusion.open(str(out))
    rep = next(iter(ds.report["topics"].values()))
    assert rep["in_bag"] == 4 and rep["stored"] == 4 and rep["skipped"] == {}
    assert "trailing_rows" not in rep and "carried_over" not in rep
    stream = ds.stream("lidar")
    assert len(stream) == 4
    assert ds.state.streams["lidar"].attrs["partial_sweeps"] == [0, 3]
    lp = next(iter(ds.report["lidar_packets"].values()))["last_partial_sweep"]
    assert lp["row"] == "last message" and lp["points"] == len(stream[3])
    n = len(stream[3])
    assert 0.4 < n / len(ref[3]) < 0.6  # half the packets: about half a rotation (measured 0.50)
    # the half rotation is the start of the original log's last sweep, point for point
    np.testing.assert_array_equal(stream[3].time_ns, ref[3].time_ns[:n])
    for i in range(3):
        np.testing.assert_array_equal(stream[i].time_ns, ref[i].time_ns)


@pytest.mark.parametrize("case", ["hesai/40p", "velodyne/vlp16"])
def test_without_spool_the_same_store(shared_data: Path, tmp_path: Path, case: str) -> None:
    """Pass 2 reading the bag again (no spool) stores the same rows, carried messages and trailing row."""
    root = shared_data / "real" / "lidar_packets"
    bag = _bag(root, case)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = fusion.open(str(_convert(bag, root, case, tmp_path / "a")))
    b = fusion.open(str(_convert(bag, root, case, tmp_path / "b", "store:\n  spool: false\n")))
    assert b.report["spool"]["used"] is False
    topic = _topic(bag)
    assert a.report["topics"][topic] == b.report["topics"][topic]
    sa, sb = a.stream("lidar"), b.stream("lidar")
    assert len(sa) == len(sb) == EXPECTED[case][0] - EXPECTED[case][1] + 1
    assert a.state.streams["lidar"].attrs["partial_sweeps"] == b.state.streams["lidar"].attrs["partial_sweeps"]
    for i in range(len(sa)):
        np.testing.assert_array_equal(sa[i].xyz, sb[i].xyz)
        np.testing.assert_array_equal(sa[i].time_ns, sb[i].time_ns)
    assert len(a) == len(b)  # the trailing row makes a frame in both


def _garbled_end(root: Path, case: str, tmp: Path, keep: float) -> Path:
    """The case's messages but the last, then the first ``keep`` of the last one's packets, then a
    garbled message (its bytes hold no packets) that ends the log."""
    src_bag = _bag(root, case)
    ts = get_typestore(Stores.LATEST)
    ts.register(types_from_msg_dirs([BUNDLED_MSG_DIR / f"{CASES[case][0]}_msgs"]))
    topic = _topic(src_bag)
    with open_bags(src_bag) as src:
        raws = list(src.messages([topic]))
    msgtype = raws[0].msgtype
    last = ts.deserialize_cdr(raws[-1].data, msgtype)
    head = type(last)(header=last.header, packets=last.packets[: max(1, int(len(last.packets) * keep))])
    out = tmp / "garbled"
    with Writer(out, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        conn = w.add_connection(topic, msgtype, typestore=ts)
        for r in raws[:-1]:
            w.write(conn, r.record_time_ns, bytes(r.data))
        w.write(conn, raws[-1].record_time_ns, ts.serialize_cdr(head, msgtype))
        h = last.header
        later = type(h)(stamp=type(h.stamp)(sec=h.stamp.sec + 1, nanosec=h.stamp.nanosec), frame_id=h.frame_id)
        cut = ts.serialize_cdr(type(last)(header=later, packets=last.packets[:10]), msgtype)
        w.write(conn, raws[-1].record_time_ns + 50_000_000, bytes(cut[:-500]))  # its bytes stop mid-packet
    return out


@pytest.mark.parametrize("store_cfg", ["", "store:\n  spool: false\n"])
def test_unfinished_rotation_is_skipped_as_partial_sweep(shared_data: Path, tmp_path: Path, store_cfg: str) -> None:
    """A carried-over message whose rotation the log never completes (the last message is garbled,
    so nothing flushes it) is skipped with reason ``partial_sweep``, not counted as stored."""
    root = shared_data / "real" / "lidar_packets"
    bag = _garbled_end(root, "velodyne/vlp16", tmp_path, 0.5)
    out = _convert(bag, root, "velodyne/vlp16", tmp_path, store_cfg)
    assert validate_store(str(out)).ok
    ds = fusion.open(str(out))
    rep = next(iter(ds.report["topics"].values()))
    assert rep["in_bag"] == 5
    assert rep["skipped"] == {"decode_error": 1, "partial_sweep": 1}
    assert rep["stored"] == 3 and "carried_over" not in rep and "trailing_rows" not in rep
    assert rep["stored"] + sum(rep["skipped"].values()) == rep["in_bag"]
    assert len(ds.stream("lidar")) == 3
    reasons = {s["index"]: s["reason"] for s in ds.report["skipped"]}
    assert reasons == {3: "partial_sweep", 4: "decode_error"}
