"""ROS 2 messages of the MCAP replay export (:mod:`fusion.export.mcap_replay`), built from arrays.

Every builder returns a rosbags message object of ``Stores.ROS2_HUMBLE``'s types (serialize with
``TYPESTORE.serialize_cdr(msg, msgtype)``). Times are int64 ns on the common clock, quaternions
x, y, z, w, transforms ``T_parent_child`` (4, 4) as everywhere in fusion.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

NS = 1_000_000_000

POINTCLOUD2 = "sensor_msgs/msg/PointCloud2"
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
IMU = "sensor_msgs/msg/Imu"
ODOMETRY = "nav_msgs/msg/Odometry"
TF = "tf2_msgs/msg/TFMessage"
MARKER_ARRAY = "visualization_msgs/msg/MarkerArray"

#: numpy dtype → sensor_msgs/PointField datatype (INT8 1 … FLOAT64 8). 64-bit integers have none.
POINTFIELD_TYPES: dict[np.dtype[Any], int] = {
    np.dtype(t): code
    for t, code in (("i1", 1), ("u1", 2), ("<i2", 3), ("<u2", 4), ("<i4", 5), ("<u4", 6), ("<f4", 7), ("<f8", 8))
}


@lru_cache(maxsize=1)
def typestore() -> Any:
    """The ROS 2 Humble typestore the export serializes with (CDR), foxglove_msgs registered."""
    from rosbags.typesys import Stores, get_typestore

    from fusion.export.mcap_scene import register_foxglove

    store = get_typestore(Stores.ROS2_HUMBLE)
    register_foxglove(store)  # foxglove_msgs/SceneUpdate (--scene-update)
    return store


def _t(name: str) -> Any:
    return typestore().types[name]


def header(stamp_ns: int, frame_id: str) -> Any:
    """``std_msgs/Header`` at ``stamp_ns`` (split into sec / nanosec, nanosec in [0, 1e9))."""
    sec, nsec = divmod(int(stamp_ns), NS)
    return _t("std_msgs/msg/Header")(stamp=_t("builtin_interfaces/msg/Time")(sec=sec, nanosec=nsec),
                                     frame_id=frame_id)


def _vec3(v: Any) -> Any:
    return _t("geometry_msgs/msg/Vector3")(x=float(v[0]), y=float(v[1]), z=float(v[2]))


def _quat(q_xyzw: Any) -> Any:
    return _t("geometry_msgs/msg/Quaternion")(x=float(q_xyzw[0]), y=float(q_xyzw[1]), z=float(q_xyzw[2]),
                                              w=float(q_xyzw[3]))


def _pose(t: Any, q_xyzw: Any) -> Any:
    return _t("geometry_msgs/msg/Pose")(position=_t("geometry_msgs/msg/Point")(x=float(t[0]), y=float(t[1]),
                                                                                z=float(t[2])),
                                        orientation=_quat(q_xyzw))


vec3 = _vec3
pose = _pose


def pointcloud2(stamp_ns: int, frame_id: str, xyz: np.ndarray, fields: Mapping[str, np.ndarray]) -> Any:
    """Unorganized little-endian ``PointCloud2``: float32 ``x, y, z`` then each field in its dtype.

    Args:
        xyz: (N, 3) points, m (written as float32).
        fields: name → (N,) per-point column; a 64-bit integer column is written as float64
            (PointField has no 64-bit integers), any other non-1-D or non-numeric column is skipped.
    """
    n = int(xyz.shape[0])
    cols: dict[str, np.ndarray] = {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2]}
    dts: list[tuple[str, np.dtype[Any]]] = [(c, np.dtype("<f4")) for c in "xyz"]
    for name, v in fields.items():
        a = np.asarray(v)
        if a.ndim != 1 or a.shape[0] != n or a.dtype.kind not in "fiu" or name in cols:
            continue
        dt = a.dtype.newbyteorder("<") if a.dtype.itemsize > 1 else a.dtype
        if dt not in POINTFIELD_TYPES:
            dt = np.dtype("<f8")
        cols[name] = a
        dts.append((name, dt))
    rec = np.empty(n, dtype=np.dtype(dts))
    for name, _ in dts:
        rec[name] = cols[name]
    PF = _t("sensor_msgs/msg/PointField")
    offsets = [int(rec.dtype.fields[name][1]) for name, _ in dts] if rec.dtype.fields else []
    pfs = [PF(name=name, offset=off, datatype=POINTFIELD_TYPES[dt], count=1) for (name, dt), off in zip(dts, offsets)]
    step = int(rec.dtype.itemsize)
    return _t(POINTCLOUD2)(
        header=header(stamp_ns, frame_id), height=1, width=n, fields=pfs, is_bigendian=False, point_step=step,
        row_step=step * n, data=rec.view(np.uint8).reshape(-1), is_dense=bool(np.isfinite(xyz).all()),
    )  # fmt: skip


def compressed_image(stamp_ns: int, frame_id: str, data: bytes, fmt: str) -> Any:
    """``CompressedImage`` with the stored bytes as they came (never re-encoded)."""
    return _t(COMPRESSED_IMAGE)(header=header(stamp_ns, frame_id), format=fmt,
                                data=np.frombuffer(data, dtype=np.uint8))


def image(stamp_ns: int, frame_id: str, pixels: np.ndarray, encoding: str) -> Any:
    """``Image`` of a stored raw image (H, W[, C]) in its own encoding, rows packed (step = bytes / H)."""
    px = np.ascontiguousarray(pixels)
    h = int(px.shape[0])
    w = int(px.shape[1]) if px.ndim > 1 else 0
    return _t(IMAGE)(header=header(stamp_ns, frame_id), height=h, width=w, encoding=encoding,
                     is_bigendian=int(px.dtype.byteorder == ">"), step=px.nbytes // max(h, 1),
                     data=px.view(np.uint8).reshape(-1))


def camera_info(stamp_ns: int, frame_id: str, camera: Any) -> Any:
    """``CameraInfo`` of a ``calibration.CameraModel`` (R = identity, P = [K | 0])."""
    K = np.asarray(camera.K, dtype=np.float64).reshape(3, 3)
    P = np.zeros((3, 4))
    P[:, :3] = K
    roi = _t("sensor_msgs/msg/RegionOfInterest")(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return _t(CAMERA_INFO)(
        header=header(stamp_ns, frame_id), height=int(camera.height), width=int(camera.width),
        distortion_model=str(camera.distortion_model), d=np.asarray(camera.D, dtype=np.float64).reshape(-1),
        k=K.reshape(-1), r=np.eye(3).reshape(-1), p=P.reshape(-1), binning_x=0, binning_y=0, roi=roi,
    )  # fmt: skip


def transform_stamped(stamp_ns: int, parent: str, child: str, t: Any, q_xyzw: Any) -> Any:
    """``TransformStamped`` ``T_parent_child`` (translation m, rotation x, y, z, w)."""
    tr = _t("geometry_msgs/msg/Transform")(translation=_vec3(t), rotation=_quat(q_xyzw))
    return _t("geometry_msgs/msg/TransformStamped")(header=header(stamp_ns, parent), child_frame_id=child,
                                                    transform=tr)


def tf_message(transforms: list[Any]) -> Any:
    """``tf2_msgs/TFMessage`` of ``TransformStamped`` s."""
    return _t(TF)(transforms=transforms)


def odometry(stamp_ns: int, parent: str, child: str, t: Any, q_xyzw: Any, v_mps: Any, w_radps: Any) -> Any:
    """``nav_msgs/Odometry``: pose ``T_parent_child``; twist in the child (base) frame; no covariance."""
    zero = np.zeros(36)
    pose = _t("geometry_msgs/msg/PoseWithCovariance")(pose=_pose(t, q_xyzw), covariance=zero)
    twist = _t("geometry_msgs/msg/TwistWithCovariance")(
        twist=_t("geometry_msgs/msg/Twist")(linear=_vec3(v_mps), angular=_vec3(w_radps)), covariance=zero)
    return _t(ODOMETRY)(header=header(stamp_ns, parent), child_frame_id=child, pose=pose, twist=twist)


def imu(stamp_ns: int, frame_id: str, w_radps: Any, a_mps2: Any, q_xyzw: Any) -> Any:
    """``sensor_msgs/Imu``; a non-finite orientation is written as identity with covariance[0] = −1."""
    q = np.asarray(q_xyzw, dtype=np.float64)
    ocov = np.zeros(9)
    if not np.isfinite(q).all():
        q, ocov[0] = np.array([0.0, 0.0, 0.0, 1.0]), -1.0
    return _t(IMU)(header=header(stamp_ns, frame_id), orientation=_quat(q), orientation_covariance=ocov,
                   angular_velocity=_vec3(w_radps), angular_velocity_covariance=np.zeros(9),
                   linear_acceleration=_vec3(a_mps2), linear_acceleration_covariance=np.zeros(9))


def label_rgba(label: str) -> tuple[float, float, float, float]:
    """A stable colour per label (r, g, b in [0.3, 1], alpha 0.5)."""
    h = zlib.crc32(label.encode())
    r, g, b = ((h >> s) & 0xFF for s in (0, 8, 16))
    return 0.3 + 0.7 * r / 255, 0.3 + 0.7 * g / 255, 0.3 + 0.7 * b / 255, 0.5


def _color(label: str) -> Any:
    r, g, b, a = label_rgba(label)
    return _t("std_msgs/msg/ColorRGBA")(r=r, g=g, b=b, a=a)


def _marker(stamp_ns: int, frame_id: str, ns: str, ident: int, mtype: int, action: int, pose: Any, scale: Any,
            label: str, text: str = "") -> Any:
    M = _t("visualization_msgs/msg/Marker")
    return M(
        header=header(stamp_ns, frame_id), ns=ns, id=ident, type=mtype, action=action, pose=pose, scale=scale,
        color=_color(label), lifetime=_t("builtin_interfaces/msg/Duration")(sec=0, nanosec=0), frame_locked=False,
        points=[], colors=[], texture_resource="",
        texture=_t(COMPRESSED_IMAGE)(header=header(0, ""), format="", data=np.zeros(0, np.uint8)),
        uv_coordinates=[], text=text, mesh_resource="",
        mesh_file=_t("visualization_msgs/msg/MeshFile")(filename="", data=np.zeros(0, np.uint8)),
        mesh_use_embedded_materials=False,
    )  # fmt: skip


def box_markers(stamp_ns: int, frame_id: str, boxes: list[Any], track_ids: dict[str, int]) -> Any:
    """``MarkerArray`` of one frame's boxes: a DELETEALL, then per box a CUBE (ns ``label``) and a
    TEXT_VIEW_FACING label (ns ``label/text``) with a stable id per ``track_id`` (``track_ids`` grows)."""
    markers = [_marker(stamp_ns, frame_id, "", 0, 1, 3, _pose((0, 0, 0), (0, 0, 0, 1)), _vec3((1, 1, 1)), "")]
    for box in boxes:
        ident = track_ids.setdefault(box.track_id, len(track_ids))
        pose = _pose(box.center_m, box.rotation_xyzw)
        markers.append(_marker(stamp_ns, frame_id, box.label, ident, 1, 0, pose, _vec3(box.size_lwh_m), box.label))
        top = np.asarray(box.center_m, dtype=np.float64) + np.array([0.0, 0.0, float(box.size_lwh_m[2]) / 2 + 0.3])
        markers.append(_marker(stamp_ns, frame_id, f"{box.label}/text", ident, 9, 0, _pose(top, (0, 0, 0, 1)),
                               _vec3((0, 0, 0.5)), box.label, f"{box.label} {box.track_id}"))
    return _t(MARKER_ARRAY)(markers=markers)
