"""``fusion export``: frames out of a store for other tools."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("export")
def export() -> None:
    """Export frames from a store (point clouds, calibration check images)."""


@export.command(
    "points",
    epilog="""\b
Example:
  fusion export points drive.zarr --frame 10 -o frame10.pcd            # world frame when posed
  fusion export points drive.zarr --frame 0 --in sensor --lidar lidar_top -o f0.ply
""",
)
@click.argument("store")
@click.option("--frame", "index", default=0, show_default=True, help="Frame index.")
@click.option("--lidar", default=None, help="One LiDAR (default: all LiDARs of the frame).")
@click.option("--in", "frame", type=click.Choice(["auto", "sensor", "base", "world"]), default="auto",
              show_default=True,
              help="Coordinate frame; auto: world when the frame has an ego pose, else the LiDAR's (with a note).")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help=".pcd or .ply file")
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
def points(store: str, index: int, lidar: str | None, frame: str, output: Path, overwrite: bool) -> None:
    """Write one frame's deskewed LiDAR points as binary PCD/PLY, with every per-point column
    (intensity, ring, per-point time). Points without a finite position are never written."""
    import fusion
    from fusion.export.pointcloud import frame_points, write_point_cloud

    ds = fusion.open(store)
    cloud = frame_points(ds, index, lidar=lidar, frame=frame)
    write_point_cloud(output, cloud, overwrite=overwrite)
    for note in cloud.notes:
        click.echo(f"note: {note}", err=True)
    cols = ", ".join(cloud.fields) or "no other columns"
    click.echo(f"wrote {len(cloud.xyz)} points ({cloud.frame} frame; x, y, z, {cols}) to {output}")


def _register_mcap() -> None:
    """``fusion export mcap`` lives in :mod:`fusion.cli.export_mcap`."""
    from fusion.cli.export_mcap import mcap

    export.add_command(mcap)


_register_mcap()
