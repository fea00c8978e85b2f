"""Per-point LiDAR time → absolute int64 ns on the header's clock.

Conventions (see ``/work/shared/REFERENCE.md`` and ``docs/READERS.md``):

=========================  ==================  ======================================
name                       field(s)            meaning
=========================  ==================  ======================================
``ouster_t``               ``t``               uint32 ns relative to header stamp
``velodyne_time``          ``time``            float32 s relative (≈ −0.1…0)
``hesai_timestamp``        ``timestamp``       float64 absolute s (also RoboSense)
``livox_timestamp``        ``timestamp``       float64 absolute ns
``livox_offset_time``      ``offset_time``     uint32 ns relative to header (timebase)
``autoware_time_stamp``    ``time_stamp``      uint32 ns relative
``aeva_time_offset_ns``    ``time_offset_ns``  int32 ns relative
``luminar_time_sec_nsec``  ``time_sec`` +      absolute, split seconds + nanoseconds
                           ``time_nsec``
``none``                   —                   no per-point time
=========================  ==================  ======================================

Detection uses the field name and datatype, then decides absolute vs relative by
comparing the values with the header stamp (an absolute time lies near the stamp;
a relative offset is small). Unit (s vs ns) comes from the datatype and magnitude.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.errors import DecodeError

NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class TimeConvention:
    """One per-point time convention: which field, unit and reference."""

    name: str
    field: str
    unit_ns: float  # 1e9 for seconds, 1 for ns
    absolute: bool


CONVENTIONS: dict[str, TimeConvention] = {
    c.name: c
    for c in (
        TimeConvention("ouster_t", "t", 1.0, False),
        TimeConvention("velodyne_time", "time", 1e9, False),
        TimeConvention("hesai_timestamp", "timestamp", 1e9, True),
        TimeConvention("robosense_timestamp", "timestamp", 1e9, True),
        TimeConvention("livox_timestamp", "timestamp", 1.0, True),
        TimeConvention("livox_offset_time", "offset_time", 1.0, False),
        TimeConvention("autoware_time_stamp", "time_stamp", 1.0, False),
        TimeConvention("aeva_time_offset_ns", "time_offset_ns", 1.0, False),
        TimeConvention("luminar_time_sec_nsec", "time_sec", 1e9, True),
    )
}

#: Field names tried, in order, when detecting.
TIME_FIELDS = ("t", "time", "timestamp", "offset_time", "time_stamp", "time_offset_ns", "time_offset", "ts")
_DEFAULT_NAME = {
    ("t", False): "ouster_t",
    ("time", False): "velodyne_time",
    ("timestamp", True, 1e9): "hesai_timestamp",
    ("timestamp", True, 1.0): "livox_timestamp",
    ("offset_time", False): "livox_offset_time",
    ("time_stamp", False): "autoware_time_stamp",
    ("time_offset_ns", False): "aeva_time_offset_ns",
}


def _sample(values: np.ndarray) -> float:
    """A representative value: the middle finite element of a ~256-element subsample.

    Only the magnitude matters (seconds vs ns, near the stamp vs small offset), so no sort.
    """
    v = values[:: max(1, values.shape[0] // 256)].astype(np.float64)
    v = v[np.isfinite(v)]
    return float(v[v.size // 2]) if v.size else 0.0


def detect(fields: dict[str, np.ndarray], stamp_ns: int) -> TimeConvention | None:
    """Pick the convention of a cloud from its fields and header stamp (None = no per-point time)."""
    if "time_sec" in fields and "time_nsec" in fields:
        return CONVENTIONS["luminar_time_sec_nsec"]
    for name in TIME_FIELDS:
        col = fields.get(name)
        if col is None or col.ndim != 1:
            continue
        is_float = col.dtype.kind == "f"
        v = _sample(col)
        unit = (1.0 if abs(v) > 1e15 else 1e9) if is_float else 1.0
        as_abs = v * unit
        # near the header stamp = absolute; without a stamp, > ~3 years after epoch = absolute
        absolute = abs(as_abs - stamp_ns) < abs(as_abs) if stamp_ns else abs(as_abs) > 1e17
        key = (name, absolute, unit) if name == "timestamp" else (name, absolute)
        conv_name = _DEFAULT_NAME.get(key)  # type: ignore[call-overload]
        if conv_name is not None and CONVENTIONS[conv_name].absolute == absolute:
            return CONVENTIONS[conv_name]
        return TimeConvention(
            f"{'absolute' if absolute else 'relative'}_{'ns' if unit == 1.0 else 's'}:{name}", name, unit, absolute
        )
    return None


def resolve(name: str) -> TimeConvention | None:
    """Convention by name (``"none"`` → None); ``"<absolute|relative>_<s|ns>:<field>"`` is accepted too.

    Raises:
        DecodeError: Unknown name.
    """
    if name == "none":
        return None
    if name in CONVENTIONS:
        return CONVENTIONS[name]
    kind, _, field = name.partition(":")
    ref, _, unit = kind.partition("_")
    if field and ref in ("absolute", "relative") and unit in ("s", "ns"):
        return TimeConvention(name, field, 1e9 if unit == "s" else 1.0, ref == "absolute")
    raise DecodeError(f"unknown LiDAR time convention {name!r} (known: {', '.join([*CONVENTIONS, 'none'])})")


def point_times_ns(fields: dict[str, np.ndarray], stamp_ns: int, conv: TimeConvention) -> np.ndarray:
    """(N,) int64 absolute per-point time in ns under ``conv``.

    Non-finite values map to the header stamp.

    Raises:
        DecodeError: The convention's field is missing.
    """
    if conv.name == "luminar_time_sec_nsec":
        if "time_nsec" not in fields or "time_sec" not in fields:
            raise DecodeError("time convention luminar_time_sec_nsec needs fields time_sec and time_nsec")
        return fields["time_sec"].astype(np.int64) * NS + fields["time_nsec"].astype(np.int64)
    col = fields.get(conv.field)
    if col is None:
        raise DecodeError(f"time convention {conv.name} needs field {conv.field!r}, the cloud has {', '.join(fields)}")
    if col.dtype.kind in "iu":
        ns = col.astype(np.int64)  # always a copy
        if conv.unit_ns != 1.0:
            ns *= int(conv.unit_ns)
    else:
        v = col.astype(np.float64)
        ok = np.isfinite(v)
        v = np.where(ok, v, 0.0)
        if conv.unit_ns == 1.0:
            ns = np.rint(v).astype(np.int64)
        else:  # seconds: split to keep float64's precision on large absolute values
            sec = np.floor(v)
            ns = sec.astype(np.int64) * NS + np.rint((v - sec) * conv.unit_ns).astype(np.int64)
        if not conv.absolute:
            ns[~ok] = 0
        else:
            ns[~ok] = stamp_ns
    if not conv.absolute:
        ns += np.int64(stamp_ns)  # in place: ns is always a fresh array here
    return ns
