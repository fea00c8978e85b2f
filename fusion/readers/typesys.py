"""Message type registration for one log.

The typestore of a log is assembled from, in increasing precedence:

1. rosbags' bundled store (``ROS1_NOETIC`` for ROS 1, ``LATEST`` for ROS 2),
2. the ``.msg`` files shipped in ``fusion/readers/msgs`` (``radar_msgs``,
   ``unique_identifier_msgs``),
3. ``.msg`` files under the user's ``msg_dirs``,
4. definitions embedded in the bag (ROS 1 connection headers, MCAP schemas,
   rosbag2 ``message_definition``).

Sources 1–3 are loaded only when the bag leaves a type undefined (rosbags' store imports the
types of every ROS 2 distribution: ≈ 70 ms of a fresh process).

A type that is defined nowhere is not an error at open time: it is recorded in
:attr:`TypeRegistry.missing` and :class:`~fusion.errors.MessageTypeError` is
raised only when a consumer selects that topic.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rosbags.interfaces import Connection, MessageDefinitionFormat
from rosbags.typesys import Stores, get_types_from_idl, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from fusion.errors import BagError, ConfigError

BUNDLED_MSG_DIR = Path(__file__).with_name("msgs")
HEADER_TYPE = "std_msgs/msg/Header"


def _msg_name(path: Path) -> str:
    """ROS 2 type name of a ``.msg`` file: ``<pkg>/msg/<Name>``."""
    parent = path.parent
    pkg = parent.parent.name if parent.name == "msg" else parent.name
    return f"{pkg}/msg/{path.stem}"


def types_from_msg_dirs(dirs: Iterable[Path | str]) -> dict[str, Any]:
    """Parse every ``*.msg`` below ``dirs`` (package = folder name, or its parent for ``msg/``).

    Raises:
        ConfigError: A directory is missing or a file does not parse.
    """
    typs: dict[str, Any] = {}
    for d in dirs:
        root = Path(d)
        if not root.is_dir():
            raise ConfigError(f"msg_dirs: {root} is not a directory; pass folders holding <pkg>/msg/*.msg files")
        for path in sorted(root.rglob("*.msg")):
            try:
                typs.update(get_types_from_msg(path.read_text(), _msg_name(path)))
            except Exception as exc:  # rosbags raises TypesysError and parser errors
                raise ConfigError(f"msg_dirs: cannot parse {path}: {exc}") from None
    return typs


def _embedded(conn: Connection) -> dict[str, Any]:
    """Types defined by one connection's embedded definition (may raise)."""
    fmt, data = conn.msgdef.format, conn.msgdef.data
    if fmt == MessageDefinitionFormat.MSG:
        return dict(get_types_from_msg(data, conn.msgtype))
    if fmt == MessageDefinitionFormat.IDL:
        sep = "=" * 80 + "\n"
        typs: dict[str, Any] = {}
        if data.startswith(f"{sep}IDL: "):
            for part in data.split(sep)[1:]:
                typs.update(get_types_from_idl(part.split("\n", 1)[1]))
        else:
            typs.update(get_types_from_idl(data))
        return typs
    return {}


@dataclass
class TypeRegistry:
    """The typestore of one log plus which connection types cannot be decoded.

    Attributes:
        store: rosbags typestore holding every usable type.
        missing: msgtype -> reason, for types with no usable definition.
    """

    store: Typestore
    missing: dict[str, str]

    def first_field_is_header(self, msgtype: str) -> bool:
        """True when ``header.stamp`` sits at byte offset 4 of the serialized message.

        That holds for types whose first field is a ``std_msgs/Header`` and for
        ``std_msgs/Header`` itself, in both ROS 1 (after ``seq``) and CDR (after the
        4-byte encapsulation header).
        """
        if msgtype == HEADER_TYPE:
            return True
        entry = self.store.fielddefs.get(msgtype)
        if not entry or not entry[1]:
            return False
        _name, (_nodetype, detail) = entry[1][0]
        return detail == HEADER_TYPE


@functools.cache
def _builtin_types() -> dict[str, Any]:
    """``builtin_interfaces`` Time and Duration (ROS 1 ``time``/``duration`` map to them; no bag defines them)."""
    return dict(get_typestore(Stores.EMPTY).fielddefs)


@functools.lru_cache(maxsize=4)
def _fallback_types(ros1: bool, msg_dirs: tuple[str, ...]) -> dict[str, Any]:
    """rosbags' bundled store, then fusion's bundled .msg, then the user's msg_dirs (later wins)."""
    base = get_typestore(Stores.ROS1_NOETIC if ros1 else Stores.LATEST)
    typs: dict[str, Any] = dict(base.fielddefs)
    typs.update(types_from_msg_dirs(sorted(p for p in BUNDLED_MSG_DIR.iterdir() if p.is_dir())))
    typs.update(types_from_msg_dirs(msg_dirs))
    return typs


