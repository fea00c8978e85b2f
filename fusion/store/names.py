"""Names that become store paths: sensor names (from a frame id, a topic, a config or a rig) and
point-field names (from a bag's ``PointCloud2``) are checked or escaped before they name a Zarr node.

A safe name is 1–100 characters of ``A-Z a-z 0-9 _ . -``, does not start with ``.`` or ``__``
(Zarr reserves ``__`` prefixes) and is not a name the store format uses for its own files
(``zarr.json``, ``.zarray``, ...). Names fusion derives from the input (a frame id, a topic, a
point field) are escaped with :func:`safe_name` — the original stays in the stream's attributes
(``frame_id``, ``topic``) or the record; names a user chose (config, sensor map, rig) are refused by
:func:`check_name` with the reason, so the user renames them.
"""

from __future__ import annotations

import hashlib
import re

#: Longest name (characters).
MAX_NAME = 100
_ALLOWED = re.compile(r"[A-Za-z0-9_.\-]+")
_RESERVED = frozenset({"zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata", "c"})


def unsafe_reason(name: object) -> str | None:
    """Why ``name`` cannot be a store node name, or None when it can."""
    if not isinstance(name, str) or not name:
        return "it is empty" if name == "" else f"it is not text ({type(name).__name__})"
    if len(name) > MAX_NAME:
        return f"it is {len(name)} characters long (at most {MAX_NAME})"
    if not _ALLOWED.fullmatch(name):
        bad = sorted({c for c in name if not _ALLOWED.fullmatch(c)})
        return f"it contains {', '.join(repr(c) for c in bad[:5])} (use letters, digits, '_', '.', '-')"
    if name.startswith(".") or name.startswith("__"):
        return "it starts with '.' or '__' (reserved)"
    if name in _RESERVED:
        return f"{name!r} is a name the store format uses for its own files"
    return None


def check_name(name: str, what: str) -> str:
    """``name`` itself when it is safe; otherwise :class:`~fusion.errors.ConfigError` naming ``what``.

    Args:
        name: A user-chosen name (sensor name in a config, sensor map or rig).
        what: Where it comes from, for the message (``"sensor name"``, ``"rig.yaml: sensors"``).
    """
    reason = unsafe_reason(name)
    if reason is not None:
        from fusion.errors import ConfigError

        raise ConfigError(f"{what} {name!r} cannot name a stream in the store: {reason}; rename it")
    return name


def safe_name(text: str) -> str:
    """A safe node name made from ``text`` (a frame id, a topic, a point field): ``text`` itself when safe.

    Other characters become ``_``, a leading ``.``/``__`` gets an ``x`` prefix, reserved names get a
    ``_`` suffix, and a name longer than :data:`MAX_NAME` keeps its start plus 8 hex digits of its hash
    (so two long names that differ only at the end stay different).
    """
    if unsafe_reason(text) is None:
        return text
    out = re.sub(r"[^A-Za-z0-9_.\-]", "_", str(text)) or "_"
    if out.startswith(".") or out.startswith("__"):
        out = "x" + out
    if out in _RESERVED:
        out += "_"
    if len(out) > MAX_NAME:
        digest = hashlib.sha1(str(text).encode("utf-8", "surrogatepass")).hexdigest()[:8]
        out = out[: MAX_NAME - 9] + "_" + digest
    return out
