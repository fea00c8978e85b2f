"""Property tests: random or damaged packet bytes never crash the parsers or kernels.

Garbled packets are counted as bad and skipped; truncated messages raise one DecodeError-like
error naming what is wrong; no decoded point is ever at the origin or non-finite.
"""

from __future__ import annotations

import contextlib
import itertools
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.lidar_packets.calibration import HesaiCalibration, velodyne_from_angles
from fusion.lidar_packets.hesai import AT128Decoder, HesaiDecoder
from fusion.lidar_packets.hesai_correction import AT128Correction
from fusion.lidar_packets.hesai_models import MODELS
from fusion.lidar_packets.payload import PacketBatch, PacketPayloadError, split_packets
from fusion.lidar_packets.sweep import SweepAssembler
from fusion.lidar_packets.velodyne import MODELS as VMODELS
from fusion.lidar_packets.velodyne import VelodyneDecoder, default_calibration

SCAN_TYPES = ["velodyne_msgs/msg/VelodyneScan", "pandar_msgs/msg/PandarScan"]


def _cdr_scan(packets: list[bytes], dlen: int, with_size: bool, frame: bytes = b"lidar") -> bytes:
    """A CDR ``*Scan`` message written by hand (encapsulation, header, packet sequence)."""
    out = bytearray(b"\x00\x01\x00\x00")
    out += struct.pack("<iI", 12, 34) + struct.pack("<I", len(frame) + 1) + frame + b"\x00"
    while (len(out) - 4) % 4:
        out += b"\x00"
    out += struct.pack("<I", len(packets))
    for p in packets:
        while (len(out) - 4) % 4:
            out += b"\x00"
        out += struct.pack("<iI", 1, 2) + p.ljust(dlen, b"\x00")[:dlen]
        if with_size:
            while (len(out) - 4) % 4:
                out += b"\x00"
            out += struct.pack("<I", len(p))
    return bytes(out)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4000), st.sampled_from(SCAN_TYPES), st.booleans())
def test_random_messages_never_crash(data: bytes, msgtype: str, ros1: bool) -> None:
    try:
        batch = split_packets(data, msgtype, ros1=ros1)
    except PacketPayloadError as exc:
        assert msgtype in str(exc)
        return
    assert batch.data.shape[0] == batch.size.size == batch.stamp_ns.size


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=1500), max_size=4), st.integers(0, 3000))
def test_truncated_messages_are_named(packets: list[bytes], cut: int) -> None:
    full = _cdr_scan(packets, 1500, True)
    batch = split_packets(full, SCAN_TYPES[1], ros1=False)
    assert batch.data.shape == (len(packets), 1500) and batch.frame_id == "lidar"
    assert batch.size.tolist() == [min(len(p), 1500) for p in packets]
    if cut < len(full) and packets:
        with pytest.raises(PacketPayloadError):
            split_packets(full[: len(full) - 1 - cut % len(full)], SCAN_TYPES[1], ros1=False)


def _check(pts_xyz: np.ndarray) -> None:
    assert np.isfinite(pts_xyz).all()
    if len(pts_xyz):
        assert np.linalg.norm(pts_xyz, axis=1).min() > 0.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=1206, max_size=1206), min_size=1, max_size=6), st.sampled_from(list(VMODELS)))
def test_velodyne_garbage_packets(packets: list[bytes], model: str) -> None:
    m = VMODELS[model]
    cal = default_calibration(m) or velodyne_from_angles([float(i % 40 - 20) for i in range(m.n_lasers)])
    dec = VelodyneDecoder(m, cal)
    data = np.frombuffer(b"".join(packets), np.uint8).reshape(len(packets), 1206)
    batch = PacketBatch(data, np.full(len(packets), 1206, np.int64), np.arange(len(packets), dtype=np.int64), 0, "")
    asm = SweepAssembler(dec)
    sweeps = asm.feed(batch) + asm.flush()
    for s in sweeps:
        _check(s.points.xyz)
    assert dec.counters[0] + dec.counters[1] == len(packets)  # every packet decoded or counted bad


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=1500), min_size=1, max_size=6), st.sampled_from(list(MODELS)),
       st.booleans())
def test_hesai_garbage_packets(packets: list[bytes], model: str, valid_header: bool) -> None:
    m = MODELS[model]
    dec: HesaiDecoder | AT128Decoder
    if m.angle_model == "at128":  # three 120° mirror frames, flat channel angles
        u = 120 * 25600
        z = np.zeros(m.n_channels, np.int64)
        dec = AT128Decoder(m, AT128Correction(np.array([0, u, 2 * u]), np.array([u, 2 * u, 0]), z, z,
                                              np.zeros((m.n_channels, 181), np.int64),
                                              np.zeros((m.n_channels, 181), np.int64)))
    else:
        cal = HesaiCalibration(np.linspace(-0.3, 0.3, m.n_channels).astype(np.float32),
                               np.zeros(m.n_channels, np.float32))
        dec = HesaiDecoder(m, cal)
    data = np.zeros((len(packets), 1500), np.uint8)
    for i, p in enumerate(packets):
        data[i, : len(p)] = np.frombuffer(p, np.uint8)
        if valid_header and len(p) >= m.min_packet_size:  # a plausible header reaches the block loop
            data[i, :2] = (0xFF, 0xEE) if m.header_len == 0 else (0xEE, 0xFF)
            data[i, m.tail_offset + m.return_mode_at] = 0x37
    sizes = np.array([len(p) for p in packets], np.int64)
    batch = PacketBatch(data, sizes, np.zeros(len(packets), np.int64), 0, "")
    asm = SweepAssembler(dec)
    for s in asm.feed(batch) + asm.flush():
        _check(s.points.xyz)
    assert dec.counters[0] + dec.counters[1] == len(packets)