def _dependencies(entry: Any) -> Iterable[str]:
    """Type names a field definition refers to (nested through arrays and sequences)."""
    for _name, (nodetype, detail) in entry[1]:
        while nodetype in (3, 4):  # ARRAY, SEQUENCE: ((nodetype, detail), size)
            (nodetype, detail), _size = detail
        if nodetype == 2:  # NAME
            yield str(detail)


RADAR_SCAN = "radar_msgs/msg/RadarScan"
_RETURN_FIELDS = ["range", "azimuth", "elevation", "doppler_velocity", "amplitude"]


def standard_radar_scan(store: Typestore) -> bool:
    """True when RadarScan is ``header`` + ``RadarReturn[] returns`` of 5 float32 (the bundled layout)."""
    scan = store.fielddefs.get(RADAR_SCAN)
    ret = store.fielddefs.get("radar_msgs/msg/RadarReturn")
    if not scan or not ret:
        return False
    names = [f[0] for f in scan[1]]
    ret_ok = [f[0] for f in ret[1]] == _RETURN_FIELDS and all(f[1][1] == ("float32", 0) for f in ret[1])
    return names == ["header", "returns"] and ret_ok and scan[1][0][1][1] == HEADER_TYPE


#: Typestores already built in this process, by their definitions (most recent last).
_STORES: dict[str, Typestore] = {}
_STORES_KEPT = 8


def _typestore(typs: dict[str, Any]) -> Typestore:
    """A typestore with exactly ``typs`` registered, shared by every log with the same definitions.

    Registering types generates their classes, and each deserializer is generated on first use:
    ≈ 0.08 s per bag of the bench log. A process converting many bags of one fleet (``fusion
    convert`` of several logs, Dask workers) builds it once. Typestores are only read after
    registration, so sharing one is safe.
    """
    key = repr(sorted(typs.items()))
    store = _STORES.pop(key, None)
    if store is None:
        store = get_typestore(Stores.EMPTY)
        try:
            store.register(typs)
        except Exception as exc:  # rosbags' TypesysError, or code generation failing on a damaged definition
            raise BagError(f"the message definitions the bag embeds do not fit together ({exc}); its connection "
                           "records are damaged") from None
    _STORES[key] = store
    while len(_STORES) > _STORES_KEPT:
        del _STORES[next(iter(_STORES))]
    return store


def build_registry(
    connections: Sequence[Connection], *, ros1: bool, msg_dirs: Iterable[Path | str] = (), extra: Iterable[str] = ()
) -> TypeRegistry:
    """Assemble the typestore for ``connections`` (see module docstring for precedence).

    Only the connection types, the ``extra`` types (e.g. ``fusion_msgs/msg/PacketSweep``) and
    their dependencies are registered (code generation is the expensive part of opening a bag).
    """
    embedded: dict[str, Any] = {}
    errors: dict[str, str] = {}
    done: set[tuple[str, str]] = set()
    for conn in connections:
        key = (conn.msgtype, conn.msgdef.data)
        if key in done or conn.msgdef.format == MessageDefinitionFormat.NONE:
            continue
        done.add(key)
        try:
            embedded.update(_embedded(conn))
        except Exception as exc:  # any parser failure only disables this type
            errors[conn.msgtype] = f"embedded definition does not parse ({type(exc).__name__}: {exc})"
    fallback: dict[str, Any] | None = None  # loaded only for a type the bag does not define
    typs: dict[str, Any] = {}
    todo = list({c.msgtype for c in connections} | set(extra))
    while todo:
        name = todo.pop()
        if name in typs:
            continue
        entry = embedded.get(name) or _builtin_types().get(name)
        if entry is None:
            if fallback is None:  # rosbags' store imports every ROS 2 distribution's types: 70 ms
                fallback = _fallback_types(ros1, tuple(str(d) for d in msg_dirs))
            entry = fallback.get(name)
        if entry is None:
            continue
        typs[name] = entry
        todo.extend(d for d in _dependencies(entry) if d not in typs)
    store = _typestore(typs)
    missing: dict[str, str] = {}
    for msgtype in {c.msgtype for c in connections}:
        if msgtype not in store.fielddefs:
            missing[msgtype] = errors.get(msgtype, "no definition in the bag, in rosbags' store or in --msg-dir")
            continue
        try:
            store.get_msgdef(msgtype)
        except Exception as exc:  # e.g. a dependency is undefined
            missing[msgtype] = f"definition unusable ({type(exc).__name__}: {exc})"
    return TypeRegistry(store=store, missing=missing)
