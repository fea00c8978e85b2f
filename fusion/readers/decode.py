"""Dispatch a deserialized message to its per-kind decoder."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fusion.readers import camera, camera_info, gnss, imu, lidar_time, motion, radar
from fusion.readers.kinds import is_doppler_field
from fusion.readers.pointcloud import column, other_fields, structured_points, xyz_of
from fusion.readers.records import MessageMeta, OtherMessage, PointCloud, Record, SensorKind
from fusion.readers.stamps import stamp_of_message

if TYPE_CHECKING:
    from fusion.readers.source import DecodeOptions, RawMessage


def message_meta(msg: Any, raw: RawMessage) -> MessageMeta:
    """Meta from ``header`` (TF messages: first transform's header; headerless: stamp 0)."""
    header = getattr(msg, "header", None)
    if header is None and getattr(msg, "transforms", None):
        header = msg.transforms[0].header
    frame_id = str(header.frame_id).lstrip("/") if header is not None else ""
    if header is None and hasattr(msg, "frame_id") and hasattr(msg, "stamp"):  # std_msgs/Header itself
        frame_id = str(msg.frame_id).lstrip("/")
    return MessageMeta(raw.topic, raw.index, raw.record_time_ns, stamp_of_message(msg), frame_id)


def decode_lidar(msg: Any, meta: MessageMeta, convention: str | None) -> PointCloud:
    """PointCloud2 LiDAR → :class:`PointCloud` with per-point time normalised to absolute ns."""
    pts = structured_points(msg)
    fields = other_fields(pts)
    conv = lidar_time.resolve(convention) if convention else lidar_time.detect(fields, meta.stamp_ns)
    times = lidar_time.point_times_ns(fields, meta.stamp_ns, conv) if conv is not None else None
    return PointCloud(
        meta, xyz_of(pts), fields, times, conv.name if conv is not None else "none", int(msg.height), int(msg.width)
    )


def lidar_time_bounds(msg: Any, stamp_ns: int, convention: str | None) -> tuple[int, int, int]:
    """(first point time ns, last point time ns, points) of a PointCloud2, reading only the time fields.

    The cheap path for planning frames: no xyz or other field is copied. A cloud without per-point
    time gives ``(stamp_ns, stamp_ns, points)``.
    """
    pts = structured_points(msg)
    names = pts.dtype.names or ()
    wanted = [n for n in names if n in lidar_time.TIME_FIELDS or n in ("time_sec", "time_nsec")]
    fields = {n: column(pts, n) for n in wanted}
    conv = lidar_time.resolve(convention) if convention else lidar_time.detect(fields, stamp_ns)
    if conv is None or not len(pts):
        return stamp_ns, stamp_ns, len(pts)
    t = lidar_time.point_times_ns(fields, stamp_ns, conv)
    return int(t.min()), int(t.max()), len(pts)


def decode_message(msg: Any, raw: RawMessage, options: DecodeOptions) -> Record:
    """Deserialized ``msg`` of ``raw.msgtype`` → typed record.

    Raises:
        DecodeError: Content that cannot be decoded (the caller adds topic/index).
    """
    meta = message_meta(msg, raw)
    t = raw.msgtype
    if t == "sensor_msgs/msg/PointCloud2":
        kind = options.kind
        if kind is None:
            kind = SensorKind.RADAR if any(is_doppler_field(f.name) for f in msg.fields) else SensorKind.LIDAR
        if kind is SensorKind.RADAR:
            return radar.decode_radar_cloud(msg, meta, options.radar_fields)
        return decode_lidar(msg, meta, options.time_convention)
    if t == "sensor_msgs/msg/Image":
        return camera.decode_raw_image(msg, meta)
    if t == "sensor_msgs/msg/CompressedImage":
        return camera.decode_compressed(msg, meta)
    if t == "sensor_msgs/msg/CameraInfo":
        return camera_info.decode_camera_info(msg, meta)
    if t == "sensor_msgs/msg/Imu":
        return imu.decode_imu(msg, meta)
    if t == "nav_msgs/msg/Odometry":
        return motion.decode_odometry(msg, meta)
    if t in ("geometry_msgs/msg/PoseStamped", "geometry_msgs/msg/PoseWithCovarianceStamped"):
        return motion.decode_pose_stamped(msg, meta)
    if t == "geometry_msgs/msg/TransformStamped":
        return motion.decode_transform_stamped(msg, meta)
    if t in ("tf2_msgs/msg/TFMessage", "tf/msg/tfMessage"):
        static = options.kind is SensorKind.TF_STATIC or raw.topic.rstrip("/").endswith("tf_static")
        return motion.decode_tf(msg, meta, static)
    if t == "sensor_msgs/msg/NavSatFix":
        return gnss.decode_navsatfix(msg, meta)
    if t == "radar_msgs/msg/RadarScan":
        return radar.decode_radar_scan(msg, meta)
    if t == "radar_msgs/msg/RadarTracks":
        return radar.decode_radar_tracks(msg, meta)
    return OtherMessage(meta, t)
