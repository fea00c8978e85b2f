"""Files of a local directory store written by fusion itself (see :mod:`fusion.store.shards` and
:mod:`fusion.store.metadata` for why): which stores qualify, and the atomic write they share."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zarr.storage import LocalStore


def local_root(store: Any) -> Path | None:
    """The root folder of a writable local directory store, else ``None`` (use zarr)."""
    if isinstance(store, LocalStore) and not store.read_only:
        return Path(store.root)
    return None


#: Most buffers one ``writev`` call takes (POSIX IOV_MAX is at least 16; Linux allows 1024).
_IOV_MAX = min(os.sysconf("SC_IOV_MAX"), 1024) if hasattr(os, "sysconf") else 16


def write_file_atomic(path: Path, parts: Sequence[bytes | memoryview]) -> None:
    """Write ``parts`` back to back as the file ``path``, atomically.

    Like zarr's ``LocalStore``: the bytes go to a temporary file beside ``path``, which then
    replaces it, so a reader never sees a partial object; on any error the temporary file is
    removed. Written with ``os.writev`` (the GIL is released during the call; partial writes
    are continued).

    Raises:
        OSError: The file could not be written (full disk, permissions, ...).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.partial")
    views = [memoryview(p).cast("B") for p in parts if len(p)]
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            while views:
                n = os.writev(fd, views[:_IOV_MAX]) if hasattr(os, "writev") else os.write(fd, views[0])
                while n and views:  # drop what was written, keep the rest of a partly written view
                    if n >= len(views[0]):
                        n -= len(views.pop(0))
                    else:
                        views[0] = views[0][n:]
                        n = 0
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
