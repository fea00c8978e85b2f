"""An independent encoder of Pandar128E3X / OT128 and AT128E2X packets for the decoder tests.

Written from the published packet layouts with ``struct``/numpy only (no fusion code): the tests
encode known ranges at known firing angles, decode them with fusion and compare. Also writes the
synthetic calibrations (angle CSV, AT128 ``.dat``), the truth geometry and a rosbag2 of
``pandar_msgs/msg/PandarScan`` with rosbags' writer.
"""

from __future__ import annotations

import calendar
import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEG_UNITS = 25600  # AT128 angles: 1/256 of 0.01°


def _ymdhms(secs: int) -> tuple[int, int, int, int, int, int]:
    t = __import__("time").gmtime(secs)
    return t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec


def p128_packet(block_az: list[int], dist: np.ndarray, refl: np.ndarray, *, secs: int, usec: int,
                mode: int = 0x37, dis_unit_mm: int = 4, opstate: int = 2, az_states: int = 0) -> bytes:
    """A Pandar128E3X/OT128 UDP payload (protocol 1.4, 861 bytes).

    Args:
        block_az: 2 block azimuths, 0.01°.
        dist: (2, 128) raw distances (units of ``dis_unit_mm``); refl: (2, 128) reflectivities.
        secs, usec: Packet time (UTC seconds since the epoch, µs within the second).
        mode: Return mode byte; opstate: operational state; az_states: the tail's uint16 of
            2-bit azimuth states (block 0 in the top bits).
    """
    head = struct.pack("<HBBxxBBxBBB", 0xFFEE, 1, 4, 128, 2, dis_unit_mm, 2 if mode >= 0x39 else 1, 0)
    body = b""
    for b in range(2):
        units = np.zeros(128, np.dtype([("d", "<u2"), ("r", "u1")]))
        units["d"], units["r"] = dist[b], refl[b]
        body += struct.pack("<H", block_az[b]) + units.tobytes()
    body += bytes(4)  # body CRC
    fs = bytes(17)  # functional safety
    y, mo, d, h, mi, s = _ymdhms(secs)
    tail = (bytes(9) + struct.pack("<HBBH", az_states, opstate, mode, 600) + bytes([y - 1900, mo, d, h, mi, s])
            + struct.pack("<IB", usec, 0x42) + struct.pack("<I", 0) + bytes(22) + bytes(4))
    pkt = head + body + fs + tail
    assert len(pkt) == 861
    return pkt


def at128_packet(block_az: list[int], dist: np.ndarray, refl: np.ndarray, *, secs: int, usec: int,
                 mode: int = 0x37, dis_unit_mm: int = 4) -> bytes:
    """An AT128E2X UDP payload (protocol 4.3, 1086 bytes): ``block_az`` in 1/25600° (motor)."""
    head = struct.pack("<HBBxxBBxBBB", 0xFFEE, 4, 3, 128, 2, dis_unit_mm, 2 if mode >= 0x39 else 1, 0)
    body = b""
    for b in range(2):
        units = np.zeros(128, np.dtype([("d", "<u2"), ("r", "u1"), ("c", "u1")]))
        units["d"], units["r"] = dist[b], refl[b]
        body += struct.pack("<HB", block_az[b] >> 8, block_az[b] & 0xFF) + units.tobytes()
    body += bytes(4)
    tail = (bytes(6) + b"\x00" + bytes(11) + struct.pack("<HIBB", 200, usec, mode, 0x42)
            + b"\x00" + secs.to_bytes(5, "big") + bytes(8))
    pkt = head + body + tail
    assert len(pkt) == 1086
    return pkt


def write_angle_csv(path: Path, elevation_deg: np.ndarray, azimuth_deg: np.ndarray) -> Path:
    rows = [f"{i + 1},{e:.3f},{a:.3f}" for i, (e, a) in enumerate(zip(elevation_deg, azimuth_deg, strict=True))]
    path.write_text("Laser id,Elevation,Azimuth\n" + "\n".join(rows) + "\n")
    return path


def p128_calibration() -> tuple[np.ndarray, np.ndarray]:
    """Synthetic Pandar128 angles (degrees): elevation +15° … −25°, azimuth offsets in ±3°."""
    el = np.round(np.linspace(15.0, -25.0, 128), 3)
    az = np.round(3.0 * np.sin(np.arange(128) * 0.7), 3)
    return el, az


