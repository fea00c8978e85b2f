"""The metadata documents (``zarr.json``) of a store being written: straight to the files of a
local directory store, through zarr for every other store.

Every metadata operation of zarr 3.1.6 (``create_hierarchy``, ``attrs.update``, ``resize``,
``consolidate_metadata``, ``require_group``) is a coroutine run on zarr's event-loop thread, whose
store calls hop again to an executor thread; the calling thread waits while both take the GIL in
turn with the shard pool. Measured here: a vga bench conversion (1.55 s) waited 285 ms for ~55 such
operations — 121 ms for 8 ``create_hierarchy`` calls, 51 ms for 20 attribute writes (``attrs.update``
writes the document once per key), 49 ms to consolidate, 19 ms for 15 resizes.

For a writable :class:`zarr.storage.LocalStore` these functions write the documents themselves:
the bytes come from zarr's own metadata classes (``to_buffer_dict``), so they are the documents
zarr writes, and each file is replaced atomically (temporary file, then rename) as zarr's
``LocalStore`` does. Any other store (zip, S3, memory) gets the zarr call. The in-memory metadata
of the group or array objects is updated the way zarr updates it, so the objects stay usable.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import zarr
from zarr.buffer import default_buffer_prototype
from zarr.errors import ContainsArrayError, ContainsGroupError
from zarr.storage import StorePath

from fusion.store._zarr_compat import ArrayV2Metadata, ArrayV3Metadata, ConsolidatedMetadata, GroupMetadata
from fusion.store.localfs import local_root, write_file_atomic

ZARR_JSON = "zarr.json"
NodeMetadata = ArrayV2Metadata | ArrayV3Metadata | GroupMetadata  # fusion writes v3 only; zarr's type


def _doc_path(root: Path, path: str) -> Path:
    return root / path / ZARR_JSON if path else root / ZARR_JSON


def _write_doc(root: Path, path: str, meta: NodeMetadata) -> None:
    doc = meta.to_buffer_dict(default_buffer_prototype())[ZARR_JSON].to_bytes()
    write_file_atomic(_doc_path(root, path), [doc])


def _load(root: Path, path: str) -> dict[str, Any] | None:
    """The parsed document of the node at ``path`` (``None`` when there is none)."""
    try:
        return dict(json.loads(_doc_path(root, path).read_bytes()))
    except FileNotFoundError:
        return None


def _read_doc(root: Path, path: str) -> ArrayV3Metadata | GroupMetadata | None:
    """The metadata of the node at ``path`` (``None`` when there is none)."""
    doc = _load(root, path)
    if doc is None:
        return None
    return ArrayV3Metadata.from_dict(doc) if doc.get("node_type") == "array" else GroupMetadata.from_dict(doc)


def _node_type(root: Path, path: str) -> str | None:
    """``"array"``, ``"group"`` or ``None`` (no node at ``path``)."""
    doc = _load(root, path)
    return None if doc is None else str(doc.get("node_type", "group"))


def _ancestors(path: str) -> list[str]:
    """The paths of the groups above ``path``, root first (none for the root itself)."""
    if not path:
        return []
    parts = path.split("/")
    return ["", *("/".join(parts[:i]) for i in range(1, len(parts)))]


def _depth(path: str) -> tuple[int, str]:
    """Sort key: parents before their children."""
    return path.count("/"), path


def write_nodes(store: Any, nodes: Mapping[str, NodeMetadata], *, overwrite: bool = False) -> None:
    """Write the documents of ``nodes`` (path -> metadata) as ``zarr.create_hierarchy`` does.

    Missing parent groups are created; an existing node at a given path is an error
    (``ContainsArrayError``/``ContainsGroupError``) or, with ``overwrite``, replaced with
    everything below it.
    """
    root = local_root(store)
    if root is None:
        for _ in zarr.create_hierarchy(store=store, nodes=dict(nodes), overwrite=overwrite):
            pass
        return
    existing = [(path, kind) for path in sorted(nodes, key=_depth) if (kind := _node_type(root, path))]
    if existing and not overwrite:
        path, kind = existing[0]
        raise (ContainsArrayError if kind == "array" else ContainsGroupError)(store, path)
    removed = [path for path, _ in existing]

    def gone(path: str) -> bool:  # below a node this call replaces
        return any(r == "" or path == r or path.startswith(r + "/") for r in removed)

    above = sorted({a for p in nodes for a in _ancestors(p)} - set(nodes), key=_depth)
    kinds = {path: None if gone(path) else _node_type(root, path) for path in above}
    for path, kind in kinds.items():  # every check passes before anything is changed
        if kind == "array":
            raise ContainsArrayError(store, path)
    for path in removed:  # parents first: a removal covers its children
        if not path:
            for child in root.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        elif (root / path).exists():
            shutil.rmtree(root / path)
    for path, kind in kinds.items():
        if kind is None:
            _write_doc(root, path, GroupMetadata(zarr_format=3))
    for path, meta in nodes.items():
        _write_doc(root, path, meta)


def update_attributes(node: zarr.Group | zarr.Array, attrs: Mapping[str, Any]) -> None:
    """Merge ``attrs`` into the attributes of ``node`` with one document write."""
    root = local_root(node.store)
    if root is None:
        node.update_attributes(dict(attrs))
        return
    node.metadata.attributes.update(attrs)  # in memory, as zarr's update_attributes does
    _write_doc(root, node.path, node.metadata)


def set_length(array: zarr.Array, rows: int) -> zarr.Array:
    """``array`` with axis 0 of length ``rows``; returns the array object to use from now on.

    The caller guarantees that no chunk lies beyond the new length (fusion's column writers only
    write shards below their row count), so nothing is deleted.
    """
    shape = (int(rows), *array.shape[1:])
    root = local_root(array.store)
    if root is None:
        array.resize(shape)
        return array
    meta = array.metadata
    assert isinstance(meta, ArrayV3Metadata)
    new = meta.update_shape(shape)
    _write_doc(root, array.path, new)
    return zarr.Array(zarr.AsyncArray(metadata=new, store_path=array.store_path, config=array.async_array.config))


def open_group_object(store: Any, path: str, meta: GroupMetadata) -> zarr.Group:
    """A group object for ``path`` with metadata ``meta`` (already written; no store read)."""
    return zarr.Group(zarr.AsyncGroup(metadata=meta, store_path=StorePath(store, path)))


def consolidate(store: Any, root_attrs: Mapping[str, Any]) -> None:
    """Consolidate the metadata of the whole store into its root, and merge ``root_attrs`` into
    the root's attributes, in one final write of the root document (zarr: consolidate, then an
    attribute update).
    """
    root = local_root(store)
    if root is None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # consolidated metadata is not in the v3 spec yet
            zarr.consolidate_metadata(store)
        zarr.open_group(store, mode="r+").update_attributes(dict(root_attrs))
        return
    members: dict[str, Any] = {}  # path -> document, flat, as zarr stores consolidated metadata
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root).as_posix()
        if rel == ".":
            continue
        if ZARR_JSON not in files:  # not a node (zarr lists only children with a document)
            dirs[:] = []
            continue
        doc = _load(root, rel)
        assert doc is not None
        if doc.get("node_type") == "array":
            dirs[:] = []  # an array: its chunks
        elif not doc.get("consolidated_metadata"):  # an empty child group is explicit, as zarr writes it
            doc["consolidated_metadata"] = {"kind": "inline", "must_understand": False, "metadata": {}}
        members[rel] = doc
    # zarr's reader of a stored consolidated document nests the flat members under their groups
    consolidated = ConsolidatedMetadata.from_dict({"kind": "inline", "must_understand": False, "metadata": members})
    top = _read_doc(root, "")
    assert isinstance(top, GroupMetadata)
    merged = dataclasses.replace(top, attributes={**top.attributes, **root_attrs}, consolidated_metadata=consolidated)
    _write_doc(root, "", merged)
