"""Boxes in the fusion Zarr v3 store: group ``annotations/`` (see ``docs/ANNOTATIONS.md``).

Layout (B boxes over F frames, K original labels)::

    annotations/            attrs: format_version, vocabularies, frame, issues, source, ...
      time_ns      (F,)    int64   frame times (copy of the store's, for self-containment)
      offsets      (F+1,)  int64   boxes of frame f are rows offsets[f]:offsets[f+1]
      <columns>    (B, …)          see ANNOTATION_COLUMNS
      keyframes/              the original labels (same columns) + time_ns (K,) int64

Missing optional values: NaN (velocity, score), -1 (point counts, vocabulary codes). The names,
dtypes and chunking are those of :mod:`fusion.store.layout` (``ANNOTATION_*``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import zarr

from fusion.annotations.annotation_set import Issue
from fusion.annotations.model import SOURCES, Cuboid
from fusion.store import layout as lay


def _vocab(values: Sequence[str | None]) -> tuple[list[str], np.ndarray]:
    names = sorted({v for v in values if v is not None})
    index = {n: i for i, n in enumerate(names)}
    return names, np.array([-1 if v is None else index[v] for v in values], dtype=np.int32)


def _columns(boxes: Sequence[Cuboid]) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    n = len(boxes)
    cols: dict[str, np.ndarray] = {}
    cols["center_m"] = np.array([b.center_m for b in boxes], dtype=np.float64).reshape(n, 3)
    cols["size_lwh_m"] = np.array([b.size_lwh_m for b in boxes], dtype=np.float64).reshape(n, 3)
    cols["rotation_xyzw"] = np.array([b.rotation_xyzw for b in boxes], dtype=np.float64).reshape(n, 4)
    nan3 = np.full(3, np.nan)
    cols["velocity_mps"] = np.array([nan3 if b.velocity_mps is None else b.velocity_mps for b in boxes]).reshape(n, 3)
    cols["score"] = np.array([np.nan if b.score is None else b.score for b in boxes], dtype=np.float64)
    for key in ("num_lidar_points", "num_radar_points"):
        cols[key] = np.array([-1 if getattr(b, key) is None else getattr(b, key) for b in boxes], dtype=np.int32)
    cols["source"] = np.array([SOURCES.index(b.source) for b in boxes], dtype=np.uint8)
    vocabs: dict[str, list[str]] = {}
    texts: dict[str, list[str | None]] = {
        "label_code": [b.label for b in boxes],
        "track_code": [b.track_id for b in boxes],
        "attributes_code": [json.dumps(b.attributes, sort_keys=True) if b.attributes else None for b in boxes],
        "visibility_code": [b.visibility for b in boxes],
    }
    for col, values in texts.items():
        vocabs[lay.ANNOTATION_VOCABULARIES[col]], cols[col] = _vocab(values)
    return cols, vocabs


def _write_table(group: zarr.Group, cols: dict[str, np.ndarray]) -> None:
    for name, (dtype, tail) in lay.ANNOTATION_COLUMNS.items():
        data = cols[name]
        shape = (data.shape[0], *tail)
        chunks = (max(1, min(shape[0], lay.ANNOTATION_CHUNK_ROWS)), *tail)
        arr = group.create_array(name, shape=shape, dtype=dtype, chunks=chunks, overwrite=True)
        if data.shape[0]:
            arr[...] = data


def write_annotations(
    root: zarr.Group,
    frames: Sequence[Sequence[Cuboid]],
    frame_times_ns: Any,
    keyframes: Sequence[Cuboid],
    *,
    issues: Sequence[Issue] = (),
    attrs: dict[str, Any] | None = None,
) -> zarr.Group:
    """Write (replacing) ``annotations/``: per-frame boxes (world frame) and the original labels.

    Args:
        root: The store's root group, open for writing.
        frames: ``frames[f]`` = boxes at frame ``f`` (len F).
        frame_times_ns: (F,) int64 frame times.
        keyframes: The original labels (world frame, their own times).
        issues: Labels that could not be imported (stored as ``attrs["issues"]``).
        attrs: Extra attributes (source file, format, options).
    """
    times = np.asarray(frame_times_ns, dtype=np.int64)
    if len(frames) != times.size:
        raise ValueError(f"{len(frames)} frames of boxes for {times.size} frame times")
    flat = [b for boxes in frames for b in boxes]
    offsets = np.zeros(times.size + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(b) for b in frames])
    cols, vocabs = _columns(flat)
    group = root.create_group(lay.ANNOTATIONS, overwrite=True)
    for name, data in (("time_ns", times), ("offsets", offsets)):
        arr = group.create_array(name, shape=data.shape, dtype="int64", chunks=(max(1, data.size),), overwrite=True)
        arr[...] = data
    _write_table(group, cols)
    frames_set = sorted({b.frame for b in flat} | {b.frame for b in keyframes})
    group.attrs.update({
        "format_version": lay.ANNOTATIONS_FORMAT_VERSION,
        "frame": frames_set[0] if len(frames_set) == 1 else frames_set,
        "vocabularies": vocabs, "sources": list(SOURCES), "quaternion_order": "xyzw",
        "issues": [i.to_dict() for i in issues], **(attrs or {}),
    })
    kgroup = group.create_group(lay.ANNOTATION_KEYFRAMES, overwrite=True)
    kcols, kvocabs = _columns(list(keyframes))
    kt = np.array([b.time_ns for b in keyframes], dtype=np.int64)
    arr = kgroup.create_array("time_ns", shape=kt.shape, dtype="int64", chunks=(max(1, kt.size),), overwrite=True)
    if kt.size:
        arr[...] = kt
    _write_table(kgroup, kcols)
    kgroup.attrs.update({"vocabularies": kvocabs, "sources": list(SOURCES), "quaternion_order": "xyzw"})
    return group


def array_of(group: zarr.Group, name: str) -> zarr.Array:
    arr = group[name]
    if not isinstance(arr, zarr.Array):
        raise TypeError(f"{group.path}/{name} is not an array")
    return arr


def group_of(group: zarr.Group, name: str) -> zarr.Group:
    sub = group[name]
    if not isinstance(sub, zarr.Group):
        raise TypeError(f"{group.path}/{name} is not a group")
    return sub


def _boxes(group: zarr.Group, a: int, b: int, times: np.ndarray, frame: str) -> list[Cuboid]:
    vocabs: Any = dict(group.attrs)["vocabularies"]
    cols = {name: np.asarray(array_of(group, name)[a:b]) for name in lay.ANNOTATION_COLUMNS}

    def text(col: str, i: int) -> str | None:
        code = int(cols[col][i])
        return None if code < 0 else str(vocabs[lay.ANNOTATION_VOCABULARIES[col]][code])

    out = []
    for i in range(b - a):
        vel, score = cols["velocity_mps"][i], cols["score"][i]
        attrs = text("attributes_code", i)
        out.append(Cuboid(
            cols["center_m"][i], cols["size_lwh_m"][i], cols["rotation_xyzw"][i],
            str(text("label_code", i)), str(text("track_code", i)),
            {} if attrs is None else json.loads(attrs),
            velocity_mps=None if np.isnan(vel).any() else vel,
            score=None if np.isnan(score) else float(score), visibility=text("visibility_code", i),
            num_lidar_points=None if cols["num_lidar_points"][i] < 0 else int(cols["num_lidar_points"][i]),
            num_radar_points=None if cols["num_radar_points"][i] < 0 else int(cols["num_radar_points"][i]),
            frame=frame, time_ns=int(times[i]), source=SOURCES[int(cols["source"][i])],
        ))
    return out


def _frame_name(group: zarr.Group) -> str:
    frame = group.attrs.get("frame", "world")
    return frame if isinstance(frame, str) else "world"


def read_frame_boxes(root_group: zarr.Group, frame_index: int) -> list[Cuboid]:
    """Boxes (world frame) of frame ``frame_index``; ``[]`` when the store has no annotations."""
    if lay.ANNOTATIONS not in root_group:
        return []
    group = group_of(root_group, lay.ANNOTATIONS)
    offsets = array_of(group, "offsets")
    n = offsets.shape[0] - 1
    if not -n <= frame_index < n:
        raise IndexError(f"frame index {frame_index} out of range for {n} annotated frames")
    f = frame_index % n
    a, b = (int(x) for x in np.asarray(offsets[f:f + 2]))
    t = int(np.asarray(array_of(group, "time_ns")[f:f + 1])[0])
    return _boxes(group, a, b, np.full(b - a, t, dtype=np.int64), _frame_name(group))


def read_all_frames(root_group: zarr.Group) -> tuple[np.ndarray, list[list[Cuboid]]]:
    """``(frame_times_ns (F,), boxes per frame)`` of the whole ``annotations/`` group."""
    group = group_of(root_group, lay.ANNOTATIONS)
    offsets = np.asarray(array_of(group, "offsets")[:])
    times = np.asarray(array_of(group, "time_ns")[:])
    per_box_t = np.repeat(times, np.diff(offsets))
    flat = _boxes(group, 0, int(offsets[-1]), per_box_t, _frame_name(group))
    return times, [flat[int(offsets[f]):int(offsets[f + 1])] for f in range(times.size)]


def read_keyframes(root_group: zarr.Group) -> list[Cuboid]:
    """The original labels stored under ``annotations/keyframes`` (world frame, their own times)."""
    group = group_of(root_group, lay.ANNOTATIONS)
    k = group_of(group, lay.ANNOTATION_KEYFRAMES)
    times = np.asarray(array_of(k, "time_ns")[:])
    return _boxes(k, 0, times.size, times, _frame_name(group))
