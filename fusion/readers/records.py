"""Typed records the reader layer produces.

Every record carries a :class:`MessageMeta` with both clocks side by side:
``stamp_ns`` is the hardware time from ``header.stamp`` (int64 ns), and
``record_time_ns`` is the bag's record (arrival) time. Alignment only ever uses
``stamp_ns`` (plus the rig's per-sensor time offset); record time is kept for
latency statistics and clock-offset estimation.

Conventions: quaternions are stored x, y, z, w (ROS order); lengths in metres;
times int64 nanoseconds; frames per REP-103/105.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class SensorKind(str, enum.Enum):  # noqa: UP042 - str() must stay "SensorKind.X" for existing callers
    """What a topic carries, as far as synchronization is concerned."""

    CAMERA = "camera"
    CAMERA_INFO = "camera_info"
    LIDAR = "lidar"
    RADAR = "radar"
    RADAR_TRACKS = "radar_tracks"
    IMAGE = "image"  # an Image that is not a camera (LiDAR panorama, depth)
    IMU = "imu"
    ODOMETRY = "odometry"  # nav_msgs/Odometry, PoseStamped, PoseWithCovarianceStamped, TransformStamped
    TF = "tf"  # /tf (dynamic transforms)
    TF_STATIC = "tf_static"
    GNSS = "gnss"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """Where a message came from and its two clocks.

    Attributes:
        topic: Topic name as in the bag.
        index: 0-based ordinal of the message within its topic, in record order.
        record_time_ns: Bag record (arrival) time, int64 ns.
        stamp_ns: ``header.stamp`` as int64 ns (hardware time); 0 when the
            message has no header or the stamp is zero.
        frame_id: ``header.frame_id`` with any leading slash removed.
    """

    topic: str
    index: int
    record_time_ns: int
    stamp_ns: int
    frame_id: str


@dataclass(frozen=True, slots=True)
class PointCloud:
    """A decoded ``sensor_msgs/PointCloud2`` (LiDAR).

    Attributes:
        meta: Message origin and clocks.
        xyz: (N, 3) float32 point coordinates in the sensor frame ``meta.frame_id``, m.
            Organized clouds are flattened row-major; invalid (NaN) points are kept
            when the cloud is not dense, so N == height * width.
        fields: Every other field, name -> (N,) array in its native dtype
            (e.g. ``intensity`` float32, ``ring`` uint16). Multi-count fields
            are (N, count).
        point_time_ns: (N,) int64 absolute per-point time on the sensor's clock
            (same clock as ``meta.stamp_ns``), or None when the cloud carries no
            per-point time (it cannot be deskewed exactly).
        time_convention: Name of the detected per-point time convention
            (e.g. ``"ouster_t"``, ``"velodyne_time"``, ``"none"``).
        height: Rows of an organized cloud (1 when unorganized).
        width: Columns (points per row).
        dropped_points: Pixels of a sweep decoded from raw packets that had no return (range 0)
            and were left out (0 for a PointCloud2).
        partial: A sweep decoded from raw packets that is not one full rotation: the first of a
            log (the data starts mid-rotation) or the last (the log ends mid-rotation).
    """

    meta: MessageMeta
    xyz: F32
    fields: dict[str, np.ndarray]
    point_time_ns: I64 | None
    time_convention: str
    height: int = 1
    width: int = 0
    dropped_points: int = 0
    partial: bool = False


@dataclass(frozen=True, slots=True)
class CameraImage:
    """A camera image, raw or compressed.

    Compressed images keep the original bytes (never re-encoded) in ``data`` and
    decode lazily with :meth:`decode`. Raw images hold the pixel array.

    Attributes:
        meta: Message origin and clocks.
        encoding: ROS encoding for raw images (``"bgr8"``, ``"mono16"``, ...) or
            the compressed ``format`` string (``"jpeg"``, ``"bgr8; jpeg compressed bgr8"``).
        compressed: True for ``sensor_msgs/CompressedImage``.
        data: Compressed bytes (uint8 1-D array, the original bytes) or the raw pixels in the
            encoding's native layout, native byte order: (H, W, C) for rgb8/bgr8/rgba8/...
            (channel order as ``encoding`` says), (H, W) for mono/depth/Bayer mosaics, (H, W, 2)
            for YUV 4:2:2, (H*3/2, W) for nv21, (H*3, W) for nv24. ``fusion.readers.to_bgr8``
            gives (H, W, 3) uint8 BGR for any of them.
        width: Image width in pixels (0 until decoded for compressed images).
        height: Image height in pixels (0 until decoded for compressed images).
    """

    meta: MessageMeta
    encoding: str
    compressed: bool
    data: np.ndarray
    width: int = 0
    height: int = 0

    def __post_init__(self) -> None:
        """An image holds pixels: a raw image of 0 × 0 (or with no pixel data) and a compressed image of no
        bytes are not images, and the message is skipped as undecodable."""
        empty = (self.width <= 0 or self.height <= 0 or self.data.size == 0) if not self.compressed else (
            self.data.size == 0)  # fmt: skip
        if empty:
            from fusion.errors import DecodeError

            raise DecodeError(f"empty image ({self.width} x {self.height} px, {self.data.size} bytes, "
                              f"encoding {self.encoding!r})")  # fmt: skip


@dataclass(frozen=True, slots=True)
class RadarDetections:
    """Radar detections from PointCloud2 radar or ``radar_msgs/RadarScan``.

    Attributes:
        meta: Message origin and clocks.
        xyz: (N, 3) float32 positions in the sensor frame, m.
        radial_velocity_mps: (N,) float32 measured range rate (Doppler), m/s,
            positive when the target moves away; NaN when the sensor gives none.
        fields: Other per-detection fields (rcs, amplitude, snr, ...), (N,) each.
    """

    meta: MessageMeta
    xyz: F32
    radial_velocity_mps: F32
    fields: dict[str, np.ndarray]


@dataclass(frozen=True, slots=True)
class RadarTrackList:
    """``radar_msgs/RadarTracks``: the objects a radar tracks, in the sensor frame ``meta.frame_id``.

    Attributes:
        meta: Message origin and clocks.
        uuid: (N, 16) uint8 track ids (``unique_identifier_msgs/UUID``); :attr:`uuid_hex` as strings.
        position: (N, 3) float32 m; velocity: (N, 3) float32 m/s;
        acceleration: (N, 3) float32 m/s^2; size: (N, 3) float32 m (length, width, height).
        classification: (N,) uint16 (``NO_CLASSIFICATION`` 0, ``STATIC`` 1, ``DYNAMIC`` 2, or the vendor's).
        position_covariance, velocity_covariance, acceleration_covariance, size_covariance: (N, 6)
            float32, the upper triangle of each 3×3 covariance as the message has it
            (xx, xy, xz, yy, yz, zz), in the squared units of the quantity.
    """

    meta: MessageMeta
    uuid: np.ndarray
    position: F32
    velocity: F32
    acceleration: F32
    size: F32
    classification: np.ndarray
    position_covariance: F32
    velocity_covariance: F32
    acceleration_covariance: F32
    size_covariance: F32

    @property
    def uuid_hex(self) -> list[str]:
        """(N,) track ids as 32-character lowercase hex strings."""
        return [bytes(u).hex() for u in self.uuid]


@dataclass(frozen=True, slots=True)
class ImuSample:
    """``sensor_msgs/Imu``, in the IMU frame ``meta.frame_id``.

    Attributes:
        orientation_xyzw: (4,) float64 or None when the orientation covariance
            says absent (first element -1).
        angular_velocity_radps: (3,) float64 rad/s.
        linear_acceleration_mps2: (3,) float64 specific force, m/s^2 (gravity included).
    """

    meta: MessageMeta
    orientation_xyzw: F64 | None
    angular_velocity_radps: F64
    linear_acceleration_mps2: F64
    angular_velocity_valid: bool = True
    linear_acceleration_valid: bool = True


@dataclass(frozen=True, slots=True)
class PoseSample:
    """An ego/body pose: ``T_parent_child`` at ``meta.stamp_ns``.

    From nav_msgs/Odometry (parent = header.frame_id, child = child_frame_id),
    PoseStamped/PoseWithCovarianceStamped (child = ``""``: set by the sensor
    mapping), TransformStamped and TF messages.

    Attributes:
        parent_frame: Frame the pose is expressed in (e.g. ``"odom"``), no leading slash.
        child_frame: Frame being located (e.g. ``"base_link"``).
        translation_m: (3,) float64.
        rotation_xyzw: (4,) float64 unit quaternion, x, y, z, w order.
        linear_velocity_mps: (3,) float64 in the child frame (ROS Odometry twist
            convention) or None.
        angular_velocity_radps: (3,) float64 in the child frame or None.
    """

    meta: MessageMeta
    parent_frame: str
    child_frame: str
    translation_m: F64
    rotation_xyzw: F64
    linear_velocity_mps: F64 | None = None
    angular_velocity_radps: F64 | None = None

    def __post_init__(self) -> None:
        """A pose is a rigid transform: finite translation, a quaternion of norm 1 ± 0.1 (normalised here);
        anything else (a zero quaternion, NaN) is not a pose and the message is skipped as undecodable."""
        q = np.asarray(self.rotation_xyzw, dtype=np.float64)
        norm = float(np.sqrt(np.sum(q * q))) if q.shape == (4,) else float("nan")
        if not (np.all(np.isfinite(self.translation_m)) and 0.9 <= norm <= 1.1):
            from fusion.errors import DecodeError

            xyzw = ", ".join(f"{v:g}" for v in q.ravel()[:4])
            what = "non-finite translation" if not np.all(np.isfinite(self.translation_m)) else (
                f"orientation quaternion of norm {norm:.3g} (x, y, z, w = {xyzw})")
            raise DecodeError(f"{self.parent_frame or '?'} -> {self.child_frame or '?'}: {what} is not a rigid "
                              "transform")  # fmt: skip
        if norm != 1.0:
            object.__setattr__(self, "rotation_xyzw", q / norm)


@dataclass(frozen=True, slots=True)
class TransformBatch:
    """All transforms of one ``tf2_msgs/TFMessage`` (``/tf`` or ``/tf_static``)."""

    meta: MessageMeta
    static: bool
    transforms: tuple[PoseSample, ...]


@dataclass(frozen=True, slots=True)
class GnssFix:
    """``sensor_msgs/NavSatFix``.

    Attributes:
        latitude_deg, longitude_deg: WGS-84 degrees; altitude_m: m above the ellipsoid.
        status: NavSatStatus status (-1 no fix, 0 fix, 1 SBAS, 2 GBAS).
        position_covariance_m2: (3, 3) float64 ENU covariance; type in ``covariance_type``.
    """

    meta: MessageMeta
    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    status: int
    position_covariance_m2: F64
    covariance_type: int


@dataclass(frozen=True, slots=True)
class TwistSample:
    """``geometry_msgs/TwistStamped`` / ``TwistWithCovarianceStamped`` (wheel odometry as a twist).

    Attributes:
        linear_velocity_mps / angular_velocity_radps: (3,) float64 in ``meta.frame_id``.
    """

    meta: MessageMeta
    linear_velocity_mps: F64
    angular_velocity_radps: F64


@dataclass(frozen=True, slots=True)
class CameraInfoRecord:
    """``sensor_msgs/CameraInfo``: intrinsics as the bag carries them.

    Attributes:
        width, height: Image size in pixels.
        distortion_model: ``plumb_bob``, ``rational_polynomial``, ``equidistant`` or other.
        d: Distortion coefficients; k: (3, 3) camera matrix; r: (3, 3) rectification;
        p: (3, 4) projection matrix.
    """

    meta: MessageMeta
    width: int
    height: int
    distortion_model: str
    d: F64
    k: F64
    r: F64
    p: F64


@dataclass(frozen=True, slots=True)
class OtherMessage:
    """A message of a kind fusion does not decode; kept for counting only."""

    meta: MessageMeta
    msgtype: str
    extra: dict[str, Any] = field(default_factory=dict)


Record = (
    PointCloud
    | CameraImage
    | RadarDetections
    | RadarTrackList
    | ImuSample
    | PoseSample
    | TransformBatch
    | GnssFix
    | TwistSample
    | CameraInfoRecord
    | OtherMessage
)
