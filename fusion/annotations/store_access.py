"""Open a fusion store for annotation import/export (the only annotation module opening a store)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import zarr

from fusion.annotations.scene import Scene, scene_from_dataset
from fusion.annotations.store_io import write_annotations
from fusion.errors import AnnotationError

if TYPE_CHECKING:
    from fusion.annotations.importer import ImportResult


def open_scene(store_url: str | Path, **storage_options: Any) -> tuple[Any, Scene]:
    """``(Dataset, Scene)`` of a complete fusion store."""
    from fusion.store import open_dataset

    ds = open_dataset(store_url, **storage_options)
    return ds, scene_from_dataset(ds)


def open_root_for_update(store_url: Any, **storage_options: Any) -> tuple[Any, zarr.Group]:
    """``(zarr store, root group)`` opened read-write (local directories, ``s3://``, Store objects).

    Raises:
        AnnotationError: for a ``.zip`` store (read-only once committed).
    """
    from fusion.store.location import resolve

    location = resolve(store_url, storage_options)
    if location.kind == "zip":
        raise AnnotationError(
            f"{location.url}: zip stores are read-only; unzip it to a directory, import, and zip it again"
        )
    store = location.open_write()
    return store, zarr.open_group(store, mode="r+", zarr_format=3, use_consolidated=False)


def write_to_store(store_url: Any, result: ImportResult, *, attrs: dict[str, Any] | None = None,
                   **storage_options: Any) -> None:
    """Write an import result into ``annotations/`` and re-consolidate the store metadata."""
    store, root = open_root_for_update(store_url, **storage_options)
    from fusion.annotations.store_io import array_of, group_of

    times = np.asarray(array_of(group_of(root, "frames"), "time_ns")[:]) if "frames" in root else None
    if times is None or len(times) != len(result.frames):
        raise AnnotationError(f"{store_url}: store frames do not match the import ({len(result.frames)} frames)")
    write_annotations(root, result.frames, times, result.keyframes, issues=result.issues, attrs=attrs)
    from fusion.store import digests

    if "annotations" in root:
        annotations = root["annotations"]
        assert isinstance(annotations, zarr.Group)
        digests.write(annotations, {})  # the chunk manifest of every array written here (format 1.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(store)
