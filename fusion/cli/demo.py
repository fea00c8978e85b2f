"""``fusion demo``: the main job on generated sample data."""

from __future__ import annotations

from pathlib import Path

import click

from fusion.cli.output import console, print_convert_result, result_dict


@click.command(
    "demo",
    epilog="""\b
Examples:
  fusion demo                          # ./fusion-demo/{log,demo.zarr}, 8 s log
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
# 8.0 = fusion.pipeline.demo.DEMO_DURATION_S (not imported here: that module loads the converter)
@click.option("--duration", default=8.0, show_default=True, help="Length of the generated log, s.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["bag", "db3", "mcap"]),
    default="mcap",
    show_default=True,
    help="Bag format to generate.",
)
@click.option("--seed", default=0, show_default=True, help="Generator seed (the log is deterministic).")
@click.option("--json", "as_json", is_flag=True, help="Print the result (conversion, accuracy, validation) as JSON.")
def demo(out_dir: Path, duration: float, fmt: str, seed: int, as_json: bool) -> None:
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
    if not as_json:
        con.print(f"generating a {duration:g} s synthetic drive log ({fmt}) in {out_dir}/log ...")
    try:
        res = run_demo(out_dir, duration_s=duration, fmt=fmt, seed=seed)
    except ConfigError as exc:
        raise ConfigError(in_flags(exc, SYNTH_FLAGS)) from None
    if as_json:
        import json

        click.echo(json.dumps({"log": str(res.log), "store": str(res.store), "generate_s": round(res.generate_s, 3),
                               "convert": result_dict(res.convert), "accuracy": res.accuracy,
                               "validate_problems": res.problems}, indent=2))  # fmt: skip
        if res.problems:
            raise SystemExit(1)
        return
    con.print(f"generated {res.log} in {res.generate_s:.1f} s")
    # the demo's sensors all come from its rig file on one clock: the per-sensor table (fusion convert prints
    # it) would repeat the sync table; `fusion inspect STORE` shows it
    print_convert_result(res.convert, sensors=False)
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
