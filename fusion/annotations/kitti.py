"""KITTI tracking labels ↔ canonical boxes.

One line per object: ``frame track_id type truncated occluded alpha x1 y1 x2 y2 h w l x y z
rotation_y [score]``. Conventions converted at this boundary:

* Boxes are in the **rectified camera** frame (x right, y down, z forward).
* Size is **h, w, l** → ``size_lwh_m = [l, w, h]``.
* ``x y z`` is the **bottom centre** → centre = ``(x, y − h/2, z)`` (camera y points down).
* ``rotation_y`` turns about camera +y; ``rotation_y = 0`` puts the object's length (x) axis
  along camera +x. The object's x, y, z (forward, left, up) in the camera are
  ``(cos ry, 0, −sin ry)``, ``(sin ry, 0, cos ry)``, ``(0, −1, 0)``.
* Frame numbers map to times through ``frame_times_ns`` (passed in); a frame with no time is
  reported as an issue. ``DontCare`` lines are ignored.
* With ``T_base_cam`` (4, 4) the boxes are returned in ``base_frame``; without it they stay in
  the camera frame named ``camera_frame`` (resolved later from the rig).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from calibration.rotation import matrix_to_quat_xyzw
from calibration.se3 import invert_transform
from fusion.annotations.annotation_set import AnnotationSet, Issue
from fusion.annotations.model import Cuboid
from fusion.errors import AnnotationError

_FIELDS = ("frame", "track_id", "type", "truncated", "occluded", "alpha", "x1", "y1", "x2", "y2",
           "h", "w", "l", "x", "y", "z", "rotation_y")


def kitti_rotation_cam_obj(rotation_y: float) -> np.ndarray:
    """``R_cam_object`` (3, 3) for a KITTI ``rotation_y`` (object axes x fwd, y left, z up)."""
    c, s = np.cos(rotation_y), np.sin(rotation_y)
    return np.array([[c, s, 0.0], [0.0, 0.0, -1.0], [-s, c, 0.0]])


def _times(frame_times_ns: Mapping[int, int] | Sequence[int] | ArrayLike | None) -> dict[int, int]:
    if frame_times_ns is None:
        return {}
    if isinstance(frame_times_ns, Mapping):
        return {int(k): int(v) for k, v in frame_times_ns.items()}
    return {i: int(t) for i, t in enumerate(np.asarray(frame_times_ns, dtype=np.int64).tolist())}


def decode_kitti(
    path: Path,
    *,
    frame_times_ns: Mapping[int, int] | Sequence[int] | ArrayLike | None = None,
    T_base_cam: ArrayLike | None = None,
    camera_frame: str = "camera",
    base_frame: str = "base_link",
) -> AnnotationSet:
    """Decode a KITTI tracking label file (see the module docstring for the conventions)."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise AnnotationError(f"{path}: file not found") from None
    times = _times(frame_times_ns)
    T = None if T_base_cam is None else np.asarray(T_base_cam, dtype=np.float64)
    boxes: list[Cuboid] = []
    origins: list[str] = []
    issues: list[Issue] = []
    for lineno, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        where = f"{path}:{lineno}"
        if len(parts) not in (17, 18):
            raise AnnotationError(f"{where}: expected 17 or 18 fields ({' '.join(_FIELDS)} [score]), got {len(parts)}")
        if parts[2] == "DontCare":
            continue
        try:
            frame = int(parts[0])
            nums = [float(p) for p in parts[3:]]
        except ValueError as exc:
            raise AnnotationError(f"{where}: {exc}") from None
        truncated, occluded, alpha, x1, y1, x2, y2, h, w, l, x, y, z, ry = nums[:14]
        if not np.all(np.isfinite(nums)) or min(h, w, l) < 0:
            raise AnnotationError(f"{where}: sizes h w l must be finite and >= 0 (got {h} {w} {l})")
        if frame not in times:
            issues.append(Issue("outside_time_range", where, f"KITTI frame {frame} has no time (not in the mapping)"))
            continue
        box = Cuboid(
            np.array([x, y - 0.5 * h, z]), np.array([l, w, h]), matrix_to_quat_xyzw(kitti_rotation_cam_obj(ry)),
            parts[2], parts[1],
            {"kitti_truncated": truncated, "kitti_occluded": int(occluded), "kitti_alpha": alpha,
             "kitti_bbox_2d": [x1, y1, x2, y2]},
            score=nums[14] if len(nums) == 15 else None, frame=camera_frame, time_ns=times[frame],
        )
        boxes.append(box if T is None else box.transformed(T, base_frame))
        origins.append(where)
    return AnnotationSet(tuple(boxes), tuple(origins), issues=tuple(issues), source_path=str(path), format="kitti")


def encode_kitti(
    boxes: Sequence[Cuboid],
    path: Path,
    *,
    frame_times_ns: Sequence[int] | ArrayLike,
    T_base_cam: ArrayLike | None = None,
) -> None:
    """Write boxes as KITTI tracking lines (boxes in the base frame when ``T_base_cam`` is given,
    else in the camera frame). Only the yaw about camera y survives; 2D boxes are written as given
    in ``attributes["kitti_bbox_2d"]`` or zeros."""
    index = {t: i for i, t in enumerate(np.asarray(frame_times_ns, dtype=np.int64).tolist())}
    T_cam_base = None if T_base_cam is None else invert_transform(np.asarray(T_base_cam, dtype=np.float64))
    lines = []
    for b in sorted(boxes, key=lambda b: (b.time_ns, b.track_id)):
        cam = b if T_cam_base is None else b.transformed(T_cam_base, "camera")
        x_axis = cam.rotation_matrix[:, 0]
        ry = float(np.arctan2(-x_axis[2], x_axis[0]))
        l, w, h = cam.size_lwh_m.tolist()
        cx, cy, cz = cam.center_m.tolist()
        a: dict[str, Any] = b.attributes
        bb = a.get("kitti_bbox_2d", [0.0, 0.0, 0.0, 0.0])
        fields = [index[b.time_ns], b.track_id, b.label, a.get("kitti_truncated", 0.0), a.get("kitti_occluded", 0),
                  a.get("kitti_alpha", -10.0), *bb, h, w, l, cx, cy + 0.5 * h, cz, ry]
        if b.score is not None:
            fields.append(b.score)
        lines.append(" ".join(repr(f) if isinstance(f, float) else str(f) for f in fields))
    Path(path).write_text("\n".join(lines) + "\n")


class KittiCodec:
    """:class:`~fusion.annotations.codec.AnnotationCodec` for KITTI tracking label files."""

    name = "kitti"

    def decode(self, path: Path, **options: Any) -> AnnotationSet:
        """Decode (options: ``frame_times_ns``, ``T_base_cam``, ``camera_frame``, ``base_frame``)."""
        return decode_kitti(path, **options)

    def encode(self, annotations: AnnotationSet, path: Path, **options: Any) -> None:
        """Encode (options: ``frame_times_ns`` required, ``T_base_cam``)."""
        encode_kitti(list(annotations.boxes), path, **options)
