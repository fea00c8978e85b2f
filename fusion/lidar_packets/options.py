"""``packets:`` options of a LiDAR sensor whose topic carries raw packets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusion.errors import ConfigError

VENDORS = ("velodyne", "hesai", "ouster")
#: message type -> vendor (auto-detection)
VENDOR_OF_TYPE = {"velodyne_msgs/msg/VelodyneScan": "velodyne", "pandar_msgs/msg/PandarScan": "hesai"}
RETURN_MODES = ("auto", "first", "last", "strongest")
TIME_SOURCES = ("packet", "stamp")


@dataclass(frozen=True, slots=True)
class PacketOptions:
    """How a packet topic is decoded (every key optional).

    Attributes:
        vendor: ``velodyne`` or ``hesai`` (default: from the message type).
        model: Sensor model (default: from the packets: Velodyne factory byte, Hesai header).
        calibration: Calibration file (Velodyne YAML, Hesai CSV, AT128 ``.dat``); relative paths are resolved
            against the sensor map's folder. Default: the model's nominal angles (VLP-16, HDL-32E).
        return_mode: ``auto``: every return the packets hold (multi-return duplicates removed);
            ``first``, ``last`` or ``strongest``: only that return (packets whose mode does not
            hold it are counted and skipped).
        min_range_m, max_range_m: Valid range (bounded by the sensor's own), m.
        cut_angle_deg: Azimuth where one sweep ends and the next starts, degrees.
        dual_return_distance_threshold_m: Multi-return echoes closer than this keep only the last
            (Hesai), m.
        time_source: ``packet`` (the sensor's own clock written in each packet) or ``stamp`` (the
            packet message's ``stamp``); default: ``packet`` for Hesai (as its drivers stamp),
            ``stamp`` for Velodyne (its packets only hold µs past the hour).
        metadata: Ouster: the sensor metadata JSON file (default: the bag's ``metadata`` topic);
            relative paths are resolved against the sensor map's folder.
    """

    vendor: str | None = None
    model: str | None = None
    calibration: str | None = None
    return_mode: str = "auto"
    min_range_m: float = 0.3
    max_range_m: float = 300.0
    cut_angle_deg: float = 0.0
    dual_return_distance_threshold_m: float = 0.1
    time_source: str | None = None
    metadata: str | None = None


_KEYS = {f for f in PacketOptions.__dataclass_fields__}


def packet_options(raw: Any, where: str, base_dir: Path | None = None) -> PacketOptions:
    """Parse a ``packets:`` mapping (``where`` names it in errors).

    Raises:
        ConfigError: Unknown key, bad vendor/return mode or a non-number (named).
    """
    if raw is None:
        return PacketOptions()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: packets must be a mapping with keys {', '.join(sorted(_KEYS))}")
    if unknown := set(raw) - _KEYS:
        raise ConfigError(f"{where}: packets: unknown key(s) {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(sorted(_KEYS))})")
    vendor = raw.get("vendor")
    if vendor is not None and str(vendor).lower() not in VENDORS:
        raise ConfigError(f"{where}: packets.vendor {vendor!r} is not one of {', '.join(VENDORS)}")
    mode = str(raw.get("return_mode", "auto")).lower()
    if mode not in RETURN_MODES:
        raise ConfigError(f"{where}: packets.return_mode {mode!r} is not one of {', '.join(RETURN_MODES)}")
    tsrc = raw.get("time_source")
    if tsrc is not None and str(tsrc) not in TIME_SOURCES:
        raise ConfigError(f"{where}: packets.time_source {tsrc!r} is not one of {', '.join(TIME_SOURCES)}")
    cal = raw.get("calibration")
    if cal is not None and base_dir is not None and not Path(str(cal)).is_absolute():
        cal = str(base_dir / str(cal))
    meta = raw.get("metadata")
    if meta is not None:
        path = Path(str(meta)) if Path(str(meta)).is_absolute() or base_dir is None else base_dir / str(meta)
        if not path.is_file():
            raise ConfigError(f"{where}: packets.metadata {path}: no such file; give the sensor metadata JSON")
        meta = str(path)
    nums: dict[str, float] = {}
    for key in ("min_range_m", "max_range_m", "cut_angle_deg", "dual_return_distance_threshold_m"):
        if key in raw:
            try:
                nums[key] = float(raw[key])
            except (TypeError, ValueError):
                raise ConfigError(f"{where}: packets.{key} must be a number, got {raw[key]!r}") from None
    opts = PacketOptions(vendor=str(vendor).lower() if vendor else None,
                         model=str(raw["model"]) if raw.get("model") else None,
                         calibration=str(cal) if cal else None, return_mode=mode,
                         time_source=str(tsrc) if tsrc is not None else None,
                         metadata=str(meta) if meta is not None else None, **nums)
    if opts.min_range_m >= opts.max_range_m:
        raise ConfigError(f"{where}: packets.min_range_m must be below max_range_m")
    return opts
