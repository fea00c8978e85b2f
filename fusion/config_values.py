"""Typed readers of parsed YAML values: each returns the value or raises ONE ConfigError naming the key.

Every reader takes the value as ``yaml.safe_load`` produced it (anything) and the dotted key path
it was found at (``frames.max_gap_ms``). The error says the key, what is expected and what was
found: ``frames.max_gap_ms: expected a number > 0 and ≤ 1e9 (milliseconds), got 'a hundred'``.
Booleans are YAML booleans only (``true``/``false``; ``maybe``, ``1`` or ``"yes"`` are refused);
numbers are ints or floats, never booleans or strings, finite and inside the stated range.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from fusion.errors import ConfigError

T = TypeVar("T")
Reader = Callable[[object, str], Any]
"""``reader(value, key) -> parsed value``; raises :class:`ConfigError` naming ``key``."""


def show(value: object) -> str:
    """Short, YAML-flavoured rendering of a value for an error message (at most ~80 characters)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an integer of {len(str(abs(value)))} digits" if value.bit_length() < 10_000 else "a huge integer"
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, (int, float)):
        return repr(value)
    elif isinstance(value, Mapping):
        text = f"a mapping {_flow(value)}"
    elif isinstance(value, (list, tuple)):
        text = f"a list {_flow(list(value))}"
    else:
        text = f"{value!r} ({type(value).__name__})"
    return text if len(text) <= 80 else text[:77] + "..."


def _flow(value: object) -> str:
    """YAML flow style (``{a: 1}``, ``[true]``): how the user wrote it, not Python's repr."""
    import yaml

    try:
        text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True)
    except yaml.YAMLError:
        return repr(value)
    except RecursionError:  # a deeply nested hostile value: its start is enough to recognise it
        return "(nested too deeply to show)"
    return " ".join(text.split()).removesuffix("...").strip()


def key_name(name: object) -> str:
    """A key as written in a key path: printable text as is, anything else escaped (one line)."""
    if not isinstance(name, str):
        return show(name)
    text = name if name.isprintable() else name.encode("unicode_escape").decode("ascii")
    return text if len(text) <= 60 else text[:57] + "..."


def fail(key: str, expected: str, value: object) -> ConfigError:
    """The error for ``key``: ``"<key>: expected <expected>, got <value>"``."""
    hint = ""
    if isinstance(value, str) and _looks_numeric(value) and "number" in expected:
        hint = " (a string: write numbers unquoted, with a dot before an exponent: 1.0e+3)"
    return ConfigError(f"{key}: expected {expected}, got {show(value)}{hint}")


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fmt(x: float) -> str:
    if float(x).is_integer() and abs(x) < 1e5:
        return str(int(x))
    mantissa, _, exponent = f"{x:.0e}".partition("e")
    return f"{mantissa}e{int(exponent)}"


def read_bool(value: object, key: str) -> bool:
    """A YAML boolean (``true``/``false``)."""
    if not isinstance(value, bool):
        raise fail(key, "true or false", value)
    return value


def number(low: float, high: float, unit: str, *, low_open: bool = False, optional: bool = False) -> Reader:
    """Reader of a finite int or float in ``[low, high]`` (``(low, high]`` with ``low_open``).

    The value is returned as written (an int stays an int), so a config's dict form is unchanged.
    ``optional`` also accepts null (None).
    """
    expected = f"a number {'>' if low_open else '≥'} {_fmt(low)} and ≤ {_fmt(high)} ({unit})"
    if optional:
        expected += " or null"

    def read(value: object, key: str) -> Any:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(key, expected, value)
        # ints compare exactly (no float overflow for huge ones); NaN fails every comparison
        if not ((value > low if low_open else value >= low) and value <= high):
            raise fail(key, expected, value)
        return value

    return read


def read_str(value: object, key: str) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise fail(key, "a non-empty string", value)
    return value


def read_optional_str(value: object, key: str) -> str | None:
    """A non-empty string or null."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise fail(key, "a non-empty string or null", value)
    return value


#: Longest name (topic, frame, field) a document may give.
MAX_NAME = 1000


def read_name(value: object, key: str) -> str:
    """A non-empty string of at most :data:`MAX_NAME` characters (a topic, frame or field name)."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME:
        raise fail(key, f"a non-empty string of at most {MAX_NAME} characters", value)
    return value


def read_factor(value: object, key: str) -> float:
    """A finite, non-zero number (a scale factor)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value == 0:
        raise fail(key, "a finite non-zero number", value)
    return float(value)


def choice(options: tuple[T, ...]) -> Callable[[object, str], T]:
    """Reader of one of ``options`` (strings: the members of a ``Literal`` type)."""
    expected = "one of " + ", ".join(repr(o) for o in options)

    def read(value: object, key: str) -> T:
        for option in options:
            if isinstance(value, str) and value == option:
                return option
        raise fail(key, expected, value)

    return read


def read_names(value: object, key: str) -> tuple[str, ...]:
    """A list of non-empty strings (sensor names, topics, folders); null is the empty list."""
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)):
        raise fail(key, "a list of names", value)
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise fail(f"{key}[{i}]", "a non-empty string", item)
    return tuple(value)


def number_map(read_value: Reader, what: str) -> Reader:
    """Reader of a mapping ``name -> number`` (names non-empty strings; null is empty); values as floats."""

    def read(value: object, key: str) -> dict[str, float]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise fail(key, f"a mapping of {what}", value)
        out: dict[str, float] = {}
        for name, item in value.items():
            if not isinstance(name, str) or not name:
                raise fail(key, f"a mapping of {what} (names are strings)", name)
            out[name] = float(read_value(item, f"{key}.{key_name(name)}"))
        return out

    return read


def read_section(value: object, key: str, known: Collection[str]) -> Mapping[Any, Any]:
    """A mapping whose keys are all in ``known`` (null is empty); an unknown key is named.

    ``key`` is the section's path (``""`` for the top level).
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise fail(key or "the top level", "a mapping of keys", value)
    unknown = sorted((k for k in value if k not in known), key=str)
    if unknown:
        name = f"{key}.{key_name(unknown[0])}" if key else key_name(unknown[0])
        raise ConfigError(f"unknown key '{name}' (known: {', '.join(sorted(known))})")
    return value
