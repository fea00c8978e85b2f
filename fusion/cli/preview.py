"""``fusion preview``: an MP4 of a store (cameras with LiDAR, radar and boxes, bird's-eye view, sync strip)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click


@click.command(
    "preview",
    epilog="""\b
Examples:
  fusion preview drive.zarr -o drive.mp4
  fusion preview drive.zarr -o part.mp4 --frames 100:200 --fps 5
  fusion preview drive.zarr --png 42 -o frame42.png
""",
)
@click.argument("store")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="MP4 (or PNG with --png) to write.")
@click.option("--frames", default=None, help="Frame range START:STOP (Python slice; default: all).")
@click.option("--fps", type=float, default=10.0, show_default=True, help="Frames per second of the video.")
@click.option("--png", "png_index", type=int, default=None, help="Write one still of frame N (a PNG) instead.")
@click.option("--codec", type=click.Choice(["auto", "h264", "mp4v"]), default="auto", show_default=True,
              help="auto: H.264 (PyAV with libx264; plays in browsers) when available, else MPEG-4 Part 2 (mp4v).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
def preview(store: str, output: Path, frames: str | None, fps: float, png_index: int | None, codec: str,
            overwrite: bool) -> None:
    """Render a store frame by frame into an MP4 (H.264 when PyAV has libx264): every camera with the
    LiDAR points projected (coloured by range), radar returns (pink rings) and the annotation boxes
    as 3D cuboids, a bird's-eye view of the LiDAR, the radar returns with their radial velocity
    arrows, the boxes and the ego path, and a strip of each sensor's Δt to the frame time (green < 5 ms,
    amber < 20 ms, red beyond, grey MISSING)."""
    import fusion
    from fusion.cli.output import progress_bar
    from fusion.export.common import parse_frames
    from fusion.export.preview_video import write_png, write_video

    ds = fusion.open(store)
    if png_index is not None:
        out = write_png(ds, png_index, output, overwrite)
        click.echo(f"wrote {out} (frame {png_index % len(ds)})")
        return
    sel = parse_frames(frames, len(ds))
    start = time.perf_counter()
    with progress_bar("preview", sys.stderr.isatty(), unit="frames") as update:
        res = write_video(ds, sel, output, fps, overwrite, update, codec=codec)
    seconds = max(time.perf_counter() - start, 1e-9)
    if res.note:
        click.echo(f"note: {res.note}", err=True)
    click.echo(f"wrote {res.path}: {len(sel)} frames at {fps:g} fps, {res.codec} "
               f"({len(sel) / seconds:.1f} frames/s rendered)")
