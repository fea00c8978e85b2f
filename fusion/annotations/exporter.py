"""``fusion annotate export``: the store's boxes → OpenLABEL 1.0 JSON (schema-validated)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fusion.annotations.model import Cuboid
from fusion.annotations.openlabel_encode import ExportContext, encode_openlabel
from fusion.annotations.openlabel_schema import validate_openlabel
from fusion.annotations.scene import SceneView
from fusion.errors import AnnotationError


def build_export(
    frames: Sequence[Sequence[Cuboid]], scene: SceneView, name: str = "fusion annotations"
) -> dict[str, Any]:
    """OpenLABEL document of per-frame world boxes: every frame with its int-ns timestamp and ego
    pose, streams and sensor coordinate systems from the rig; validated against the schema."""
    if len(frames) != len(scene.times_ns):
        raise AnnotationError(f"export: {len(frames)} frames of boxes for {len(scene.times_ns)} store frames")
    ctx = ExportContext(
        frame_times_ns=np.asarray(scene.times_ns, dtype=np.int64), T_world_base=scene.T_world_base,
        sensors=list(scene.sensors), world_frame=scene.world_frame, base_frame=scene.base_frame, name=name,
    )
    doc = encode_openlabel([b for f in frames for b in f], ctx)
    validate_openlabel(doc, "export")
    return doc


def export_store(store_url: str | Path, out: Path, **storage_options: Any) -> dict[str, Any]:
    """Write the store's ``annotations/`` as OpenLABEL 1.0 to ``out``; returns the document."""
    from fusion.annotations.store_access import open_scene
    from fusion.annotations.store_io import read_all_frames
    from fusion.store.layout import ANNOTATIONS

    ds, scene = open_scene(store_url, **storage_options)
    root = ds.state.root
    if ANNOTATIONS not in root:
        raise AnnotationError(f"{store_url}: the store has no annotations; run `fusion annotate import` first")
    times, frames = read_all_frames(root)
    if not np.array_equal(times, scene.times_ns):
        raise AnnotationError(f"{store_url}: annotations/time_ns differ from the store's frame times; re-import")
    doc = build_export(frames, scene, name=f"fusion annotations of {store_url}")
    Path(out).write_text(json.dumps(doc, indent=1))
    return doc
