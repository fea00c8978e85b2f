"""Opening bag files with rosbags (or the damage scanners) and streaming their raw messages.

* :func:`expand_paths`: decide ROS 1 vs ROS 2 from the content and list the units to open.
* :func:`open_unit`: rosbags reader for a unit, falling back to :class:`ScanReader` when the
  index/footer is damaged, or to a rosbag2 directory's files one by one.
* :func:`cdr_connections`: a ROS 2 unit's connections that fusion can deserialize.
* :func:`backend_stream`: ``(connection, record_time_ns, bytes)`` in the unit's record order.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rosbags.interfaces import Connection, ConnectionExtRosbag2
from rosbags.rosbag1 import Reader as Reader1
from rosbags.rosbag2 import Reader as Reader2
from rosbags.rosbag2.reader import DirectoryReader

from fusion.errors import BagError, BagNotFoundError, EmptyBagError, TruncatedBagError, UnsupportedBagError
from fusion.readers.failures import mcap_summary, open_error, reason, sniff
from fusion.readers.mcap_ros1 import ROS1_ENCODING, Ros1McapReader, is_ros1_mcap
from fusion.readers.recovery import ScanReader

ROS2_SUFFIXES = (".db3", ".mcap")


def zstd_decompress(data: bytes) -> bytes:
    """Per-message zstd (rosbag2 ``compression_mode: message``)."""
    from rosbags.rosbag2.reader import zstd

    return bytes(zstd.decompress(data))


def expand_paths(paths: Sequence[Path]) -> tuple[bool, list[Path]]:
    """Decide ROS 1 vs ROS 2 and list the units rosbags opens (files or bag dirs)."""
    units: list[Path] = []
    kinds: set[str] = set()
    for path in paths:
        if not path.exists():
            raise BagNotFoundError(f"{path}: no such file or directory")
        if path.is_dir():
            if (path / "metadata.yaml").is_file():
                units.append(path)
                kinds.add("ros2")
                continue
            files = sorted(p for p in path.iterdir() if p.suffix in ROS2_SUFFIXES and p.is_file())
            bags = sorted(p for p in path.iterdir() if p.suffix == ".bag" and p.is_file())
            if files:
                units.extend(files)
                kinds.update("ros1" if f.suffix == ".mcap" and is_ros1_mcap(f) else "ros2" for f in files)
            elif bags:
                units.extend(bags)
                kinds.add("ros1")
            else:
                raise BagError(
                    f"{path}: not a bag directory (no metadata.yaml and no .db3/.mcap/.bag files); "
                    "pass a bag file or a rosbag2 directory"
                )
            continue
        magic = sniff(path)
        if magic == "empty":
            raise EmptyBagError(f"{path}: the file is empty (0 bytes)")
        if magic == "ros1":
            kinds.add("ros1")
        elif magic in ("mcap", "sqlite"):
            if path.suffix not in ROS2_SUFFIXES:
                raise UnsupportedBagError(f"{path}: looks like a {magic} bag but is not named .mcap/.db3; rename it")
            kinds.add("ros1" if magic == "mcap" and is_ros1_mcap(path) else "ros2")
        elif path.suffix == ".mcap":
            raise BagError(
                f"{path}: damaged MCAP file (invalid magic bytes; line endings converted by a text transfer?); "
                "re-copy the file in binary mode"
            )
        elif path.name.endswith(".zstd"):
            raise UnsupportedBagError(
                f"{path}: a zstd-compressed rosbag2 file; open its bag directory (with metadata.yaml) instead"
            )
        else:
            raise UnsupportedBagError(
                f"{path}: not a ROS bag (unknown file magic); "
                "expected a ROS 1 .bag, a ROS 2 .db3/.mcap or a bag directory"
            )
        units.append(path)
    if len(kinds) > 1:
        raise BagError(f"{', '.join(map(str, paths))}: ROS 1 and ROS 2 bags cannot form one log; open them separately")
    return kinds == {"ros1"}, units


def format_name(units: Sequence[Path], ros1: bool) -> str:
    """``ROS 1 bag``, ``ROS 1 MCAP``, ``ROS 2 MCAP`` or ``ROS 2 sqlite3`` (joined with `` + `` when mixed)."""
    names = set()
    for unit in units:
        mcap = unit.suffix == ".mcap" or (unit.is_dir() and any(unit.glob("*.mcap")))
        names.add(f"ROS {1 if ros1 else 2} {'MCAP' if mcap else ('bag' if ros1 else 'sqlite3')}")
    return " + ".join(sorted(names))


def _cdr_mcap(path: Path) -> bool:
    """An MCAP whose profile is not ``ros2`` but which carries cdr messages (written by other tools)."""
    if sniff(path) != "mcap":
        return False
    try:
        _profile, encodings, _channels, messages = mcap_summary(path)
    except Exception:  # damaged: let the normal error mapping speak
        return False
    return messages > 0 and "cdr" in encodings


def open_unit(unit: Path, ros1: bool) -> list[tuple[Any, Path]]:
    """Open one unit with rosbags; fall back to a sequential scan when its index is damaged.

    Also reads, by sequential scan, MCAP files rosbags refuses for their profile (not ``ros2``)
    when they carry cdr messages.
    """
    if ros1 and unit.suffix == ".mcap":
        return [_open_ros1_mcap(unit)]
    try:
        reader: Any = Reader1(unit) if ros1 else Reader2(unit)
        reader.open()
        return [(reader, unit)]
    except Exception as exc:
        if "profile is not ros2" in reason(exc).lower() and _cdr_mcap(unit):
            return [(_scan(unit, "mcap_any_profile", open_error(unit, exc)), unit)]
        err = open_error(unit, exc)
        if unit.is_dir() and _blank_metadata(exc):  # older rosbag2: storage/format left blank
            files = sorted(p for p in unit.iterdir() if p.suffix in ROS2_SUFFIXES and p.is_file())
            if files:
                return [pair for f in files for pair in open_unit(f, ros1)]
    if not isinstance(err, TruncatedBagError):
        raise err
    if unit.is_dir():  # a rosbag2 directory whose file is damaged: read its files one by one
        files = sorted(p for p in unit.iterdir() if p.suffix in ROS2_SUFFIXES and p.is_file())
        return [pair for f in files for pair in open_unit(f, ros1)]
    kind = sniff(unit)
    if kind not in ("ros1", "mcap", "sqlite"):
        raise err
    return [(_scan(unit, kind, err), unit)]


def _open_ros1_mcap(unit: Path) -> tuple[Any, Path]:
    """A ROS 1 MCAP through its index, or by sequential scan when the summary is missing (cut short)."""
    reader = Ros1McapReader(unit)
    try:
        reader.open()
        return reader, unit
    except Exception as exc:
        err = TruncatedBagError(
            f"{unit}: the MCAP summary is missing or damaged ({reason(exc)}); it was probably cut short"
        )
    scan = _scan(unit, "mcap_ros1", err)
    scan.connections = [c for c in scan.connections if getattr(c.ext, "serialization_format", "") == ROS1_ENCODING]
    return scan, unit


def _blank_metadata(exc: BaseException) -> bool:
    """rosbags refused a metadata.yaml whose storage_identifier or serialization_format is ''."""
    low = reason(exc).lower()
    return ("storage plugin ''" in low) or ("serialization format" in low and "''" in low) or "{''}" in low


def _scan(unit: Path, kind: str, err: BagError) -> ScanReader:
    scan = ScanReader(unit, kind)
    scan.open()
    if not scan.connections or not any(c.msgcount for c in scan.connections):
        if isinstance(err, TruncatedBagError):
            raise TruncatedBagError(f"{err} (no intact message before the damage: {scan.damage})")
        raise err
    return scan


def cdr_connections(reader: Any, unit: Path) -> list[Connection]:
    """Connections of a ROS 2 unit serialized as cdr.

    Raises:
        UnsupportedBagError: The unit has connections but none is cdr (names the encodings).
    """
    conns = list(reader.connections)
    fmts = {c.ext.serialization_format for c in conns if isinstance(c.ext, ConnectionExtRosbag2)}
    cdr = [c for c in conns if not isinstance(c.ext, ConnectionExtRosbag2) or c.ext.serialization_format in ("cdr", "")]
    if conns and not cdr:
        raise UnsupportedBagError(
            f"{unit}: holds no ROS messages (message encoding {', '.join(sorted(fmts))}); "
            "fusion reads cdr-serialized ROS 2 bags"
        )
    return cdr


def backend_stream(
    reader: Any, conns: list[Connection], start: int | None = None
) -> Iterator[tuple[Connection, int, Any]]:
    """rosbags' message stream; for rosbag2 directories, match files' topics by name and type only.

    rosbags also requires the QoS profiles in metadata.yaml to equal the database's,
    and silently yields nothing when they differ; fusion matches on (topic, type).
    ``start``: only messages recorded at or after it (ns); rosbags' readers skip what lies
    before it (MCAP chunks, ROS 1 chunks, SQLite rows), the others filter.
    """
    storage = getattr(reader, "storage", None)
    if isinstance(reader, ScanReader) or not isinstance(storage, DirectoryReader):
        if start is None:
            yield from reader.messages(connections=conns)
        elif "start" in inspect.signature(reader.messages).parameters:
            yield from reader.messages(connections=conns, start=start)
        else:
            yield from ((c, t, d) for c, t, d in reader.messages(connections=conns) if t >= start)
        return
    by_key = {(c.topic, c.msgtype): c for c in conns}
    per_message = storage.metadata.compression_mode == "message"
    for st in storage.storages:
        sconns = [x for x in st.connections if (x.topic, x.msgtype) in by_key]
        if not sconns:
            continue
        for sc, t, data in (st.messages(sconns) if start is None else st.messages(sconns, start=start)):
            yield by_key[sc.topic, sc.msgtype], t, (zstd_decompress(data) if per_message else data)
