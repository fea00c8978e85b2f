"""Test helper: rosbags of ``ouster_ros/PacketMsg`` written from the real Ouster pcap in ../shared/data.

The pcap holds one frame (64 lidar packets, 10 IMU packets). :func:`write_packet_bag` writes it
``sweeps`` times: repeat ``k`` is the same packets with the frame id + k and every column
timestamp + k·100 ms (set through the SDK's packet format; IMU packets: their timestamps + k·100 ms),
record times + k·100 ms, so a log of several real sweeps exists. The metadata JSON goes on
``<ns>/metadata`` (``std_msgs/String``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

REPO = Path(__file__).resolve().parents[1]
OUSTER_DIR = REPO.parent / "shared" / "data" / "real" / "lidar_packets" / "ouster"
OUSTER_PCAP = OUSTER_DIR / "OS-0-128-U1_v2.3.0_1024x10.pcap"
OUSTER_JSON = OUSTER_DIR / "OS-0-128-U1_v2.3.0_1024x10.json"
OUSTER_DIGEST = OUSTER_DIR / "OS-0-128-U1_v2.3.0_1024x10_digest.json"
PACKET_MSG = REPO / "fusion" / "readers" / "msgs" / "ouster_ros" / "PacketMsg.msg"
PERIOD_NS = 100_000_000


def pcap_packets() -> tuple[str, list[tuple[str, int, np.ndarray]]]:
    """(metadata JSON, [(``lidar``/``imu``, host time ns, packet bytes)]) of the pcap, read by the SDK."""
    import ouster.sdk.core as core
    import ouster.sdk.pcap as pcap

    meta = OUSTER_JSON.read_text()
    src = pcap.PcapPacketSource(str(OUSTER_PCAP), meta=[str(OUSTER_JSON)])
    out = [("lidar" if isinstance(p, core.LidarPacket) else "imu", int(p.host_timestamp), np.array(p.buf, np.uint8))
           for _i, p in src]
    return meta, out


def shifted(meta: str, buf: np.ndarray, k: int) -> np.ndarray:
    """A lidar packet of repeat ``k``: frame id + k, column timestamps + k·100 ms."""
    import ouster.sdk.core as core

    info = core.SensorInfo(meta)
    pf = core.PacketFormat(info)
    pkt = core.LidarPacket(pf)
    pkt.buf[:] = buf
    if k:
        ts = np.asarray(pf.packet_header(core.ColHeader.TIMESTAMP, pkt.buf)).astype(np.int64)
        pf.set_frame_id(pkt, (int(pf.frame_id(pkt.buf)) + k) & 0xFFFF)
        for col, t in enumerate(ts):
            pf.set_col_timestamp(pkt, col, int(t) + k * PERIOD_NS if t else 0)
    return np.array(pkt.buf, np.uint8)


def shifted_imu(buf: np.ndarray, k: int) -> np.ndarray:
    """An IMU packet of repeat ``k``: its three timestamps (legacy IMU profile: sys, accel, gyro as
    little-endian uint64 at bytes 0, 8, 16) + k·100 ms."""
    out = buf.copy()
    ts = out[:24].view("<u8")
    ts += np.uint64(k * PERIOD_NS)
    return out


def typestore(ros1: bool) -> Any:
    store = get_typestore(Stores.ROS1_NOETIC if ros1 else Stores.LATEST)
    store.register(get_types_from_msg(PACKET_MSG.read_text(), "ouster_ros/msg/PacketMsg"))
    return store


def write_packet_bag(path: Path, *, sweeps: int = 1, ros1: bool = True, ns: str = "/ouster",
                     with_metadata: bool = True, decoy_metadata: bool = False,
                     packets_of: tuple[str, list[tuple[str, int, np.ndarray]]] | None = None,
                     extra: Any = None) -> Path:
    """A ROS 1 ``.bag`` (or ROS 2 MCAP directory) of the pcap's packets (or ``packets_of`` = (metadata
    JSON, packets)) repeated ``sweeps`` times; ``extra(store, k, t0)`` gives more ``(topic, msgtype,
    record time ns, message)`` of repeat ``k`` (``t0``: the first packet's record time)."""
    meta, packets = packets_of if packets_of is not None else pcap_packets()
    store = typestore(ros1)
    Packet, String = store.types["ouster_ros/msg/PacketMsg"], store.types["std_msgs/msg/String"]
    ser = store.serialize_ros1 if ros1 else store.serialize_cdr
    if ros1:
        from rosbags.rosbag1 import Writer as Writer1

        writer: Any = Writer1(path)
    else:
        from rosbags.rosbag2 import StoragePlugin
        from rosbags.rosbag2 import Writer as Writer2

        writer = Writer2(path, version=8, storage_plugin=StoragePlugin.MCAP)
    with writer as w:
        lidar = w.add_connection(f"{ns}/lidar_packets", "ouster_ros/msg/PacketMsg", typestore=store)
        imu = w.add_connection(f"{ns}/imu_packets", "ouster_ros/msg/PacketMsg", typestore=store)
        t0 = packets[0][1]
        if decoy_metadata:  # another sensor's metadata topic, first in name order
            decoy = w.add_connection("/a/metadata", "std_msgs/msg/String", typestore=store)
            w.write(decoy, t0 - 2_000_000, ser(String("{not this sensor}"), "std_msgs/msg/String"))
        if with_metadata:
            mconn = w.add_connection(f"{ns}/metadata", "std_msgs/msg/String", typestore=store)
            w.write(mconn, t0 - 1_000_000, ser(String(meta), "std_msgs/msg/String"))
        conns: dict[str, Any] = {}
        for k in range(sweeps):
            out = []
            for what, t, buf in packets:
                data = shifted(meta, buf, k) if what == "lidar" else shifted_imu(buf, k)
                out.append((lidar if what == "lidar" else imu, t + k * PERIOD_NS,
                            ser(Packet(data), "ouster_ros/msg/PacketMsg")))
            for topic, msgtype, t, msg in (extra(store, k, t0) if extra is not None else ()):
                if topic not in conns:
                    conns[topic] = w.add_connection(topic, msgtype, typestore=store)
                out.append((conns[topic], t, ser(msg, msgtype)))
            for conn, t, data in sorted(out, key=lambda m: m[1]):
                w.write(conn, t, data)
    return path
