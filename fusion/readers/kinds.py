"""Which :class:`~fusion.readers.records.SensorKind` a topic carries, from its type (and fields)."""

from __future__ import annotations

from collections.abc import Sequence

from fusion.readers.records import SensorKind

#: Field names that mark a PointCloud2 as radar (radial velocity / Doppler).
DOPPLER_FIELDS: tuple[str, ...] = (
    "doppler",
    "doppler_mps",
    "velocity",
    "vrad",
    "radial_velocity",
    "v_r",
    "doppler_velocity",
    "range_rate",
)

KIND_BY_TYPE: dict[str, SensorKind] = {
    "sensor_msgs/msg/Image": SensorKind.CAMERA,
    "sensor_msgs/msg/CompressedImage": SensorKind.CAMERA,
    "sensor_msgs/msg/CameraInfo": SensorKind.CAMERA_INFO,
    "sensor_msgs/msg/PointCloud2": SensorKind.LIDAR,
    "radar_msgs/msg/RadarScan": SensorKind.RADAR,
    "radar_msgs/msg/RadarTracks": SensorKind.RADAR_TRACKS,
    "sensor_msgs/msg/Imu": SensorKind.IMU,
    "nav_msgs/msg/Odometry": SensorKind.ODOMETRY,
    "geometry_msgs/msg/PoseStamped": SensorKind.ODOMETRY,
    "geometry_msgs/msg/PoseWithCovarianceStamped": SensorKind.ODOMETRY,
    "geometry_msgs/msg/TransformStamped": SensorKind.ODOMETRY,
    "sensor_msgs/msg/NavSatFix": SensorKind.GNSS,
    "tf2_msgs/msg/TFMessage": SensorKind.TF,
    "tf/msg/tfMessage": SensorKind.TF,
}


def is_doppler_field(name: str) -> bool:
    """True for a field name that carries radial velocity."""
    return name.lower() in DOPPLER_FIELDS


def detect_kind(msgtype: str, topic: str, fields: Sequence[str] = ()) -> SensorKind:
    """Kind of a topic from its message type; PointCloud2 with a Doppler-like field is radar.

    ``/tf_static`` (or any topic ending in ``tf_static``) is :attr:`SensorKind.TF_STATIC`.
    """
    kind = KIND_BY_TYPE.get(msgtype, SensorKind.OTHER)
    if kind is SensorKind.TF and topic.rstrip("/").endswith("tf_static"):
        return SensorKind.TF_STATIC
    if kind is SensorKind.LIDAR and any(is_doppler_field(f) for f in fields):
        return SensorKind.RADAR
    return kind
