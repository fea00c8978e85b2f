"""Parse annotation timestamps into int64 nanoseconds.

Accepted forms (documented in ``docs/ANNOTATIONS.md``):

* JSON integer → **nanoseconds** (what fusion writes).
* JSON float → **seconds** (rounded to the nearest ns; float64 resolves ≈ 240 ns at 1.7e9 s).
* string of digits → nanoseconds; decimal string (``"1700000000.123456789"``) → seconds, exact.
* ISO 8601 string (``"2023-11-14T22:13:20.123456789Z"``; naive = UTC) → ns, exact to 1 ns.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

_INT_RE = re.compile(r"^[+-]?\d+$")
_DEC_RE = re.compile(r"^[+-]?\d*\.\d+$|^[+-]?\d+\.\d*$")
_FRAC_RE = re.compile(r"^(?P<head>[^.]*T\d\d:\d\d:\d\d)(?:[.,](?P<frac>\d+))?(?P<tz>.*)$")


def parse_timestamp_ns(value: object) -> int:
    """Convert one timestamp value to int nanoseconds.

    Raises:
        ValueError: describing the value and the accepted forms.
    """
    if isinstance(value, bool):
        raise ValueError(f"timestamp {value!r} is a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"timestamp {value!r} is not finite")
        return round(Decimal(repr(value)) * 1_000_000_000)
    if isinstance(value, str):
        text = value.strip()
        if _INT_RE.match(text):
            return int(text)
        if _DEC_RE.match(text):
            try:
                return int((Decimal(text) * 1_000_000_000).to_integral_value())
            except InvalidOperation:  # pragma: no cover - regex already checked
                pass
        return _parse_iso_ns(text)
    raise ValueError(f"timestamp {value!r} has type {type(value).__name__}; expected int ns, float s or ISO 8601")


def _parse_iso_ns(text: str) -> int:
    match = _FRAC_RE.match(text)
    if match is None:
        raise ValueError(
            f"timestamp {text!r} is neither a number nor ISO 8601 (e.g. 2023-11-14T22:13:20.5Z)"
        )
    frac = match.group("frac") or ""
    tz = match.group("tz")
    if tz in ("Z", "z"):
        tz = "+00:00"
    try:
        dt = datetime.fromisoformat(match.group("head") + tz)
    except ValueError as exc:
        raise ValueError(f"timestamp {text!r} is not valid ISO 8601: {exc}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    whole = int((dt - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
    frac_ns = int((frac + "000000000")[:9]) if frac else 0
    return whole * 1_000_000_000 + frac_ns
