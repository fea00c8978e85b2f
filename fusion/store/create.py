"""Creating fusion's sharded columns, many metadata documents per zarr call.

Creating an array through ``Group.create_array`` costs 2–5 ms here (zarr 3.1.6, measured: codec
parsing, checks of every parent node and an atomic write of ``zarr.json``, each a round trip to
zarr's event loop). A conversion creates about 60 columns, so that was ≈ 0.25 s of every
conversion. A :class:`NodeBatch` builds each column's metadata from a cached template instead
(the template is made once per dtype, row shape, :class:`~fusion.store.layout.ColumnSpec` and fill
value by zarr's own ``create_array``, so the documents are the ones zarr writes) and writes all
documents of a batch — a stream's group and its columns, say — together: straight to their files in
a local directory store, with one ``zarr.create_hierarchy`` call in any other store
(:mod:`fusion.store.metadata`).

The arrays and groups a batch returns are usable at once (a :class:`~fusion.store.buffers.ColumnBuffer`
encodes shards without reading metadata); their ``zarr.json`` exist only after :meth:`NodeBatch.write`,
which must run before anything reads them or changes their metadata (``resize``).
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any

import numpy as np
import zarr
from zarr.storage import MemoryStore, StorePath

from fusion.store._zarr_compat import ArrayConfigParams, ArrayV3Metadata, GroupMetadata
from fusion.store.layout import ColumnSpec, compressors
from fusion.store.metadata import write_nodes

#: Array runtime config of every column we create. zarr's default ``write_empty_chunks=False``
#: compares every chunk with the fill value before encoding it; that comparison cost 80 % of a
#: raw-image shard write through zarr (525 vs 2525 MB/s, measured here on zarr 3.1.6). It only
#: matters where zarr's own write path is used (the fallback of ``ColumnBuffer``, tools).
WRITE_CONFIG: ArrayConfigParams = {"write_empty_chunks": True}


@lru_cache(maxsize=256)
def _template(dtype: str, inner_shape: tuple[int, ...], spec: ColumnSpec, fill_value: Any) -> ArrayV3Metadata:
    """The metadata zarr writes for such a column (shape and attributes to be replaced)."""
    arr = zarr.create_array(
        MemoryStore(),
        shape=(spec.shard_rows, *inner_shape),
        dtype=np.dtype(dtype),
        chunks=(spec.chunk_rows, *inner_shape),
        shards=(spec.shard_rows, *inner_shape),
        compressors=compressors(spec.codec),
        fill_value=fill_value,
        config=WRITE_CONFIG,
    )
    meta = arr.metadata
    assert isinstance(meta, ArrayV3Metadata)
    return meta


def _child(parent: zarr.Group, name: str) -> str:
    """Store path of node ``name`` below ``parent``."""
    return f"{parent.path}/{name}" if parent.path else name


class NodeBatch:
    """Groups and columns whose metadata documents are written together (see module docstring).

    Args:
        store: The store the nodes belong to.
        overwrite: Replace an existing node at a pending path (with everything below it).
    """

    def __init__(self, store: Any, *, overwrite: bool = False) -> None:
        self._store = store
        self._overwrite = overwrite
        self._nodes: dict[str, ArrayV3Metadata | GroupMetadata] = {}

    def group(self, parent: zarr.Group, name: str, attrs: dict[str, Any] | None = None) -> zarr.Group:
        """A group ``parent/name`` with attributes ``attrs`` (written by :meth:`write`, with its columns)."""
        meta = GroupMetadata(attributes=dict(attrs or {}), zarr_format=3)
        path = _child(parent, name)
        self._nodes[path] = meta
        return zarr.Group(zarr.AsyncGroup(metadata=meta, store_path=StorePath(self._store, path)))

    def column(
        self,
        group: zarr.Group,
        name: str,
        *,
        dtype: np.dtype[Any] | str,
        inner_shape: tuple[int, ...],
        spec: ColumnSpec,
        expected_rows: int,
        fill_value: Any = 0,
        attrs: dict[str, Any] | None = None,
    ) -> zarr.Array:
        """A sharded column ``group/name`` of shape ``(expected_rows, *inner_shape)`` (written by :meth:`write`).

        Args:
            group: Parent group (in the store, or pending in this batch).
            name: Array name.
            dtype: Element dtype.
            inner_shape: Shape of one row (``()`` for scalars, ``(3,)`` for xyz).
            spec: Chunking, sharding and codec.
            expected_rows: Initial length (grown on demand by the writer).
            fill_value: Fill value of unwritten elements.
            attrs: Array attributes.
        """
        inner = tuple(int(s) for s in inner_shape)
        template = _template(np.dtype(dtype).str, inner, spec, fill_value)
        meta = dataclasses.replace(template, shape=(max(int(expected_rows), 0), *inner), attributes=dict(attrs or {}))
        path = _child(group, name)
        self._nodes[path] = meta
        return zarr.Array(zarr.AsyncArray(metadata=meta, store_path=StorePath(self._store, path), config=WRITE_CONFIG))

    def write(self) -> None:
        """Write every pending document at once (:func:`fusion.store.metadata.write_nodes`).

        An existing node at a pending path is an error, or (``overwrite=True``) replaced with
        everything below it, like ``create_group(..., overwrite=True)``.
        """
        if self._nodes:
            nodes, self._nodes = self._nodes, {}
            write_nodes(self._store, nodes, overwrite=self._overwrite)


def create_column(group: zarr.Group, name: str, **column: Any) -> zarr.Array:
    """Create one sharded column ``group/name`` now (keyword arguments as :meth:`NodeBatch.column`)."""
    batch = NodeBatch(group.store)
    arr = batch.column(group, name, **column)
    batch.write()
    return arr
