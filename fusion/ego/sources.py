"""The ego-source registry: where ``T_world_base`` comes from (``ego.source`` in the config).

``ego.source`` is ``auto`` or components joined by ``+``: ``odom`` (a recorded odometry / pose
topic; with ``imu``: its twist, i.e. wheel odometry), ``tf`` (``/tf`` world → base), ``imu``,
``gnss``, ``lidar``. Each supported combination names one :class:`EgoSource` in :data:`SOURCES`
(imported lazily, the pattern of :mod:`fusion.annotations.codec`). ``auto``: the recorded
trajectory when there is one, else the inertial estimate from everything the log has
(``imu+odom+gnss`` → ``imu+gnss`` → ``imu+odom`` → ``imu``), else none.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from fusion.ego.inputs import F64, I64, EstimatorParams, GnssInput, ImuInput, WheelInput
from fusion.errors import ConfigError

COMPONENTS: tuple[str, ...] = ("lidar", "imu", "odom", "gnss", "tf")
"""Components of ``ego.source``, in canonical order."""

#: canonical source name -> (module, attribute) of its :class:`EgoSource`; imported lazily.
SOURCES: dict[str, tuple[str, str]] = {
    "odom": ("fusion.ego.recorded", "ODOM"),
    "tf": ("fusion.ego.recorded", "TF"),
    "imu": ("fusion.ego.inertial", "IMU"),
    "imu+odom": ("fusion.ego.inertial", "IMU_ODOM"),
    "imu+gnss": ("fusion.ego.inertial", "IMU_GNSS"),
    "imu+odom+gnss": ("fusion.ego.inertial", "IMU_ODOM_GNSS"),
    "lidar": ("fusion.ego.lidar", "LIDAR"),
    "lidar+imu": ("fusion.ego.lidar", "LIDAR_IMU"),
}
AUTO_ORDER: tuple[str, ...] = ("imu+odom+gnss", "imu+gnss", "imu+odom", "imu")
"""Estimates ``auto`` tries, in order, when the log has no recorded trajectory."""


@dataclass(frozen=True)
class RecordedInput:
    """A recorded trajectory ``T_world_base`` on the common clock (see ``EgoTable``).

    ``twist_recorded``: the twist came in the messages (an Odometry), not from finite differences.
    """

    times_ns: I64
    translation_m: F64
    rotation_xyzw: F64
    linear_velocity_mps: F64
    angular_velocity_radps: F64
    parent: str
    child: str
    topic: str
    kind: str  # "odometry" or "tf"
    twist_recorded: bool


@dataclass(frozen=True)
class LidarInput:
    """The sweeps of one LiDAR for LiDAR odometry.

    Attributes:
        sweeps: called once, yields :class:`fusion.ego.lidar_odometry.LidarSweep` in time order
            (points in the LiDAR frame, per-point times on the common clock).
        T_base_lidar: (4, 4) the LiDAR mount.
        topic: where the sweeps come from.
        mount_known: False when the rig has no mount (identity used).
    """

    sweeps: Callable[[], Iterator[Any]]
    T_base_lidar: F64
    topic: str
    mount_known: bool = True


@dataclass(frozen=True)
class EgoInputs:
    """Everything a source may use; None where the log (or the selection) has none."""

    recorded: RecordedInput | None = None
    imu: ImuInput | None = None
    gnss: GnssInput | None = None
    params: EstimatorParams = field(default_factory=EstimatorParams)
    imu_mount_known: bool = True
    antenna_known: bool = True
    imu_topic: str = ""
    gnss_topic: str = ""
    twist: WheelInput | None = None
    twist_topic: str = ""
    lidar: LidarInput | None = None

    @property
    def wheel(self) -> WheelInput | None:
        """Wheel odometry: the recorded odometry's twist, else a twist topic (``TwistStamped``), else None."""
        r = self.recorded
        if r is None or r.kind != "odometry" or not r.twist_recorded or len(r.times_ns) < 2:
            return self.twist
        return WheelInput(r.times_ns, r.linear_velocity_mps, r.angular_velocity_radps, r.translation_m,
                          r.rotation_xyzw)

    @property
    def wheel_topic(self) -> str:
        """The topic :attr:`wheel` comes from."""
        r = self.recorded
        if r is not None and r.kind == "odometry" and r.twist_recorded and len(r.times_ns) >= 2:
            return r.topic
        return self.twist_topic if self.twist is not None else ""


