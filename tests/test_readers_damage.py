"""Damaged bags: every intact message before the damage is read, then TruncatedBagError says where."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag1 import Writer as Writer1
from test_readers_core import scenario
from test_readers_util import store_for, write_bag

from fusion.errors import TruncatedBagError
from fusion.readers import open_bags
from fusion.readers.inspect import inspect_bags
from fusion.readers.mcap_scan import scan_mcap


def serialized(fmt: str) -> list[tuple[str, int, bytes]]:
    store = store_for(fmt)
    ser = store.serialize_ros1 if fmt == "bag" else store.serialize_cdr
    return [(topic, t, bytes(ser(msg, msgtype))) for topic, msgtype, t, msg in scenario(fmt)]


def bag_file(path: Path) -> Path:
    return path if path.is_file() else next(p for p in path.iterdir() if p.suffix in (".mcap", ".db3"))


@pytest.mark.parametrize("fmt", ["bag", "mcap"])
def test_truncated_yields_exactly_the_intact_prefix(tmp_path: Path, fmt: str) -> None:
    full = serialized(fmt)
    src_path = bag_file(write_bag(tmp_path / "full", fmt, store_for(fmt), scenario(fmt)))
    data = src_path.read_bytes()
    ends = []  # byte offset where each message's serialized bytes end in the file
    for _topic, _t, raw in full:
        pos = data.find(raw)
        assert pos > 0 and data.find(raw, pos + 1) == -1
        ends.append(pos + len(raw))
    assert ends == sorted(ends)
    for k, cut in enumerate(range(len(data) // 10, len(data) - 8, len(data) // 13)):
        cut_path = tmp_path / f"cut{k}{src_path.suffix}"
        cut_path.write_bytes(data[:cut])
        expected = sum(e <= cut for e in ends)
        got: list[tuple[str, int, bytes]] = []
        if expected == 0:
            with pytest.raises(TruncatedBagError, match=str(cut_path.name)):
                open_bags(cut_path)
            continue
        with open_bags(cut_path) as src, pytest.raises(TruncatedBagError) as err:
            for m in src.messages():
                got.append((m.topic, m.record_time_ns, bytes(m.data)))
        assert got == full[:expected], (cut, len(got), expected)
        assert str(cut_path) in str(err.value) and f"after {expected} intact message(s)" in str(err.value)
        assert err.value.messages_read == expected  # type: ignore[attr-defined]


def test_truncated_rosbag2_directory_and_inspect(tmp_path: Path) -> None:
    full = serialized("mcap")
    bag_dir = write_bag(tmp_path / "full", "mcap", store_for("mcap"), scenario("mcap"))
    f = bag_file(bag_dir)
    f.write_bytes(f.read_bytes()[: int(f.stat().st_size * 0.6)])
    with open_bags(bag_dir) as src:
        n = src.topics["/imu/data"].count
        assert 0 < n < sum(t == "/imu/data" for t, _, _ in full)
        with pytest.raises(TruncatedBagError):
            list(src.messages())
    summary = inspect_bags(bag_dir)
    assert "damaged" in summary["error"] and summary["topics"]["/imu/data"]["count"] == n


def test_truncated_sqlite_yields_rows_of_complete_pages(tmp_path: Path) -> None:
    """sqlite refuses a cut file; the page scanner reads every message whose page is complete,
    in id order, then raises. Messages here fit in one page each (no overflow)."""
    full = serialized("db3")
    f = bag_file(write_bag(tmp_path / "full", "db3", store_for("db3"), scenario("db3")))
    data = f.read_bytes()
    page = int.from_bytes(data[16:18], "big")
    pages_of = [(data.find(raw) + len(raw) - 1) // page for _t, _r, raw in full]  # 0-based page of each row
    assert all(p >= 0 for p in pages_of) and pages_of == sorted(pages_of)
    for k, cut in enumerate(range(len(data) // 2, len(data), page // 2)):
        cut_path = tmp_path / f"cut{k}.db3"
        cut_path.write_bytes(data[:cut])
        expected = sum((p + 1) * page <= cut for p in pages_of)
        if expected == 0:
            with pytest.raises(TruncatedBagError, match="sqlite database is damaged") as err:
                open_bags(cut_path)
            assert str(cut_path) in str(err.value)
            continue
        got = []
        with open_bags(cut_path) as src, pytest.raises(TruncatedBagError, match="damaged"):
            for m in src.messages():
                got.append((m.topic, m.record_time_ns, bytes(m.data)))
        assert got == full[:expected], (cut, len(got), expected)


def test_truncated_sqlite_with_overflow_pages(tmp_path: Path) -> None:
    """Messages larger than a page (overflow chains): an exact prefix, growing with the cut."""
    from test_readers_core import imu_msg
    from test_readers_util import T0, header, mk

    s = store_for("db3")
    msgs = []
    for i in range(12):
        img = mk(s, "sensor_msgs/msg/Image", header=header(s, T0 + i, "cam"), height=10, width=1000, encoding="mono8",
                 is_bigendian=False, step=1000, data=(np.arange(10_000) * (i + 1) % 251).astype(np.uint8))  # fmt: skip
        msgs.append(("/img", "sensor_msgs/msg/Image", T0 + 2 * i, img))
        msgs.append(("/imu/data", "sensor_msgs/msg/Imu", T0 + 2 * i + 1, imu_msg(s, T0 + i, i)))
    full = [bytes(s.serialize_cdr(m, t)) for _topic, t, _r, m in msgs]
    f = bag_file(write_bag(tmp_path / "ov", "db3", s, msgs))
    data = f.read_bytes()
    counts = []
    for frac in (0.35, 0.5, 0.65, 0.8, 0.95):
        cut_path = tmp_path / f"ov{frac}.db3"
        cut_path.write_bytes(data[: int(len(data) * frac)])
        got: list[bytes] = []
        try:
            with open_bags(cut_path) as src:
                for m in src.messages():
                    got.append(bytes(m.data))
        except TruncatedBagError:
            pass
        else:
            pytest.fail("a cut database must end with TruncatedBagError")
        assert got == full[: len(got)]
        counts.append(len(got))
    assert counts == sorted(counts) and counts[-1] >= len(full) - 4


def test_overwritten_middle_of_indexed_ros1_bag(tmp_path: Path) -> None:
    """Index intact, a record in the middle overwritten: messages before it, then the error."""
    full = serialized("bag")
    path = bag_file(write_bag(tmp_path / "full", "bag", store_for("bag"), scenario("bag")))
    data = bytearray(path.read_bytes())
    k = len(full) // 2
    pos = data.find(full[k][2])
    data[pos - 40 : pos + 8] = b"\xff" * 48  # the record header of message k
    path.write_bytes(bytes(data))
    got = []
    with open_bags(path) as src, pytest.raises(TruncatedBagError, match="damaged"):
        for m in src.messages():
            got.append(bytes(m.data))
    assert got == [raw for _t, _r, raw in full[:k]]


@pytest.mark.parametrize("compression", [Writer1.CompressionFormat.LZ4, Writer1.CompressionFormat.BZ2])
def test_truncated_compressed_ros1_prefix(tmp_path: Path, compression: Writer1.CompressionFormat) -> None:
    store = store_for("bag")
    full = serialized("bag")
    path = tmp_path / "c.bag"
    w = Writer1(path)
    w.set_compression(compression)
    with w:
        conns = {}
        for topic, msgtype, t, msg in scenario("bag"):
            if topic not in conns:
                conns[topic] = w.add_connection(topic, msgtype, typestore=store)
            w.write(conns[topic], t, store.serialize_ros1(msg, msgtype))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 200])  # cut into the index only: every message is intact
    with open_bags(path) as src, pytest.raises(TruncatedBagError):
        got = []
        for m in src.messages():
            got.append(bytes(m.data))
    assert got == [raw for _t, _r, raw in full]
    half = tmp_path / "half.bag"
    half.write_bytes(data[: len(data) // 2])  # cut inside the compressed chunk
    got = []
    with pytest.raises(TruncatedBagError, match=r"half\.bag"), open_bags(half) as src:
        for m in src.messages():
            got.append(bytes(m.data))
    assert got == [raw for _t, _r, raw in full[: len(got)]]  # whatever decompresses is an exact prefix


def test_fewer_messages_than_index_is_not_silent(tmp_path: Path) -> None:
    """metadata.yaml promising more messages than the storage holds: all are read, then an error."""
    bag_dir = write_bag(tmp_path / "full", "db3", store_for("db3"), scenario("db3"))
    meta = bag_dir / "metadata.yaml"
    n_imu = sum(t == "/imu/data" for t, _, _ in serialized("db3"))
    text = meta.read_text()
    assert f"message_count: {n_imu}\n" in text
    meta.write_text(text.replace(f"message_count: {n_imu}\n", f"message_count: {n_imu + 5}\n", 1))
    with open_bags(bag_dir) as src:
        got = []
        with pytest.raises(TruncatedBagError, match=f"/imu/data: {n_imu} of {n_imu + 5}"):
            for m in src.messages(["/imu/data"]):
                got.append(m)
    assert len(got) == n_imu


@pytest.mark.parametrize("fmt", ["bag", "mcap"])
def test_garbage_lengths_do_not_allocate_or_hang(tmp_path: Path, fmt: str) -> None:
    """A record length overwritten with 0xff.. (4 GiB / 16 EiB) after the first messages: clean error."""
    full = serialized(fmt)
    path = bag_file(write_bag(tmp_path / "full", fmt, store_for(fmt), scenario(fmt)))
    data = bytearray(path.read_bytes())
    cut = data.find(full[3][2]) + len(full[3][2])  # end of message 3's bytes
    data[cut : cut + 16] = b"\xff" * 16
    path.write_bytes(bytes(data[: len(data) - 64]))  # and drop the footer/index: forces the scanner
    got = []
    with pytest.raises(TruncatedBagError), open_bags(path) as src:
        for m in src.messages():
            got.append(bytes(m.data))
    assert got == [raw for _t, _r, raw in full[:4]]


def _suite_records(path: Path) -> tuple[list[tuple[int, str, str, str]], list[tuple[int, int, bytes]]]:
    """Channels ``(id, topic, schema name, message encoding)`` and messages ``(channel, log time, data)``
    the MCAP conformance suite's ``.json`` lists for ``path``."""
    records = json.loads(path.with_suffix(".json").read_text())["records"]
    fields = [(r["type"], dict(r["fields"])) for r in records]
    schemas = {int(f["id"]): f["name"] for t, f in fields if t == "Schema"}
    channels = {(int(f["id"]), f["topic"], schemas.get(int(f["schema_id"]), ""), f["message_encoding"])
                for t, f in fields if t == "Channel"}
    messages = [(int(f["channel_id"]), int(f["log_time"]), bytes(int(b) for b in f["data"]))
                for t, f in fields if t == "Message"]
    return sorted(channels), messages


