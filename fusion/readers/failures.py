"""Map rosbags' many exception types onto fusion's error hierarchy.

rosbags (and the libraries under it: apsw/sqlite, zstd, lz4, bz2, struct) raise
a zoo of exceptions for damaged or unusual files. Everything that escapes the
reader layer is a :class:`~fusion.errors.BagError` subclass naming the file and
saying what to do.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

from fusion.errors import BagError, EmptyBagError, TruncatedBagError, UnsupportedBagError

MCAP_MAGIC = b"\x89MCAP0\r\n"
ROS1_MAGIC = b"#ROSBAG V2.0\n"
SQLITE_MAGIC = b"SQLite format 3\x00"

#: Exceptions rosbags and its backends raise for damaged data (caught at every boundary).
READ_EXCEPTIONS: tuple[type[BaseException], ...] = (Exception,)


def reason(exc: BaseException) -> str:
    """One-line description of ``exc`` (type name when the message is empty)."""
    text = " ".join(str(a) for a in exc.args) if exc.args else ""
    text = text.strip() or type(exc).__name__
    if isinstance(exc, struct.error | EOFError | AssertionError | IndexError):
        text = f"{type(exc).__name__}: {text}"
    return text.replace("\n", " ")


def mcap_summary(path: Path) -> tuple[str, set[str], int, int]:
    """(profile, message encodings, channels, messages) of an MCAP file, read sequentially.

    Raises:
        Exception: whatever the ``mcap`` package raises for a damaged file.
    """
    from mcap.records import Channel, Header, Message
    from mcap.stream_reader import StreamReader

    encodings: set[str] = set()
    channels: set[int] = set()
    messages = 0
    profile = ""
    with path.open("rb") as f:
        for record in StreamReader(f).records:
            if isinstance(record, Message):
                messages += 1
            elif isinstance(record, Channel):
                channels.add(record.id)
                encodings.add(record.message_encoding)
            elif isinstance(record, Header):
                profile = record.profile
    return profile, encodings, len(channels), messages


def _non_ros_mcap(path: Path) -> BagError:
    """Inspect an MCAP rosbags refused (profile not ros2) and say what it holds."""
    try:
        profile, encodings, channels, messages = mcap_summary(path)
    except Exception as exc:  # the mcap package has its own error zoo
        return BagError(f"{path}: not a readable MCAP file ({type(exc).__name__}: {reason(exc)}); the file is damaged")
    if messages == 0:
        return EmptyBagError(f"{path}: MCAP (profile {profile!r}) holds no messages")
    enc = ", ".join(sorted(encodings)) or "none"
    if encodings & {"ros1"}:  # ROS 1 MCAP is read by fusion.readers.mcap_ros1; here it mixes encodings
        return UnsupportedBagError(
            f"{path}: MCAP mixing ROS 1 and other message encodings ({enc}; profile {profile!r}); "
            "split it by encoding (mcap filter) or convert it to a .bag"
        )
    return UnsupportedBagError(
        f"{path}: holds no ROS messages (message encoding {enc}; {messages} message(s) on "
        f"{channels} channel(s), profile {profile!r}); fusion reads ROS 1 bags and ROS 2 cdr bags"
    )


def open_error(path: Path, exc: BaseException) -> BagError:
    """Turn an exception raised while opening ``path`` into a precise :class:`BagError`."""
    if isinstance(exc, BagError):
        return exc
    text = reason(exc)
    low = text.lower()
    if "seems to be empty" in low or (path.is_file() and path.stat().st_size == 0):
        return EmptyBagError(f"{path}: the file is empty (0 bytes)")
    if "profile is not ros2" in low:
        return _non_ros_mcap(path)
    if "serialization format" in low and "not supported" in low:
        text = re.sub(r"\{'([^'{}]*)'\}", r"'\1'", text)  # rosbags names the format as a Python set
        return UnsupportedBagError(f"{path}: {text} fusion reads ROS 2 bags serialized as 'cdr' only")
    if "compression" in low and "not supported" in low:
        return UnsupportedBagError(f"{path}: {text}")
    if "encryption" in low:
        return UnsupportedBagError(f"{path}: {text} decrypt the bag first")
    if "not indexed" in low or "index looks damaged" in low or "end magic" in low or "footer" in low:
        return TruncatedBagError(f"{path}: the bag's index is missing or damaged ({text}); it was probably cut short")
    if "malformed" in low or "not a database" in low:
        return TruncatedBagError(
            f"{path}: the sqlite database is damaged ({text}); no message could be read. "
            "Try: sqlite3 damaged.db3 .recover | sqlite3 recovered.db3"
        )
    if "file magic is invalid" in low or "unrecognized storage" in low:
        return UnsupportedBagError(
            f"{path}: not a ROS bag ({text}); expected a ROS 1 .bag, a ROS 2 .db3/.mcap or a bag directory"
        )
    if "metadata" in low or "database files are missing" in low:
        return BagError(f"{path}: bad rosbag2 metadata.yaml ({text}); fix or remove metadata.yaml")
    return BagError(f"{path}: cannot open bag ({type(exc).__name__}: {text})")


def read_error(path: Path, exc: BaseException, *, yielded: int, last_record_time_ns: int | None) -> TruncatedBagError:
    """The error raised when reading stops mid-way: says how far it got."""
    where = (
        f"after {yielded} intact message(s), last record time {last_record_time_ns} ns"
        if last_record_time_ns is not None
        else "before the first message"
    )
    err = TruncatedBagError(f"{path}: the bag is damaged; reading stopped {where} ({reason(exc)})")
    err.messages_read = yielded  # type: ignore[attr-defined]
    err.last_record_time_ns = last_record_time_ns  # type: ignore[attr-defined]
    return err


def sniff(path: Path) -> str:
    """``"ros1"``, ``"mcap"``, ``"sqlite"``, ``"empty"`` or ``"unknown"`` from the file's first bytes."""
    with path.open("rb") as f:
        head = f.read(16)
    if not head:
        return "empty"
    if head.startswith(ROS1_MAGIC[:8]):
        return "ros1"
    if head.startswith(MCAP_MAGIC):
        return "mcap"
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    return "unknown"
