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

#: Field names of a track id: with a velocity vector (``vx``, ``vy``) they mark a PointCloud2 of
#: tracked objects (the SICK RMS driver's ``cloud_radar_track``), stored as ``radar_tracks``.
TRACK_ID_FIELDS: tuple[str, ...] = ("objid", "obj_id", "object_id", "objectid", "track_id", "trackid", "id")


def is_doppler_field(name: str) -> bool:
    """True for a field name that carries radial velocity."""
    return name.lower() in DOPPLER_FIELDS


def track_id_field(fields: Sequence[str]) -> str | None:
    """The track-id field of a PointCloud2 of tracked objects (a :data:`TRACK_ID_FIELDS` name and
    fields ``vx`` and ``vy``, any case), else None."""
    lower = {f.lower(): f for f in fields}
    if "vx" not in lower or "vy" not in lower:
        return None
    return next((lower[n] for n in TRACK_ID_FIELDS if n in lower), None)


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