@dataclass
class AT128Dat:
    """A synthetic AT128 correction (values before ``res`` scaling, as stored in the file)."""

    res: int
    start: np.ndarray  # (3,) uint32
    end: np.ndarray
    azimuth: np.ndarray  # (128,) int32
    elevation: np.ndarray
    az_adj: np.ndarray  # (128, 180) int8
    el_adj: np.ndarray

    def to_bytes(self) -> bytes:
        head = bytes([0xEE, 0xFF, 1, 5, 128, 3, 3, 1, 2, 4, 0, 0, 0, 0, 0, self.res])
        body = (self.start.astype("<u4").tobytes() + self.end.astype("<u4").tobytes()
                + self.azimuth.astype("<i4").tobytes() + self.elevation.astype("<i4").tobytes()
                + self.az_adj.astype("i1").tobytes() + self.el_adj.astype("i1").tobytes())
        return head + body + hashlib.sha256(head + body).digest()

    def frames(self) -> list[tuple[int, int]]:
        return [(int(s) * self.res, int(e) * self.res) for s, e in zip(self.start, self.end, strict=True)]

    def angles(self, a: int) -> tuple[np.ndarray, np.ndarray]:
        """Truth: (azimuth, elevation) in degrees of every channel at motor azimuth ``a`` (1/25600°)."""
        full = 360 * DEG_UNITS
        for s, e in self.frames():
            if (s <= e and s <= a < e) or (s > e and (a >= s or a < e)):
                base = 2 * ((a - s) % full)
                break
        else:
            raise ValueError("motor azimuth in no frame")
        i, rest = divmod(a, 51200)

        def adj(t: np.ndarray) -> np.ndarray:  # linear interpolation, rounded half away from zero, exactly
            t = t.astype(np.int64) * self.res
            num = (51200 - rest) * t[:, i] + rest * t[:, (i + 1) % 180]
            return np.sign(num) * ((2 * np.abs(num) + 51200) // (2 * 51200))

        az = (base - self.azimuth * self.res + 256 * adj(self.az_adj)) % full
        el = self.elevation * self.res + 256 * adj(self.el_adj)
        return az / DEG_UNITS, el / DEG_UNITS


def at128_dat(seed: int = 0) -> AT128Dat:
    """Three mirror frames of 120° from 25°, channel azimuths ±2.4°, elevations +12.9 … −12.5°,
    fine adjustments up to ±0.4° (stored with resolution 2, as the sensors' own files)."""
    rng = np.random.default_rng(seed)
    res = 2
    start = np.array([25, 145, 265]) * DEG_UNITS // res
    end = np.array([145, 265, 25]) * DEG_UNITS // res
    az = np.where(np.arange(128) % 2 == 0, -2.4, 0.65) * DEG_UNITS / res
    el = np.linspace(12.9, -12.5, 128) * DEG_UNITS / res
    az_adj = rng.integers(-20, 21, (128, 180))
    el_adj = rng.integers(-10, 11, (128, 180))
    return AT128Dat(res, start.astype(np.uint32), end.astype(np.uint32), np.round(az).astype(np.int32),
                    np.round(el).astype(np.int32), az_adj.astype(np.int8), el_adj.astype(np.int8))


def xyz(dist_m: np.ndarray, az_deg: np.ndarray, el_deg: np.ndarray) -> np.ndarray:
    """Hesai sensor frame: x = r·cos(el)·sin(az), y = r·cos(el)·cos(az), z = r·sin(el) (float64)."""
    a, e = np.radians(az_deg), np.radians(el_deg)
    return np.stack([dist_m * np.cos(e) * np.sin(a), dist_m * np.cos(e) * np.cos(a), dist_m * np.sin(e)], -1)


def epoch(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> int:
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))


def write_scan_bag(path: Path, messages: list[tuple[int, list[tuple[int, bytes]]]], topic: str = "/pandar_packets",
                   frame_id: str = "hesai") -> Path:
    """A rosbag2 (sqlite3) of ``pandar_msgs/msg/PandarScan``: ``messages`` = [(record ns, [(stamp ns,
    payload)])], each payload zero-padded into ``uint8[1500] data`` with its ``size``."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    ts = get_typestore(Stores.LATEST)
    ts.register(get_types_from_msg("builtin_interfaces/Time stamp\nuint8[1500] data\nuint32 size",
                                   "pandar_msgs/msg/PandarPacket"))
    ts.register(get_types_from_msg("std_msgs/Header header\npandar_msgs/PandarPacket[] packets",
                                   "pandar_msgs/msg/PandarScan"))
    m = ts.types

    def stamp(ns: int):  # type: ignore[no-untyped-def]
        return m["builtin_interfaces/msg/Time"](*divmod(ns, 1_000_000_000))

    with Writer(path, version=8, storage_plugin=StoragePlugin.SQLITE3) as w:
        conn = w.add_connection(topic, "pandar_msgs/msg/PandarScan", typestore=ts)
        for rec_ns, pkts in messages:
            out = []
            for t, data in pkts:
                buf = np.zeros(1500, np.uint8)
                buf[: len(data)] = np.frombuffer(data, np.uint8)
                out.append(m["pandar_msgs/msg/PandarPacket"](stamp(t), buf, len(data)))
            hdr = m["std_msgs/msg/Header"](stamp(pkts[0][0]), frame_id)
            w.write(conn, rec_ns, ts.serialize_cdr(m["pandar_msgs/msg/PandarScan"](hdr, out),
                                                   "pandar_msgs/msg/PandarScan"))
    return path
