"""YAML parse errors on one line: ``line 3, column 4: expected ',' or ']', but got ':'``.

PyYAML's messages span several lines (the context, a copy of the offending line, a caret); a CLI
error is one line naming the file, so the position and the problem are kept and the rest dropped.
"""

from __future__ import annotations

import yaml


def yaml_error_line(exc: BaseException) -> str:
    """The position (1-based line and column) and the problem of a YAML error, on one line.

    Args:
        exc: A ``yaml.YAMLError`` (a ``MarkedYAMLError`` gives the position) or any other error.

    Returns:
        e.g. ``line 3, column 4: expected ',' or ']', but got ':' (while parsing a flow sequence)``.
    """
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        return " ".join(f"{where}{problem}{context}".split())
    return " ".join(str(exc).split())
