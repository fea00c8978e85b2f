"""nuScenes tables (``sample``, ``sample_annotation``, ``instance``, ``category``) ↔ canonical boxes.

nuScenes conventions converted at this boundary:

* ``sample.timestamp`` is **microseconds** → ``time_ns = timestamp * 1000``.
* ``rotation`` is **scalar-first** ``[w, x, y, z]`` → ``rotation_xyzw = [x, y, z, w]``.
* ``size`` is **[width, length, height]** → ``size_lwh_m = [length, width, height]``.
* ``translation`` is the box centre in the **global** frame (→ ``frame``, default ``"world"``).
* ``instance_token`` → ``track_id``; ``category.name`` → ``label``; ``visibility.level`` (if the
  ``visibility.json`` table is present) → ``visibility``; ``attribute.json`` names →
  ``attributes["nuscenes_attributes"]``.
"""

from __future__ import annotations

import itertools
import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from fusion.annotations.annotation_set import AnnotationSet
from fusion.annotations.jsonfile import read_json
from fusion.annotations.model import Cuboid
from fusion.errors import AnnotationError

_NS = uuid.UUID("0c1f5ad2-8a51-4c0f-b7d4-4f3c2b9a6e11")


def _token(kind: str, key: str) -> str:
    return uuid.uuid5(_NS, f"{kind}:{key}").hex


def _load(folder: Path, name: str, required: bool = True) -> list[dict[str, Any]]:
    path = folder / name
    if not path.exists():
        if required:
            raise AnnotationError(f"{path}: nuScenes table not found")
        return []
    data = read_json(path)
    if not isinstance(data, list):
        raise AnnotationError(f"{path}: <root>: expected a JSON array of records, got {type(data).__name__}")
    return data


def _field(rec: dict[str, Any], key: str, n: int | None, where: str) -> Any:
    if key not in rec:
        raise AnnotationError(f"{where}.{key}: missing")
    value = rec[key]
    if n is not None:
        arr = np.asarray(value, dtype=np.float64) if isinstance(value, list) else None
        if arr is None or arr.shape != (n,) or not np.all(np.isfinite(arr)):
            raise AnnotationError(f"{where}.{key}: expected {n} finite numbers, got {value!r}")
        return arr
    return value


def decode_nuscenes(folder: Path, *, frame: str = "world") -> AnnotationSet:
    """Decode the nuScenes tables in ``folder`` (see the module docstring for the conventions)."""
    folder = Path(folder)
    samples = {r["token"]: r for r in _load(folder, "sample.json")}
    categories = {r["token"]: r["name"] for r in _load(folder, "category.json")}
    instances = {r["token"]: r for r in _load(folder, "instance.json")}
    attributes = {r["token"]: r["name"] for r in _load(folder, "attribute.json", required=False)}
    visibility = {r["token"]: r.get("level", r["token"]) for r in _load(folder, "visibility.json", required=False)}
    boxes: list[Cuboid] = []
    origins: list[str] = []
    fname = folder / "sample_annotation.json"
    for i, rec in enumerate(_load(folder, "sample_annotation.json")):
        where = f"{fname}: sample_annotation[{i}]"
        sample = samples.get(_field(rec, "sample_token", None, where))
        if sample is None:
            raise AnnotationError(f"{where}.sample_token: {rec['sample_token']!r} not in sample.json")
        inst_token = _field(rec, "instance_token", None, where)
        inst = instances.get(inst_token)
        if inst is None:
            raise AnnotationError(f"{where}.instance_token: {inst_token!r} not in instance.json")
        label = categories.get(inst.get("category_token", ""))
        if label is None:
            raise AnnotationError(f"{fname.parent / 'instance.json'}: {inst_token}.category_token not in category.json")
        w, l, h = _field(rec, "size", 3, where)
        if min(w, l, h) < 0:
            raise AnnotationError(f"{where}.size: sizes must be >= 0, got {rec['size']}")
        qw, qx, qy, qz = _field(rec, "rotation", 4, where)
        q = np.array([qx, qy, qz, qw])
        if abs(np.linalg.norm(q) - 1.0) > 1e-3:
            raise AnnotationError(f"{where}.rotation: quaternion [w,x,y,z] is not unit (norm {np.linalg.norm(q):.6g})")
        attrs: dict[str, Any] = {}
        if rec.get("attribute_tokens"):
            attrs["nuscenes_attributes"] = [attributes.get(t, t) for t in rec["attribute_tokens"]]
        vis = rec.get("visibility_token")
        boxes.append(
            Cuboid(
                _field(rec, "translation", 3, where), np.array([l, w, h]), q, label, str(inst_token), attrs,
                visibility=None if vis in (None, "") else str(visibility.get(vis, vis)),
                num_lidar_points=rec.get("num_lidar_pts"), num_radar_points=rec.get("num_radar_pts"),
                frame=frame, time_ns=int(sample["timestamp"]) * 1000,
            )
        )
        origins.append(where)
    return AnnotationSet(tuple(boxes), tuple(origins), source_path=str(folder), format="nuscenes")


def encode_nuscenes(boxes: list[Cuboid], folder: Path) -> None:
    """Write ``boxes`` (global frame) as nuScenes tables; times are rounded to whole µs."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    times = sorted({b.time_ns // 1000 for b in boxes})
    samples = [{"token": _token("sample", str(t)), "timestamp": t, "scene_token": "", "prev": "", "next": ""}
               for t in times]
    for prev, nxt in itertools.pairwise(samples):
        prev["next"], nxt["prev"] = nxt["token"], prev["token"]
    cats = sorted({b.label for b in boxes})
    tracks = sorted({b.track_id for b in boxes})
    track_label = {b.track_id: b.label for b in boxes}
    anns = []
    for b in sorted(boxes, key=lambda b: (b.track_id, b.time_ns)):
        x, y, z, w = b.rotation_xyzw.tolist()
        l, wd, h = b.size_lwh_m.tolist()
        anns.append({
            "token": _token("ann", f"{b.track_id}:{b.time_ns}"),
            "sample_token": _token("sample", str(b.time_ns // 1000)),
            "instance_token": b.track_id, "attribute_tokens": [], "visibility_token": b.visibility or "",
            "translation": b.center_m.tolist(), "size": [wd, l, h], "rotation": [w, x, y, z],
            "num_lidar_pts": b.num_lidar_points or 0, "num_radar_pts": b.num_radar_points or 0,
            "prev": "", "next": "",
        })
    tables = {
        "sample.json": samples,
        "category.json": [{"token": _token("cat", c), "name": c, "description": ""} for c in cats],
        "instance.json": [{"token": t, "category_token": _token("cat", track_label[t])} for t in tracks],
        "sample_annotation.json": anns,
    }
    for name, rows in tables.items():
        (folder / name).write_text(json.dumps(rows, indent=1))


class NuScenesCodec:
    """:class:`~fusion.annotations.codec.AnnotationCodec` for nuScenes annotation tables (a folder)."""

    name = "nuscenes"

    def decode(self, path: Path, **options: Any) -> AnnotationSet:
        """Decode the tables in folder ``path`` (option ``frame``: name of the global frame)."""
        return decode_nuscenes(path, **options)

    def encode(self, annotations: AnnotationSet, path: Path, **options: Any) -> None:
        """Write the tables into folder ``path``."""
        encode_nuscenes(list(annotations.boxes), path)
