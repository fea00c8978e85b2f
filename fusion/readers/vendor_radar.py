"""Vendor radar messages mapped declaratively: an array of structs → :class:`RadarDetections`.

Radars publish their own message types (Continental ARS408 object/cluster lists, Ainstein
``RadarTargetArray``, Delphi ESR tracks, many in-house drivers): a header, perhaps a sensor
timestamp, and an array of detections whose fields carry the position (Cartesian, or polar with
angles in radians or degrees), the radial velocity and an RCS/SNR. Instead of one reader per
vendor, a sensor map entry says where things are (docs/READERS.md)::

    sensors:
      radar_front:
        topic: /radar_front/objects
        kind: radar
        detections:
          array: objects              # the message's array-of-structs field (dotted path allowed)
          x: dist_long                # Cartesian, m …
          y: dist_lat
          # … or polar: range: r_m, azimuth: az, elevation: el, angle_unit: deg
          radial_velocity: vrel_long  # m/s (velocity_scale: -1 when approaching is positive)
          rcs: rcs_dbsm
          extras: [snr]               # more per-detection fields kept (float32)
          stamp: {field: timestamp_us, unit: us}   # hardware time from the message (optional)

Positions are in the sensor frame (``frame_id`` of the header or the sensor map's). A detection
whose position is not finite is dropped. A scan split over several messages is not joined (each
message is one radar record) unless ``scan_counter`` names the message field numbering the scan:
consecutive messages with the same value are then joined into one record (:class:`ScanJoiner`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fusion.config_values import read_factor, read_name, read_names
from fusion.errors import ConfigError, DecodeError
from fusion.readers.radar import polar_to_xyz
from fusion.readers.records import MessageMeta, RadarDetections

#: Unit of a stamp field → nanoseconds per unit (``time``: a ROS Time struct, sec + nanosec/nsec).
STAMP_UNITS = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0, "time": 0.0}
_KEYS = {"array", "x", "y", "z", "range", "azimuth", "elevation", "angle_unit", "radial_velocity",
         "velocity_scale", "rcs", "extras", "stamp", "scan_counter"}


@dataclass(frozen=True)
class VendorRadarMap:
    """Where a vendor radar message keeps its detections (see module docstring).

    Attributes:
        array: Dotted path of the array-of-structs field in the message.
        position: ``("x", "y", "z")`` or ``("range", "azimuth", "elevation")`` item field paths
            (``None`` for a missing z / elevation: 0).
        polar: Whether ``position`` is polar.
        angle_scale: Radians per angle unit (1 or π/180).
        radial_velocity: Item field of the radial velocity (m/s), or None (stored NaN).
        velocity_scale: Factor applied to it.
        rcs: Item field of the radar cross-section (stored as ``rcs``), or None.
        extras: Other item fields kept as float32 per-detection fields.
        stamp_field: Dotted path of a message field with the hardware time, or None (header).
        stamp_unit: Its unit (:data:`STAMP_UNITS`).
        scan_counter: Dotted path of a message field that numbers the scan: consecutive messages
            with the same value are one scan (:class:`ScanJoiner`); None: one message, one scan.
    """

    array: str
    position: tuple[str | None, str | None, str | None]
    polar: bool = False
    angle_scale: float = 1.0
    radial_velocity: str | None = None
    velocity_scale: float = 1.0
    rcs: str | None = None
    extras: tuple[str, ...] = ()
    stamp_field: str | None = None
    stamp_unit: str = "ns"
    scan_counter: str | None = None


def _name(raw: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise ConfigError(f"{where}.{key} is required")
        return None
    return read_name(value, f"{where}.{key}")


def parse_vendor_radar(raw: Any, where: str) -> VendorRadarMap:
    """The ``detections:`` block of a sensor map entry (``where`` names it in errors).

    Raises:
        ConfigError: Unknown key, missing position fields, a bad unit or scale (named).
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a mapping (array, x/y/z or range/azimuth/elevation, ...)")
    if unknown := set(raw) - _KEYS:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))} "
                          f"(known: {', '.join(sorted(_KEYS))})")
    array = _name(raw, "array", where, required=True)
    assert array is not None
    polar = "range" in raw or "azimuth" in raw
    if polar and ("x" in raw or "y" in raw):
        raise ConfigError(f"{where}: give x/y(/z) or range/azimuth(/elevation), not both")
    keys = ("range", "azimuth", "elevation") if polar else ("x", "y", "z")
    position = (_name(raw, keys[0], where, required=True), _name(raw, keys[1], where, required=True),
                _name(raw, keys[2], where))
    unit = raw.get("angle_unit", "rad")
    if unit not in ("rad", "deg"):
        raise ConfigError(f"{where}.angle_unit must be rad or deg, got {unit!r}")
    scale = read_factor(raw.get("velocity_scale", 1.0), f"{where}.velocity_scale")
    extras = read_names(raw.get("extras"), f"{where}.extras")
    stamp = raw.get("stamp")
    stamp_field, stamp_unit = None, "ns"
    if stamp is not None:
        if not isinstance(stamp, Mapping) or set(stamp) - {"field", "unit"}:
            raise ConfigError(f"{where}.stamp must be a mapping {{field: <message field>, unit: s|ms|us|ns|time}}")
        stamp_field = _name(stamp, "field", f"{where}.stamp", required=True)
        stamp_unit = str(stamp.get("unit", "ns"))
        if stamp_unit not in STAMP_UNITS:
            raise ConfigError(f"{where}.stamp.unit must be one of {', '.join(STAMP_UNITS)}, got {stamp_unit!r}")
    return VendorRadarMap(array=array, position=position, polar=polar,
                          angle_scale=np.pi / 180.0 if unit == "deg" else 1.0,
                          radial_velocity=_name(raw, "radial_velocity", where), velocity_scale=scale,
                          rcs=_name(raw, "rcs", where), extras=extras, stamp_field=stamp_field,
                          stamp_unit=stamp_unit, scan_counter=_name(raw, "scan_counter", where))


