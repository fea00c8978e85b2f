"""Read an untrusted JSON label file: every way it can be unreadable is one ``AnnotationError`` line.

Handled besides invalid JSON: a missing/unreadable file, bytes that are not UTF-8, integers longer
than Python's 4300-digit conversion limit and nesting deeper than the interpreter's recursion limit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fusion.errors import AnnotationError


def read_json(path: Path) -> Any:
    """Parse the JSON document at ``path``.

    Raises:
        AnnotationError: names the file and why it cannot be read (line and column for syntax errors).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise AnnotationError(f"{path}: file not found") from None
    except OSError as exc:
        raise AnnotationError(f"{path}: cannot read the file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); "
                              "save the file as UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # an integer literal beyond the int-conversion digit limit
        raise AnnotationError(f"{path}: unreadable number in the JSON ({str(exc).split(':')[0]})") from None
    except RecursionError:
        raise AnnotationError(f"{path}: the JSON is nested too deeply to read") from None
