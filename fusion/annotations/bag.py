"""Boxes recorded in a bag as ``vision_msgs/msg/Detection3DArray`` ↔ canonical boxes.

* ``bbox.center`` is the box centre pose (quaternion x, y, z, w, as every ROS message);
  ``bbox.size`` is the extent along the box's own x, y, z → ``size_lwh_m``.
* ``results[best].hypothesis.class_id`` → ``label``, ``.score`` → ``score`` (best = highest score).
* ``id`` → ``track_id`` (an empty id becomes a unique ``"<topic>#<msg>.<det>"``, i.e. no track).
* Frame = the detection's ``header.frame_id`` (else the array's); time = its header stamp
  (else the array's; a zero stamp falls back to the bag record time).

vision_msgs is not in rosbags' default typestore: the vendored ROS 2 definitions in
``msgs/vision_msgs/msg/`` are registered by :func:`vision_msgs_typestore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from fusion.annotations.annotation_set import AnnotationSet
from fusion.annotations.model import Cuboid
from fusion.errors import AnnotationError

MSG_DIR = Path(__file__).with_name("msgs")
DETECTION3D_ARRAY = "vision_msgs/msg/Detection3DArray"


@lru_cache(maxsize=1)
def vision_msgs_typestore() -> Any:
    """A ROS 2 Humble typestore with the vendored vision_msgs definitions registered."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    types: dict[str, Any] = {}
    for msg in sorted((MSG_DIR / "vision_msgs" / "msg").glob("*.msg")):
        types.update(get_types_from_msg(msg.read_text(), f"vision_msgs/msg/{msg.stem}"))
    store.register(types)
    return store


def _stamp_ns(header: Any) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def _detection_box(det: Any, arr: Any, record_ns: int, topic: str, i: int, j: int) -> Cuboid:
    c = det.bbox.center
    q = np.array([c.orientation.x, c.orientation.y, c.orientation.z, c.orientation.w])
    s = det.bbox.size
    label, score = "unknown", None
    results = list(det.results)
    if results:
        best = max(results, key=lambda r: float(r.hypothesis.score))
        label, score = str(best.hypothesis.class_id), float(best.hypothesis.score)
    stamp = _stamp_ns(det.header) or _stamp_ns(arr.header) or record_ns
    return Cuboid(
        np.array([c.position.x, c.position.y, c.position.z]), np.array([s.x, s.y, s.z]), q, label,
        str(det.id) or f"{topic}#{i}.{j}", score=score,
        frame=det.header.frame_id or arr.header.frame_id, time_ns=stamp,
    )


def decode_bag(path: Path, *, topics: Sequence[str] | None = None) -> AnnotationSet:
    """Decode every ``Detection3DArray`` message (on ``topics``, default all such topics)."""
    from rosbags.highlevel import AnyReader

    path = Path(path)
    if not path.exists():
        raise AnnotationError(f"{path}: bag not found")
    boxes: list[Cuboid] = []
    origins: list[str] = []
    try:
        with AnyReader([path], default_typestore=vision_msgs_typestore()) as reader:
            conns = [c for c in reader.connections if c.msgtype == DETECTION3D_ARRAY
                     and (topics is None or c.topic in topics)]
            if not conns:
                raise AnnotationError(f"{path}: no {DETECTION3D_ARRAY} topic found"
                                      + (f" among {list(topics)}" if topics else ""))
            counters: dict[str, int] = {}
            for conn, record_ns, raw in reader.messages(connections=conns):
                i = counters.get(conn.topic, 0)
                counters[conn.topic] = i + 1
                try:
                    msg: Any = reader.deserialize(raw, conn.msgtype)
                    for j, det in enumerate(msg.detections):
                        boxes.append(_detection_box(det, msg, int(record_ns), conn.topic, i, j))
                        origins.append(f"{path}: {conn.topic}[{i}].detections[{j}]")
                except (ValueError, AttributeError, TypeError) as exc:
                    raise AnnotationError(
                        f"{path}: {conn.topic}[{i}]: cannot decode {DETECTION3D_ARRAY}: {exc}"
                    ) from None
    except AnnotationError:
        raise
    except Exception as exc:  # rosbags raises its own hierarchy per storage plugin
        raise AnnotationError(f"{path}: cannot read bag: {exc}") from None
    return AnnotationSet(tuple(boxes), tuple(origins), source_path=str(path), format="bag")


def encode_bag(boxes: Sequence[Cuboid], path: Path, *, topic: str = "/detections") -> None:
    """Write boxes as one ``Detection3DArray`` per distinct time into a new rosbag2 (sqlite3)."""
    from rosbags.rosbag2 import Writer

    store = vision_msgs_typestore()
    T = store.types
    Header, Time = T["std_msgs/msg/Header"], T["builtin_interfaces/msg/Time"]
    Pose, Point, Quat, Vec3 = (T[f"geometry_msgs/msg/{n}"] for n in ("Pose", "Point", "Quaternion", "Vector3"))
    PWC = T["geometry_msgs/msg/PoseWithCovariance"]
    Hyp, HypPose = T["vision_msgs/msg/ObjectHypothesis"], T["vision_msgs/msg/ObjectHypothesisWithPose"]
    BB, Det, DetArr = T["vision_msgs/msg/BoundingBox3D"], T["vision_msgs/msg/Detection3D"], T[DETECTION3D_ARRAY]

    def header(t: int, frame: str) -> Any:
        return Header(stamp=Time(sec=t // 1_000_000_000, nanosec=t % 1_000_000_000), frame_id=frame)

    by_time: dict[int, list[Cuboid]] = {}
    for b in boxes:
        by_time.setdefault(b.time_ns, []).append(b)
    with Writer(Path(path), version=9) as writer:
        conn = writer.add_connection(topic, DETECTION3D_ARRAY, typestore=store)
        for t, group in sorted(by_time.items()):
            dets = []
            for b in group:
                pose = Pose(position=Point(*b.center_m.tolist()), orientation=Quat(*b.rotation_xyzw.tolist()))
                hyp = HypPose(hypothesis=Hyp(class_id=b.label, score=float(b.score if b.score is not None else 1.0)),
                              pose=PWC(pose=pose, covariance=np.zeros(36)))
                dets.append(Det(header=header(t, b.frame), results=[hyp],
                                bbox=BB(center=pose, size=Vec3(*b.size_lwh_m.tolist())), id=b.track_id))
            msg = DetArr(header=header(t, group[0].frame), detections=dets)
            writer.write(conn, t, store.serialize_cdr(msg, DETECTION3D_ARRAY))


class Detection3DBagCodec:
    """:class:`~fusion.annotations.codec.AnnotationCodec` for ``Detection3DArray`` topics in bags."""

    name = "bag"

    def decode(self, path: Path, **options: Any) -> AnnotationSet:
        """Decode (option ``topics``)."""
        return decode_bag(path, **options)

    def encode(self, annotations: AnnotationSet, path: Path, **options: Any) -> None:
        """Write a new rosbag2 (option ``topic``)."""
        encode_bag(list(annotations.boxes), path, **options)
