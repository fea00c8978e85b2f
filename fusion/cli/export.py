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
  fusion export points drive.zarr --frame 10 -o frame10.pcd --in world
""",
)
@click.argument("store")
@click.option("--frame", "index", default=0, show_default=True, help="Frame index.")
@click.option("--lidar", default=None, help="One LiDAR (default: all LiDARs of the frame).")
@click.option("--in", "frame", type=click.Choice(["sensor", "base", "world"]), default="world", show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help=".pcd or .ply file")
def points(store: str, index: int, lidar: str | None, frame: str, output: Path) -> None:
    """Write one frame's deskewed LiDAR points as binary PCD/PLY."""
    import fusion
    from fusion.export.pointcloud import frame_points, write_point_cloud

    ds = fusion.open(store)
    xyz, inten = frame_points(ds, index, lidar=lidar, frame=frame)
    write_point_cloud(output, xyz, inten)
    click.echo(f"wrote {len(xyz)} points to {output}")
