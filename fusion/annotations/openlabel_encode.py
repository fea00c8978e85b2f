"""Canonical boxes → ASAM OpenLABEL 1.0 JSON (what ``fusion annotate export`` writes).

Output layout:

* ``metadata.schema_version = "1.0.0"``.
* ``coordinate_systems``: the world frame (root, ``scene_cs``), ``base_link`` (child of world,
  its pose changes per frame), one ``sensor_cs`` per sensor with ``pose_wrt_parent`` =
  ``T_base_sensor`` (quaternion x, y, z, w + translation).
* ``streams``: one per sensor (``type`` camera / lidar / radar / gps_imu / other).
* ``frames.<i>.frame_properties``: ``timestamp`` as **integer ns** and, when ego poses are
  given, ``transforms.<base>_to_<world>`` (VCD's ``src_to_dst`` key naming) with
  ``src = base_link``, ``dst = world``, ``transform_src_to_dst = T_world_base`` (maps base_link
  points into the world; = the pose of base_link in the world).
* ``objects.<uid>``: ``name`` = track id, ``type`` = label; uid = :func:`track_uid`.
* cuboids: ``name = "box3d"``, 10-value ``val`` ``[x, y, z, qx, qy, qz, qw, l, w, h]`` in the box's
  coordinate system; score / visibility / point counts / source / velocity as attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from calibration.rotation import matrix_to_quat_xyzw
from fusion.annotations.model import Cuboid
from fusion.annotations.openlabel import track_uid
from fusion.errors import AnnotationError

F64 = NDArray[np.float64]
_STREAM_TYPES = {"camera": "camera", "lidar": "lidar", "radar": "radar", "imu": "gps_imu", "gnss": "gps_imu"}


@dataclass(frozen=True, eq=False)
class SensorInfo:
    """A sensor as export needs it: name, kind and extrinsic ``T_base_sensor`` (4, 4)."""

    name: str
    kind: str
    T_base_sensor: F64
    frame_id: str = ""


@dataclass(frozen=True, eq=False)
class ExportContext:
    """Scene information for export.

    Attributes:
        frame_times_ns: (F,) int64 times of the frames to write (every frame, boxes or not).
            ``None``: one frame per distinct box time.
        T_world_base: (F, 4, 4) ego poses at ``frame_times_ns`` (``None``: no ego transforms).
        sensors: Sensors of the rig (streams and sensor coordinate systems).
        world_frame: Name of the world coordinate system (boxes with frame ``"world"`` go here).
        base_frame: Name of the vehicle coordinate system.
        name: ``metadata.name``.
    """

    frame_times_ns: NDArray[np.int64] | None = None
    T_world_base: F64 | None = None
    sensors: Sequence[SensorInfo] = field(default_factory=tuple)
    world_frame: str = "odom"
    base_frame: str = "base_link"
    name: str = "fusion annotations"


def _pose(T: F64) -> dict[str, list[float]]:
    return {"quaternion": matrix_to_quat_xyzw(T[:3, :3]).tolist(), "translation": T[:3, 3].tolist()}


def _attributes(box: Cuboid) -> dict[str, list[dict[str, Any]]]:
    num: list[dict[str, Any]] = []
    text: list[dict[str, Any]] = [{"name": "source", "val": box.source}]
    boolean: list[dict[str, Any]] = []
    vec: list[dict[str, Any]] = []
    if box.score is not None:
        num.append({"name": "score", "val": float(box.score)})
    for key in ("num_lidar_points", "num_radar_points"):
        value = getattr(box, key)
        if value is not None:
            num.append({"name": key, "val": int(value)})
    if box.visibility is not None:
        text.append({"name": "visibility", "val": box.visibility})
    if box.velocity_mps is not None:
        vec.append({"name": "velocity_mps", "val": box.velocity_mps.tolist()})
    for key, value in sorted(box.attributes.items()):
        if isinstance(value, bool):
            boolean.append({"name": key, "val": value})
        elif isinstance(value, int | float):
            num.append({"name": key, "val": value})
        elif isinstance(value, list | tuple):
            vec.append({"name": key, "val": list(value)})
        else:
            text.append({"name": key, "val": str(value)})
    out = {"num": num, "text": text, "boolean": boolean, "vec": vec}
    return {k: v for k, v in out.items() if v}


def _intervals(indices: list[int]) -> list[dict[str, int]]:
    out: list[dict[str, int]] = []
    for i in indices:
        if out and out[-1]["frame_end"] == i - 1:
            out[-1]["frame_end"] = i
        else:
            out.append({"frame_start": i, "frame_end": i})
    return out


def encode_openlabel(boxes: Sequence[Cuboid], context: ExportContext | None = None) -> dict[str, Any]:
    """Build an OpenLABEL 1.0 document from boxes (see the module docstring for the layout).

    Raises:
        AnnotationError: if a box time is not one of ``context.frame_times_ns``.
    """
    ctx = context or ExportContext()
    times = (
        np.unique(np.array([b.time_ns for b in boxes], dtype=np.int64))
        if ctx.frame_times_ns is None
        else np.asarray(ctx.frame_times_ns, dtype=np.int64)
    )
    index = {int(t): i for i, t in enumerate(times)}
    css: dict[str, dict[str, Any]] = {
        ctx.world_frame: {"type": "scene_cs", "parent": "", "children": [ctx.base_frame]},
        ctx.base_frame: {"type": "local", "parent": ctx.world_frame, "children": []},
    }
    streams: dict[str, dict[str, Any]] = {}
    for s in ctx.sensors:
        css[s.name] = {"type": "sensor_cs", "parent": ctx.base_frame, "pose_wrt_parent": _pose(s.T_base_sensor)}
        css[ctx.base_frame]["children"].append(s.name)
        streams[s.name] = {"type": _STREAM_TYPES.get(s.kind, "other"), "description": f"{s.kind} {s.frame_id}".strip()}
    frames: dict[str, dict[str, Any]] = {}
    for i, t in enumerate(times):
        props: dict[str, Any] = {"timestamp": int(t)}
        if ctx.T_world_base is not None:
            props["transforms"] = {
                f"{ctx.base_frame}_to_{ctx.world_frame}": {"src": ctx.base_frame, "dst": ctx.world_frame,
                             "transform_src_to_dst": _pose(np.asarray(ctx.T_world_base[i]))}
            }
        frames[str(i)] = {"frame_properties": props, "objects": {}}
    objects: dict[str, dict[str, Any]] = {}
    present: dict[str, set[int]] = {}
    for box in boxes:
        fi = index.get(box.time_ns)
        if fi is None:
            raise AnnotationError(f"export: box of track {box.track_id!r} at {box.time_ns} ns is at no frame time")
        cs = ctx.world_frame if box.frame == "world" else box.frame
        if cs not in css:
            css[cs] = {"type": "local", "parent": ""}
        uid = track_uid(box.track_id)
        objects.setdefault(uid, {"name": box.track_id, "type": box.label})
        present.setdefault(uid, set()).add(fi)
        val = [*box.center_m.tolist(), *box.rotation_xyzw.tolist(), *box.size_lwh_m.tolist()]
        cuboid = {"name": "box3d", "val": val, "coordinate_system": cs, "attributes": _attributes(box)}
        fobj = frames[str(fi)]["objects"].setdefault(uid, {"object_data": {"cuboid": []}})
        fobj["object_data"]["cuboid"].append(cuboid)
    for uid, idx in present.items():
        objects[uid]["frame_intervals"] = _intervals(sorted(idx))
    ol: dict[str, Any] = {
        "metadata": {"schema_version": "1.0.0", "name": ctx.name, "annotator": "fusion"},
        "coordinate_systems": css,
        "objects": objects,
        "frames": frames,
    }
    if times.size:
        ol["frame_intervals"] = [{"frame_start": 0, "frame_end": int(times.size - 1)}]
    if streams:
        ol["streams"] = streams
    return {"openlabel": ol}
