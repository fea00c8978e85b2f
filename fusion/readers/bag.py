"""The rosbags-backed :class:`~fusion.readers.source.BagSource`: :func:`open_bags`.

One log = one or several paths: ROS 1 ``.bag`` files (split bags are merged
by record time), or a ROS 2 bag (a directory with ``metadata.yaml``, a directory
of split ``.db3``/``.mcap`` files without it, or single ``.db3``/``.mcap`` files).
Nothing is materialized: :meth:`RosBagSource.messages` streams, topic filtering
happens on the bag index before any byte is deserialized.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Generator, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from rosbags.interfaces import Connection

from fusion.errors import (
    BagError,
    ConfigError,
    DecodeError,
    EmptyBagError,
    MessageTypeError,
    TruncatedBagError,
)
from fusion.lidar_packets.options import VENDOR_OF_TYPE, PacketOptions
from fusion.readers.backends import backend_stream, cdr_connections, expand_paths, format_name, open_unit
from fusion.readers.decoder import MessageDecoder
from fusion.readers.failures import read_error
from fusion.readers.kinds import detect_kind, detect_kind_name
from fusion.readers.livox import LIVOX_READER, LIVOX_TYPES
from fusion.readers.packets import IMU_TYPE, PACKET_TYPES, SWEEP_TYPE, PacketTopics
from fusion.readers.records import Record
from fusion.readers.source import I64, OptionsArg, RawMessage, TopicInfo
from fusion.readers.stamps import peek_frame_id, read_stamps
from fusion.readers.typesys import TypeRegistry, build_registry


class RosBagSource:
    """A log read with rosbags. Use :func:`open_bags`; close it (or use ``with``)."""

    def __init__(
        self,
        paths: Sequence[Path | str],
        *,
        topics: Iterable[str] | None = None,
        msg_dirs: Iterable[Path | str] = (),
    ) -> None:
        if isinstance(paths, str | Path):
            paths = [paths]
        if not paths:
            raise BagError("no bag paths given")
        self._paths = tuple(Path(p) for p in paths)
        self.ros1, self._units = expand_paths(self._paths)
        self._readers: list[Any] = []
        self._conns: list[list[Connection]] = []
        try:
            self._open_readers()
            if topics is not None:
                self._conns = self._select(topics)
                if not any(c.msgcount for conns in self._conns for c in conns):
                    raise EmptyBagError(
                        f"{', '.join(map(str, self._paths))}: no messages on the selected topic(s) "
                        f"{', '.join(sorted(set([topics] if isinstance(topics, str) else topics)))}"
                    )
            flat = [c for conns in self._conns for c in conns]
            extra = (SWEEP_TYPE, IMU_TYPE) if any(c.msgtype in PACKET_TYPES for c in flat) else ()
            self.registry: TypeRegistry = build_registry(flat, ros1=self.ros1, msg_dirs=msg_dirs, extra=extra)
        except BaseException:
            self.close()
            raise
        self._topics: dict[str, TopicInfo] | None = None
        #: Raw LiDAR packet topics, read as one message per sweep (:mod:`fusion.readers.packets`).
        self.packets = PacketTopics(self)
        self.decoder = MessageDecoder(self.registry, ros1=self.ros1)
        #: topic -> indices of messages whose stamp could not be read in the last :meth:`stamps` call.
        self.corrupt_stamps: dict[str, list[int]] = {}
        #: The damage hit by the last ``stamps(..., keep_partial=True)`` call, if any.
        self.truncated: TruncatedBagError | None = None

    # -- opening -------------------------------------------------------------------------
    def _open_readers(self) -> None:
        total = 0
        opened = [pair for unit in self._units for pair in open_unit(unit, self.ros1)]
        self._units = [u for _r, u in opened]
        for reader, unit in opened:
            self._readers.append(reader)
            conns = list(reader.connections) if self.ros1 else cdr_connections(reader, unit)
            self._conns.append(conns)
            total += sum(c.msgcount for c in conns)
        if total == 0:
            raise EmptyBagError(f"{', '.join(map(str, self._paths))}: the bag holds no messages")

    # -- protocol ------------------------------------------------------------------------
    @property
    def paths(self) -> tuple[Path, ...]:
        """The paths this log was opened from."""
        return self._paths

    @property
    def format_name(self) -> str:
        """What the log is, for people: ``ROS 1 bag``, ``ROS 1 MCAP``, ``ROS 2 MCAP``, ``ROS 2 sqlite3``."""
        return format_name(self._units, self.ros1)

    @property
    def topics(self) -> dict[str, TopicInfo]:
        """Topic -> :class:`TopicInfo` (kind and frame id from the first message, cached)."""
        if self._topics is None:
            self._topics = self._build_topics()
        return self._topics

    def topic_types(self) -> dict[str, str]:
        """Topic -> message type (``|``-joined when several), without reading any message."""
        types: dict[str, set[str]] = {}
        for conns in self._conns:
            for c in conns:
                types.setdefault(c.topic, set()).add(c.msgtype)
        return {t: "|".join(sorted(v)) for t, v in types.items()}

    def msgtype_of(self, topic: str) -> str:
        """The message type of ``topic`` (see :meth:`topic_types`)."""
        return self.topic_types().get(topic, "")

    def configure_packets(self, topic: str, spec: PacketOptions) -> None:
        """Read the packet topic ``topic`` with ``spec`` (vendor, metadata file) from the sensor map."""
        self.packets.configure(topic, spec)
        self._topics = None

    def _packet_topics(self, topics: Iterable[str] | None) -> set[str]:
        types = self.topic_types()
        wanted = types if topics is None else ([topics] if isinstance(topics, str) else topics)
        return {t for t in wanted if self.packets.is_packet_topic(t, types.get(t, ""))}

    def _build_topics(self) -> dict[str, TopicInfo]:
        by_topic: dict[str, list[Connection]] = {}
        for conns in self._conns:
            for c in conns:
                by_topic.setdefault(c.topic, []).append(c)
        out: dict[str, TopicInfo] = {}
        packet_topics = self._packet_topics(None)
        for topic in sorted(by_topic):
            conns = by_topic[topic]
            msgtypes = sorted({c.msgtype for c in conns})
            msgtype = "|".join(msgtypes)
            count = sum(c.msgcount for c in conns)
            missing = [self.registry.missing[t] for t in msgtypes if t in self.registry.missing]
            has_header = all(self.registry.first_field_is_header(t) for t in msgtypes)
            frame_id, first = "", None
            if count and not missing:
                first = self._first(topic)
                if first is not None and has_header:
                    frame_id = peek_frame_id(first.data, ros1=first.ros1)
            kind = detect_kind(msgtypes[0], topic, self._fields_of(first))
            reader = LIVOX_READER if msgtypes[0] in LIVOX_TYPES else ""
            if topic in packet_topics and not missing:  # sweeps or IMU samples (fusion.readers.packets)
                kind = detect_kind(self.packets.message_type(topic), topic)
                vendor = self.packets.vendor(topic)
                frame_id, has_header, reader = (vendor.frame if vendor else ""), True, self.packets.describe(topic)
                count = self.packets.count(topic) if vendor else count
                missing = [self.packets.errors[topic]] if vendor is None else []
            out[topic] = TopicInfo(
                name=topic,
                msgtype=msgtype,
                count=count,
                connections=len(conns),
                kind=kind,
                frame_id=frame_id,
                has_header=has_header,
                type_error="; ".join(missing),
                reader=reader,
            )
        return self._refine_kinds(out)

    def _refine_kinds(self, topics: dict[str, TopicInfo]) -> dict[str, TopicInfo]:
        """Kinds decided from the whole topic list (a kind's optional ``refine_topics`` hook: e.g.
        an ``Image`` without CameraInfo showing a LiDAR panorama is an ``image``, not a camera)."""
        from dataclasses import replace

        from fusion import kinds

        def encoding_of(topic: str) -> str:
            raw = self._first(topic)
            try:
                msg = self.deserialize(raw) if raw is not None else None
                return str(getattr(msg, "encoding", None) or getattr(msg, "format", "") or "")
            except DecodeError:
                return ""

        for kind in kinds.all_kinds():
            refine = getattr(kind, "refine_topics", None)
            if refine is None:
                continue
            for topic in refine(topics, encoding_of):
                topics[topic] = replace(topics[topic], kind=detect_kind_name(kind.name))
        return topics

    def _first(self, topic: str) -> RawMessage | None:
        gen = self._message_gen([topic])
        try:
            return next(gen, None)
        except BagError:
            return None
        finally:
            gen.close()

    def _fields_of(self, raw: RawMessage | None) -> tuple[str, ...]:
        """PointField names of a first PointCloud2 message (for kind detection)."""
        if raw is None or not raw.msgtype.endswith("PointCloud2"):
            return ()
        try:
            msg = self.deserialize(raw)
        except MessageTypeError:
            raise  # a type without definition is not a corrupt message
        except DecodeError:
            return ()
        fields = getattr(msg, "fields", None)  # absent when the bag's own type definition is damaged
        return tuple(str(getattr(f, "name", "")) for f in fields) if isinstance(fields, list) else ()

    def _select(self, topics: Iterable[str] | None) -> list[list[Connection]]:
        if topics is None:
            return self._conns
        wanted = set([topics] if isinstance(topics, str) else topics)
        have = {c.topic for conns in self._conns for c in conns}
        if unknown := sorted(wanted - have):
            raise ConfigError(
                f"{', '.join(map(str, self._paths))}: topic(s) {', '.join(unknown)} not in the bag "
                f"(it has {', '.join(sorted(have))})"
            )
        return [[c for c in conns if c.topic in wanted] for conns in self._conns]

    def _reader_stream(self, i: int, conns: list[Connection], start: int | None = None
                       ) -> Iterator[tuple[Connection, int, Any]]:
        reader, unit = self._readers[i], self._units[i]
        n, last = 0, None
        try:
            for conn, t, data in backend_stream(reader, conns, start):
                n += 1
                last = t
                yield conn, t, data
        except Exception as exc:
            raise read_error(unit, exc, yielded=n, last_record_time_ns=last) from None

    def messages(self, topics: Iterable[str] | None = None) -> Iterator[RawMessage]:
        """Stream raw messages in record order (see :meth:`_message_gen`); packet topics as sweeps."""
        packets = self._packet_topics(topics)
        gen = self._message_gen(topics)
        return self.packets.wrap(gen, packets) if packets else gen

    def messages_from(self, topics: Iterable[str], start_ns: int) -> Iterator[RawMessage]:
        """The messages of ``topics`` recorded at or after ``start_ns``, in record order, without reading
        what lies before where the format allows (a part of a split conversion: :mod:`fusion.pipeline.window`).

        ``index`` counts per topic from the first message yielded (the caller knows the offset);
        raw packet topics are not grouped into sweeps. No check against the bag's index counts.
        """
        selected = self._select(topics)
        streams = [self._reader_stream(i, conns, start_ns) for i, conns in enumerate(selected) if conns]
        if not streams:
            return
        merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=lambda x: x[1])
        counters: dict[str, int] = {}
        unit_of = {id(c): self._units[i] for i, conns in enumerate(selected) for c in conns}
        for conn, t, data in merged:
            idx = counters.get(conn.topic, 0)
            counters[conn.topic] = idx + 1
            yield RawMessage(conn.topic, idx, t, conn.msgtype, data, self.ros1, unit_of.get(id(conn), self._units[0]))

    def raw_messages(self, topics: Iterable[str] | None = None) -> Iterator[RawMessage]:
        """:meth:`messages` without grouping packets into sweeps (every message as recorded)."""
        return self._message_gen(topics)

    def _message_gen(self, topics: Iterable[str] | None = None) -> Generator[RawMessage, None, None]:
        """Stream raw messages in record order.

        Args:
            topics: Topic names to read (``None`` = all). Unknown names raise ``ConfigError``.

        Yields:
            :class:`RawMessage` with ``index`` counting per topic in record order.

        Raises:
            TruncatedBagError: after yielding every intact message, when the bag is damaged.
        """
        selected = self._select(topics)
        streams = [self._reader_stream(i, conns) for i, conns in enumerate(selected) if conns]
        if not streams:
            return
        merged: Iterator[tuple[Connection, int, Any]]
        merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=lambda x: x[1])
        counters: dict[str, int] = {}
        ros1 = self.ros1
        unit_of = {id(c): self._units[i] for i, conns in enumerate(selected) for c in conns}
        for conn, t, data in merged:
            idx = counters.get(conn.topic, 0)
            counters[conn.topic] = idx + 1
            yield RawMessage(conn.topic, idx, t, conn.msgtype, data, ros1, unit_of.get(id(conn), self._units[0]))
        expected: dict[str, int] = {}
        for conns in selected:
            for c in conns:
                expected[c.topic] = expected.get(c.topic, 0) + c.msgcount
        if short := {t: (n, counters.get(t, 0)) for t, n in expected.items() if counters.get(t, 0) < n}:
            detail = ", ".join(f"{t}: {got} of {n}" for t, (n, got) in sorted(short.items()))
            raise TruncatedBagError(
                f"{', '.join(map(str, self._paths))}: fewer messages than the bag index lists ({detail}); "
                "the bag is damaged or its index is stale"
            )

    def deserialize(self, raw: RawMessage) -> Any:
        """Deserialize ``raw`` into the rosbags message object (see :meth:`MessageDecoder.deserialize`)."""
        return self.decoder.deserialize(raw)

    def lidar_time_bounds(self, raw: RawMessage, *, options: OptionsArg = None) -> tuple[int, int, int]:
        """(first, last) per-point time in ns and the point count of a PointCloud2, without a full decode.

        Raises:
            DecodeError: The message is corrupt (names topic, index, reason).
        """
        self._packet_last(raw)
        return self.decoder.lidar_time_bounds(raw, options=options)

    def decode(self, raw: RawMessage, *, options: OptionsArg = None) -> Record:
        """Deserialize and decode ``raw`` into a typed record (see :meth:`MessageDecoder.decode`)."""
        self._packet_last(raw)
        if raw.topic not in self.decoder.radar_scans.last_index:
            info = self.topics.get(raw.topic)
            self.decoder.radar_scans.last_index[raw.topic] = info.count - 1 if info is not None else -1
        return self.decoder.decode(raw, options=options)

    def _packet_last(self, raw: RawMessage) -> None:
        """Raw LiDAR packets: tell the sweep assembler which message is the topic's last (it flushes)."""
        if raw.msgtype not in VENDOR_OF_TYPE:
            return
        last = self.decoder.packets.last_index
        if raw.topic not in last:
            info = self.topics.get(raw.topic)
            last[raw.topic] = info.count - 1 if info is not None else -1

    def trailing_record(self, topic: str) -> Record | None:
        """A record after the last message of ``topic`` (once, right after that message was decoded):
        the rotation a raw-packet LiDAR log ends in when its last message also completed one
        (:mod:`fusion.lidar_packets.topic`), or the radar scan a vendor radar log ends in when its last
        message started it (:class:`fusion.readers.vendor_radar.ScanJoiner`), index = the topic's
        message count; else None."""
        packets = self.decoder.packets_seen
        tail = packets.take_trailing(topic) if packets is not None else None
        return tail if tail is not None else self.decoder.radar_scans.take_trailing(topic)

    def stamps(self, topics: Iterable[str], *, keep_partial: bool = False) -> dict[str, tuple[I64, I64]]:
        """Header stamps and record times of every message on ``topics``, without full deserialization.

        Types whose first field is a ``std_msgs/Header`` are read straight from the
        bytes; other types are deserialized (TFMessage: first transform's stamp;
        headerless types: 0). Messages too short or undeserializable get stamp 0 and
        are listed in :attr:`corrupt_stamps`.

        Args:
            topics: Topic names.
            keep_partial: On a damaged bag, return what was read before the damage and
                keep the error in :attr:`truncated` instead of raising it.

        Returns:
            topic -> (stamp_ns (N,) int64, record_time_ns (N,) int64), in record order.

        Raises:
            MessageTypeError: A selected topic's type has no definition.
            TruncatedBagError: The bag is damaged (unless ``keep_partial``).
        """
        wanted = [topics] if isinstance(topics, str) else list(topics)
        for conns in self._select(wanted):
            for c in conns:
                if (why := self.registry.missing.get(c.msgtype)) is not None:
                    raise MessageTypeError(
                        f"{', '.join(map(str, self._paths))}: topic {c.topic} has type {c.msgtype} which cannot "
                        f"be decoded: {why}; pass the package's .msg files with --msg-dir"
                    )
        result, self.corrupt_stamps, self.truncated = read_stamps(self, wanted, keep_partial=keep_partial)
        return result

    def close(self) -> None:
        """Close every file (idempotent)."""
        readers, self._readers = self._readers, []
        for reader in readers:
            with contextlib.suppress(Exception):  # closing a damaged reader must not mask the real error
                reader.close()

    def __enter__(self) -> RosBagSource:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RosBagSource({', '.join(map(str, self._paths))})"


def open_bags(
    paths: Sequence[Path | str] | Path | str,
    *,
    topics: Iterable[str] | None = None,
    msg_dirs: Iterable[Path | str] = (),
) -> RosBagSource:
    """Open one log made of one or several bag paths.

    Args:
        paths: ROS 1 ``.bag`` files (several = a split bag, merged by record time), or
            one ROS 2 bag directory, or ROS 2 ``.db3``/``.mcap`` files.
        topics: Restrict the source to these topics (the others are invisible); unknown
            names raise ``ConfigError``, no message on them ``EmptyBagError``.
        msg_dirs: Folders with ``<pkg>/msg/*.msg`` for types the bag does not define.

    Raises:
        BagNotFoundError, EmptyBagError, UnsupportedBagError, TruncatedBagError, BagError:
            the message names the file and what to do.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    return RosBagSource(list(paths), topics=topics, msg_dirs=msg_dirs)
