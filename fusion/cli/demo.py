"""``fusion demo``: the main job on generated sample data."""

from __future__ import annotations

from pathlib import Path

import click

from fusion.cli.output import console, print_convert_result


@click.command(
    "demo",
    epilog="""\b
Examples:
  fusion demo                          # ./fusion-demo/{log,demo.zarr}, 4 s log
  fusion demo -o /tmp/demo --duration 10 --format bag
""",
)
@click.option(
    "-o",
    "--output",
    "out_dir",
    default="fusion-demo",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder for the generated log and the store (a rerun replaces the demo's previous output there).",
)
@click.option("--duration", default=4.0, show_default=True, help="Length of the generated log, s.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["bag", "db3", "mcap"]),
    default="mcap",
    show_default=True,
    help="Bag format to generate.",
)
@click.option("--seed", default=0, show_default=True, help="Generator seed (the log is deterministic).")
def demo(out_dir: Path, duration: float, fmt: str, seed: int) -> None:
    """Generate a synthetic drive log (LiDAR, 2 cameras, radar, IMU, odometry) with ground truth,
    convert it into a synchronized Zarr store, validate it and report accuracy against the truth."""
    from fusion.cli.output import SYNTH_FLAGS, in_flags
    from fusion.errors import ConfigError
    from fusion.pipeline.demo import run_demo

    if not duration > 0:
        raise ConfigError(f"--duration must be > 0 s, got {duration}")
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir} is a file; -o names the demo's folder")
    con = console()
    con.print(f"generating a {duration:.0f} s synthetic drive log ({fmt}) in {out_dir}/log ...")
    try:
        res = run_demo(out_dir, duration_s=duration, fmt=fmt, seed=seed)
    except ConfigError as exc:
        raise ConfigError(in_flags(exc, SYNTH_FLAGS)) from None
    con.print(f"generated {res.log} in {res.generate_s:.1f} s")
    print_convert_result(res.convert)
    acc = res.accuracy
    if "deskew_median_mm" in acc:
        con.print(
            f"LiDAR vs ground truth over {acc['frames_checked']} frames: deskewed median "
            f"{acc['deskew_median_mm']:.2f} mm, p99 {acc['deskew_p99_mm']:.2f} mm"
            + (f" (without deskew p99 {acc['no_deskew_p99_mm']:.0f} mm)" if "no_deskew_p99_mm" in acc else "")
        )
    if res.problems:
        for p in res.problems:
            con.print(f"[red]validate[/red]: {p}")
        raise SystemExit(1)
    con.print(
        f"fusion validate: OK. Read it back with:  python -c \"import fusion; ds = fusion.open('{res.store}'); "
        'print(ds, ds[0])"'
    )
