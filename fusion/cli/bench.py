"""``fusion bench``: measure every stage on fixed-seed generated logs."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command(
    "bench",
    epilog="""\b
Examples:
  fusion bench                                  # 20 s, 64x1024 LiDAR, 2 cameras 1280x720, radar, IMU, odometry
  fusion bench --preset large --repeats 5 --json bench.json --markdown bench.md
  fusion bench --preset tiny --repeats 1 --no-memory   # a quick smoke run
  fusion bench --stage export --json export.json       # every exporter on a 5 s and a 20 s log
  fusion bench --stage startup --repeats 5             # fresh `fusion` processes vs a naive converter, 10 s log
  fusion bench --stage throughput --json tp.json       # reads vs plain zarr, RSS 1x/4x, Dask --each, start-up
""",
)
@click.option("--preset", type=click.Choice(["default", "large", "vga", "tiny"]), default="default", show_default=True)
@click.option("--large", is_flag=True, help="Same as --preset large (128x1024 LiDAR).")
@click.option("--repeats", default=3, show_default=True, help="Runs per stage; the median is reported.")
@click.option("--workdir", type=click.Path(path_type=Path), default=None, help="Where logs and stores go (kept).")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None, help="Write the results as JSON.")
@click.option("--markdown", "md_out", type=click.Path(path_type=Path), default=None, help="Write the markdown table.")
@click.option("--no-memory", is_flag=True, help="Skip the 4x-longer-log memory comparison.")
@click.option("--stage", type=click.Choice(["all", "export", "startup", "throughput"]), default="all",
              show_default=True,
              help="all: stages (a)-(f); export: convert + every exporter on a 1x and a 4x log "
              "(frames/s, MB/s, peak RSS; presets default = 5 s, tiny = 1 s); startup: wall and CPU time of "
              "fresh `fusion convert`, `fusion --help`, ... processes vs tools/naive_convert.py on a 10 s log "
              "(preset tiny unless --preset is given); throughput: reads vs plain zarr (random, sequential, 1 "
              "and 2 loader processes), peak RSS of a 10 s and a 40 s log, 8 logs --each serial vs --dask "
              "local, and the startup stage, in one run (--preset tiny: a smoke run).")
@click.pass_context
def bench(
    ctx: click.Context,
    stage: str,
    preset: str,
    large: bool,
    repeats: int,
    workdir: Path | None,
    json_out: Path | None,
    md_out: Path | None,
    no_memory: bool,
) -> None:
    """Run stages (a) raw iteration … (f) dataset reads, each in its own process, and print the table
    (or, with --stage export, the export benchmark)."""
    from fusion.bench.runner import markdown, run_bench

    if large:
        preset = "large"
    if stage == "export":
        from fusion.bench.export import EXPORT_PRESETS, run_export_bench
        from fusion.bench.export import markdown as export_markdown
        from fusion.errors import BenchmarkError

        if preset not in EXPORT_PRESETS:
            raise BenchmarkError(f"--stage export: --preset {preset} has no export size; use "
                                 f"{' or '.join(EXPORT_PRESETS)}")
        res = run_export_bench(preset, workdir=workdir)
        table = export_markdown(res)
    elif stage == "throughput":
        import tempfile

        from fusion.bench.throughput import markdown as tp_markdown
        from fusion.bench.throughput import run_throughput_bench

        work = workdir or Path(tempfile.mkdtemp(prefix="fusion-bench-"))
        res = run_throughput_bench(work, repeats=repeats, quick=preset == "tiny")
        table = tp_markdown(res)
    elif stage == "startup":
        from fusion.bench.startup import markdown as startup_markdown
        from fusion.bench.startup import run_startup_bench

        given = ctx.get_parameter_source("preset") != click.core.ParameterSource.DEFAULT or large
        res = run_startup_bench(preset if given else "tiny", rounds=repeats, workdir=workdir)
        table = startup_markdown(res)
    else:
        res = run_bench(preset, repeats=repeats, workdir=workdir, memory=not no_memory)
        table = markdown(res)
    click.echo(table)
    if json_out is not None:
        json_out.write_text(json.dumps(res, indent=2))
    if md_out is not None:
        md_out.write_text(table + "\n")
