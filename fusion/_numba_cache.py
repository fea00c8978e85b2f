"""Where numba caches fusion's compiled kernels (set before numba is first imported).

numba writes its cache next to the source (``__pycache__``) when it can. A non-editable install
into a site-packages the user cannot write (a system or shared environment) would then recompile
every kernel in every new process (≈ 10 s for a first conversion). :func:`configure_numba_cache`
points ``NUMBA_CACHE_DIR`` at a user cache in that case; a ``NUMBA_CACHE_DIR`` the user set is
always kept. ``fusion/__init__.py`` calls it first, before anything can import numba.
"""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/fusion/numba`` (default ``~/.cache/fusion/numba``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fusion" / "numba"


def configure_numba_cache(package_dir: Path | None = None) -> str | None:
    """Set ``NUMBA_CACHE_DIR`` to the user cache when the package directory is not writable.

    Args:
        package_dir: The installed package folder (default: this package's).

    Returns:
        The cache directory numba will use when one is set (the user's or ours); None when numba
        caches next to the sources.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    pkg = package_dir if package_dir is not None else Path(__file__).resolve().parent
    if os.access(pkg, os.W_OK):
        return None
    os.environ["NUMBA_CACHE_DIR"] = str(user_cache_dir())
    return os.environ["NUMBA_CACHE_DIR"]
