"""The synthetic rig: sensor extrinsics, camera intrinsics and topic names.

Values equal ``configs/rigs/synthetic.yaml``. Extrinsics are ``T_base_sensor``
(4, 4) float64 matrices mapping points in the sensor frame into ``base_link``.
Camera optical frames are reached through a body frame (``camera_front`` →
``camera_front_optical``) on /tf_static, like real rigs.

``SynthConfig.extra_cameras`` (0–4) adds JPEG cameras around the roof
(:data:`EXTRA_CAMERAS`, in that order); the functions taking ``extra_cameras``
return the rig / topics of such a log (``extra_cameras=0`` = the rig above).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

BASE_FRAME = "base_link"
WORLD_FRAME = "odom"
LIDAR_YAW_RAD = 0.00872665
"""Yaw of the LiDAR in base_link (+0.5 deg, rounded as in the rig YAML)."""

# optical axes expressed in the camera body frame (REP-103 body x fwd, y left, z up)
R_BODY_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
FRONT_DISTORTION = (-0.05, 0.01, 0.0005, -0.0005, 0.0)


def rot_z(yaw_rad: float) -> F64:
    """(3, 3) rotation about +z by ``yaw_rad``."""
    c, s = np.cos(yaw_rad), np.sin(yaw_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def make_T(R: F64, t: tuple[float, float, float] | F64) -> F64:
    """(4, 4) homogeneous transform from rotation (3, 3) and translation (3,)."""
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = t
    return T


@dataclass(frozen=True)
class SensorSpec:
    """One sensor of the synthetic rig.

    Attributes:
        name: sensor name (also the clock-offset key).
        kind: camera | lidar | radar | imu.
        frame_id: the sensor frame (optical frame for cameras).
        topic: data topic.
        T_base_sensor: (4, 4) extrinsic, sensor frame -> base_link.
        body_frame: cameras only: body frame between base_link and the optical frame.
        T_base_body: cameras only: (4, 4) base_link <- body frame.
    """

    name: str
    kind: str
    frame_id: str
    topic: str
    T_base_sensor: F64
    body_frame: str | None = None
    T_base_body: F64 | None = None


def _sensors() -> dict[str, SensorSpec]:
    T_front_body = make_T(np.eye(3), (1.6, 0.0, 1.5))
    T_left_body = make_T(rot_z(np.pi / 2), (1.2, 0.5, 1.5))
    R_left = rot_z(np.pi / 2) @ R_BODY_OPTICAL
    R_left = np.round(R_left)  # exact 0/±1 entries
    return {
        "lidar_top": SensorSpec("lidar_top", "lidar", "lidar_top", "/lidar/points",
                                make_T(rot_z(LIDAR_YAW_RAD), (1.0, 0.0, 1.8))),
        "camera_front": SensorSpec("camera_front", "camera", "camera_front_optical",
                                   "/camera/front/image/compressed",
                                   make_T(R_BODY_OPTICAL, (1.6, 0.0, 1.5)), "camera_front", T_front_body),
        "camera_left": SensorSpec("camera_left", "camera", "camera_left_optical", "/camera/left/image_raw",
                                  make_T(R_left, (1.2, 0.5, 1.5)), "camera_left", T_left_body),
        "radar_front": SensorSpec("radar_front", "radar", "radar_front", "/radar/front/points",
                                  make_T(np.eye(3), (2.0, 0.0, 0.6))),
        "imu": SensorSpec("imu", "imu", "imu_link", "/imu/data", make_T(np.eye(3), (0.2, 0.0, 0.5))),
    }


SENSORS: dict[str, SensorSpec] = _sensors()
"""The base rig (every log has these sensors)."""


@dataclass(frozen=True)
class ExtraCamera:
    """An optional extra camera (CompressedImage JPEG, zero distortion).

    Attributes:
        name: sensor name (body frame; the optical frame is ``<name>_optical``).
        short: topic component: ``/camera/<short>/image/compressed``, ``/camera/<short>/camera_info``.
        yaw_rad: yaw of the body frame in base_link (the optical axis points along body +x).
        t_base: (x, y, z) position in base_link, m.
        phase_ns: phase of its message times after the log start, ns.
    """

    name: str
    short: str
    yaw_rad: float
    t_base: tuple[float, float, float]
    phase_ns: int

    @property
    def image_topic(self) -> str:
        """``/camera/<short>/image/compressed``."""
        return f"/camera/{self.short}/image/compressed"

    @property
    def info_topic(self) -> str:
        """``/camera/<short>/camera_info``."""
        return f"/camera/{self.short}/camera_info"


EXTRA_CAMERAS: tuple[ExtraCamera, ...] = (
    ExtraCamera("camera_right", "right", -np.pi / 2, (1.2, -0.5, 1.5), 5_000_000),
    ExtraCamera("camera_rear", "rear", np.pi, (-0.4, 0.0, 1.5), 9_000_000),
    ExtraCamera("camera_front_left", "front_left", np.pi / 4, (1.5, 0.3, 1.5), 13_000_000),
    ExtraCamera("camera_front_right", "front_right", -np.pi / 4, (1.5, -0.3, 1.5), 15_000_000),
)
"""Extra cameras in the order ``SynthConfig.extra_cameras`` enables them."""
EXTRA_CAMERA_FOCAL_PX = 500.0
"""Focal length of the extra cameras at 640 px width (scaled with the width like camera_front)."""


def _exact_rot_z(yaw_rad: float) -> F64:
    """``rot_z`` with exact 0/±1 entries for multiples of 90°."""
    R = rot_z(yaw_rad)
    quarter = yaw_rad / (np.pi / 2)
    return np.round(R) if abs(quarter - round(quarter)) < 1e-12 else R


def extra_camera_specs(extra_cameras: int) -> list[ExtraCamera]:
    """The first ``extra_cameras`` (0–4) of :data:`EXTRA_CAMERAS`."""
    if not 0 <= extra_cameras <= len(EXTRA_CAMERAS):
        raise ValueError(f"extra_cameras must be in [0, {len(EXTRA_CAMERAS)}], got {extra_cameras}")
    return list(EXTRA_CAMERAS[:extra_cameras])


def _extra_sensor(cam: ExtraCamera) -> SensorSpec:
    R_body = _exact_rot_z(cam.yaw_rad)
    R_opt = R_body @ R_BODY_OPTICAL
    R_opt = np.where(np.abs(R_opt) < 1e-15, 0.0, R_opt)
    return SensorSpec(cam.name, "camera", f"{cam.name}_optical", cam.image_topic, make_T(R_opt, cam.t_base),
                      cam.name, make_T(R_body, cam.t_base))


def sensors(extra_cameras: int = 0) -> dict[str, SensorSpec]:
    """Every sensor of a log with ``extra_cameras`` extra cameras (base rig first, then the extras)."""
    out = dict(SENSORS)
    for cam in extra_camera_specs(extra_cameras):
        out[cam.name] = _extra_sensor(cam)
    return out

TOPIC_LIDAR = "/lidar/points"
TOPIC_CAM_FRONT = "/camera/front/image/compressed"
TOPIC_CAM_FRONT_INFO = "/camera/front/camera_info"
TOPIC_CAM_LEFT = "/camera/left/image_raw"
TOPIC_CAM_LEFT_INFO = "/camera/left/camera_info"
TOPIC_RADAR = "/radar/front/points"
TOPIC_IMU = "/imu/data"
TOPIC_ODOM = "/odom"
TOPIC_TF = "/tf"
TOPIC_TF_STATIC = "/tf_static"
TOPIC_WHEEL = "/wheel/odom"
TOPIC_GNSS = "/gnss/fix"
TOPIC_WHEEL_TWIST = "/wheel/twist"
GNSS_FRAME = "gnss"
NOISY_TOPIC_TYPES: dict[str, str] = {TOPIC_WHEEL: "nav_msgs/msg/Odometry", TOPIC_GNSS: "sensor_msgs/msg/NavSatFix"}
"""Topics of a log with ``SynthConfig.sensor_noise`` (wheel odometry and GNSS, both on the ``odom`` clock)."""

TOPIC_TYPES: dict[str, str] = {
    TOPIC_LIDAR: "sensor_msgs/msg/PointCloud2",
    TOPIC_CAM_FRONT: "sensor_msgs/msg/CompressedImage",
    TOPIC_CAM_FRONT_INFO: "sensor_msgs/msg/CameraInfo",
    TOPIC_CAM_LEFT: "sensor_msgs/msg/Image",
    TOPIC_CAM_LEFT_INFO: "sensor_msgs/msg/CameraInfo",
    TOPIC_RADAR: "sensor_msgs/msg/PointCloud2",
    TOPIC_IMU: "sensor_msgs/msg/Imu",
    TOPIC_ODOM: "nav_msgs/msg/Odometry",
    TOPIC_TF: "tf2_msgs/msg/TFMessage",
    TOPIC_TF_STATIC: "tf2_msgs/msg/TFMessage",
}
"""Every topic of a synthetic log and its ROS 2-style type name (used for both ROS versions)."""

TOPIC_CLOCK: dict[str, str] = {
    TOPIC_LIDAR: "lidar_top",
    TOPIC_CAM_FRONT: "camera_front",
    TOPIC_CAM_FRONT_INFO: "camera_front",
    TOPIC_CAM_LEFT: "camera_left",
    TOPIC_CAM_LEFT_INFO: "camera_left",
    TOPIC_RADAR: "radar_front",
    TOPIC_IMU: "imu",
    TOPIC_ODOM: "odom",
    TOPIC_TF: "odom",
    TOPIC_TF_STATIC: "odom",
}
"""Which sensor clock stamps each topic (key of ``SynthConfig.clock_offsets_ns``)."""

CAMERA_TOPICS: dict[str, tuple[str, str]] = {
    "camera_front": (TOPIC_CAM_FRONT, TOPIC_CAM_FRONT_INFO),
    "camera_left": (TOPIC_CAM_LEFT, TOPIC_CAM_LEFT_INFO),
}
"""Base cameras: name -> (image topic, camera_info topic)."""


def camera_topics(extra_cameras: int = 0) -> dict[str, tuple[str, str]]:
    """Camera name -> (image topic, camera_info topic), base cameras first."""
    out = dict(CAMERA_TOPICS)
    for cam in extra_camera_specs(extra_cameras):
        out[cam.name] = (cam.image_topic, cam.info_topic)
    return out


def topic_types(extra_cameras: int = 0) -> dict[str, str]:
    """Every topic of a log and its type: :data:`TOPIC_TYPES`, then per extra camera its
    image (CompressedImage) and camera_info topics."""
    out = dict(TOPIC_TYPES)
    for cam in extra_camera_specs(extra_cameras):
        out[cam.image_topic] = "sensor_msgs/msg/CompressedImage"
        out[cam.info_topic] = "sensor_msgs/msg/CameraInfo"
    return out


def topic_clock(extra_cameras: int = 0) -> dict[str, str]:
    """Topic -> sensor clock (:data:`TOPIC_CLOCK` plus the extra cameras' own clocks)."""
    out = dict(TOPIC_CLOCK)
    for cam in extra_camera_specs(extra_cameras):
        out[cam.image_topic] = out[cam.info_topic] = cam.name
    return out


def camera_intrinsics(name: str, width: int, height: int) -> dict[str, Any]:
    """Intrinsics of camera ``name`` at ``width`` x ``height`` pixels.

    Returns:
        dict with ``K`` (3, 3) f64 pixels, ``D`` (5,) plumb_bob (k1 k2 p1 p2 k3),
        ``model`` ("plumb_bob"), ``width``, ``height``.
    """
    extra = {c.name: EXTRA_CAMERA_FOCAL_PX for c in EXTRA_CAMERAS}
    f0 = {"camera_front": 500.0, "camera_left": 450.0, **extra}[name]
    f = f0 * width / 640.0
    K = np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])
    D = np.array(FRONT_DISTORTION if name == "camera_front" else (0.0,) * 5, dtype=np.float64)
    return {"K": K, "D": D, "model": "plumb_bob", "width": int(width), "height": int(height)}


