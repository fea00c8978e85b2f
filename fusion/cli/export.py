"""``fusion export``: frames out of a store for other tools.

``fusion export points`` writes one frame's point cloud; ``fusion export FORMAT STORE -o OUT``
writes a whole sequence in a dataset format, one command per entry of
:data:`fusion.export.formats.EXPORTERS` (built on first use from the exporter's options).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

import click

from fusion.export.formats import EXAMPLES, EXPORTERS, SUMMARIES


class ExportGroup(click.Group):
    """``points`` plus one lazily built command per registered format."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return ["points", *EXPORTERS, *(n for n in self.commands if n != "points")]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in EXPORTERS:
            return format_command(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [("points", "Write one frame's LiDAR points as binary PCD/PLY."),
                *((name, SUMMARIES.get(name, "")) for name in EXPORTERS),
                *((n, c.get_short_help_str(80)) for n, c in self.commands.items() if n != "points")]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group("export", cls=ExportGroup)
def export() -> None:
    """Export frames from a store: one frame's points, or a sequence as package / KITTI / nuScenes / Rerun.

    \b
    Example:
      fusion export package drive.zarr -o pkg --in world --frames 1:
      fusion export kitti drive.zarr -o kitti --frames 1:
      fusion export nuscenes drive.zarr -o nusc --frames 1: --every 2
      fusion export rerun drive.zarr -o drive.rrd
    """


def _run(name: str, store: str, output: Path, frames: str | None, sensors: str | None, overwrite: bool,
         options: dict[str, Any]) -> None:
    import fusion
    from fusion.export.common import Selection, check_sensors, parse_frames, prepare_file, prepare_output
    from fusion.export.formats import get_exporter

    exporter = get_exporter(name)
    single = bool(getattr(exporter, "single_file", False))
    ds = fusion.open(store)
    sel = Selection(parse_frames(frames, len(ds)),
                    check_sensors(ds, [s.strip() for s in sensors.split(",")] if sensors else None))
    fresh = single or not output.exists() or (output.is_dir() and not any(output.iterdir()))
    out = prepare_file(output, overwrite) if single else prepare_output(output, overwrite)
    start = time.perf_counter()
    try:
        bar: Any = click.progressbar(length=len(sel.frames), label=f"export {name}", file=sys.stderr,
                                     show_pos=True)
        with bar:
            result = exporter.export(ds, out, sel, bar.update, **options)
    except BaseException:
        if single:  # a failed or refused export leaves no half-written output behind
            out.unlink(missing_ok=True)
        elif fresh:
            shutil.rmtree(out, ignore_errors=True)
        raise
    seconds = max(time.perf_counter() - start, 1e-9)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    mb = result.bytes / 1e6
    click.echo(f"wrote {result.frames} frames, {result.files} files, {mb:.1f} MB to {out} "
               f"({result.frames / seconds:.1f} frames/s, {mb / seconds:.1f} MB/s)")


def format_command(name: str) -> click.Command:
    """The click command of format ``name``: common options plus the exporter's own."""
    from fusion.export.formats import get_exporter

    exporter = get_exporter(name)
    single = bool(getattr(exporter, "single_file", False))

    def callback(store: str, output: Path, frames: str | None, sensors: str | None, overwrite: bool,
                 **options: Any) -> None:
        _run(name, store, output, frames, sensors, overwrite, options)

    params: list[click.Parameter] = [
        click.Argument(["store"]),
        click.Option(["-o", "--output"], required=True,
                     type=click.Path(path_type=Path, file_okay=single, dir_okay=not single),
                     help="Output file (must not exist unless --overwrite)." if single
                     else "Output folder (created; must be empty unless --overwrite)."),
        click.Option(["--frames"], default=None, help="Frame range START:STOP (Python slice; default: all)."),
        click.Option(["--sensors"], default=None, help="Comma-separated sensor names (default: all the format takes)."),
        click.Option(["--overwrite"], is_flag=True,
                     help="Replace an existing output file." if single else "Replace a non-empty output folder."),
    ]
    for spec in exporter.options:
        flag = spec.cli or "--" + spec.name.replace("_", "-")
        if spec.flag:
            params.append(click.Option([flag, spec.name], is_flag=True, default=bool(spec.default), help=spec.help))
        elif spec.choices:
            params.append(click.Option([flag, spec.name], type=click.Choice(list(spec.choices)), default=spec.default,
                                       show_default=True, help=spec.help))
        else:
            params.append(click.Option([flag, spec.name], default=spec.default, show_default=spec.default is not None,
                                       type=None if spec.default is None else type(spec.default), help=spec.help))
    epilog = f"\b\nExample:\n  {EXAMPLES[name]}" if name in EXAMPLES else None
    return click.Command(name, callback=callback, params=params, epilog=epilog,
                         help=SUMMARIES.get(name, "") + " Formats, frames and losses: docs/EXPORT.md.")


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
