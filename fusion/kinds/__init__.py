"""The stream-kind registry: every sort of sensor data fusion reads, writes and shows.

Each kind is one module implementing :class:`~fusion.kinds.base.StreamKind` (the pattern of
:mod:`fusion.annotations.codec`): :data:`KINDS` maps a kind name to ``(module, attribute)`` and
the module is imported the first time the kind is needed. :func:`register` adds a kind at run
time (a plugin, or a test's toy kind). The readers, the pipeline, the store and the reader API
iterate this registry; no other module dispatches on a kind name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence

from fusion.errors import ConfigError
from fusion.kinds.base import Role, StreamKind

__all__ = ["KINDS", "Role", "StreamKind", "all_kinds", "by_role", "detect", "for_message", "get", "register"]

#: kind name -> (module, attribute) of its implementation; imported lazily.
KINDS: dict[str, tuple[str, str]] = {
    "camera": ("fusion.kinds.camera", "KIND"),
    "image": ("fusion.kinds.image", "KIND"),
    "lidar": ("fusion.kinds.lidar", "KIND"),
    "radar": ("fusion.kinds.radar", "KIND"),
    "imu": ("fusion.kinds.imu", "KIND"),
    "odometry": ("fusion.kinds.ego", "ODOMETRY"),
    "tf": ("fusion.kinds.ego", "TF"),
    "tf_static": ("fusion.kinds.calibration", "TF_STATIC"),
    "camera_info": ("fusion.kinds.calibration", "CAMERA_INFO"),
    "gnss": ("fusion.kinds.gnss", "KIND"),
    "twist": ("fusion.kinds.twist", "KIND"),
    "radar_tracks": ("fusion.kinds.radar_tracks", "KIND"),
}

_loaded: dict[str, StreamKind] = {}
_by_type: dict[str, list[StreamKind]] | None = None


def get(name: str) -> StreamKind:
    """The kind registered as ``name``.

    Raises:
        ConfigError: No such kind (the message lists the registered ones).
    """
    kind = _loaded.get(name)
    if kind is not None:
        return kind
    try:
        module, attr = KINDS[name]
    except KeyError:
        raise ConfigError(f"unknown stream kind {name!r}; registered kinds: {', '.join(sorted(KINDS))}") from None
    kind = getattr(importlib.import_module(module), attr)
    _loaded[name] = kind
    return kind


def register(kind: StreamKind, module: str | None = None, attr: str | None = None) -> None:
    """Add (or replace) ``kind`` in the registry under ``kind.name``.

    Args:
        kind: The implementation (already imported).
        module, attr: Where it lives, for processes that import the registry afresh (Dask
            workers): default the kind object's module and a lookup by identity there.
    """
    global _by_type
    mod = module or type(kind).__module__
    name_in_module = attr or next(
        (k for k, v in vars(importlib.import_module(mod)).items() if v is kind), kind.name.upper()
    )
    KINDS[kind.name] = (mod, name_in_module)
    _loaded[kind.name] = kind
    _by_type = None
    if kind.is_sensor and kind.role in (Role.FRAME, Role.STREAM, Role.CONTINUOUS):
        from calibration.rig import accept_sensor_kind

        accept_sensor_kind(kind.name)  # its sensors may stand in a rig


def unregister(name: str) -> None:
    """Remove kind ``name`` (tests that register a toy kind clean up with this)."""
    global _by_type
    KINDS.pop(name, None)
    _loaded.pop(name, None)
    _by_type = None


def all_kinds() -> Iterator[StreamKind]:
    """Every registered kind, in registration order."""
    for name in list(KINDS):
        yield get(name)


def by_role(role: Role) -> list[StreamKind]:
    """The registered kinds of ``role``."""
    return [k for k in all_kinds() if k.role is role]


def _types() -> dict[str, list[StreamKind]]:
    global _by_type
    if _by_type is None:
        table: dict[str, list[StreamKind]] = {}
        for kind in all_kinds():
            for t in kind.msgtypes:
                table.setdefault(t, []).append(kind)
        _by_type = table
    return _by_type


def detect(msgtype: str, topic: str, fields: Sequence[str] = ()) -> StreamKind | None:
    """The kind a topic of ``msgtype`` carries (None: fusion does not decode the type)."""
    candidates = _types().get(msgtype)
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    return next((k for k in candidates if k.claims(msgtype, topic, fields)), candidates[-1])


def for_message(msgtype: str, topic: str, forced: str | None, fields: Callable[[], Sequence[str]]) -> StreamKind | None:
    """The kind that decodes one message: ``forced`` (the sensor map's kind) when it decodes the type.

    ``fields`` gives the message's point-field names; it is called only when several kinds decode
    the type and none is forced.
    """
    candidates = _types().get(msgtype)
    if not candidates:
        return None
    if forced is not None:
        for k in candidates:
            if k.name == forced:
                return k
    if len(candidates) == 1:
        return candidates[0]
    names = fields()
    return next((k for k in candidates if k.claims(msgtype, topic, names)), candidates[-1])
