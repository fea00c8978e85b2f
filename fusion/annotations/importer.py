"""``fusion annotate import``: decode → world → interpolate to every frame → count points → store.

Every label that cannot be used is reported as an :class:`Issue` (listed by the CLI and stored
in the ``annotations`` group attrs), never silently dropped; so is a frame whose points cannot
be read (its boxes keep the count unset).

Point counts test every point against the box **at the point's own time**: the world-frame
points are motion-compensated for the ego motion only, so a moving object's points lie where
the object was when each was measured; the box is moved there with its world-frame velocity
(``centre + velocity · (t_point − t_frame)``, constant velocity and heading over the sweep).
The velocity is the one of :func:`~fusion.annotations.interpolate.interpolate_to_frames` with
``derive_velocity=True``: the label's own, else the derivative of the interpolated track.
Interpolated boxes are stored with that velocity; labelled boxes are stored exactly as
labelled (a label without velocity keeps none, so labels survive import → export unchanged),
their derived velocity is used for counting only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fusion.annotations.annotation_set import AnnotationSet, Issue
from fusion.annotations.frames import EgoPoses, FrameResolver, Unresolved
from fusion.annotations.interpolate import interpolate_to_frames
from fusion.annotations.model import Cuboid
from fusion.annotations.points_in_box import box_velocities, count_points
from fusion.annotations.scene import SceneView
from fusion.errors import FusionError

#: ``(kind, frame_index) -> [(points (N, 3) world m, dt_s (N,) s or None), ...]`` for kind
#: ``"lidar"`` / ``"radar"``: every scan of the frame with its per-point ``t_point − t_frame``.
TimedPointsFn = Callable[[str, int], Sequence[tuple[np.ndarray, np.ndarray | None]]]


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

    def to_dict(self) -> dict[str, object]:
        """The counts and issues as JSON-able values (``fusion annotate import --json``)."""
        return {
            "labels_decoded": self.n_labels, "keyframes": len(self.keyframes),
            "tracks": len({b.track_id for b in self.keyframes}), "boxes": self.n_boxes, "frames": len(self.frames),
            "interpolated": sum(b.source == "interpolated" for f in self.frames for b in f),
            "not_imported": [{"kind": i.kind, "where": i.where, "message": i.message} for i in self.issues],
        }  # fmt: skip

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


def _with_counts(boxes: list[Cuboid], clouds: Sequence[tuple[np.ndarray, np.ndarray | None]],
                 field: str, velocities_mps: np.ndarray) -> list[Cuboid]:
    """Boxes (world, at the frame time) with ``field`` = points of all ``clouds`` (``(points
    (N, 3) world, dt_s (N,) or None)``) inside each box, every point tested against the box
    moved to its own time with ``velocities_mps`` (B, 3) (world, m/s)."""
    if not boxes:
        return boxes
    total = np.zeros(len(boxes), dtype=np.int64)
    for pts, dt_s in clouds:
        if len(pts):
            total += count_points(pts, boxes, dt_s, velocities_mps)
    return [b.with_(**{field: int(n)}) for b, n in zip(boxes, total)]


def dataset_points(ds: Any) -> TimedPointsFn:
    """A :data:`TimedPointsFn` over a ``fusion.store.Dataset``: each scan's ``in_world()`` points
    with ``dt_s = (scan.time_ns − frame.time_ns) · 1e-9`` (LiDAR: per point; radar: the scan time)."""

    def read(kind: str, i: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
        frame = ds[i]
        views = frame.lidar if kind == "lidar" else frame.radar
        return [(v.in_world(), (np.asarray(v.time_ns, dtype=np.int64) - frame.time_ns) * 1e-9)
                for v in views.values()]

    return read


def prepare_import(
    annotations: AnnotationSet, scene: SceneView, *, max_extrapolation_ns: int = 0, count: bool = True,
    points: TimedPointsFn | None = None,
) -> ImportResult:
    """World frame → interpolation to every frame time → LiDAR / radar point counts per box.

    Args:
        annotations: Decoded labels.
        scene: The store's frames, ego poses, rig and (untimed) world points.
        max_extrapolation_ns: How far beyond a track's first / last label boxes are produced.
        count: Count points in boxes.
        points: Timed world points per frame (:func:`dataset_points`); without it the scene's
            points are used as if all measured at the frame time (moving objects then count
            the points of their smear that fall in the frame-time box).
    """
    keyframes, issues = to_world(annotations, scene)
    moving = interpolate_to_frames(keyframes, scene.times_ns, max_extrapolation_ns, derive_velocity=True)
    # store labelled boxes as labelled (the derived velocity of a label without one is for counting)
    label = {(k.track_id, k.time_ns): k for k in keyframes}
    frames = [[label[(b.track_id, b.time_ns)] if b.source == "labelled" else b for b in boxes] for boxes in moving]
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
                    clouds = points(kind.lower(), f) if points is not None else [(p, None) for p in read(f)]
                except FusionError as exc:  # e.g. a scan the store cannot motion-compensate
                    issues.append(Issue("points_unavailable", f"store frame {f}",
                                        f"{kind} points cannot be read ({exc}); {field} left unset"))
                    continue
                if len(clouds):
                    frames[f] = _with_counts(frames[f], clouds, field, box_velocities(moving[f]))
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
    ds, scene = open_scene(store_url)
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
    result = prepare_import(annotations, scene, max_extrapolation_ns=max_extrapolation_ns,
                            points=dataset_points(ds))
    write_to_store(store_url, result, attrs={
        "source_file": str(path), "source_format": fmt, "max_extrapolation_ns": int(max_extrapolation_ns),
    })
    return result
