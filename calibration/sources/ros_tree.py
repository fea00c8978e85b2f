"""A rig from a bag's tf tree whatever its shape: base-frame choice, unconnected roots, cameras
without intrinsics, and constant ``/tf`` edges taken as static.

Conventions: transforms are ``T_parent_child`` with quaternions **x, y, z, w**; frame ids lose
their leading slash. See docs/CALIBRATION.md ("Base frame", "/tf-only rigs").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from calibration.errors import FrameTreeError
from calibration.frames import FrameTree
from calibration.rig import Rig
from calibration.sources.ros import StaticTransform, infer_kind, rig_from_ros

#: A /tf edge whose translation varies by at most this much (metres) over the bag is constant.
CONSTANT_TRANSLATION_M = 1e-3
#: ... and whose rotation varies by at most this angle (radians, about 0.06°).
CONSTANT_ROTATION_RAD = 1e-3


@dataclass(frozen=True)
class RosRig:
    """What :func:`extract_rig` found.

    Attributes:
        rig: the sensors connected to ``rig.base_frame`` (extrinsics ``T_base_sensor``).
        base_reason: why ``rig.base_frame`` was chosen (one sentence).
        unconnected: sensor frame → kind for sensor frames not connected to the base frame.
        other_roots: the tf tree's other roots (sorted).
        no_intrinsics: names of camera sensors kept with their extrinsic but without intrinsics.
    """

    rig: Rig
    base_reason: str
    unconnected: dict[str, str] = field(default_factory=dict)
    other_roots: tuple[str, ...] = ()
    no_intrinsics: tuple[str, ...] = ()

    @property
    def fallback(self) -> bool:
        """True when the base frame is not the one asked for (it was chosen from the tree)."""
        return self.base_reason.startswith("no ")


def _tree(static_transforms: Iterable[StaticTransform]) -> FrameTree:
    from calibration.se3 import SE3

    tree = FrameTree()
    for parent, child, trans, rot in static_transforms:
        tree.add_static(str(parent).lstrip("/"), str(child).lstrip("/"), SE3.from_quat_xyzw(rot, trans))
    return tree


def _root_of(tree: FrameTree, frame: str) -> str:
    node = frame
    while (p := tree.parent(node)) is not None:
        node = p
    return node


def sensor_frames(tree: FrameTree, camera_infos: Mapping[str, Any], kinds: Mapping[str, str]) -> dict[str, str]:
    """Sensor frame → kind, by the rules of :func:`calibration.rig_from_ros`."""
    out: dict[str, str] = {}
    for fid in sorted(tree.frames | set(camera_infos) | set(kinds)):
        kind = kinds.get(fid) or ("camera" if fid in camera_infos else infer_kind(fid))
        if kind is not None:
            out[fid] = kind
    return out


def choose_base_frame(tree: FrameTree, sensors: Mapping[str, str], wanted: str) -> tuple[str, str]:
    """``(base_frame, reason)``: ``wanted`` when the tree has it, else the root connected to the most
    sensor frames (ties: the root of the larger tree, then the name); a sensor frame without any
    transform is its own root.

    Raises:
        FrameTreeError: there is no frame at all.
    """
    if wanted in tree.frames:
        return wanted, f"{wanted!r} is in the tf tree"
    count: dict[str, int] = {}
    for fid in sensors:
        r = _root_of(tree, fid) if fid in tree.frames else fid
        count[r] = count.get(r, 0) + 1
    size: dict[str, int] = {}
    for f in tree.frames:
        r = _root_of(tree, f)
        size[r] = size.get(r, 0) + 1
    roots = set(tree.roots()) | set(count)
    if not roots:
        raise FrameTreeError("no tf transform and no sensor frame: there is no frame to use as the base frame")
    best = min(roots, key=lambda r: (-count.get(r, 0), -size.get(r, 0), r))
    n = count.get(best, 0)
    why = "the single root" if len(roots) == 1 else f"the root connected to the most sensor frames ({n})"
    return best, f"no {wanted!r} in the tf tree: using {why} of the tf tree, {best!r}"


def extract_rig(
    static_transforms: Iterable[StaticTransform],
    camera_infos: Mapping[str, Mapping[str, Any]],
    base_frame: str = "base_link",
    kinds: Mapping[str, str] | None = None,
) -> RosRig:
    """A rig from whatever tf tree a bag has (never refuses a tree for lacking ``base_frame``).

    Args:
        static_transforms: ``(parent, child, translation_m (3,), rotation_xyzw (4,))`` (``T_parent_child``).
        camera_infos: camera frame_id → CameraInfo dict (see :func:`calibration.rig_from_ros`).
        base_frame: the base frame wanted; when the tree lacks it, the root connected to the most
            sensor frames is used instead (see :func:`choose_base_frame`).
        kinds: frame_id → kind; a listed frame becomes a sensor (e.g. an image topic's frame
            without CameraInfo: a camera kept with its extrinsic and no intrinsics).

    Raises:
        FrameTreeError: the transforms give a frame two parents or a cycle; no frame at all.
        CalibrationError: invalid CameraInfo or kind.
    """
    edges = list(static_transforms)
    kind_map = {k.lstrip("/"): v for k, v in (kinds or {}).items()}
    infos = {k.lstrip("/"): v for k, v in camera_infos.items()}
    tree = _tree(edges)
    frames = sensor_frames(tree, infos, kind_map)
    base, reason = choose_base_frame(tree, frames, base_frame.lstrip("/"))
    connected = {f: k for f, k in frames.items() if f == base or (f in tree.frames and base in tree.frames
                                                                   and _root_of(tree, f) == _root_of(tree, base))}
    unconnected = {f: k for f, k in frames.items() if f not in connected}
    keep = [e for e in edges if str(e[1]).lstrip("/") in tree.frames and base in tree.frames
            and _root_of(tree, str(e[1]).lstrip("/")) == _root_of(tree, base)]
    conn_kinds = {f: k for f, k in kind_map.items() if f in connected}
    conn_infos = {f: v for f, v in infos.items() if f in connected}
    if base in frames and base not in tree.frames:  # a lone sensor frame (e.g. CameraInfo without tf)
        keep = []
    rig = rig_from_ros(keep, conn_infos, base_frame=base, kinds=conn_kinds) if (keep or conn_infos or conn_kinds) \
        else Rig({}, base)
    if base in frames and base not in {s.frame_id for s in rig.sensors.values()}:
        rig = _with_base_sensor(rig, base, frames[base], infos.get(base))
    other = tuple(r for r in tree.roots() if r != _root_of(tree, base)) if base in tree.frames else tuple(tree.roots())
    no_k = tuple(s.name for s in rig.sensors.values() if s.kind == "camera" and s.camera is None)
    return RosRig(rig, reason, unconnected, other, no_k)


def _with_base_sensor(rig: Rig, frame: str, kind: str, info: Mapping[str, Any] | None) -> Rig:
    """The rig plus the sensor whose frame is the base frame itself (identity extrinsic)."""
    from calibration.rig import Sensor
    from calibration.sources.ros import camera_from_camera_info, sensor_name_from_frame

    cam = camera_from_camera_info(frame, info) if (info is not None and kind == "camera") else None
    topic = None if info is None or info.get("topic") is None else str(info["topic"])
    name = sensor_name_from_frame(frame)
    return rig.with_sensor(Sensor(name if name not in rig else frame, kind, frame, camera=cam, topic=topic))


class EdgeVariation:
    """How much each dynamic ``/tf`` edge moves over a bag, accumulated one transform at a time.

    An edge is constant when its translation stays within :data:`CONSTANT_TRANSLATION_M` and its
    rotation within :data:`CONSTANT_ROTATION_RAD` of its first sample (memory: one sample per edge).
    """

    def __init__(self) -> None:
        self._first: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self._moved: dict[tuple[str, str], tuple[float, float]] = {}

    def __len__(self) -> int:
        return len(self._first)

    def add(self, parent: str, child: str, translation_m: ArrayLike, rotation_xyzw: ArrayLike) -> None:
        """One sample of edge ``T_parent_child`` (translation (3,) m, quaternion x, y, z, w)."""
        key = (parent.lstrip("/"), child.lstrip("/"))
        t = np.asarray(translation_m, dtype=np.float64).reshape(3)
        q = np.asarray(rotation_xyzw, dtype=np.float64).reshape(4)
        q = q / np.linalg.norm(q)
        first = self._first.get(key)
        if first is None:
            self._first[key] = (t, q)
            self._moved[key] = (0.0, 0.0)
            return
        dt = float(np.linalg.norm(t - first[0]))
        dr = 2.0 * float(np.arccos(min(1.0, abs(float(q @ first[1])))))
        old = self._moved[key]
        self._moved[key] = (max(old[0], dt), max(old[1], dr))

    def split(self, exclude_children: Iterable[str] = ()) -> tuple[list[StaticTransform], list[tuple[str, str]]]:
        """``(constant edges as static transforms (first sample), moving edges)``, in first-seen order;
        edges whose child is in ``exclude_children`` (e.g. already on /tf_static) are left out."""
        skip = {c.lstrip("/") for c in exclude_children}
        static: list[StaticTransform] = []
        moving: list[tuple[str, str]] = []
        for key, (t, q) in self._first.items():
            if key[1] in skip:
                continue
            dt, dr = self._moved[key]
            if dt <= CONSTANT_TRANSLATION_M and dr <= CONSTANT_ROTATION_RAD:
                static.append((key[0], key[1], t, q))
            else:
                moving.append(key)
        return static, moving


def constant_edges(
    samples: Mapping[tuple[str, str], tuple[ArrayLike, ArrayLike]],
) -> tuple[list[StaticTransform], list[tuple[str, str]]]:
    """:class:`EdgeVariation` over whole sample arrays: (parent, child) → ``(translations_m (M, 3),
    rotations_xyzw (M, 4))``; returns ``(constant edges as static transforms, moving edges)``."""
    acc = EdgeVariation()
    for (parent, child), (t, q) in samples.items():
        for ti, qi in zip(np.asarray(t).reshape(-1, 3), np.asarray(q).reshape(-1, 4), strict=True):
            acc.add(parent, child, ti, qi)
    return acc.split()


__all__ = ["EdgeVariation", "RosRig", "choose_base_frame", "constant_edges", "extract_rig", "sensor_frames"]
