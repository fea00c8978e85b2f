"""What a codec decodes into: :class:`AnnotationSet` (labels with their own frame and time)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from fusion.annotations.model import Cuboid

F64 = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class CoordinateSystem:
    """A named frame declared by an annotation file.

    Attributes:
        name: The frame's name (``coordinate_systems`` key in OpenLABEL).
        parent: Parent frame name, ``""`` for a root.
        T_parent_child: (4, 4) transform mapping this frame's points into ``parent``, or
            ``None`` when the file gives no static pose (resolved from the rig / ego pose).
        kind: Free text (OpenLABEL ``type``: ``"local"``, ``"sensor_cs"``, ``"scene_cs"`` …).
    """

    name: str
    parent: str = ""
    T_parent_child: F64 | None = None
    kind: str = "local"


@dataclass(frozen=True, eq=False)
class FrameTransform:
    """A time-dependent transform from a file: ``T_dst_src`` valid at ``time_ns``."""

    time_ns: int
    src: str
    dst: str
    T_dst_src: F64


@dataclass(frozen=True)
class Issue:
    """A label that could not be used, reported (never silently dropped).

    Attributes:
        kind: ``"unknown_frame"`` (coordinate system / sensor not in the store),
            ``"outside_time_range"`` (time outside the store's frames), ``"skipped"`` …
        where: Where the label came from (file and JSON path, line, topic[index]).
        message: What is wrong, in words.
    """

    kind: str
    where: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """JSON-friendly form (stored in the ``annotations`` group attrs)."""
        return {"kind": self.kind, "where": self.where, "message": self.message}


@dataclass(frozen=True, eq=False)
class AnnotationSet:
    """Decoded labels (keyframes), each box in its own ``frame`` at its own ``time_ns``.

    Attributes:
        boxes: The original labels.
        origins: Where each box came from (same length as ``boxes``; JSON path, line …).
        coordinate_systems: Frames declared by the file, by name.
        frame_transforms: Time-dependent transforms declared by the file (e.g. ego poses).
        issues: Problems found while decoding (labels that could not be read).
        source_path: The file (or folder / bag) decoded.
        format: Codec name (``openlabel``, ``nuscenes``, ``kitti``, ``bag``).
    """

    boxes: tuple[Cuboid, ...]
    origins: tuple[str, ...] = ()
    coordinate_systems: dict[str, CoordinateSystem] = field(default_factory=dict)
    frame_transforms: tuple[FrameTransform, ...] = ()
    issues: tuple[Issue, ...] = ()
    source_path: str = ""
    format: str = ""

    def __post_init__(self) -> None:
        if not self.origins:
            object.__setattr__(self, "origins", tuple(f"box[{i}]" for i in range(len(self.boxes))))
        if len(self.origins) != len(self.boxes):
            raise ValueError(f"AnnotationSet: {len(self.origins)} origins for {len(self.boxes)} boxes")

    def tracks(self) -> dict[str, list[Cuboid]]:
        """Boxes grouped by ``track_id``, each list sorted by ``time_ns``."""
        out: dict[str, list[Cuboid]] = defaultdict(list)
        for box in self.boxes:
            out[box.track_id].append(box)
        return {k: sorted(v, key=lambda b: b.time_ns) for k, v in sorted(out.items())}

    def keyframe_times_ns(self) -> dict[str, NDArray[np.int64]]:
        """The labelled times of each track (lineage of interpolated boxes)."""
        return {k: np.array([b.time_ns for b in v], dtype=np.int64) for k, v in self.tracks().items()}

    def times_ns(self) -> NDArray[np.int64]:
        """Sorted unique label times."""
        return np.unique(np.array([b.time_ns for b in self.boxes], dtype=np.int64))
