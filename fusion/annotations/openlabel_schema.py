"""Validation against the vendored official ASAM OpenLABEL 1.0.0 JSON schema, and JSON paths.

The schema file ``schema/openlabel_schema_json-v1.0.0.json`` is the one the ``vcd`` package
(MIT, Vicomtech) ships; see ``schema/README.md``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from fusion.errors import AnnotationError

SCHEMA_PATH = Path(__file__).with_name("schema") / "openlabel_schema_json-v1.0.0.json"


def json_path(parts: Iterable[str | int]) -> str:
    """Format a JSON path like ``openlabel.frames.12.objects.3.object_data.cuboid[0].val``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<root>"


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def load_schema() -> dict[str, Any]:
    """The vendored OpenLABEL 1.0.0 schema as a dict."""
    schema: dict[str, Any] = _validator().schema
    return schema


def schema_errors(doc: Any) -> list[tuple[str, str]]:
    """All schema violations of ``doc`` as ``(json_path, message)``, deepest (most precise) first."""
    from jsonschema.exceptions import relevance

    errors = sorted(_validator().iter_errors(doc), key=relevance)
    out: list[tuple[str, str]] = []
    for err in errors:
        # For oneOf/anyOf failures, the most relevant sub-error names the real problem.
        leaf = err
        while leaf.context:
            leaf = min(leaf.context, key=lambda e: (-len(e.absolute_path), relevance(e)))
            if len(leaf.absolute_path) < len(err.absolute_path):
                leaf = err
                break
        out.append((json_path(leaf.absolute_path), leaf.message))
    out.sort(key=lambda pm: -pm[0].count(".") - pm[0].count("["))
    return out


def validate_openlabel(doc: Any, source: str = "<memory>") -> None:
    """Validate ``doc`` against the official OpenLABEL 1.0.0 schema.

    Raises:
        AnnotationError: naming ``source``, the JSON path of the first (deepest) violation and
            what is wrong, plus how many other violations there are.
    """
    errors = schema_errors(doc)
    if not errors:
        return
    path, message = errors[0]
    more = f" (and {len(errors) - 1} more schema violation(s))" if len(errors) > 1 else ""
    raise AnnotationError(f"{source}: {path}: {message} [OpenLABEL 1.0.0 schema]{more}")