@pytest.fixture(scope="module")
def xt32_packets() -> tuple[PacketBatch, HesaiDecoder]:
    from conftest import shared_data_path

    from fusion.lidar_packets.calibration import load_hesai_csv
    from fusion.readers import open_bags

    root = shared_data_path() / "real" / "lidar_packets"
    bag = next((root / "hesai/xt32").glob("1*/"))
    with open_bags(bag) as src:
        parts = [split_packets(bytes(r.data), r.msgtype, ros1=r.ros1) for r in src.messages()]
    batch = PacketBatch(np.concatenate([p.data for p in parts]), np.concatenate([p.size for p in parts]),
                        np.concatenate([p.stamp_ns for p in parts]), 0, "")
    dec = HesaiDecoder(MODELS["PandarXT32"], load_hesai_csv(root / "calibration/hesai/PandarXT32.csv"),
                       min_range_m=0.05, max_range_m=120)
    return batch, dec


def _sweeps(batch: PacketBatch, dec: HesaiDecoder, cuts: list[int]) -> dict[int, np.ndarray]:
    dec.reset()
    asm = SweepAssembler(dec)
    out = {}
    bounds = [0, *sorted(set(cuts)), batch.data.shape[0]]
    for a, b in itertools.pairwise(bounds):
        part = PacketBatch(batch.data[a:b], batch.size[a:b], batch.stamp_ns[a:b], 0, "")
        for s in asm.feed(part):
            out[s.sweep_id] = np.sort(s.points.time_ns)
    return out


@pytest.mark.shared
@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 1999), max_size=12))
def test_sweeps_do_not_depend_on_message_boundaries(xt32_packets: tuple[PacketBatch, HesaiDecoder],
                                                    cuts: list[int]) -> None:
    """The same packets split into messages anywhere give the same complete sweeps (real XT32 packets)."""
    batch, dec = xt32_packets
    whole = _sweeps(batch, dec, [500, 1000, 1500])  # the recorded messages: 500 packets each
    split = _sweeps(batch, dec, cuts)
    assert set(split) == set(whole)
    for k, t in whole.items():
        np.testing.assert_array_equal(split[k], t)


@pytest.mark.shared
def test_ros1_bag_with_variable_length_packets(xt32_packets: tuple[PacketBatch, HesaiDecoder], tmp_path: Path) -> None:
    """A ROS 1 bag whose ``PandarPacket`` is defined with ``uint8[] data`` (the ROS 1 drivers' definition,
    embedded in the bag): packets are read by the log's own layout and decode to the same sweeps as
    the fixed-length CDR messages (real XT32 packets re-written)."""
    from rosbags.rosbag1 import Writer as Writer1
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    from fusion.lidar_packets.options import PacketOptions
    from fusion.lidar_packets.topic import NoSweepYetError
    from fusion.readers import open_bags
    from fusion.readers.source import DecodeOptions

    batch, dec = xt32_packets
    ts = get_typestore(Stores.ROS1_NOETIC)
    ts.register(get_types_from_msg("time stamp\nuint8[] data\nuint32 size", "pandar_msgs/msg/PandarPacket"))
    ts.register(get_types_from_msg("std_msgs/Header header\npandar_msgs/PandarPacket[] packets",
                                   "pandar_msgs/msg/PandarScan"))
    m = ts.types
    path = tmp_path / "xt32.bag"
    t0 = 1_673_400_677_802_009_732
    with Writer1(path) as w:
        conn = w.add_connection("/pandar_packets", "pandar_msgs/msg/PandarScan", typestore=ts)
        for i in range(4):
            pkts = []
            for j in range(500 * i, 500 * (i + 1)):
                s = int(batch.stamp_ns[j])
                pkts.append(m["pandar_msgs/msg/PandarPacket"](
                    m["builtin_interfaces/msg/Time"](s // 10**9, s % 10**9), batch.data[j, : batch.size[j]].copy(),
                    int(batch.size[j])))
            hdr = m["std_msgs/msg/Header"](i, m["builtin_interfaces/msg/Time"](0, 0), "hesai")
            msg = m["pandar_msgs/msg/PandarScan"](hdr, pkts)
            w.write(conn, t0 + i * 100_000_000, ts.serialize_ros1(msg, "pandar_msgs/msg/PandarScan"))
    cal = shared_root() / "calibration/hesai/PandarXT32.csv"
    opts = DecodeOptions(kind="lidar", packets=PacketOptions(calibration=str(cal), min_range_m=0.05, max_range_m=120))
    got = {}
    with open_bags(path) as src:
        assert src.decoder.packet_layouts["pandar_msgs/msg/PandarScan"] == (None, True)
        for raw in src.messages():
            with contextlib.suppress(NoSweepYetError):
                rec = src.decode(raw, options=opts)
                got[raw.index] = np.sort(rec.point_time_ns)
    whole = _sweeps(batch, dec, [500, 1000, 1500])
    assert len(got) == len(whole) == 4
    for (_i, t), (_k, ref) in zip(sorted(got.items()), sorted(whole.items()), strict=True):
        np.testing.assert_array_equal(t, ref)


def shared_root() -> Path:
    from conftest import shared_data_path

    return shared_data_path() / "real" / "lidar_packets"
