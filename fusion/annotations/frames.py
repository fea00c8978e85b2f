"""Resolve a label's coordinate frame to the store's world frame at the label's time.

A label whose time is outside the store's frame times is rejected first (whatever its frame).
Known frames, in order: world aliases (identity), base aliases (the ego pose
``T_world_base(t)`` interpolated from the store's frames: linear translation, slerp
rotation, never extrapolated), rig sensors by name or ``frame_id``
(``T_world_base(t) @ T_base_sensor``), then coordinate systems declared by the file whose
``pose_wrt_parent`` chains to a known frame, then file transforms at exactly that time.
Anything else is an unknown frame, reported by the importer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from calibration.rotation import matrix_to_quat_xyzw, quat_xyzw_to_matrix, slerp_xyzw
from calibration.se3 import make_transform
from fusion.annotations.annotation_set import CoordinateSystem, FrameTransform

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Unresolved:
    """Why a frame cannot be resolved: ``kind`` is ``outside_time_range``, ``no_ego_pose`` or
    ``unknown_frame`` (the importer's issue kinds); ``message`` says it in words."""

    kind: str
    message: str


WORLD_ALIASES = ("world", "odom", "map", "global")
BASE_ALIASES = ("base_link", "ego", "vehicle", "vehicle-iso8855")


@dataclass(frozen=True, eq=False)
class EgoPoses:
    """Vehicle poses ``T_world_base`` at the store's frame times.

    Attributes:
        times_ns: (F,) int64, strictly increasing.
        T_world_base: (F, 4, 4).
    """

    times_ns: NDArray[np.int64]
    T_world_base: F64
    _q: F64 = field(init=False, repr=False)

    def __post_init__(self) -> None:
        t = np.asarray(self.times_ns, dtype=np.int64)
        T = np.asarray(self.T_world_base, dtype=np.float64)
        if t.ndim != 1 or T.shape != (t.size, 4, 4):
            raise ValueError(f"EgoPoses: times {t.shape} and T_world_base {T.shape} disagree")
        if t.size > 1 and np.any(np.diff(t) <= 0):
            raise ValueError("EgoPoses: times_ns must be strictly increasing")
        object.__setattr__(self, "times_ns", t)
        object.__setattr__(self, "T_world_base", T)
        R = np.where(np.isfinite(T[:, :3, :3]), T[:, :3, :3], np.eye(3))  # NaN poses: flagged in at()
        object.__setattr__(self, "_q", matrix_to_quat_xyzw(R) if t.size else np.zeros((0, 4)))

    def at(self, time_ns: int) -> F64 | Unresolved:
        """``T_world_base`` at ``time_ns`` (interpolated), or the reason it is unavailable (outside
        the frame times, or a frame without ego pose: NaN in the store)."""
        t = self.times_ns
        if t.size == 0 or time_ns < t[0] or time_ns > t[-1]:
            span = f"[{int(t[0])}, {int(t[-1])}]" if t.size else "(no frames)"
            return Unresolved("outside_time_range", f"time {time_ns} ns is outside the store's frame times {span}")
        i = int(np.searchsorted(t, time_ns, side="left"))
        if t[i] == time_ns:
            T = np.asarray(self.T_world_base[i], dtype=np.float64)
        else:
            a = (time_ns - int(t[i - 1])) / float(int(t[i]) - int(t[i - 1]))
            trans = (1 - a) * self.T_world_base[i - 1, :3, 3] + a * self.T_world_base[i, :3, 3]
            T = make_transform(quat_xyzw_to_matrix(slerp_xyzw(self._q[i - 1], self._q[i], a), normalize=True), trans)
        if not np.all(np.isfinite(T)):
            return Unresolved("no_ego_pose", f"no ego pose at time {time_ns} ns (the store frame has an ego gap)")
        return T


class FrameResolver:
    """``T_world_frame(frame, time_ns)`` for every frame a label may be expressed in."""

    def __init__(
        self,
        ego: EgoPoses,
        T_base_sensor: Mapping[str, F64],
        *,
        coordinate_systems: Mapping[str, CoordinateSystem] | None = None,
        frame_transforms: Sequence[FrameTransform] = (),
        world_aliases: Sequence[str] = WORLD_ALIASES,
        base_aliases: Sequence[str] = BASE_ALIASES,
    ) -> None:
        """Build a resolver.

        Args:
            ego: The store's ego poses.
            T_base_sensor: Extrinsics by sensor name and by sensor ``frame_id``.
            coordinate_systems: Frames declared by the annotation file.
            frame_transforms: Time-dependent transforms declared by the file.
            world_aliases: Names meaning the store's world frame.
            base_aliases: Names meaning the vehicle frame.
        """
        self.ego = ego
        self.T_base_sensor = {k: np.asarray(v, dtype=np.float64) for k, v in T_base_sensor.items()}
        self.coordinate_systems = dict(coordinate_systems or {})
        self.transforms: dict[tuple[str, int], FrameTransform] = {(t.src, t.time_ns): t for t in frame_transforms}
        self.world_aliases = set(world_aliases)
        self.base_aliases = set(base_aliases)

    def T_world_frame(self, frame: str, time_ns: int, _depth: int = 0) -> F64 | Unresolved:
        """The transform mapping ``frame`` points into the world at ``time_ns``, or why not."""
        T_world_base = self.ego.at(time_ns)
        if isinstance(T_world_base, Unresolved) and T_world_base.kind == "outside_time_range":
            return T_world_base  # checked first: a label outside the store's frames is reported
        if frame in self.world_aliases:
            return np.eye(4)
        if isinstance(T_world_base, Unresolved):
            return T_world_base
        if frame in self.base_aliases:
            return T_world_base
        if frame in self.T_base_sensor:
            return np.asarray(T_world_base @ self.T_base_sensor[frame], dtype=np.float64)
        cs = self.coordinate_systems.get(frame)
        if cs is not None and cs.T_parent_child is not None and cs.parent and _depth < 16:
            parent = self.T_world_frame(cs.parent, time_ns, _depth + 1)
            if not isinstance(parent, Unresolved):
                return np.asarray(parent @ cs.T_parent_child, dtype=np.float64)
        tr = self.transforms.get((frame, time_ns))
        if tr is not None and _depth < 16:
            dst = self.T_world_frame(tr.dst, time_ns, _depth + 1)
            if not isinstance(dst, Unresolved):
                return np.asarray(dst @ tr.T_dst_src, dtype=np.float64)
        known = sorted(self.world_aliases | self.base_aliases | set(self.T_base_sensor))
        return Unresolved("unknown_frame", f"unknown coordinate system / sensor {frame!r} (known: {', '.join(known)})")
