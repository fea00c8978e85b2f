"""ROS message construction and serialization for ROS 1 and ROS 2 typestores.

Message content is computed once as a plain :class:`Content` (header + payload
dict) and turned into a typestore message per ROS version, so all formats carry
identical payloads. ROS 1 uses ``Stores.ROS1_NOETIC`` (+ ``tf2_msgs/msg/TFMessage``,
which that store lacks; the generated MD5 equals the real one) with
``serialize_ros1``; ROS 2 uses ``Stores.ROS2_HUMBLE`` with ``serialize_cdr``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

ROS1, ROS2 = "ros1", "ros2"


@dataclass(frozen=True)
class Content:
    """Version-independent message content.

    Attributes:
        msgtype: ROS 2-style type name, e.g. ``sensor_msgs/msg/Imu``.
        stamp_ns: header stamp, int ns (unused for TFMessage).
        frame_id: header frame.
        seq: ROS 1 header seq.
        payload: type-specific fields (see the ``_build_*`` functions).
    """

    msgtype: str
    stamp_ns: int
    frame_id: str
    seq: int
    payload: dict[str, Any]


@cache
def typestore(version: str) -> Typestore:
    """The typestore used to write ``version`` (``ros1`` or ``ros2``) bags."""
    if version == ROS1:
        ts = get_typestore(Stores.ROS1_NOETIC)
        ts.register(get_types_from_msg("geometry_msgs/TransformStamped[] transforms", "tf2_msgs/msg/TFMessage"))
        return ts
    return get_typestore(Stores.ROS2_HUMBLE)


def _time(ts: Typestore, ns: int) -> Any:
    ns = int(ns)
    return ts.types["builtin_interfaces/msg/Time"](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _header(ts: Typestore, version: str, stamp_ns: int, frame_id: str, seq: int) -> Any:
    H = ts.types["std_msgs/msg/Header"]
    if version == ROS1:
        return H(seq=int(seq), stamp=_time(ts, stamp_ns), frame_id=frame_id)
    return H(stamp=_time(ts, stamp_ns), frame_id=frame_id)


def _vec3(ts: Typestore, v: Any) -> Any:
    return ts.types["geometry_msgs/msg/Vector3"](x=float(v[0]), y=float(v[1]), z=float(v[2]))


def _quat(ts: Typestore, q_xyzw: Any) -> Any:
    return ts.types["geometry_msgs/msg/Quaternion"](x=float(q_xyzw[0]), y=float(q_xyzw[1]),
                                                    z=float(q_xyzw[2]), w=float(q_xyzw[3]))


def _pointcloud(ts: Typestore, header: Any, p: dict[str, Any]) -> Any:
    PF = ts.types["sensor_msgs/msg/PointField"]
    fields = [PF(name=n, offset=o, datatype=d, count=1) for n, o, d in p["fields"]]
    data = np.frombuffer(p["data"], dtype=np.uint8)
    return ts.types["sensor_msgs/msg/PointCloud2"](
        header=header, height=1, width=int(p["width"]), fields=fields, is_bigendian=False,
        point_step=int(p["point_step"]), row_step=int(p["width"]) * int(p["point_step"]), data=data,
        is_dense=True)


def _camera_info(ts: Typestore, version: str, header: Any, p: dict[str, Any]) -> Any:
    K = np.asarray(p["K"], dtype=np.float64)
    P = np.zeros((3, 4))
    P[:, :3] = K
    roi = ts.types["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    arrays = {"D": np.asarray(p["D"], dtype=np.float64), "K": K.ravel(), "R": np.eye(3).ravel(), "P": P.ravel()}
    if version == ROS2:
        arrays = {k.lower(): v for k, v in arrays.items()}
    return ts.types["sensor_msgs/msg/CameraInfo"](
        header=header, height=int(p["height"]), width=int(p["width"]), distortion_model=p["model"],
        binning_x=0, binning_y=0, roi=roi, **arrays)


def _transforms(ts: Typestore, version: str, c: Content) -> Any:
    """TFMessage; every transform carries ``c.stamp_ns`` and ``payload["transforms"]`` =
    [(parent, child, translation (3,), quaternion (4,) x, y, z, w)]."""
    TS = ts.types["geometry_msgs/msg/TransformStamped"]
    out = []
    for parent, child, t, q in c.payload["transforms"]:
        tf = ts.types["geometry_msgs/msg/Transform"](translation=_vec3(ts, t), rotation=_quat(ts, q))
        out.append(TS(header=_header(ts, version, c.stamp_ns, parent, c.seq), child_frame_id=child, transform=tf))
    return ts.types["tf2_msgs/msg/TFMessage"](transforms=out)


def build(version: str, c: Content) -> Any:
    """Typestore message object for ``c`` in ``version`` (``ros1`` / ``ros2``)."""
    ts = typestore(version)
    p = c.payload
    if c.msgtype == "tf2_msgs/msg/TFMessage":
        return _transforms(ts, version, c)
    header = _header(ts, version, c.stamp_ns, c.frame_id, c.seq)
    if c.msgtype == "sensor_msgs/msg/PointCloud2":
        return _pointcloud(ts, header, p)
    if c.msgtype == "sensor_msgs/msg/CompressedImage":
        return ts.types["sensor_msgs/msg/CompressedImage"](
            header=header, format=p["format"], data=np.frombuffer(p["data"], dtype=np.uint8))
    if c.msgtype == "sensor_msgs/msg/Image":
        return ts.types["sensor_msgs/msg/Image"](
            header=header, height=int(p["height"]), width=int(p["width"]), encoding=p["encoding"],
            is_bigendian=0, step=int(p["step"]), data=np.frombuffer(p["data"], dtype=np.uint8))
    if c.msgtype == "sensor_msgs/msg/CameraInfo":
        return _camera_info(ts, version, header, p)
    if c.msgtype == "sensor_msgs/msg/Imu":
        cov = np.zeros(9)
        return ts.types["sensor_msgs/msg/Imu"](
            header=header, orientation=_quat(ts, p["quat_xyzw"]), orientation_covariance=cov,
            angular_velocity=_vec3(ts, p["gyro"]), angular_velocity_covariance=cov.copy(),
            linear_acceleration=_vec3(ts, p["accel"]), linear_acceleration_covariance=cov.copy())
    if c.msgtype == "nav_msgs/msg/Odometry":
        T = ts.types
        pose = T["geometry_msgs/msg/Pose"](
            position=T["geometry_msgs/msg/Point"](x=float(p["t"][0]), y=float(p["t"][1]), z=float(p["t"][2])),
            orientation=_quat(ts, p["quat_xyzw"]))
        twist = T["geometry_msgs/msg/Twist"](linear=_vec3(ts, p["v_base"]), angular=_vec3(ts, p["w_base"]))
        return T["nav_msgs/msg/Odometry"](
            header=header, child_frame_id=p["child_frame_id"],
            pose=T["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=np.zeros(36)),
            twist=T["geometry_msgs/msg/TwistWithCovariance"](twist=twist, covariance=np.zeros(36)))
    if c.msgtype == "geometry_msgs/msg/TwistStamped":
        twist = ts.types["geometry_msgs/msg/Twist"](linear=_vec3(ts, p["v_base"]), angular=_vec3(ts, p["w_base"]))
        return ts.types["geometry_msgs/msg/TwistStamped"](header=header, twist=twist)
    if c.msgtype == "sensor_msgs/msg/NavSatFix":
        T = ts.types
        status = T["sensor_msgs/msg/NavSatStatus"](status=0, service=1)
        return T["sensor_msgs/msg/NavSatFix"](
            header=header, status=status, latitude=float(p["latitude_deg"]), longitude=float(p["longitude_deg"]),
            altitude=float(p["altitude_m"]), position_covariance=np.asarray(p["covariance"], np.float64),
            position_covariance_type=2)
    raise ValueError(f"unsupported message type {c.msgtype}")  # pragma: no cover - programming error


def serialize(version: str, c: Content) -> bytes:
    """Serialized bytes of ``c`` (ROS 1 wire format or CDR little-endian)."""
    ts = typestore(version)
    msg = build(version, c)
    if version == ROS1:
        return bytes(ts.serialize_ros1(msg, c.msgtype))
    return bytes(ts.serialize_cdr(msg, c.msgtype))


def corrupt_content(c: Content) -> Content | None:
    """Content made invalid for decoding while still serializing, or None (truncate bytes instead).

    PointCloud2 / Image: ``data`` cut to half its length (≠ width*point_step / height*step);
    CompressedImage: JPEG bytes garbled (no SOI marker, imdecode returns None).
    """
    p = dict(c.payload)
    if c.msgtype in ("sensor_msgs/msg/PointCloud2", "sensor_msgs/msg/Image"):
        p["data"] = bytes(p["data"][: len(p["data"]) // 2])
    elif c.msgtype == "sensor_msgs/msg/CompressedImage":
        p["data"] = b"\x00GARBLED" + bytes(len(p["data"]) // 4)
    else:
        return None
    return Content(c.msgtype, c.stamp_ns, c.frame_id, c.seq, p)


def truncate(data: bytes) -> bytes:
    """Serialized bytes truncated to 40 % of their length (deserialization fails)."""
    return data[: max(len(data) * 2 // 5, 1)]
