"""Configuration of the synthetic drive-log generator.

All sizes, rates and fault counts are parameters of two frozen dataclasses:
:class:`SynthConfig` (the log) and :class:`Faults` (deliberate damage). Every
value is validated on construction and a :class:`~fusion.errors.ConfigError`
names the offending field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from fusion.errors import ConfigError

WORLDS: tuple[str, ...] = ("boxes", "urban")
LIDAR_TIME_CONVENTIONS: tuple[str, ...] = ("ouster_t", "velodyne_time", "hesai_timestamp")
FAULT_KINDS: tuple[str, ...] = ("", "drop", "duplicate", "zero_stamp", "out_of_order", "corrupt", "gap")
"""Fault names used in the truth message table ("" = message unaffected)."""

MAX_EXTRA_CAMERAS = 4
"""``camera_right``, ``camera_rear``, ``camera_front_left``, ``camera_front_right`` (in that order)."""
EXTRA_CAMERA_NAMES: tuple[str, ...] = ("camera_right", "camera_rear", "camera_front_left", "camera_front_right")
BASE_CLOCKS: tuple[str, ...] = ("lidar_top", "camera_front", "camera_left", "radar_front", "imu", "odom")
_OMIT_WHEN_DEFAULT: tuple[str, ...] = ("extra_cameras", "extra_camera_rate_hz", "lidar_publish", "sensor_latency_ns",
                                        "sensor_noise", "odometry", "world")
"""Fields left out of :meth:`SynthConfig.to_dict` at their default (default logs' truth.json is unchanged)."""

DEFAULT_START_TIME_NS = 1_700_000_000_000_000_000
"""True time of the first message (2023-11-14T22:13:20Z), int64 ns."""


class FrozenOffsets(Mapping[str, int]):
    """Immutable, hashable sensor name -> clock offset (ns) mapping."""

    def __init__(self, items: Mapping[str, int]) -> None:
        self._d = {str(k): int(v) for k, v in sorted(dict(items).items())}

    def __getitem__(self, key: str) -> int:
        return self._d[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __hash__(self) -> int:
        return hash(tuple(self._d.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._d) == dict(other)

    def __repr__(self) -> str:
        return repr(self._d)


@dataclass(frozen=True)
class Faults:
    """Deliberate damage to the log (everything off by default).

    Counts are **per affected topic**. Each message receives at most one fault.

    Attributes:
        drop_rate: fraction in [0, 1) of each topic's messages that are not written.
        duplicate_count: messages written twice (the copy's record time is +1 ns).
        zero_stamp_count: messages whose header stamp is 0.
        out_of_order_count: messages whose record time is swapped with the previous
            written message of the topic (so they appear before it in record order).
        corrupt_count: messages whose bytes are invalid: PointCloud2 data shorter than
            ``width * point_step``, Image data shorter than ``height * step``, JPEG
            bytes garbled (imdecode fails), other types truncated serialized bytes.
        gap: (start_s, duration_s) relative to the log start: no odometry, IMU or /tf
            message with a true time in that window, or None.
        topics: topics that may receive count/drop faults; empty = every topic except
            ``/tf_static``.
    """

    drop_rate: float = 0.0
    duplicate_count: int = 0
    zero_stamp_count: int = 0
    out_of_order_count: int = 0
    corrupt_count: int = 0
    gap: tuple[float, float] | None = None
    topics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.drop_rate < 1.0:
            raise ConfigError(f"faults.drop_rate must be in [0, 1), got {self.drop_rate}")
        for name in ("duplicate_count", "zero_stamp_count", "out_of_order_count", "corrupt_count"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 0:
                raise ConfigError(f"faults.{name} must be an integer ≥ 0, got {value!r}")
        if self.gap is not None:
            if len(self.gap) != 2 or self.gap[1] <= 0 or self.gap[0] < 0:
                raise ConfigError(f"faults.gap must be (start_s ≥ 0, duration_s > 0), got {self.gap!r}")
            object.__setattr__(self, "gap", (float(self.gap[0]), float(self.gap[1])))
        object.__setattr__(self, "topics", tuple(self.topics))

    @property
    def any(self) -> bool:
        """True when at least one fault is enabled."""
        return bool(
            self.drop_rate
            or self.duplicate_count
            or self.zero_stamp_count
            or self.out_of_order_count
            or self.corrupt_count
            or self.gap
        )


@dataclass(frozen=True)
class SensorNoise:
    """Noise of the proprioceptive sensors (all SI; see :mod:`fusion.testing.synth.inertial`)."""

    gyro_noise_density: float = 2e-4  # rad/s/√Hz
    accel_noise_density: float = 4e-3  # m/s²/√Hz
    gyro_bias_radps: float = 0.002  # per-axis bias drawn uniformly in ±this
    accel_bias_mps2: float = 0.05
    wheel_rate_hz: float = 50.0
    wheel_scale_error: float = 0.003
    wheel_speed_sigma: float = 0.02
    wheel_yaw_rate_sigma: float = 0.005
    gnss_rate_hz: float = 10.0
    gnss_sigma_m: float = 1.0
    gnss_vertical_sigma_m: float = 1.5
    gnss_datum: tuple[float, float, float] = (48.137154, 11.576124, 520.0)  # lat deg, lon deg, alt m
    t_base_antenna: tuple[float, float, float] = (0.0, 0.0, 1.6)
    wheel_message: str = "odometry"  # odometry: Odometry on /wheel/odom; twist: TwistStamped on /wheel/twist

    def __post_init__(self) -> None:
        if self.wheel_message not in ("odometry", "twist"):
            raise ConfigError(f"sensor_noise.wheel_message must be 'odometry' or 'twist', got {self.wheel_message!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict."""
        d = asdict(self)
        d["gnss_datum"], d["t_base_antenna"] = list(self.gnss_datum), list(self.t_base_antenna)
        return d


    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> SensorNoise:
        """Inverse of :meth:`to_dict`."""
        d = dict(data)
        d["gnss_datum"], d["t_base_antenna"] = tuple(d["gnss_datum"]), tuple(d["t_base_antenna"])
        return SensorNoise(**d)


@dataclass(frozen=True)
class SynthConfig:
    """Everything that defines one synthetic log (deterministic by ``seed``).

    Attributes:
        duration_s: log length, s. Message counts: ``floor(duration_s * lidar_rate_hz)``
            full sweeps; other streams every message with a true time in the log window.
        seed: seed of every random choice (world, latencies, faults).
        speed_mps: mean ego speed, m/s (> 0); the speed varies ±15 % around it.
        yaw_rate_dps: approximate peak yaw rate, deg/s (0 = straight line).
        lidar_rate_hz, lidar_beams, lidar_columns: spinning LiDAR geometry.
        lidar_time_convention: ``ouster_t`` | ``velodyne_time`` | ``hesai_timestamp``.
        lidar_max_range_m: rays without a hit within this range are dropped.
        cam_front_rate_hz, cam_left_rate_hz, image_width, image_height: cameras.
        extra_cameras: 0–4 extra JPEG cameras (``camera_right``, ``camera_rear``,
            ``camera_front_left``, ``camera_front_right``, in that order; see docs/SYNTH.md).
        extra_camera_rate_hz: rate of every extra camera.
        jpeg_quality: JPEG quality of the JPEG cameras (OpenCV scale 0–100).
        radar_rate_hz, radar_max_detections: radar.
        imu_rate_hz, odom_rate_hz: continuous streams (/tf is published at the odom rate).
        latency_ns: (min, max) uniform transport latency, ns, added to the true time to
            give the record time (then sorted per topic: one publisher's messages stay FIFO).
        lidar_publish: ``stamp`` (record time = stamp's true time + latency, the default) or
            ``sweep_end`` (record time = the sweep's true end + latency, as real drivers publish).
        sensor_latency_ns: ((sensor, min, max), ...) per-sensor transport latency overriding
            ``latency_ns`` for that sensor's topics (e.g. a LiDAR driver's own latency).
        clock_offsets_ns: sensor name -> offset ns; that sensor's header stamps are
            ``true_time - offset`` (the rig's ``time_offset_ns`` = offset). Sensor names:
            lidar_top, camera_front, camera_left, radar_front, imu, odom, plus the enabled
            extra cameras.
        faults: deliberate damage.
        sensor_noise: None (the default: exact IMU, no wheel odometry, no GNSS) or the noise model of
            a noisy IMU (bias + white noise) plus ``/wheel/odom`` and ``/gnss/fix`` (see
            :mod:`fusion.testing.synth.inertial`).
        odometry: False: no ``/odom`` and no ``/tf`` (a log without a recorded trajectory).
        n_static_boxes, n_moving_objects: world content.
        world: ``boxes`` (the default: ground plane and boxes) or ``urban`` (also buildings with
            façades at many orientations and poles along the drive, where LiDAR odometry is
            well-posed; see :mod:`fusion.testing.synth.urban`).
        start_time_ns: true time of the log start, int64 ns.
    """

    duration_s: float = 10.0
    seed: int = 0
    speed_mps: float = 10.0
    yaw_rate_dps: float = 30.0
    lidar_rate_hz: float = 10.0
    lidar_beams: int = 64
    lidar_columns: int = 1024
    lidar_time_convention: str = "ouster_t"
    lidar_max_range_m: float = 100.0
    cam_front_rate_hz: float = 15.0
    cam_left_rate_hz: float = 12.0
    extra_cameras: int = 0
    extra_camera_rate_hz: float = 12.0
    image_width: int = 640
    image_height: int = 480
    jpeg_quality: int = 90
    radar_rate_hz: float = 13.0
    radar_max_detections: int = 64
    imu_rate_hz: float = 200.0
    odom_rate_hz: float = 50.0
    latency_ns: tuple[int, int] = (2_000_000, 30_000_000)
    lidar_publish: str = "stamp"
    sensor_latency_ns: tuple[tuple[str, int, int], ...] = ()
    clock_offsets_ns: Mapping[str, int] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    sensor_noise: SensorNoise | None = None
    odometry: bool = True
    n_static_boxes: int = 12
    n_moving_objects: int = 4
    world: str = "boxes"
    start_time_ns: int = DEFAULT_START_TIME_NS

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or int(self.seed) != self.seed or self.seed < 0:
            raise ConfigError(f"seed must be an integer ≥ 0, got {self.seed!r}")
        if not self.duration_s > 0:
            raise ConfigError(f"duration_s must be > 0 s, got {self.duration_s}")
        if not self.speed_mps > 0:
            raise ConfigError(f"speed_mps must be > 0 m/s (the heading follows the velocity), got {self.speed_mps}")
        if self.yaw_rate_dps < 0 or self.yaw_rate_dps > 90:
            raise ConfigError(f"yaw_rate_dps must be in [0, 90] deg/s, got {self.yaw_rate_dps}")
        for name in ("lidar_rate_hz", "cam_front_rate_hz", "cam_left_rate_hz", "extra_camera_rate_hz", "radar_rate_hz",
                     "imu_rate_hz", "odom_rate_hz", "lidar_max_range_m"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("lidar_beams", "lidar_columns", "image_width", "image_height", "radar_max_detections"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ConfigError(f"{name} must be an integer ≥ 1, got {value!r}")
        n_extra = self.extra_cameras
        if isinstance(n_extra, bool) or int(n_extra) != n_extra or not 0 <= n_extra <= MAX_EXTRA_CAMERAS:
            raise ConfigError(f"extra_cameras must be an integer in [0, {MAX_EXTRA_CAMERAS}], got {n_extra!r}")
        object.__setattr__(self, "extra_cameras", int(n_extra))
        if self.image_width < 8 or self.image_height < 8:
            raise ConfigError(f"image size must be at least 8x8, got {self.image_width}x{self.image_height}")
        if self.lidar_time_convention not in LIDAR_TIME_CONVENTIONS:
            raise ConfigError(
                f"lidar_time_convention must be one of {list(LIDAR_TIME_CONVENTIONS)}, "
                f"got {self.lidar_time_convention!r}"
            )
        lo, hi = (int(v) for v in self.latency_ns)
        if lo < 0 or hi < lo:
            raise ConfigError(f"latency_ns must be (min ≥ 0, max ≥ min) ns, got {self.latency_ns!r}")
        object.__setattr__(self, "latency_ns", (lo, hi))
        known = set(BASE_CLOCKS) | set(EXTRA_CAMERA_NAMES[: self.extra_cameras])
        if self.lidar_publish not in ("stamp", "sweep_end"):
            raise ConfigError(f"lidar_publish must be 'stamp' or 'sweep_end', got {self.lidar_publish!r}")
        per_sensor = tuple((str(n), int(a), int(b)) for n, a, b in self.sensor_latency_ns)
        for n, a, b in per_sensor:
            if n not in known or a < 0 or b < a:
                raise ConfigError(f"sensor_latency_ns: ({n!r}, {a}, {b}) needs a known sensor and 0 <= min <= max ns")
        object.__setattr__(self, "sensor_latency_ns", per_sensor)
        offsets = {str(k): int(v) for k, v in dict(self.clock_offsets_ns).items()}
        unknown = sorted(set(offsets) - known)
        if unknown:
            raise ConfigError(f"clock_offsets_ns: unknown sensor(s) {unknown}; use {sorted(known)}")
        object.__setattr__(self, "clock_offsets_ns", FrozenOffsets(offsets))
        if self.sensor_noise is not None and not isinstance(self.sensor_noise, SensorNoise):
            raise ConfigError(f"sensor_noise must be a SensorNoise or None, got {type(self.sensor_noise).__name__}")
        if not isinstance(self.faults, Faults):
            raise ConfigError(f"faults must be a Faults instance, got {type(self.faults).__name__}")
        if self.world not in WORLDS:
            raise ConfigError(f"world must be one of {list(WORLDS)}, got {self.world!r}")
        for name in ("n_static_boxes", "n_moving_objects"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 0:
                raise ConfigError(f"{name} must be an integer ≥ 0, got {value!r}")

    @staticmethod
    def tiny(**changes: Any) -> SynthConfig:
        """A fast test-sized log: 1 s, 16 x 256 LiDAR, 160 x 120 images (``changes`` override)."""
        base: dict[str, Any] = {"duration_s": 1.0, "lidar_beams": 16, "lidar_columns": 256,
                                "image_width": 160, "image_height": 120}
        return SynthConfig(**{**base, **changes})

    def latency_of(self, sensor: str) -> tuple[int, int]:
        """(min, max) transport latency of ``sensor``'s topics, ns."""
        return next(((a, b) for n, a, b in self.sensor_latency_ns if n == sensor), self.latency_ns)

    def offset_ns(self, sensor: str) -> int:
        """Clock offset of ``sensor`` in ns (0 when not configured)."""
        return int(self.clock_offsets_ns.get(sensor, 0))

    def replace(self, **changes: Any) -> SynthConfig:
        """Return a copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (round-trips through :meth:`from_dict`).

        ``extra_cameras`` and ``extra_camera_rate_hz`` are only present when not at their defaults.
        """
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if not (f.name in _OMIT_WHEN_DEFAULT and getattr(self, f.name) == f.default)}
        out["latency_ns"] = list(self.latency_ns)
        out["clock_offsets_ns"] = dict(self.clock_offsets_ns)
        if "sensor_latency_ns" in out:
            out["sensor_latency_ns"] = [list(x) for x in self.sensor_latency_ns]
        faults = dataclasses.asdict(self.faults)
        faults["gap"] = list(self.faults.gap) if self.faults.gap else None
        faults["topics"] = list(self.faults.topics)
        out["faults"] = faults
        if self.sensor_noise is not None:
            out["sensor_noise"] = self.sensor_noise.to_dict()
        return out

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> SynthConfig:
        """Inverse of :meth:`to_dict`."""
        d = dict(data)
        f = dict(d.pop("faults", {}) or {})
        if f.get("gap") is not None:
            f["gap"] = tuple(f["gap"])
        f["topics"] = tuple(f.get("topics", ()))
        d["latency_ns"] = tuple(d.get("latency_ns", (2_000_000, 30_000_000)))
        d["sensor_latency_ns"] = tuple(tuple(x) for x in d.get("sensor_latency_ns", ()))
        if d.get("sensor_noise") is not None:
            d["sensor_noise"] = SensorNoise.from_dict(d["sensor_noise"])
        return SynthConfig(**d, faults=Faults(**f))
