"""Lazy package exports: a package's public names imported from their modules on first use.

``import fusion.sync`` (or ``fusion.store``, ``fusion.annotations``) then costs nothing: numba,
zarr and numpy load only when a name that needs them is used (``fusion --help`` and ``fusion
inspect`` never do; ``tests/test_startup.py``).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package``.

    Args:
        package: The package's ``__name__``.
        exports: Public name -> module path (relative to ``package`` when it starts with a dot).

    Returns:
        The function: imports the name's module on first use and keeps the value in the package's
        namespace (later uses do not call it); an unknown name raises ``AttributeError``.
    """
    namespace = sys.modules[package].__dict__

    def getattr_(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    return getattr_