def _scan(path: Path) -> tuple[list[tuple[int, str, str, str]], list[tuple[int, int, bytes]], list[str]]:
    events = list(scan_mcap(path, any_profile=True))  # the suite's files have profile ""
    conns = sorted({(c.id, c.topic, c.msgtype, c.ext.serialization_format) for e, c in events if e == "conn"})
    return conns, [v for e, v in events if e == "msg"], [v for e, v in events if e == "damage"]


def test_mcap_conformance_files_through_the_scan(shared_data: Path) -> None:
    """Every file of the MCAP conformance suite (chunked or not, padded, indexed, with summaries and
    attachments) read by the sequential scanner, whose records are parsed by the mcap package:
    exactly the suite's channels and messages, in order, and no damage."""
    files = sorted((shared_data / "edge" / "mcap-conformance").glob("*/*.mcap"))
    assert len(files) > 400  # 507 files today
    with_messages = 0
    for path in files:
        channels, messages = _suite_records(path)
        got_channels, got_messages, damage = _scan(path)
        assert damage == [], path
        assert got_messages == messages, path
        assert got_channels == channels, path
        with_messages += bool(messages)
    assert with_messages > 300  # the OneMessage and TenMessages variants


def test_mcap_cut_inside_a_chunk_keeps_its_complete_messages(shared_data: Path, tmp_path: Path) -> None:
    """The conformance file with ten messages in one uncompressed chunk, cut at every byte: the scan
    (hand parser for the cut chunk, mcap's record classes for its records) yields a prefix of the ten
    messages that grows with the cut, reports damage for every cut before the chunk ends, and keeps
    nine messages when only the last byte of the chunk is missing."""
    src = shared_data / "edge" / "mcap-conformance" / "TenMessagesOneAttachment" / "TenMessagesOneAttachment-ch.mcap"
    _, messages = _suite_records(src)
    assert len(messages) == 10
    data = src.read_bytes()
    starts, pos = [], 8  # the offsets of the top-level records (opcode u8, length u64, body)
    while pos < len(data) - 8:
        starts.append(pos)
        pos += 9 + int.from_bytes(data[pos + 1 : pos + 9], "little")
    chunk_at = next(p for p in starts if data[p] == 0x06)
    chunk_end = chunk_at + 9 + int.from_bytes(data[chunk_at + 1 : chunk_at + 9], "little")
    cut_file = tmp_path / "cut.mcap"
    counts = []
    for cut in range(chunk_at + 1, chunk_end):
        cut_file.write_bytes(data[:cut])
        _, got, damage = _scan(cut_file)
        assert got == messages[: len(got)], cut
        assert len(damage) == 1, (cut, damage)
        assert f"at byte {chunk_at}" in damage[0] or "chunk data damaged or cut" in damage[0], (cut, damage)
        counts.append(len(got))
    assert counts == sorted(counts) and counts[0] == 0
    assert counts[-1] == 9  # the last message's record ends with the chunk
