"""ROS 1 MCAP files (profile ``ros1``, ``ros1msg`` schemas, ``ros1`` message encoding).

rosbags reads ROS 2 MCAP only; an MCAP written by ``mcap convert`` from a ``.bag`` or by a
ROS 1 recorder carries ROS 1 serialized messages. :class:`Ros1McapReader` reads such a file
through the ``mcap`` package's indexed reader and serves it like a rosbags reader
(``connections``, ``messages``), so :class:`~fusion.readers.bag.RosBagSource` reads it exactly
like a ``.bag``: the schemas are full ROS 1 definitions (``gendeps --cat`` text, parsed by
rosbags' ``get_types_from_msg``) and the bytes go through rosbags' ``deserialize_ros1``.

A file without a summary section (recorder killed) is read by the sequential scan of
:mod:`fusion.readers.mcap_scan` instead (every intact message before the damage).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from rosbags.interfaces import Connection, ConnectionExtRosbag1, MessageDefinition, MessageDefinitionFormat
from rosbags.typesys.msg import normalize_msgtype

ROS1_ENCODING = "ros1"
ROS1_SCHEMA = "ros1msg"


def mcap_profile(path: Path) -> str:
    """The profile of an MCAP file's header record (``""`` when unreadable)."""
    from mcap.stream_reader import StreamReader

    try:
        with path.open("rb") as f:
            record = next(iter(StreamReader(f, skip_magic=False).records), None)
    except Exception:  # a damaged file: let the normal error mapping speak
        return ""
    return str(getattr(record, "profile", ""))


def is_ros1_mcap(path: Path) -> bool:
    """True for an MCAP file of ROS 1 messages: profile ``ros1``, or another non-ROS 2 profile whose
    channels are all ``ros1``-encoded (checked through the summary section)."""
    profile = mcap_profile(path)
    if profile in ("ros1", "ros2"):
        return profile == "ros1"
    from mcap.reader import make_reader

    try:
        with path.open("rb") as f:
            summary = make_reader(f).get_summary()
    except Exception:
        return False
    encodings = {c.message_encoding for c in summary.channels.values()} if summary else set()
    return encodings == {ROS1_ENCODING}


def ros1_connection(cid: int, topic: str, schema_name: str, schema_data: bytes, count: int, owner: Any
                    ) -> Connection:
    """A rosbags ``Connection`` for one ROS 1 MCAP channel (type name in ROS 2 style)."""
    return Connection(
        cid,
        topic,
        normalize_msgtype(schema_name),
        MessageDefinition(MessageDefinitionFormat.MSG, schema_data.decode()),
        "",
        count,
        ConnectionExtRosbag1(None, None),
        owner,
    )


class Ros1McapReader:
    """rosbags-reader look-alike over an indexed ROS 1 MCAP file.

    Args:
        path: The ``.mcap`` file.

    Raises (from :meth:`open`):
        ValueError: The file has no summary section (the caller falls back to a sequential scan).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connections: list[Connection] = []
        self._file: Any = None
        self._reader: Any = None

    def open(self) -> None:
        """Read the summary: channels with a ``ros1msg`` schema and ``ros1`` encoding, their counts."""
        from mcap.reader import make_reader

        self._file = self.path.open("rb")
        self._reader = make_reader(self._file)
        summary = self._reader.get_summary()
        if summary is None or summary.statistics is None or not summary.chunk_indexes:
            self.close()
            raise ValueError("the MCAP file has no summary section (end magic or footer missing)")
        counts = summary.statistics.channel_message_counts
        conns = []
        for cid, ch in sorted(summary.channels.items()):
            schema = summary.schemas.get(ch.schema_id)
            if ch.message_encoding != ROS1_ENCODING or schema is None or schema.encoding != ROS1_SCHEMA:
                continue
            conns.append(ros1_connection(cid, ch.topic, schema.name, schema.data, counts.get(cid, 0), self))
        self.connections = conns

    def messages(self, connections: Collection[Connection] = ()) -> Iterator[tuple[Connection, int, bytes]]:
        """``(connection, log_time_ns, bytes)`` of the selected connections in log-time order."""
        wanted = {c.id: c for c in (connections or self.connections)}
        topics = sorted({c.topic for c in wanted.values()})
        for _schema, channel, message in self._reader.iter_messages(topics=topics, log_time_order=True):
            conn = wanted.get(channel.id)
            if conn is not None:
                yield conn, message.log_time, message.data

    def close(self) -> None:
        """Close the file (idempotent)."""
        f, self._file = self._file, None
        if f is not None:
            f.close()