def _get(obj: Any, path: str, what: str) -> Any:
    for part in path.split("."):
        if not hasattr(obj, part):
            have = [f for f in getattr(type(obj), "__dataclass_fields__", {}) if not f.startswith("_")]
            raise DecodeError(f"{what} {path!r}: no field {part!r} (have: {', '.join(have) or 'none'}); "
                              "fix the sensor map's detections block")
        obj = getattr(obj, part)
    return obj


def _column(items: list[Any], path: str) -> np.ndarray:
    try:
        return np.fromiter((float(_get(o, path, "detection field")) for o in items), dtype=np.float64,
                           count=len(items))
    except (TypeError, ValueError) as exc:
        raise DecodeError(f"detection field {path!r} is not a number ({exc})") from None


def _stamp_ns(msg: Any, m: VendorRadarMap) -> int:
    assert m.stamp_field is not None
    value = _get(msg, m.stamp_field, "stamp field")
    if m.stamp_unit == "time":
        sec = getattr(value, "sec", getattr(value, "secs", None))
        nsec = getattr(value, "nanosec", getattr(value, "nsec", getattr(value, "nsecs", None)))
        if sec is None or nsec is None:
            raise DecodeError(f"stamp field {m.stamp_field!r} is not a ROS time (sec + nanosec)")
        return int(sec) * 1_000_000_000 + int(nsec)
    scale = STAMP_UNITS[m.stamp_unit]
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        ns_int = int(value) * int(scale)  # exact: a float64 holds only ≈ 16 digits of a ns time
    else:
        try:
            ns = float(value) * scale
        except (TypeError, ValueError):
            raise DecodeError(f"stamp field {m.stamp_field!r} is not a number: {value!r}") from None
        if not np.isfinite(ns):
            raise DecodeError(f"stamp field {m.stamp_field!r} = {value!r} {m.stamp_unit} is not a time")
        ns_int = round(ns)
    if not 0 <= ns_int < 2**63:
        raise DecodeError(f"stamp field {m.stamp_field!r} = {value!r} {m.stamp_unit} is not a time")
    return ns_int