@dataclass(frozen=True)
class EgoTrack:
    """What a source produces: the trajectory, its twist and how good it is.

    Attributes:
        times_ns (N,), translation_m (N, 3), rotation_xyzw (N, 4) x, y, z, w: ``T_world_base``.
        linear_velocity_mps / angular_velocity_radps: (N, 3) base_link twist in base_link.
        parent: world frame name (``odom``, the recorded parent, ``enu``).
        source: canonical source name (``odom``, ``imu+gnss``, ...).
        inputs: the topics used.
        expected_accuracy: one line for the summary and the report.
        position_sigma_m / yaw_sigma_rad: (N,) 1σ (None for a recorded trajectory).
        translation: False when only rotation is estimated (IMU only: translation held at 0).
        notes: initialisation and fallbacks (report).
        origin: ENU origin (lat deg, lon deg, alt m) when ``parent`` is ENU.
        quality: per-sweep registration quality of LiDAR odometry (``times_ns``, ``residual_m``,
            ``fitness``), or None.
    """

    times_ns: I64
    translation_m: F64
    rotation_xyzw: F64
    linear_velocity_mps: F64
    angular_velocity_radps: F64
    parent: str
    source: str
    inputs: tuple[str, ...]
    expected_accuracy: str
    position_sigma_m: F64 | None = None
    yaw_sigma_rad: F64 | None = None
    translation: bool = True
    notes: tuple[str, ...] = ()
    origin: tuple[float, float, float] | None = None
    quality: dict[str, Any] | None = None


class EgoSource(Protocol):
    """One way of obtaining the ego trajectory."""

    name: str

    def missing(self, inputs: EgoInputs) -> str | None:
        """What the log lacks for this source (None: it can run)."""
        ...

    def build(self, inputs: EgoInputs) -> EgoTrack:
        """The trajectory (only called when :meth:`missing` is None)."""
        ...


def parse_source(text: object, key: str = "ego.source") -> str:
    """Canonical source name of ``text`` (``auto`` or components joined by ``+``, any order).

    Raises:
        ConfigError: unknown component or unsupported combination (naming ``key``).
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{key}: expected 'auto' or sources joined by '+' ({', '.join(SOURCES)}), got {text!r}")
    if text.strip() == "auto":
        return "auto"
    parts = [p.strip() for p in text.split("+")]
    unknown = [p for p in parts if p not in COMPONENTS]
    if unknown:
        raise ConfigError(f"{key}: unknown source {unknown[0]!r} in {text!r}; components: {', '.join(COMPONENTS)}")
    name = "+".join(c for c in COMPONENTS if c in parts)
    if name not in SOURCES:
        raise ConfigError(f"{key}: {text!r} is not a supported combination; choose auto, {', '.join(SOURCES)}")
    return name


def get_source(name: str) -> EgoSource:
    """The source registered as canonical ``name`` (see :data:`SOURCES`)."""
    try:
        module, attr = SOURCES[name]
    except KeyError:
        raise ConfigError(f"ego.source: unknown source {name!r}; choose auto, {', '.join(SOURCES)}") from None
    source: EgoSource = getattr(importlib.import_module(module), attr)
    return source


def choose(name: str, inputs: EgoInputs) -> tuple[EgoSource | None, str]:
    """The source to run for ``name`` (``auto`` resolved) and why; None when nothing can run.

    Raises:
        ConfigError: an explicit source whose inputs the log lacks (what is missing).
    """
    if name != "auto":
        src = get_source(name)
        why = src.missing(inputs)
        if why is not None:
            raise ConfigError(f"ego.source {name}: {why}")
        return src, f"{name} (ego.source in the config)"
    if inputs.recorded is not None and len(inputs.recorded.times_ns) >= 2:
        rec = "odom" if inputs.recorded.kind == "odometry" else "tf"
        return get_source(rec), f"{rec} (auto: the recorded trajectory on {inputs.recorded.topic})"
    for cand in AUTO_ORDER:
        src = get_source(cand)
        if src.missing(inputs) is None:
            return src, f"{cand} (auto: no recorded trajectory; estimated from what the log has)"
    return None, "none (auto: no recorded trajectory and no IMU)"
