"""Conversion configuration: the YAML schema of ``fusion convert --config``.

Every key is optional; the defaults convert a typical rig with the first LiDAR
as the frame reference. The YAML is parsed once into the frozen records below, with
``Literal`` types for the closed choices and a typed :class:`FrameReference`; the readers
of ``fusion.config_values`` check every value's type and range. A bad value or an unknown
key is one :class:`ConfigError` naming the key path, the value and what is expected, so a
typo never silently changes a conversion (types and ranges: ``docs/CONVERT.md``).
Example (``configs/synthetic.yaml``)::

    sensors: sensors/synthetic.yaml     # topic -> sensor mapping (relative to this file)
    rig: rigs/synthetic.yaml            # calibration; overrides what the bag carries, per sensor
    frames:
      reference: lidar:lidar_top        # lidar:<name> | camera:<name> | radar:<name> | rate:<hz>
      reference_time: sweep_start       # sweep_start | sweep_end | header
      policy: nearest                   # nearest | approximate_time
      tolerance_ms: {camera_front: 40}  # default: half of each sensor's median period
      max_gap_ms: 100                   # continuous streams are never bridged over longer gaps
      beam_crossing: [camera_front]     # match these cameras at the LiDAR beam-crossing time (nuScenes)
    ego:
      topic: /odom                      # nav_msgs/Odometry, PoseStamped, TransformStamped or /tf
      world_frame: odom
      source: auto                      # auto | odom | tf | imu | imu+odom | imu+gnss | imu+odom+gnss
      wheel_yaw_rate_sigma: null        # use the wheel yaw rate with this σ, rad/s (car; not skid steer)
      rate_hz: 50                       # an estimated trajectory's rate between measurements
    deskew: frame                       # off | frame | sweep_end
    clock:
      estimate: [camera_left]           # sensors whose clock offset is estimated from arrival times
      apply: false                      # apply the estimates (else only report them)
      auto_apply: true                  # streams on another clock domain (>= 1 s away): estimate + apply
      domain_threshold_s: 1.0           # offsets this large are another clock domain
      max_uncertainty_fraction: 0.25    # refuse an estimate less certain than 1/4 of the stream's period
    store:
      keep_raw_points: false            # also store the raw (not deskewed) xyz
      spool: true                       # keep decoded LiDAR/radar on disk between the passes
      spool_dir: null                   # folder of the spool file (default: TMPDIR)
      spool_memory_mb: 32               # spool memory, MiB (32: writes in flight; more: first messages kept)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, get_args

import yaml

from calibration.sources.yaml_errors import yaml_error_line
from fusion.config_values import (
    Reader,
    choice,
    number,
    number_map,
    read_bool,
    read_names,
    read_optional_str,
    read_section,
    read_str,
)
from fusion.errors import ConfigError
from fusion.sync.beam import LidarDirection
from fusion.sync.deskew_mode import DESKEW_MODES, DeskewMode
from fusion.sync.reference import POLICIES, REFERENCE_TIMES, FrameReference, Policy, ReferenceTime

MAX_MS = 1e9
"""Largest duration in milliseconds (≈ 11.6 days): tolerances and gaps."""


@dataclass(frozen=True)
class FramesConfig:
    """How frames are defined and how other sensors are matched to them (types: ``docs/CONVERT.md``)."""

    reference: FrameReference | None = None  # None: the first LiDAR, else the first camera
    reference_time: ReferenceTime = "sweep_start"
    policy: Policy = "nearest"
    tolerance_ms: Mapping[str, float] = field(default_factory=dict)  # sensor -> ms, > 0
    unique: bool = True
    max_gap_ms: float = 100.0
    age_penalty: float = 0.1
    beam_crossing: tuple[str, ...] = ()  # cameras matched at the reference LiDAR's beam-crossing time
    lidar_azimuth_start_deg: float = 0.0  # beam azimuth at sweep start (LiDAR frame)
    lidar_direction: LidarDirection = "ccw"  # spin direction seen from +z


@dataclass(frozen=True)
class EgoConfig:
    """Where the ego trajectory (``T_world_base``) comes from."""

    topic: str | None = None  # None: the first odometry topic, else /tf
    world_frame: str | None = None  # None: the parent frame of the ego messages (an estimate: odom or enu)
    base_frame: str = "base_link"
    source: str = "auto"  # auto | odom | tf | imu | imu+odom | imu+gnss | imu+odom+gnss (fusion.ego.sources)
    wheel_yaw_rate_sigma: float | None = None  # σ of the wheel yaw rate, rad/s (None: not used; skid steer)
    rate_hz: float = 50.0  # rate of an estimated trajectory between measurements, Hz


@dataclass(frozen=True)
class ClockConfig:
    """Clock-offset estimation for sensors whose offset is unknown."""

    estimate: tuple[str, ...] = ()  # streams (any kind) whose offset is estimated against the clock reference
    apply: bool = False  # apply the estimates of ``estimate`` (else only report them)
    auto_apply: bool = True  # estimate and apply the offset of a stream on another clock domain
    domain_threshold_s: float = 1.0  # an offset this large or larger is another clock domain, s
    max_uncertainty_fraction: float = 0.25  # refuse an estimate less certain than this share of the period


@dataclass(frozen=True)
class StoreConfig:
    """Store options.

    Attributes:
        keep_raw_points: Also store the raw (not deskewed) LiDAR points.
        spool: Keep pass 1's decoded LiDAR/radar messages on local disk so that pass 2 does not
            read the bag again (see :mod:`fusion.pipeline.spool`).
        spool_dir: Folder of the spool file (None: the system temporary folder, ``TMPDIR``).
        spool_max_gb: Largest spool file, GB (None: the folder's free space minus 1 GiB).
        spool_memory_mb: Memory the spool may use, MiB: the first decoded LiDAR/radar messages stay
            in memory up to this budget minus the 32 MiB of writes in flight to the file (0: all on disk).
    """

    keep_raw_points: bool = False
    spool: bool = True
    spool_dir: str | None = None
    spool_max_gb: float | None = None
    spool_memory_mb: float = 32.0


@dataclass(frozen=True)
class ConvertConfig:
    """Everything ``fusion convert`` needs beyond the bag paths.

    Attributes:
        sensors: Path of a sensor-mapping YAML (topic -> sensor), or None to discover.
        rig: Path of a rig YAML; per sensor it overrides the rig the bag carries.
        frames: Frame definition and matching.
        ego: Ego trajectory source.
        deskew: LiDAR motion compensation: ``off``, ``frame`` (to the sweep's frame
            reference time) or ``sweep_end``.
        clock: Clock-offset estimation.
        store: Store options.
        include_topics: Only these topics (empty: all).
        exclude_topics: Never these topics.
        msg_dirs: Extra ``.msg`` definition folders for custom types.
        source_path: The YAML file this config came from (for relative paths).
    """

    sensors: str | None = None
    rig: str | None = None
    frames: FramesConfig = field(default_factory=FramesConfig)
    ego: EgoConfig = field(default_factory=EgoConfig)
    deskew: DeskewMode = "frame"
    clock: ClockConfig = field(default_factory=ClockConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    include_topics: tuple[str, ...] = ()
    exclude_topics: tuple[str, ...] = ()
    msg_dirs: tuple[str, ...] = ()
    source_path: str | None = None

    def resolve(self, value: str | None) -> Path | None:
        """Resolve a path from the config relative to the config file's folder."""
        if value is None:
            return None
        path = Path(value).expanduser()
        if not path.is_absolute() and self.source_path:
            path = Path(self.source_path).parent / path
        return path

    def with_overrides(self, **changes: Any) -> ConvertConfig:
        """Return a copy with top-level fields replaced (CLI flags win over the file)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (stored in the conversion report); :meth:`from_dict` reads it back."""
        out = asdict(self)
        out["frames"]["reference"] = None if self.frames.reference is None else str(self.frames.reference)
        out["frames"]["tolerance_ms"] = dict(self.frames.tolerance_ms)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConvertConfig:
        """Inverse of :meth:`to_dict` (its ``source_path`` included); validates like :func:`config_from_dict`."""
        rest = {k: v for k, v in data.items() if k != "source_path"}
        source = data.get("source_path")
        return config_from_dict(rest, "<config>" if source is None else str(source))


def _reference(value: object, key: str) -> FrameReference | None:
    return None if value is None else FrameReference.parse(value, key)


_MS = number(0, MAX_MS, "milliseconds", low_open=True)
#: Per section: key -> reader. The keys are exactly the record's fields (checked by the tests).
_FRAMES: dict[str, Reader] = {
    "reference": _reference,
    "reference_time": choice(REFERENCE_TIMES),
    "policy": choice(POLICIES),
    "tolerance_ms": number_map(_MS, "sensor -> milliseconds"),
    "unique": read_bool,
    "max_gap_ms": _MS,
    "age_penalty": number(0, 1e6, "dimensionless"),
    "beam_crossing": read_names,
    "lidar_azimuth_start_deg": number(-360, 360, "degrees"),
    "lidar_direction": choice(get_args(LidarDirection)),
}
def _ego_source(value: object, key: str) -> str:
    from fusion.ego.sources import parse_source

    return parse_source(value, key)


_EGO: dict[str, Reader] = {
    "topic": read_optional_str, "world_frame": read_optional_str, "base_frame": read_str, "source": _ego_source,
    "wheel_yaw_rate_sigma": number(0, 10, "rad/s", low_open=True, optional=True),
    "rate_hz": number(0, 1000, "Hz", low_open=True),
}  # fmt: skip
_CLOCK: dict[str, Reader] = {
    "estimate": read_names,
    "apply": read_bool,
    "auto_apply": read_bool,
    "domain_threshold_s": number(0, 1e9, "seconds", low_open=True),
    "max_uncertainty_fraction": number(0, 10, "fraction of the period", low_open=True),
}
_STORE: dict[str, Reader] = {
    "keep_raw_points": read_bool,
    "spool": read_bool,
    "spool_dir": read_optional_str,
    "spool_max_gb": number(0, 1e6, "GB", low_open=True, optional=True),
    "spool_memory_mb": number(0, 1e7, "MiB"),
}


def _record(cls: type, readers: dict[str, Reader]) -> Reader:
    """Reader of one section into its frozen record: defaults for absent keys, unknown keys refused."""

    def read(value: object, key: str) -> Any:
        data = read_section(value, key, readers)
        prefix = f"{key}." if key else ""
        return cls(**{name: readers[name](item, prefix + name) for name, item in data.items()})

    return read


def _read_sensor_file(value: object, key: str) -> str | None:
    """``sensors:`` names a sensor-mapping file; an inline mapping is refused with what to do."""
    if isinstance(value, dict):
        raise ConfigError(f"{key}: expected the path of a sensor-mapping YAML file, got a mapping; put the "
                          "mapping in its own file (see configs/sensors/) and write its path here")
    return read_optional_str(value, key)


_TOP: dict[str, Reader] = {
    "sensors": _read_sensor_file,
    "rig": read_optional_str,
    "frames": _record(FramesConfig, _FRAMES),
    "ego": _record(EgoConfig, _EGO),
    "deskew": choice(DESKEW_MODES),
    "clock": _record(ClockConfig, _CLOCK),
    "store": _record(StoreConfig, _STORE),
    "include_topics": read_names,
    "exclude_topics": read_names,
    "msg_dirs": read_names,
}
SECTIONS: dict[type, dict[str, Reader]] = {
    FramesConfig: _FRAMES,
    EgoConfig: _EGO,
    ClockConfig: _CLOCK,
    StoreConfig: _STORE,
    ConvertConfig: {**_TOP, "source_path": read_optional_str},
}
"""Each record type and the readers of its keys (one per field)."""


def config_from_dict(data: Mapping[str, Any], where: str = "<config>") -> ConvertConfig:
    """Parse a YAML mapping into a :class:`ConvertConfig`: every key typed and checked once.

    Args:
        data: the parsed YAML (the keys of ``docs/CONVERT.md``; ``source_path`` is not one of them).
        where: the file it came from (named in errors; becomes ``source_path`` unless ``"<config>"``).

    Raises:
        ConfigError: ``"<where>: <key path>: expected <what>, got <value>"`` for the first bad value,
            or ``"<where>: unknown key '<key path>' (known: ...)"``.
    """
    try:
        cfg: ConvertConfig = _record(ConvertConfig, _TOP)(data, "")
        cfg = replace(cfg, source_path=None if where == "<config>" else where)
        _check_together(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return cfg


def _check_together(cfg: ConvertConfig) -> None:
    """Checks that involve more than one key."""
    ref = cfg.frames.reference
    if cfg.frames.beam_crossing and (ref is None or ref.kind != "lidar"):
        raise ConfigError("frames.beam_crossing needs frames.reference: lidar:<name>")


def validate_config(cfg: ConvertConfig, where: str = "<config>") -> None:
    """Check a config built or changed in code (e.g. by CLI flags) exactly as a file is checked.

    Raises:
        ConfigError: naming ``where`` and the key, as :func:`config_from_dict`.
    """
    data = cfg.to_dict()
    data.pop("source_path")
    config_from_dict(data, where)


def load_config(path: str | Path | None) -> ConvertConfig:
    """Read a conversion config YAML (safe loader). ``None`` gives the defaults.

    Raises:
        ConfigError: file missing, not YAML, or a bad key (named).
    """
    if path is None:
        return ConvertConfig()
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p} (pass an existing YAML file to --config)")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except (yaml.YAMLError, ValueError, RecursionError) as exc:  # ValueError: an int literal of > 4300 digits
        raise ConfigError(f"{p}: not valid YAML: {yaml_error_line(exc)}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{p}: the top level must be a mapping of keys")
    return config_from_dict(data, where=str(p))
