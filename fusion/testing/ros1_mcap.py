"""Write ROS 1 MCAP files (profile ``ros1``) with the ``mcap`` package's writer, for tests.

:func:`bag_to_ros1_mcap` re-writes a ROS 1 ``.bag`` as ROS 1 MCAP, message bytes unchanged
(what ``mcap convert`` does); :func:`write_ros1_mcap` writes rosbags message objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mcap.writer import CompressionType, Writer
from rosbags.rosbag1 import Reader as Reader1
from rosbags.typesys.store import Typestore


def ros1_name(msgtype: str) -> str:
    """``pkg/msg/Name`` -> ``pkg/Name`` (the ROS 1 spelling MCAP ``ros1msg`` schemas use)."""
    return msgtype.replace("/msg/", "/")


def bag_to_ros1_mcap(bag: Path, out: Path, *, chunk_size: int = 1 << 20,
                     compression: CompressionType = CompressionType.ZSTD) -> Path:
    """Re-write the ROS 1 bag ``bag`` as a ROS 1 MCAP file ``out`` (same topics, times, bytes).

    Each connection's embedded definition becomes the ``ros1msg`` schema; the record time becomes
    the log time (and publish time).
    """
    with Reader1(bag) as reader, out.open("wb") as f:
        writer = Writer(f, chunk_size=chunk_size, compression=compression)
        writer.start(profile="ros1", library="fusion.testing")
        channels: dict[int, int] = {}
        schemas: dict[tuple[str, str], int] = {}
        for c in reader.connections:
            key = (c.msgtype, c.msgdef.data)
            if key not in schemas:
                schemas[key] = writer.register_schema(ros1_name(c.msgtype), "ros1msg", c.msgdef.data.encode())
            channels[c.id] = writer.register_channel(c.topic, "ros1", schemas[key])
        for seq, (conn, t, data) in enumerate(reader.messages()):
            writer.add_message(channels[conn.id], t, bytes(data), t, sequence=seq)
        writer.finish()
    return out


def write_ros1_mcap(path: Path, store: Typestore, messages: Iterable[tuple[str, str, int, Any]],
                    definitions: dict[str, str] | None = None) -> Path:
    """Write ``(topic, msgtype, log time ns, message)`` as ROS 1 MCAP, serialized by rosbags.

    Args:
        path: Output ``.mcap``.
        store: A typestore holding every ``msgtype`` (ROS 2 style names).
        messages: In log-time order.
        definitions: msgtype -> full ROS 1 definition text; default: rosbags' ``generate_msgdef``.
    """
    with path.open("wb") as f:
        writer = Writer(f, compression=CompressionType.ZSTD)
        writer.start(profile="ros1", library="fusion.testing")
        channels: dict[tuple[str, str], int] = {}
        for seq, (topic, msgtype, t, msg) in enumerate(messages):
            if (topic, msgtype) not in channels:
                text = (definitions or {}).get(msgtype) or store.generate_msgdef(msgtype, ros_version=1)[0]
                sid = writer.register_schema(ros1_name(msgtype), "ros1msg", text.encode())
                channels[topic, msgtype] = writer.register_channel(topic, "ros1", sid)
            data = store.serialize_ros1(msg, msgtype)
            writer.add_message(channels[topic, msgtype], t, bytes(data), t, sequence=seq)
        writer.finish()
    return path