def decode_vendor_radar(msg: Any, meta: MessageMeta, m: VendorRadarMap) -> RadarDetections:
    """A vendor radar message → :class:`RadarDetections` (sensor frame, m, m/s).

    Raises:
        DecodeError: A mapped field is absent or not numeric (names it and the fields there are).
    """
    items = _get(msg, m.array, "detections array")
    if isinstance(items, (str, bytes)) or not hasattr(items, "__len__"):
        raise DecodeError(f"detections array {m.array!r} is not an array of structs")
    items = list(items)
    cols = [_column(items, p) if p is not None else np.zeros(len(items)) for p in m.position]
    if m.polar:
        xyz = polar_to_xyz(cols[0], cols[1] * m.angle_scale, cols[2] * m.angle_scale)
    else:
        xyz = np.stack(cols, axis=1).astype(np.float32) if items else np.zeros((0, 3), np.float32)
    keep = np.isfinite(xyz).all(axis=1)
    v = (_column(items, m.radial_velocity) * m.velocity_scale if m.radial_velocity is not None
         else np.full(len(items), np.nan))
    fields = {"rcs": _column(items, m.rcs)} if m.rcs is not None else {}
    fields.update({e.replace(".", "_"): _column(items, e) for e in m.extras})
    if m.stamp_field is not None:
        meta = dataclasses.replace(meta, stamp_ns=_stamp_ns(msg, m))
    return RadarDetections(meta, np.ascontiguousarray(xyz[keep], dtype=np.float32), v[keep].astype(np.float32),
                           {k: c[keep].astype(np.float32) for k, c in fields.items()})


@dataclass
class _Pending:
    counter: Any
    meta: MessageMeta
    parts: list[RadarDetections]
    last_index: int


class ScanJoiner:
    """Joins the messages of one radar scan, consecutive messages with the same ``scan_counter``.

    A message whose scan may go on is *carried over* (:class:`~fusion.errors.CarriedOverError`:
    counted as stored, its detections in a later record); the message that starts the next scan
    returns the finished one (stamped with its first message's time and frame); the scan the log
    ends in is the last message's record when that message did not start a new scan, else one
    trailing record after it (:meth:`take_trailing`, index = the topic's message count).
    Decoding a topic from its first message again (a second pass) starts over.
    """

    def __init__(self) -> None:
        self._pending: dict[str, _Pending] = {}
        self._trailing: dict[str, RadarDetections] = {}
        #: topic -> index of its last message (set by the source from the bag index).
        self.last_index: dict[str, int] = {}

    def add(self, msg: Any, meta: MessageMeta, m: VendorRadarMap) -> RadarDetections:
        """The record of ``meta``'s message (raises CarriedOverError while its scan goes on)."""
        from fusion.errors import CarriedOverError

        assert m.scan_counter is not None
        topic = meta.topic
        counter = _get(msg, m.scan_counter, "scan counter field")
        scan = decode_vendor_radar(msg, meta, m)
        pend = self._pending.get(topic)
        if pend is not None and meta.index <= pend.last_index:  # a new pass over the topic
            pend = None
            self._trailing.pop(topic, None)
        last = meta.index == self.last_index.get(topic, -1)
        if pend is not None and counter == pend.counter:
            pend.parts.append(scan)
            pend.last_index = meta.index
            if not last:
                raise CarriedOverError(f"part of radar scan {counter!r} (joined by {m.scan_counter!r})")
            del self._pending[topic]
            return _joined(pend, meta)
        self._pending[topic] = _Pending(counter, scan.meta, [scan], meta.index)
        if pend is None:
            if not last:
                raise CarriedOverError(f"part of radar scan {counter!r} (joined by {m.scan_counter!r})")
            del self._pending[topic]
            return scan
        if last:  # this message starts the scan the log ends in: it becomes a trailing record
            done = self._pending.pop(topic)
            self._trailing[topic] = _joined(done, dataclasses.replace(meta, index=meta.index + 1))
        return _joined(pend, meta)

    def take_trailing(self, topic: str) -> RadarDetections | None:
        """The scan after the topic's last message (once), else None."""
        return self._trailing.pop(topic, None)


def _joined(p: _Pending, at: MessageMeta) -> RadarDetections:
    """One record of the parts of a scan, at message ``at`` (its index), with the first part's
    clocks and frame."""
    first = p.parts[0].meta
    meta = dataclasses.replace(first, index=at.index, record_time_ns=at.record_time_ns)
    keys = p.parts[0].fields.keys()
    return RadarDetections(meta, np.concatenate([s.xyz for s in p.parts]),
                           np.concatenate([s.radial_velocity_mps for s in p.parts]),
                           {k: np.concatenate([s.fields[k] for s in p.parts]) for k in keys})
