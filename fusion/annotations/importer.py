"""``fusion annotate import``: decode → world → interpolate to every frame → count points → store.

Every label that cannot be used is reported as an :class:`Issue` (listed by the CLI and stored
in the ``annotations`` group attrs), never silently dropped; so is a frame whose points cannot
be read (its boxes keep the count unset).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fusion.annotations.annotation_set import AnnotationSet, Issue
from fusion.annotations.frames import EgoPoses, FrameResolver, Unresolved
from fusion.annotations.interpolate import interpolate_to_frames
from fusion.annotations.model import Cuboid
from fusion.annotations.points_in_box import count_points
from fusion.annotations.scene import SceneView
from fusion.errors import FusionError


@dataclass(frozen=True, eq=False)
class ImportResult:
    """Boxes ready for the store plus what could not be imported.

    Attributes:
        frames: ``frames[f]`` = world-frame boxes at frame ``f``.
        keyframes: The original labels, in the world frame, at their own times.
        issues: Labels not imported (decode issues + unknown frames + times out of range).
        n_labels: Labels decoded from the file.
    """

    frames: list[list[Cuboid]]
    keyframes: list[Cuboid]
    issues: list[Issue]
    n_labels: int

    @property
    def n_boxes(self) -> int:
        """Boxes over all frames."""
        return sum(len(f) for f in self.frames)

    def summary(self) -> str:
        """One paragraph for the CLI."""
        n_interp = sum(b.source == "interpolated" for f in self.frames for b in f)
        lines = [
            f"{self.n_labels} labels decoded, {len(self.keyframes)} imported as keyframes "
            f"({len({b.track_id for b in self.keyframes})} tracks); {self.n_boxes} boxes over "
            f"{len(self.frames)} frames ({n_interp} interpolated); {len(self.issues)} not imported"
        ]
        lines += [f"  not imported [{i.kind}] {i.where}: {i.message}" for i in self.issues]
        return "\n".join(lines)


def to_world(annotations: AnnotationSet, scene: SceneView) -> tuple[list[Cuboid], list[Issue]]:
    """Express every label in the world frame; labels that cannot be resolved become issues."""
    T_base_sensor: dict[str, np.ndarray] = {}
    for s in scene.sensors:
        T_base_sensor[s.name] = s.T_base_sensor
        if s.frame_id:
            T_base_sensor.setdefault(s.frame_id, s.T_base_sensor)
    resolver = FrameResolver(
        EgoPoses(scene.times_ns, scene.T_world_base), T_base_sensor,
        coordinate_systems=annotations.coordinate_systems, frame_transforms=annotations.frame_transforms,
        world_aliases=("world", "odom", "map", "global", scene.world_frame),
        base_aliases=("base_link", "ego", "vehicle", "vehicle-iso8855", scene.base_frame),
    )
    boxes: list[Cuboid] = []
    issues = list(annotations.issues)
    seen: set[tuple[str, int]] = set()
    for box, where in zip(annotations.boxes, annotations.origins):
        T = resolver.T_world_frame(box.frame, box.time_ns)
        if isinstance(T, Unresolved):
            issues.append(Issue(T.kind, where, f"track {box.track_id!r}: {T.message}"))
            continue
        key = (box.track_id, box.time_ns)
        if key in seen:
            issues.append(Issue("duplicate", where,
                                f"track {box.track_id!r} already has a label at {box.time_ns} ns"))
            continue
        seen.add(key)
        boxes.append(box.transformed(T, "world"))
    return boxes, issues


def _with_counts(boxes: list[Cuboid], clouds: Sequence[np.ndarray], field: str) -> list[Cuboid]:
    if not boxes:
        return boxes
    total = np.zeros(len(boxes), dtype=np.int64)
    for pts in clouds:
        if len(pts):
            total += count_points(pts, boxes)
    return [b.with_(**{field: int(n)}) for b, n in zip(boxes, total)]


def prepare_import(
    annotations: AnnotationSet, scene: SceneView, *, max_extrapolation_ns: int = 0, count: bool = True
) -> ImportResult:
    """World frame → interpolation to every frame time → LiDAR / radar point counts per box."""
    keyframes, issues = to_world(annotations, scene)
    frames = interpolate_to_frames(keyframes, scene.times_ns, max_extrapolation_ns)
    if count:
        for f in range(len(frames)):
            if not frames[f]:
                continue
            if not np.all(np.isfinite(scene.T_world_base[f])):
                issues.append(Issue("points_unavailable", f"store frame {f}",
                                    "the frame has no ego pose (ego gap): point counts left unset"))
                continue
            for kind, read, field in (("LiDAR", scene.lidar_points_world, "num_lidar_points"),
                                      ("radar", scene.radar_points_world, "num_radar_points")):
                try:
                    clouds = read(f)
                except FusionError as exc:  # e.g. a scan the store cannot motion-compensate
                    issues.append(Issue("points_unavailable", f"store frame {f}",
                                        f"{kind} points cannot be read ({exc}); {field} left unset"))
                    continue
                if len(clouds):
                    frames[f] = _with_counts(frames[f], clouds, field)
    return ImportResult(frames, keyframes, issues, len(annotations.boxes))


def import_file(
    store_url: str | Path,
    path: Path,
    fmt: str | None = None,
    *,
    max_extrapolation_ns: int = 0,
    decode_options: dict[str, Any] | None = None,
) -> ImportResult:
    """Decode ``path`` and write its boxes into the store at ``store_url`` (replacing ``annotations/``)."""
    from fusion.annotations.codec import get_codec, guess_format
    from fusion.annotations.store_access import open_scene, write_to_store

    path = Path(path)
    fmt = fmt or guess_format(path)
    _ds, scene = open_scene(store_url)
    options = dict(decode_options or {})
    if fmt == "kitti":
        options.setdefault("frame_times_ns", scene.times_ns)
        cam = options.pop("camera", None)
        if cam is not None:
            match = [s for s in scene.sensors if cam in (s.name, s.frame_id)]
            if not match:
                from fusion.errors import AnnotationError

                raise AnnotationError(f"--camera {cam!r}: no such sensor in the store's rig "
                                      f"({', '.join(s.name for s in scene.sensors) or 'no sensors'})")
            options["T_base_cam"] = match[0].T_base_sensor
    annotations = get_codec(fmt).decode(path, **options)
    result = prepare_import(annotations, scene, max_extrapolation_ns=max_extrapolation_ns)
    write_to_store(store_url, result, attrs={
        "source_file": str(path), "source_format": fmt, "max_extrapolation_ns": int(max_extrapolation_ns),
    })
    return result
