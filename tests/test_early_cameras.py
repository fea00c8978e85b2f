"""Camera payloads written in pass 1 (fusion.pipeline.early): every message accounted for, the
online store/skip decision equal to the plan's, and the fallback to pass 2 where it cannot be."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

import fusion
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.convert import convert
from fusion.store.validate import validate_store

TOPIC = "/cam/image/compressed"
T0 = 1_700_000_000_000_000_000
PERIOD = 50_000_000  # 20 Hz


def _jpeg(i: int) -> bytes:
    img = np.zeros((24, 32, 3), np.uint8)
    img[:, : 1 + i] = (10 * i) % 256  # a different picture per message
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def write_camera_bag(path: Path, stamps: list[int], corrupt: set[int] = frozenset()) -> list[bytes]:  # type: ignore[assignment]
    """One CompressedImage topic; message i recorded at T0 + i*PERIOD + 3 ms with header ``stamps[i]``."""
    ts = get_typestore(Stores.ROS2_HUMBLE)
    Img = ts.types["sensor_msgs/msg/CompressedImage"]
    Header = ts.types["std_msgs/msg/Header"]
    Time = ts.types["builtin_interfaces/msg/Time"]
    payloads = []
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as w:
        conn = w.add_connection(TOPIC, Img.__msgtype__, typestore=ts)
        for i, st in enumerate(stamps):
            data = b"garbage" if i in corrupt else _jpeg(i)
            payloads.append(data)
            msg = Img(header=Header(stamp=Time(sec=st // 10**9, nanosec=st % 10**9), frame_id="cam"), format="jpeg",
                      data=np.frombuffer(data, np.uint8))
            w.write(conn, T0 + i * PERIOD + 3_000_000, ts.serialize_cdr(msg, Img.__msgtype__))
    return payloads


def _stream(store: Path) -> tuple[np.ndarray, np.ndarray, list[bytes]]:
    """(stamp_ns, time_ns, payloads) of the stored camera stream, read with zarr."""
    import zarr

    g = zarr.open_group(store / "streams" / "cam", mode="r")
    data, off = g["data"][...], g["offsets"][...]
    return g["stamp_ns"][...], g["time_ns"][...], [data[off[k] : off[k + 1]].tobytes() for k in range(len(off) - 1)]


def test_zero_duplicate_and_corrupt_messages_are_decided_in_pass_1(tmp_path: Path) -> None:
    n = 20
    stamps = [T0 + i * PERIOD for i in range(n)]
    stamps[3] = 0
    stamps[7] = stamps[6]
    payloads = write_camera_bag(tmp_path / "bag", stamps, corrupt={9})
    store = tmp_path / "s.zarr"
    convert([tmp_path / "bag"], str(store), ConvertConfig())
    assert validate_store(str(store)).ok
    ds = fusion.open(str(store))
    rep = ds.report
    t = rep["topics"][TOPIC]
    assert t["in_bag"] == n and t["stored"] == n - 3
    assert t["skipped"] == {"zero_stamp": 1, "duplicate_stamp": 1, "decode_error": 1}
    reasons = {s["index"]: (s["reason"], s["detail"]) for s in rep["skipped"]}
    assert reasons[3][0] == "zero_stamp"
    assert reasons[7] == ("duplicate_stamp", "same header stamp as message 6")
    assert reasons[9] == ("decode_error", "not a JPEG (no SOI marker)")
    keep = [i for i in range(n) if i not in (3, 7, 9)]
    stamp_ns, time_ns, blobs = _stream(store)
    assert stamp_ns.tolist() == [stamps[i] for i in keep]
    assert time_ns.tolist() == [stamps[i] for i in keep]  # no offset in the rig
    assert blobs == [payloads[i] for i in keep]
    # the frame table (camera reference) points at the right stored rows
    assert len(ds) == n - 2  # every usable stamp is a frame; message 9's frame lacks its image
    for fr in ds:
        if fr.time_ns == stamps[9]:
            assert not fr.valid["cam"] and "cam" not in fr.cameras
            continue
        cam = fr.cameras["cam"]
        assert cam.time_ns == fr.time_ns
        assert bytes(cam.data) == payloads[stamps.index(fr.time_ns)]


def test_a_stream_of_zero_stamps_is_written_again_in_pass_2(tmp_path: Path) -> None:
    """Mostly zero header stamps: the stream is aligned by record time (decided after pass 1),
    so the early write is dropped and pass 2 writes every message with its record time."""
    n = 12
    stamps = [0] * n
    stamps[2] = T0 + 2 * PERIOD
    payloads = write_camera_bag(tmp_path / "bag", stamps)
    store = tmp_path / "s.zarr"
    convert([tmp_path / "bag"], str(store), ConvertConfig())
    assert validate_store(str(store)).ok
    ds = fusion.open(str(store))
    t = ds.report["topics"][TOPIC]
    assert t["stored"] == n and sum(t["skipped"].values()) == 0
    assert any("header stamps are 0" in w for w in ds.report["warnings"])
    stamp_ns, time_ns, blobs = _stream(store)
    assert stamp_ns.tolist() == stamps
    assert time_ns.tolist() == [T0 + i * PERIOD + 3_000_000 for i in range(n)]  # record times
    assert blobs == payloads
    assert len(ds) == n
