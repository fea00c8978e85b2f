"""Build a rig from ROS ``/tf_static`` transforms and ``CameraInfo`` messages.

Conventions: tf transforms are ``T_parent_child`` with the quaternion in **x, y, z, w**
order (``geometry_msgs/Transform``); frame ids lose their leading slash; CameraInfo ``K``
is 9 values row-major, ``D`` follows ``distortion_model``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from calibration.camera import CameraModel
from calibration.errors import CalibrationError, FrameTreeError, IntrinsicsError, RigFileError
from calibration.frames import FrameTree
from calibration.rig import Rig, Sensor, sensor_kinds
from calibration.se3 import SE3

#: Substrings of a frame id (lower case) → sensor kind, checked in this order.
KIND_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("lidar", "lidar"),
    ("velodyne", "lidar"),
    ("ouster", "lidar"),
    ("os_sensor", "lidar"),
    ("radar", "radar"),
    ("imu", "imu"),
    ("gps", "gnss"),
    ("gnss", "gnss"),
)
_OPTICAL_SUFFIXES = ("_optical_frame", "_optical")
StaticTransform = tuple[str, str, ArrayLike, ArrayLike]


def infer_kind(frame_id: str) -> str | None:
    """Sensor kind from a frame name by keyword (see :data:`KIND_KEYWORDS`), or None."""
    low = frame_id.lower()
    for word, kind in KIND_KEYWORDS:
        if word in low:
            return kind
    return None


def sensor_name_from_frame(frame_id: str) -> str:
    """Sensor name for a frame: the frame id without a ``_optical_frame`` / ``_optical`` suffix."""
    for suffix in _OPTICAL_SUFFIXES:
        if frame_id.endswith(suffix) and len(frame_id) > len(suffix):
            return frame_id[: -len(suffix)]
    return frame_id


def camera_from_camera_info(frame_id: str, info: Mapping[str, Any]) -> CameraModel:
    """A :class:`CameraModel` from a CameraInfo dict (width, height, distortion_model, d, k).

    Keys are case-insensitive (ROS 1 ``D``/``K``, ROS 2 ``d``/``k``). An empty ``d`` means no
    distortion (model ``none``), as an uncalibrated driver publishes.
    """
    where = f"camera_info for frame {frame_id!r}"
    info = {str(k).lower(): v for k, v in info.items()}  # ROS 1 CameraInfo spells D and K upper case
    missing = [k for k in ("width", "height", "distortion_model", "d", "k") if k not in info]
    if missing:
        raise RigFileError(f"{where}: missing key(s) {missing}; need width, height, distortion_model, d, k")
    d = np.asarray(info["d"], dtype=np.float64).ravel()
    model = str(info["distortion_model"]) if d.size else "none"
    k = np.asarray(info["k"], dtype=np.float64)
    if k.size != 9:
        raise IntrinsicsError(f"{where} key 'k': need 9 values (row-major 3x3), got {k.size}")
    try:
        return CameraModel(int(info["width"]), int(info["height"]), k.reshape(3, 3), model, d)
    except CalibrationError as e:
        raise type(e)(f"{where}: {e}") from e


def rig_from_ros(
    static_transforms: Iterable[StaticTransform],
    camera_infos: Mapping[str, Mapping[str, Any]],
    base_frame: str = "base_link",
    kinds: Mapping[str, str] | None = None,
) -> Rig:
    """Compose /tf_static chains and CameraInfo into a rig.

    Args:
        static_transforms: ``(parent_frame, child_frame, translation_xyz (3,), rotation_xyzw (4,))``
            per transform (``T_parent_child``; quaternion **x, y, z, w**). A repeated edge
            replaces the earlier one.
        camera_infos: camera frame_id → dict with ``width``, ``height``, ``distortion_model``,
            ``d`` (list), ``k`` (9 values row-major), optionally ``topic``.
        base_frame: the rig's base frame.
        kinds: frame_id → kind, overriding the inference; a frame listed here becomes a sensor.

    Sensors: every frame with camera info (kind camera), every frame in ``kinds`` and every
    other frame whose name matches :data:`KIND_KEYWORDS`. A camera body frame without camera
    info is not a sensor (its optical child is). Names strip ``_optical_frame``/``_optical``.

    Raises:
        FrameTreeError: the base frame is unknown, a sensor frame is not connected to it,
            or the transforms give a frame two parents / a cycle.
        CalibrationError: an unknown kind in ``kinds``.
    """
    tree = FrameTree()
    for i, item in enumerate(static_transforms):
        parent, child, trans, rot = item
        p, c = str(parent).lstrip("/"), str(child).lstrip("/")
        try:
            tree.add_static(p, c, SE3.from_quat_xyzw(rot, trans))
        except CalibrationError as e:
            raise type(e)(f"static transform #{i} {p!r}->{c!r}: {e}") from e
    base = base_frame.lstrip("/")
    kind_map = {k.lstrip("/"): v for k, v in (kinds or {}).items()}
    for fid, kind in kind_map.items():
        if kind not in sensor_kinds():
            raise CalibrationError(f"kinds[{fid!r}] = {kind!r}; use one of {sensor_kinds()}")
    infos = {k.lstrip("/"): v for k, v in camera_infos.items()}

    candidates: dict[str, str] = {}
    for fid in sorted(tree.frames | set(infos) | set(kind_map)):
        if fid == base:
            continue
        inferred = kind_map.get(fid) or ("camera" if fid in infos else infer_kind(fid))
        if inferred is not None:
            candidates[fid] = inferred
    if candidates and base not in tree.frames:
        raise FrameTreeError(
            f"base frame {base!r} does not appear in the static transforms; roots are {tree.roots()}; "
            "pass one of them as the base frame (--base-frame)"
        )

    sensors: dict[str, Sensor] = {}
    for fid, kind in candidates.items():
        if fid not in tree.frames:
            raise FrameTreeError(
                f"sensor frame {fid!r} ({kind}) has no static transform; it is not connected to {base!r} — "
                "publish its /tf_static or add it in a rig file"
            )
        try:
            T = tree.lookup(base, fid)
        except FrameTreeError as e:
            raise FrameTreeError(f"sensor frame {fid!r} ({kind}): {e}") from e
        name = sensor_name_from_frame(fid)
        if name in sensors:
            name = fid
        info = infos.get(fid)
        cam = camera_from_camera_info(fid, info) if (info is not None and kind == "camera") else None
        topic = None if info is None or info.get("topic") is None else str(info["topic"])
        sensors[name] = Sensor(name, kind, fid, T, 0, cam, topic)
    return Rig(sensors, base)
