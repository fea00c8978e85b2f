"""ASAM OpenLABEL 1.0 JSON → :class:`AnnotationSet` (and the codec object).

Reading rules (see ``docs/ANNOTATIONS.md``):

* The file is validated against the official OpenLABEL 1.0.0 schema first.
* Each ``frames.<n>`` needs ``frame_properties.timestamp`` (int ns, float s, decimal string s,
  ISO 8601) unless ``frame_times_ns`` maps frame numbers to times.
* Cuboid ``val`` is ``[x, y, z, qx, qy, qz, qw, sx, sy, sz]`` (quaternion x, y, z, w) or
  ``[x, y, z, rx, ry, rz, sx, sy, sz]`` (Euler, ``R = Rz(rz) Ry(ry) Rx(rx)``); ``sx, sy, sz``
  are the object's x, y, z extents = length, width, height.
* A cuboid's frame is its ``coordinate_system``, else its object's, else ``default_frame``.
* ``pose_wrt_parent`` is the child's pose in the parent (maps child points into the parent);
  ``transform_src_to_dst`` maps ``src`` points into ``dst`` (``X_dst = M X_src``).
* ``track_id`` is the object uid, or the object ``name`` when the uid is fusion's UUID5 of it.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from calibration.rotation import matrix_to_quat_xyzw, quat_xyzw_to_matrix, rpy_to_matrix
from calibration.se3 import make_transform
from fusion.annotations.annotation_set import AnnotationSet, CoordinateSystem, FrameTransform, Issue
from fusion.annotations.jsonfile import read_json
from fusion.annotations.model import Cuboid
from fusion.annotations.openlabel_schema import validate_openlabel
from fusion.annotations.timestamps import parse_timestamp_ns
from fusion.errors import AnnotationError

#: Namespace of the UUID5s fusion uses as object uids for non-numeric track ids.
TRACK_UUID_NAMESPACE = uuid.UUID("6f1d3c56-3b8e-4c57-9a3c-2f0d5e7a9b10")
#: Cuboid attribute names mapped onto Cuboid fields (others go to ``Cuboid.attributes``).
RESERVED_ATTRIBUTES = ("score", "visibility", "num_lidar_points", "num_radar_points", "source", "velocity_mps")


def track_uid(track_id: str) -> str:
    """The OpenLABEL object uid fusion writes for ``track_id`` (itself if numeric or a UUID)."""
    try:
        return str(uuid.UUID(track_id)) if len(track_id) == 36 else str(int(track_id))
    except ValueError:
        return str(uuid.uuid5(TRACK_UUID_NAMESPACE, track_id))


def parse_transform_data(data: dict[str, Any], where: str) -> np.ndarray:
    """A 4×4 matrix from an OpenLABEL ``transform_data`` (matrix4x4, quaternion+translation or Euler)."""
    if "matrix4x4" in data:
        m = np.asarray(data["matrix4x4"], dtype=np.float64)
        if m.shape != (16,):
            raise ValueError(f"{where}.matrix4x4 must have 16 numbers, got {m.size}")
        M = m.reshape(4, 4)
        if not np.allclose(M[3], [0, 0, 0, 1]) or not np.allclose(M[:3, :3] @ M[:3, :3].T, np.eye(3), atol=1e-6):
            raise ValueError(f"{where}.matrix4x4 is not a rigid transform (row-major, last row 0 0 0 1)")
        return M
    t = np.asarray(data["translation"], dtype=np.float64)
    if "quaternion" in data:
        q = np.asarray(data["quaternion"], dtype=np.float64)
        if abs(np.linalg.norm(q) - 1.0) > 1e-3:
            raise ValueError(f"{where}.quaternion (x,y,z,w) is not unit (norm {np.linalg.norm(q):.6g})")
        return make_transform(quat_xyzw_to_matrix(q, normalize=True), t)
    seq = str(data.get("sequence", "ZYX")).upper()
    if seq != "ZYX":
        raise ValueError(f"{where}.sequence {seq!r} is not supported (only ZYX)")
    a, b, c = (float(v) for v in data["euler_angles"])  # ZYX: rz, ry, rx
    return make_transform(rpy_to_matrix([c, b, a]), t)


def _attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("num", "text", "boolean", "vec"):
        for item in attrs.get(kind, []):
            out[str(item.get("name", kind))] = item["val"]
    return out


def _cuboid(item: dict[str, Any], where: str, **kw: Any) -> Cuboid:
    val = item.get("val")
    if val is None:
        raise ValueError("val is null")
    v = np.asarray(val, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"val has non-finite numbers {val}")
    if v.size == 10:
        q = v[3:7]
        norm = float(np.linalg.norm(q))
        if abs(norm - 1.0) > 1e-3:
            raise ValueError(f"quaternion val[3:7] (qx,qy,qz,qw) is not unit (norm {norm:.6g})")
    else:
        q = matrix_to_quat_xyzw(rpy_to_matrix(v[3:6]))
    size = v[-3:]
    if np.any(size < 0):
        raise ValueError(f"size val[-3:] (sx,sy,sz) must be >= 0, got {size.tolist()}")
    attrs = _attributes(item.get("attributes", {}))
    extra = {k: attrs.pop(k) for k in RESERVED_ATTRIBUTES if k in attrs}
    vel = extra.get("velocity_mps")
    return Cuboid(
        v[:3], size, q,
        velocity_mps=None if vel is None else np.asarray(vel, dtype=np.float64),
        score=None if "score" not in extra else float(extra["score"]),
        visibility=None if "visibility" not in extra else str(extra["visibility"]),
        num_lidar_points=None if "num_lidar_points" not in extra else int(extra["num_lidar_points"]),
        num_radar_points=None if "num_radar_points" not in extra else int(extra["num_radar_points"]),
        source=str(extra.get("source", "labelled")),  # type: ignore[arg-type]
        attributes=attrs, **kw,
    )


def decode_openlabel(
    doc: dict[str, Any],
    source: str = "<memory>",
    *,
    frame_times_ns: dict[int, int] | None = None,
    default_frame: str = "world",
) -> AnnotationSet:
    """Decode an OpenLABEL document (already parsed JSON). See the module docstring for the rules."""
    validate_openlabel(doc, source)
    ol = doc["openlabel"]
    css: dict[str, CoordinateSystem] = {}
    for name, cs in ol.get("coordinate_systems", {}).items():
        where = f"openlabel.coordinate_systems.{name}.pose_wrt_parent"
        try:
            T = parse_transform_data(cs["pose_wrt_parent"], where) if "pose_wrt_parent" in cs else None
        except ValueError as exc:
            raise AnnotationError(f"{source}: {where}: {exc}") from None
        css[name] = CoordinateSystem(name, cs.get("parent", ""), T, cs.get("type", "local"))
    objects = ol.get("objects", {})
    boxes: list[Cuboid] = []
    origins: list[str] = []
    transforms: list[FrameTransform] = []
    issues: list[Issue] = []
    for uid, obj in objects.items():
        if obj.get("object_data", {}).get("cuboid"):
            issues.append(Issue("skipped", f"{source}: openlabel.objects.{uid}.object_data.cuboid",
                                "static cuboid (not in any frame) has no time; not imported"))
    for fkey, frame in sorted(ol.get("frames", {}).items(), key=lambda kv: int(kv[0])):
        fpath = f"openlabel.frames.{fkey}"
        props = frame.get("frame_properties", {})
        if "timestamp" in props:
            try:
                time_ns = parse_timestamp_ns(props["timestamp"])
            except ValueError as exc:
                raise AnnotationError(f"{source}: {fpath}.frame_properties.timestamp: {exc}") from None
        elif frame_times_ns is not None and int(fkey) in frame_times_ns:
            time_ns = int(frame_times_ns[int(fkey)])
        else:
            raise AnnotationError(
                f"{source}: {fpath}.frame_properties.timestamp: missing (and no frame→time mapping given)"
            )
        for tkey, tr in props.get("transforms", {}).items():
            where = f"{fpath}.frame_properties.transforms.{tkey}.transform_src_to_dst"
            try:
                M = parse_transform_data(tr["transform_src_to_dst"], where)
            except ValueError as exc:
                raise AnnotationError(f"{source}: {exc}") from None
            transforms.append(FrameTransform(time_ns, tr["src"], tr["dst"], M))
        for uid, fobj in frame.get("objects", {}).items():
            obj = objects.get(uid)
            if obj is None:
                raise AnnotationError(f"{source}: {fpath}.objects.{uid}: object uid not declared in openlabel.objects")
            name = str(obj.get("name", uid))
            track_id = name if track_uid(name) == uid else uid
            for i, item in enumerate(fobj.get("object_data", {}).get("cuboid", [])):
                where = f"{fpath}.objects.{uid}.object_data.cuboid[{i}].val"
                frame_name = item.get("coordinate_system") or obj.get("coordinate_system") or default_frame
                try:
                    box = _cuboid(item, where, label=str(obj["type"]), track_id=track_id,
                                  frame=frame_name, time_ns=time_ns)
                except ValueError as exc:
                    raise AnnotationError(f"{source}: {where}: {exc}") from None
                boxes.append(box)
                origins.append(f"{source}: {where}")
    return AnnotationSet(tuple(boxes), tuple(origins), css, tuple(transforms), tuple(issues), source, "openlabel")


class OpenLabelCodec:
    """:class:`~fusion.annotations.codec.AnnotationCodec` for ASAM OpenLABEL 1.0 JSON."""

    name = "openlabel"

    def decode(self, path: Path, **options: Any) -> AnnotationSet:
        """Read and decode an OpenLABEL JSON file (options: ``frame_times_ns``, ``default_frame``)."""
        path = Path(path)
        doc = read_json(path)
        try:
            return decode_openlabel(doc, str(path), **options)
        except RecursionError:
            raise AnnotationError(f"{path}: the document is nested too deeply to decode") from None
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            # the schema check lets some shapes through (e.g. a coordinate system that is a list or null):
            # whatever the decoder trips over is one error naming the file
            raise AnnotationError(f"{path}: not a valid OpenLABEL 1.0 document: a value has the wrong type or is "
                                  f"missing ({exc})") from None

    def encode(self, annotations: AnnotationSet, path: Path, **options: Any) -> None:
        """Write ``annotations`` as OpenLABEL 1.0 (option ``context``: an ``ExportContext``)."""
        from fusion.annotations.openlabel_encode import encode_openlabel

        doc = encode_openlabel(list(annotations.boxes), options.get("context"))
        Path(path).write_text(json.dumps(doc, indent=1))
