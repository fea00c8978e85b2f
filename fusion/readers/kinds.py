"""Which stream kind a topic carries, from its type (and fields): the registry's answer."""

from __future__ import annotations

from collections.abc import Sequence

from fusion.readers.records import SensorKind

#: Field names that mark a PointCloud2 as radar (radial velocity / Doppler).
DOPPLER_FIELDS: tuple[str, ...] = (
    "doppler",
    "doppler_mps",
    "velocity",
    "vrad",
    "radial_velocity",
    "v_r",
    "doppler_velocity",
    "range_rate",
)

def is_doppler_field(name: str) -> bool:
    """True for a field name that carries radial velocity."""
    return name.lower() in DOPPLER_FIELDS


def detect_kind(msgtype: str, topic: str, fields: Sequence[str] = ()) -> str:
    """Kind of a topic from its message type (the stream-kind registry, :mod:`fusion.kinds`).

    A PointCloud2 with a Doppler-like field is radar; ``/tf_static`` (any topic ending in
    ``tf_static``) is ``tf_static``. Built-in kinds come back as :class:`SensorKind` members; a
    kind registered at run time as its name; an undecoded type as :attr:`SensorKind.OTHER`.
    """
    from fusion import kinds

    kind = kinds.detect(msgtype, topic, fields)
    if kind is None:
        return SensorKind.OTHER
    return detect_kind_name(kind.name)


def detect_kind_name(name: str) -> str:
    """A kind name as :func:`detect_kind` gives it (a :class:`SensorKind` member when built in)."""
    try:
        return SensorKind(name)
    except ValueError:
        return name
