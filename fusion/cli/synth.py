"""``fusion synth``: write a synthetic drive log (ROS 1/ROS 2 bags) with exact ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from fusion.errors import ConfigError

FORMAT_CHOICES = ("bag", "db3", "mcap")


def _parse_offsets(items: tuple[str, ...]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = int(value)
        except ValueError:
            raise ConfigError(f"--clock-offset {item!r}: use SENSOR=NANOSECONDS, e.g. lidar_top=5000000") from None
    return out


@click.command(
    "synth",
    epilog="""\b
Example:
  fusion synth -o /tmp/synth --duration 10 --format bag --format mcap --seed 0
  fusion synth -o /tmp/small --duration 2 --lidar-beams 16 --lidar-columns 256 \\
      --width 160 --height 120 --clock-offset lidar_top=5000000 --drop-rate 0.05 --gap 0.5 0.3
  fusion synth -o /tmp/six --duration 2 --width 1280 --height 720 --extra-cameras 4
""",
)
@click.option(
    "-o",
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (bags + truth.json + truth.npz).",
)
@click.option("--duration", default=10.0, show_default=True, type=float, help="Log length, s.")
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(FORMAT_CHOICES),
    help="Bag format(s): bag (ROS 1), db3 (ROS 2 sqlite3), mcap (ROS 2). Default: all three.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of every random choice.")
@click.option("--speed", default=10.0, show_default=True, type=float, help="Mean ego speed, m/s.")
@click.option("--yaw-rate", default=30.0, show_default=True, type=float, help="Peak yaw rate, deg/s.")
@click.option("--lidar-beams", default=64, show_default=True, type=int)
@click.option("--lidar-columns", default=1024, show_default=True, type=int)
@click.option(
    "--lidar-time",
    default="ouster_t",
    show_default=True,
    type=click.Choice(("ouster_t", "velodyne_time", "hesai_timestamp")),
    help="Per-point time convention of the LiDAR cloud.",
)
@click.option("--width", default=640, show_default=True, type=int, help="Image width, px.")
@click.option("--height", default=480, show_default=True, type=int, help="Image height, px.")
@click.option(
    "--extra-cameras",
    default=0,
    show_default=True,
    type=click.IntRange(0, 4),
    help="Extra JPEG cameras: camera_right, camera_rear, camera_front_left, camera_front_right (in order).",
)
@click.option("--extra-camera-rate", default=12.0, show_default=True, type=float, help="Rate of the extra cameras, Hz.")
@click.option("--static-boxes", default=12, show_default=True, type=int)
@click.option("--moving-objects", default=4, show_default=True, type=int)
@click.option("--world", "world", default="boxes", show_default=True, type=click.Choice(["boxes", "urban"]),
              help="urban: also buildings and poles along the drive (LiDAR odometry is well-posed there).")
@click.option(
    "--latency",
    nargs=2,
    type=int,
    default=(2_000_000, 30_000_000),
    show_default=True,
    help="Min and max transport latency, ns.",
)
@click.option(
    "--clock-offset",
    "clock_offsets",
    multiple=True,
    metavar="SENSOR=NS",
    help="Clock offset of a sensor (stamps = true time - offset). Repeatable.",
)
@click.option("--drop-rate", default=0.0, type=float, help="Fault: fraction of messages dropped per topic.")
@click.option("--duplicates", default=0, type=int, help="Fault: messages written twice, per topic.")
@click.option("--zero-stamps", default=0, type=int, help="Fault: messages with header stamp 0, per topic.")
@click.option("--out-of-order", default=0, type=int, help="Fault: record-time swaps, per topic.")
@click.option("--corrupt", default=0, type=int, help="Fault: undecodable messages, per topic.")
@click.option(
    "--gap",
    nargs=2,
    type=float,
    default=None,
    metavar="START_S DURATION_S",
    help="Fault: no odometry/IMU/tf in this window.",
)
@click.option("--noisy-sensors", is_flag=True,
              help="IMU with bias and noise, wheel odometry on /wheel/odom and GNSS on /gnss/fix (docs/SYNTH.md).")
@click.option("--no-odometry", is_flag=True, help="No /odom and no /tf: a log without a recorded trajectory.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs in the folder.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def synth(
    out_dir: Path,
    duration: float,
    formats: tuple[str, ...],
    seed: int,
    speed: float,
    yaw_rate: float,
    lidar_beams: int,
    lidar_columns: int,
    lidar_time: str,
    width: int,
    height: int,
    extra_cameras: int,
    extra_camera_rate: float,
    static_boxes: int,
    moving_objects: int,
    world: str,
    latency: tuple[int, int],
    clock_offsets: tuple[str, ...],
    drop_rate: float,
    duplicates: int,
    zero_stamps: int,
    out_of_order: int,
    corrupt: int,
    gap: tuple[float, float] | None,
    noisy_sensors: bool,
    no_odometry: bool,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Write a deterministic synthetic drive log with exact ground truth.

    The log has a spinning LiDAR with real motion distortion, two cameras (JPEG and raw;
    up to 4 extra JPEG cameras with --extra-cameras),
    a Doppler radar, an IMU, odometry and tf (--no-odometry: none; --noisy-sensors: a noisy IMU,
    wheel odometry and GNSS for the ego estimator); the truth (truth.json + truth.npz, see
    docs/SYNTH.md) gives every pose, point, box and message time exactly.
    """
    from fusion.cli.output import SYNTH_FLAGS, in_flags
    from fusion.testing.synth import generate

    try:
        cfg = _synth_config(**locals())
    except ConfigError as exc:
        raise ConfigError(in_flags(exc, SYNTH_FLAGS)) from None
    import sys

    from fusion.cli.output import progress_bar

    with progress_bar("writing", enabled=not as_json and sys.stderr.isatty(), unit="messages") as update:
        out = generate(cfg, out_dir, formats=formats or FORMAT_CHOICES, overwrite=overwrite, progress=update)
    total = sum(out.counts.values()) * len(out.bags)
    if as_json:
        import json

        click.echo(json.dumps({
            "bags": {fmt: str(path) for fmt, path in out.bags.items()}, "truth": str(out.truth_path),
            "messages_per_bag": sum(out.counts.values()), "counts": out.counts, "seconds": round(out.elapsed_s, 3),
        }, indent=2))  # fmt: skip
        return
    for fmt, path in out.bags.items():
        click.echo(f"{fmt:5s} {path}")
    click.echo(f"truth {out.truth_path}")
    click.echo(
        f"{sum(out.counts.values())} messages per bag, {len(out.counts)} topics, "
        f"{total} written in {out.elapsed_s:.1f} s"
    )


