"""The exporter registry: ``fusion export FORMAT STORE -o OUT`` dispatches on :data:`EXPORTERS`.

Each format is one module with one class implementing :class:`Exporter`, imported lazily (the
pattern of :mod:`fusion.annotations.codec`). An exporter reads the store through the public reader
API only (``fusion.open``, ``ds[i]``, ``frame.views(kind)``, ``ds.stream(name)``, ``ds.calibration``,
``ds.ego``), writes frame by frame (memory bounded by one frame plus the format's small tables),
and raises :class:`fusion.errors.ExportError` for what the format cannot hold.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fusion.errors import ExportError

if TYPE_CHECKING:  # fusion.export.common imports numpy: `fusion export --help` does not need it
    from fusion.export.common import ExportResult, OptionSpec, Selection

#: format name -> (module, class) of its exporter; imported lazily.
EXPORTERS: dict[str, tuple[str, str]] = {
    "package": ("fusion.export.formats.package", "PackageExporter"),
    "kitti": ("fusion.export.formats.kitti", "KittiExporter"),
    "nuscenes": ("fusion.export.formats.nuscenes", "NuScenesExporter"),
    "rerun": ("fusion.export.formats.rerun_rrd", "RerunExporter"),
}

#: One-line help per format (shown by ``fusion export --help`` without importing the module).
SUMMARIES: dict[str, str] = {
    "package": "Annotation-vendor package: PCD + images + calibration JSON per frame, manifests.",
    "kitti": "KITTI raw layout (velodyne .bin, image_0X, oxts, calib_*.txt) + tracking labels.",
    "nuscenes": "nuScenes tables + samples/sweeps, loadable by nuscenes-devkit (--flavor t4: T4 dataset).",
    "rerun": "One Rerun .rrd recording (points, images, cameras, ego, boxes, radar, sync quality).",
}

#: One usage example per format (the epilog of ``fusion export FORMAT --help``).
EXAMPLES: dict[str, str] = {
    "package": "fusion export package drive.zarr -o pkg --frames 1: --in world",
    "kitti": "fusion export kitti drive.zarr -o kitti --frames 1: --origin 48.5,9.0,300",
    "nuscenes": "fusion export nuscenes drive.zarr -o nusc --frames 1: --every 2 --category-map cats.yaml",
    "rerun": "fusion export rerun drive.zarr -o drive.rrd --frames 1:   # then: rerun drive.rrd",
}

#: Called once per exported frame (for a progress bar).
Progress = Callable[[int], None]


class Exporter(Protocol):
    """Writes a selection of a store's frames in one format.

    Attributes:
        name: The format name (key in :data:`EXPORTERS`).
        options: The format's own options (the CLI adds one ``--name`` per spec).
        single_file: Optional class attribute; True when ``out`` is one file instead of a folder
            (read with ``getattr(exporter, "single_file", False)``).
    """

    name: str
    options: tuple[OptionSpec, ...]

    def export(self, ds: Any, out: Path, selection: Selection, progress: Progress, **options: Any) -> ExportResult:
        """Write the frames ``selection.frames`` of ``ds`` into folder ``out``.

        Args:
            ds: An open :class:`fusion.store.Dataset`.
            out: Output folder (created; empty or absent unless overwriting), or for a
                ``single_file`` exporter the output file (absent; its parent exists).
            selection: Frames and sensors to export.
            progress: Called with 1 after each frame.
            **options: Values of :attr:`options` by name.

        Raises:
            ExportError: the store holds something the format cannot (one line naming it).
        """
        ...


def get_exporter(name: str) -> Exporter:
    """The exporter registered as ``name`` (see :data:`EXPORTERS`)."""
    try:
        module_name, attr = EXPORTERS[name]
    except KeyError:
        raise ExportError(f"unknown export format {name!r}; choose one of {sorted(EXPORTERS)}") from None
    exporter: Exporter = getattr(importlib.import_module(module_name), attr)()
    return exporter