def static_transforms(extra_cameras: int = 0) -> list[tuple[str, str, F64]]:
    """The /tf_static edges as (parent, child, T_parent_child (4, 4))."""
    edges: list[tuple[str, str, F64]] = []
    for spec in sensors(extra_cameras).values():
        if spec.body_frame is not None and spec.T_base_body is not None:
            edges.append((BASE_FRAME, spec.body_frame, spec.T_base_body))
            edges.append((spec.body_frame, spec.frame_id, np.linalg.inv(spec.T_base_body) @ spec.T_base_sensor))
        else:
            edges.append((BASE_FRAME, spec.frame_id, spec.T_base_sensor))
    return edges


def rig_dict(width: int, height: int, offsets: dict[str, int], extra_cameras: int = 0) -> dict[str, Any]:
    """JSON-compatible rig description stored in the truth file."""
    out: dict[str, Any] = {}
    for spec in sensors(extra_cameras).values():
        entry: dict[str, Any] = {
            "kind": spec.kind,
            "frame_id": spec.frame_id,
            "topic": spec.topic,
            "T_base_sensor": spec.T_base_sensor.tolist(),
            "time_offset_ns": int(offsets.get(spec.name, 0)),
        }
        if spec.kind == "camera":
            cam = camera_intrinsics(spec.name, width, height)
            entry["camera"] = {"K": cam["K"].tolist(), "D": cam["D"].tolist(), "model": cam["model"],
                               "width": cam["width"], "height": cam["height"]}
        out[spec.name] = entry
    return {"base_frame": BASE_FRAME, "sensors": out, "odom_time_offset_ns": int(offsets.get("odom", 0))}
