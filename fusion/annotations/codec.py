"""The seam between file formats and the canonical model: :class:`AnnotationCodec`."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fusion.errors import AnnotationError

if TYPE_CHECKING:  # imports numpy: the registry (``fusion annotate --help``) does not need it
    from fusion.annotations.annotation_set import AnnotationSet

#: format name -> (module, class) of its codec; imported lazily.
CODECS: dict[str, tuple[str, str]] = {
    "openlabel": ("fusion.annotations.openlabel", "OpenLabelCodec"),
    "nuscenes": ("fusion.annotations.nuscenes", "NuScenesCodec"),
    "kitti": ("fusion.annotations.kitti", "KittiCodec"),
    "bag": ("fusion.annotations.bag", "Detection3DBagCodec"),
}


class AnnotationCodec(Protocol):
    """Reads (and writes) one annotation format.

    ``decode`` returns labels in the frame and at the times the file states (converted to
    the canonical conventions: centre, l/w/h, quaternion x,y,z,w, int ns). ``encode`` writes
    an :class:`AnnotationSet` back to the format.
    """

    name: str

    def decode(self, path: Path, **options: Any) -> AnnotationSet:
        """Decode ``path``; raises :class:`fusion.errors.AnnotationError` on malformed input."""
        ...

    def encode(self, annotations: AnnotationSet, path: Path, **options: Any) -> None:
        """Write ``annotations`` to ``path``."""
        ...


def get_codec(name: str) -> AnnotationCodec:
    """The codec registered as ``name`` (see :data:`CODECS`)."""
    try:
        module_name, attr = CODECS[name]
    except KeyError:
        raise AnnotationError(f"unknown annotation format {name!r}; choose one of {sorted(CODECS)}") from None
    codec: AnnotationCodec = getattr(importlib.import_module(module_name), attr)()
    return codec


def guess_format(path: Path) -> str:
    """Guess the format of ``path`` from its name (``.json`` file → openlabel, folder with
    ``sample_annotation.json`` → nuscenes, ``.txt`` → kitti, bag → bag)."""
    if path.is_dir():
        if (path / "sample_annotation.json").exists():
            return "nuscenes"
        if (path / "metadata.yaml").exists():
            return "bag"
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "openlabel"
    if suffix == ".txt":
        return "kitti"
    if suffix in {".bag", ".db3", ".mcap"}:
        return "bag"
    raise AnnotationError(f"{path}: cannot guess the annotation format; pass --format")