def _synth_config(**opt: Any) -> Any:
    """The ``SynthConfig`` of the command-line options (raises ConfigError naming a field)."""
    from fusion.testing.synth import Faults, SynthConfig
    from fusion.testing.synth.config import SensorNoise

    faults = Faults(
        drop_rate=opt["drop_rate"],
        duplicate_count=opt["duplicates"],
        zero_stamp_count=opt["zero_stamps"],
        out_of_order_count=opt["out_of_order"],
        corrupt_count=opt["corrupt"],
        gap=opt["gap"] or None,
    )
    return SynthConfig(
        duration_s=opt["duration"],
        seed=opt["seed"],
        speed_mps=opt["speed"],
        yaw_rate_dps=opt["yaw_rate"],
        lidar_beams=opt["lidar_beams"],
        lidar_columns=opt["lidar_columns"],
        lidar_time_convention=opt["lidar_time"],
        image_width=opt["width"],
        image_height=opt["height"],
        extra_cameras=opt["extra_cameras"],
        extra_camera_rate_hz=opt["extra_camera_rate"],
        n_static_boxes=opt["static_boxes"],
        n_moving_objects=opt["moving_objects"],
        world=opt.get("world", "boxes"),
        latency_ns=opt["latency"],
        clock_offsets_ns=_parse_offsets(opt["clock_offsets"]),
        faults=faults,
        sensor_noise=SensorNoise() if opt.get("noisy_sensors") else None,
        odometry=not opt.get("no_odometry", False),
    )
