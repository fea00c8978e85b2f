"""Byte-level integrity of a store: metadata documents and every stored chunk (``fusion validate``).

* :func:`metadata_problems`: every node's ``zarr.json`` parses and equals its copy in the root's
  consolidated metadata (the copy the reader uses), and no node of the copy lacks its document.
* :func:`chunk_problems`: streams every array shard by shard (one shard decoded at a time, so
  memory is bounded by the largest shard, ~32 MiB, whatever the store's size): each object
  exists, its index passes its CRC32C, every inner chunk passes its CRC32C and decodes to the
  array's shape (:mod:`fusion.store.guard`). ``quick`` only checks that every object exists.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import zarr
from zarr.abc.store import Store
from zarr.buffer import default_buffer_prototype

from fusion.errors import StoreCorruptError
from fusion.store._zarr_compat import sync
from fusion.store.guard import ADVICE, Grid, GuardedStore, grid_of
from fusion.store.reading import read

#: At most this many problems are listed per array (then a count of the rest).
MAX_PER_ARRAY = 5


@dataclass(frozen=True)
class ArrayEntry:
    """One array to scan: path, handle, grid and decoded bytes per row."""

    path: str
    array: zarr.Array
    grid: Grid
    row_bytes: int

    @property
    def nbytes(self) -> int:
        """Decoded size, bytes."""
        return self.grid.rows * self.row_bytes


def _keys(store: Store) -> list[str]:
    async def _all() -> list[str]:
        return [k async for k in store.list()]

    return sorted(sync(_all()))


def _get(store: Store, key: str) -> bytes | None:
    buf = sync(store.get(key, default_buffer_prototype()))
    return None if buf is None else buf.to_bytes()


def _strip(doc: Any) -> Any:
    """A node document without the root's consolidated copy (compared separately)."""
    if isinstance(doc, dict):
        return {k: v for k, v in doc.items() if k != "consolidated_metadata"}
    return doc


def metadata_problems(store: Store) -> tuple[list[str], list[str]]:
    """Check every ``zarr.json`` against JSON and the consolidated copy.

    Returns:
        (problems, keys): one line per broken document, and every key of the store (listed once
        here, reused by the quick object check).
    """
    inner = store._store if isinstance(store, GuardedStore) else store
    keys = _keys(inner)
    problems: list[str] = []
    docs: dict[str, Any] = {}
    for key in (k for k in keys if k == "zarr.json" or k.endswith("/zarr.json")):
        node = key.removesuffix("zarr.json").rstrip("/")
        raw = _get(inner, key)
        try:
            docs[node] = json.loads((raw or b"").decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(f"{key}: not valid JSON ({exc})")
    root = docs.get("")
    consolidated = (root or {}).get("consolidated_metadata") if isinstance(root, dict) else None
    copies = consolidated.get("metadata") if isinstance(consolidated, dict) else None
    if isinstance(copies, dict):
        for node, copy in sorted(copies.items()):
            key = f"{node}/zarr.json"
            if node not in docs:
                if key in keys:
                    continue  # already listed as invalid JSON
                problems.append(f"{key}: missing (the root's consolidated metadata lists node {node})")
            elif _strip(docs[node]) != _strip(copy):
                problems.append(f"{key}: differs from its copy in the root zarr.json's consolidated metadata "
                                "(one of the two was altered)")
    return problems, keys


def arrays(root: zarr.Group) -> Iterator[ArrayEntry]:
    """Every array of the store chunked along axis 0 (frames, streams, ego, report, annotations...)."""
    for path, node in sorted(root.members(max_depth=None), key=lambda kv: kv[0]):
        if isinstance(node, zarr.Array):
            g = grid_of(node)
            if g is None:
                continue
            native = node.dtype.to_native_dtype() if hasattr(node.dtype, "to_native_dtype") else node.dtype
            row = int(np.prod(node.shape[1:], dtype=np.int64)) * np.dtype(native).itemsize
            yield ArrayEntry(path, node, g, row)


def object_key(entry: ArrayEntry, obj: int) -> str:
    """Store key of stored object ``obj`` (shard or chunk) of ``entry``."""
    arr = entry.array
    return f"{arr.path}/{arr.metadata.encode_chunk_key((obj, *([0] * (len(arr.shape) - 1))))}"


def chunk_problems(entries: list[ArrayEntry], keys: list[str], *, quick: bool,
                   progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Every stored object of ``entries`` exists (``quick``), and decodes (not ``quick``).

    Args:
        entries: Arrays to scan (:func:`arrays`).
        keys: Every key of the store (:func:`metadata_problems`).
        quick: Only check that the objects exist (no data read).
        progress: Called with (decoded bytes done, total) after each shard.
    """
    present = set(keys)
    store = entries[0].array.store_path.store if entries else None
    strict = not isinstance(store, GuardedStore) or store.strict  # an interrupted store lacks its last shards
    total = sum(e.nbytes for e in entries)
    done = 0
    problems: list[str] = []
    for e in entries:
        mine: list[str] = []
        g = e.grid
        for obj in range(g.objects):
            a, b = obj * g.object_rows, min((obj + 1) * g.object_rows, g.rows)
            if quick:
                if strict and object_key(e, obj) not in present:
                    unit = "shard" if g.sharded else "chunk"
                    mine.append(f"{e.path}: {unit} {obj} (rows {a}–{b - 1}) is missing: no object "
                                f"{object_key(e, obj)}")
            else:
                try:
                    values = read(e.array, slice(a, b))
                    if values.shape[:1] != (b - a,):
                        mine.append(f"{e.path}: rows {a}–{b - 1} read as {values.shape[0]} rows")
                except StoreCorruptError as exc:
                    mine.append(str(exc).removeprefix(_url_prefix(e)).removesuffix(f"; {ADVICE}"))
            done += (b - a) * e.row_bytes
            if progress is not None:
                progress(done, total)
        if len(mine) > MAX_PER_ARRAY:
            mine = [*mine[:MAX_PER_ARRAY], f"{e.path}: … and {len(mine) - MAX_PER_ARRAY} more damaged object(s)"]
        problems.extend(mine)
    return problems


def _url_prefix(e: ArrayEntry) -> str:
    store = e.array.store_path.store
    return f"{store.url}: " if isinstance(store, GuardedStore) and store.url else ""
