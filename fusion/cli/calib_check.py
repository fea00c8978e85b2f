"""``fusion calib check``: draw LiDAR points (coloured by range) and boxes on every camera image."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click


def _is_store(path: str) -> bool:
    p = Path(path)
    if "://" in path or path.endswith(".zip"):
        return True
    return (p / "zarr.json").is_file()


@click.command(
    "check",
    epilog="""\b
Examples:
  fusion calib check drive.zarr --frame 10 -o check.png
  fusion calib check drive.bag --rig rig.yaml --frame 5 -o check.png   # converts to a temporary store first
""",
)
@click.argument("source")
@click.option("--frame", "index", type=int, default=None,
              help="Frame index to draw (default: the first frame with an ego pose and a camera image).")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="PNG to write.")
@click.option("--rig", "rig_path", type=click.Path(path_type=Path), help="Rig YAML (for a bag).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Conversion config (for a bag).")
def check(source: str, index: int | None, output: Path, rig_path: Path | None, config_path: Path | None) -> None:
    """Project every LiDAR point of a frame into every camera (motion-compensated to each image's time)
    and write one PNG, so calibration or timing errors show at a glance. Points are coloured by range
    (colour bar in each image); a frame shown without motion compensation (no ego pose) says so in its title."""
    import fusion
    from fusion.export.preview import default_frame, image_streams, write_check_png

    if _is_store(source):
        ds = fusion.open(source)
        index = default_frame(ds) if index is None else index
        out = write_check_png(ds, index, output)
        images = image_streams(ds)
    else:
        from dataclasses import replace

        from fusion.pipeline.config import load_config
        from fusion.pipeline.convert import convert

        cfg = load_config(config_path)
        if rig_path is not None:
            cfg = replace(cfg, rig=str(rig_path.resolve()))
        with tempfile.TemporaryDirectory(prefix="fusion-check-") as tmp:
            store = str(Path(tmp) / "check.zarr")
            convert([source], store, cfg)
            ds = fusion.open(store)
            index = default_frame(ds) if index is None else index
            out = write_check_png(ds, index, output)
            images = image_streams(ds)
    click.echo(f"wrote {out} (frame {index})")
    if images:
        click.echo(f"note: skipped {', '.join(images)}: image streams (LiDAR panoramas, depth images) are not "
                   "cameras: no intrinsics, not matched to frames, not projected")
