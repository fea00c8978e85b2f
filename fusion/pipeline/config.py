"""Conversion configuration: the YAML schema of ``fusion convert --config``.

Every key is optional; the defaults convert a typical rig with the first LiDAR
as the frame reference. Unknown keys are an error that names the key, so a typo
never silently changes a conversion. Example (``configs/synthetic.yaml``)::

    sensors: sensors/synthetic.yaml     # topic -> sensor mapping (relative to this file)
    rig: rigs/synthetic.yaml            # calibration; overrides what the bag carries, per sensor
    frames:
      reference: lidar:lidar_top        # lidar:<name> | camera:<name> | rate:<hz>
      reference_time: sweep_start       # sweep_start | sweep_end | header
      policy: nearest                   # nearest | approximate_time
      tolerance_ms: {camera_front: 40}  # default: half of each sensor's median period
      max_gap_ms: 100                   # continuous streams are never bridged over longer gaps
      beam_crossing: [camera_front]     # match these cameras at the LiDAR beam-crossing time (nuScenes)
    ego:
      topic: /odom                      # nav_msgs/Odometry, PoseStamped, TransformStamped or /tf
      world_frame: odom
    deskew: frame                       # off | frame | sweep_end
    clock:
      estimate: [camera_left]           # sensors whose clock offset is estimated from arrival times
      apply: false                      # apply the estimates (else only report them)
    store:
      keep_raw_points: false            # also store the raw (not deskewed) xyz
      spool: true                       # keep decoded LiDAR/radar on disk between the passes
      spool_dir: null                   # folder of the spool file (default: TMPDIR)
      spool_memory_mb: 256              # memory of the spool: the first messages stay in memory
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from fusion.errors import ConfigError

_REFERENCE_TIMES = ("sweep_start", "sweep_end", "header")
_POLICIES = ("nearest", "approximate_time")
_DESKEW = ("off", "frame", "sweep_end")


@dataclass(frozen=True)
class FramesConfig:
    """How frames are defined and how other sensors are matched to them."""

    reference: str | None = None  # None: the first LiDAR, else the first camera
    reference_time: str = "sweep_start"
    policy: str = "nearest"
    tolerance_ms: Mapping[str, float] = field(default_factory=dict)
    unique: bool = True
    max_gap_ms: float = 100.0
    age_penalty: float = 0.1
    beam_crossing: tuple[str, ...] = ()  # cameras matched at the reference LiDAR's beam-crossing time
    lidar_azimuth_start_deg: float = 0.0  # beam azimuth at sweep start (LiDAR frame)
    lidar_direction: str = "ccw"  # spin direction seen from +z


@dataclass(frozen=True)
class EgoConfig:
    """Where the ego trajectory (``T_world_base``) comes from."""

    topic: str | None = None  # None: the first odometry topic, else /tf
    world_frame: str | None = None  # None: the parent frame of the ego messages
    base_frame: str = "base_link"


@dataclass(frozen=True)
class ClockConfig:
    """Clock-offset estimation for sensors whose offset is unknown."""

    estimate: tuple[str, ...] = ()
    apply: bool = False


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
    spool_memory_mb: float = 256.0


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
    deskew: str = "frame"
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
        """JSON-friendly form (stored in the conversion report)."""
        from dataclasses import asdict

        out = asdict(self)
        out["frames"]["tolerance_ms"] = dict(self.frames.tolerance_ms)
        return out


def _section(cls: type, data: Any, key: str, where: str) -> Any:
    if data is None:
        return cls()
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: '{key}' must be a mapping, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key '{key}.{unknown[0]}' (known: {', '.join(sorted(known))})")
    values = dict(data)
    for name in ("estimate", "beam_crossing"):
        if name in values and values[name] is not None:
            values[name] = tuple(values[name])
    if "tolerance_ms" in values:
        tol = values["tolerance_ms"] or {}
        if not isinstance(tol, Mapping):
            raise ConfigError(f"{where}: '{key}.tolerance_ms' must map sensor -> milliseconds")
        values["tolerance_ms"] = {str(k): float(v) for k, v in tol.items()}
    return cls(**values)


def config_from_dict(data: Mapping[str, Any], where: str = "<config>") -> ConvertConfig:
    """Build and validate a :class:`ConvertConfig` from a parsed YAML mapping.

    Raises:
        ConfigError: naming ``where`` and the offending key.
    """
    known = {f.name for f in fields(ConvertConfig)} - {"source_path"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (known: {', '.join(sorted(known))})")
    cfg = ConvertConfig(
        sensors=data.get("sensors"),
        rig=data.get("rig"),
        frames=_section(FramesConfig, data.get("frames"), "frames", where),
        ego=_section(EgoConfig, data.get("ego"), "ego", where),
        deskew=str(data.get("deskew", "frame")),
        clock=_section(ClockConfig, data.get("clock"), "clock", where),
        store=_section(StoreConfig, data.get("store"), "store", where),
        include_topics=tuple(data.get("include_topics") or ()),
        exclude_topics=tuple(data.get("exclude_topics") or ()),
        msg_dirs=tuple(data.get("msg_dirs") or ()),
        source_path=None if where == "<config>" else where,
    )
    validate_config(cfg, where)
    return cfg


def validate_config(cfg: ConvertConfig, where: str = "<config>") -> None:
    """Check enumerated values and ranges; raise :class:`ConfigError` naming the key."""
    fr = cfg.frames
    if fr.reference_time not in _REFERENCE_TIMES:
        raise ConfigError(
            f"{where}: frames.reference_time must be one of {_REFERENCE_TIMES}, got {fr.reference_time!r}"
        )
    if fr.policy not in _POLICIES:
        raise ConfigError(f"{where}: frames.policy must be one of {_POLICIES}, got {fr.policy!r}")
    if fr.reference is not None:
        kind, _, name = fr.reference.partition(":")
        if kind not in ("lidar", "camera", "rate") or not name:
            raise ConfigError(
                f"{where}: frames.reference must look like 'lidar:<sensor>', 'camera:<sensor>' or 'rate:<hz>', "
                f"got {fr.reference!r}"
            )
        if kind == "rate":
            try:
                if float(name) <= 0:
                    raise ValueError
            except ValueError:
                raise ConfigError(
                    f"{where}: frames.reference rate must be a positive number of Hz, got {name!r}"
                ) from None
    if fr.lidar_direction not in ("ccw", "cw"):
        raise ConfigError(f"{where}: frames.lidar_direction must be 'ccw' or 'cw', got {fr.lidar_direction!r}")
    if fr.beam_crossing and not (fr.reference or "").startswith("lidar:"):
        raise ConfigError(f"{where}: frames.beam_crossing needs frames.reference: lidar:<name>")
    if fr.max_gap_ms <= 0:
        raise ConfigError(f"{where}: frames.max_gap_ms must be > 0, got {fr.max_gap_ms}")
    for sensor, tol in fr.tolerance_ms.items():
        if tol <= 0:
            raise ConfigError(f"{where}: frames.tolerance_ms.{sensor} must be > 0 ms, got {tol}")
    if cfg.deskew not in _DESKEW:
        raise ConfigError(f"{where}: deskew must be one of {_DESKEW}, got {cfg.deskew!r}")
    st = cfg.store
    if not isinstance(st.spool, bool):
        raise ConfigError(f"{where}: store.spool must be true or false, got {st.spool!r}")
    if st.spool_max_gb is not None and (not isinstance(st.spool_max_gb, (int, float)) or st.spool_max_gb <= 0):
        raise ConfigError(f"{where}: store.spool_max_gb must be a number of GB > 0, got {st.spool_max_gb!r}")
    mem = st.spool_memory_mb
    if isinstance(mem, bool) or not isinstance(mem, (int, float)) or not 0 <= mem < float("inf"):
        raise ConfigError(f"{where}: store.spool_memory_mb must be a number of MiB >= 0, got {mem!r}")


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
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc})") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{p}: the top level must be a mapping of keys")
    return config_from_dict(data, where=str(p))
