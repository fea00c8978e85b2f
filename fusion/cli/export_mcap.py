"""``fusion export mcap``: a store as one ROS 2 MCAP file for replay (:mod:`fusion.export.mcap_replay`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


def parse_frames(text: str | None) -> slice | None:
    """``a:b`` / ``a:`` / ``:b`` / ``a`` (one frame) → slice; None → None.

    Raises:
        click.BadParameter: anything else.
    """
    if text is None:
        return None
    parts = text.split(":")
    try:
        nums = [int(p) if p.strip() else None for p in parts]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a frame range a:b", param_hint="--frames") from None
    if len(nums) == 1 and nums[0] is not None:
        return slice(nums[0], nums[0] + 1 if nums[0] != -1 else None)
    if len(nums) != 2:
        raise click.BadParameter(f"{text!r} is not a frame range a:b", param_hint="--frames")
    return slice(nums[0], nums[1])


@click.command(
    "mcap",
    epilog="""\b
Example:
  fusion export mcap drive.zarr -o drive.mcap
  fusion export mcap drive.zarr -o part.mcap --frames 100:200 --sensors lidar_top,camera_front
  fusion export mcap drive.zarr -o drive.mcap --scene-update     # boxes for Foxglove's 3D panel too
""",
)
@click.argument("store")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The .mcap file to write.")
@click.option("--frames", default=None, metavar="A:B", help="Frames to export (Python slice, step 1); default all.")
@click.option("--sensors", default=None, metavar="S1,S2",
              help="Streams to export (comma-separated names); default every LiDAR, radar, camera and IMU.")
@click.option("--raw-points", is_flag=True, help="Also write each LiDAR's raw (not deskewed) points on <topic>/raw.")
@click.option("--scene-update", is_flag=True,
              help="Also write the boxes as foxglove_msgs/SceneUpdate on /annotations/scene (Foxglove's 3D panel).")
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
def mcap(store: str, output: Path, frames: str | None, sensors: str | None, raw_points: bool,
         scene_update: bool, overwrite: bool) -> None:
    """Write the store as one ROS 2 MCAP (CDR) on the common clock: deskewed clouds, images as
    they came, CameraInfo, /tf_static, /tf + Odometry, radar with compensated Doppler, IMU and
    boxes as MarkerArray. `fusion convert` of the file gives the same frames (docs/EXPORT.md)."""
    from fusion.cli.output import progress_bar
    from fusion.export.mcap_replay import export_mcap

    names = [s.strip() for s in sensors.split(",") if s.strip()] if sensors is not None else None
    with progress_bar("exporting", enabled=sys.stderr.isatty(), unit="frames") as update:
        result = export_mcap(store, output, frames=parse_frames(frames), sensors=names, raw_points=raw_points,
                             scene_update=scene_update, progress=update, overwrite=overwrite)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {result.total_messages} messages on {len(result.messages)} topics, {result.frames} frames, "
               f"{result.bytes / 1e6:.1f} MB in {result.seconds:.2f} s ({result.mb_per_s:.1f} MB/s, "
               f"{result.frames_per_s:.1f} frames/s) to {result.path}")
