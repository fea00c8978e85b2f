"""``fusion convert``: bags → synchronized Zarr v3 store(s)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from fusion.cli.output import console, print_convert_result, progress_bar, result_dict
from fusion.errors import FusionError


@click.command(
    "convert",
    epilog="""\b
Examples:
  fusion convert drive.bag -o drive.zarr
  fusion convert drive_0.mcap drive_1.mcap -o drive.zarr --config configs/synthetic.yaml
  fusion convert logs/*.bag --each -o stores/ --dask local --workers 2
  fusion convert long_drive.mcap -o drive.zarr --split 4 --dask local --workers 4
  fusion convert logs/*.mcap --each -o stores/ --split-above-s 120 --dask tcp://10.0.0.5:8786
  fusion convert drive.bag -o s3://bucket/drive.zarr --storage-option endpoint_url=http://127.0.0.1:9000
""",
)
@click.argument("bags", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", "output", required=True, help="Store URL: directory, .zip or s3://...; with --each, a folder."
)
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Conversion config YAML (see configs/).")
@click.option(
    "--rig", "rig_path", type=click.Path(path_type=Path), help="Rig YAML; overrides the bag's calibration per sensor."
)
@click.option("--include-topic", "include", multiple=True, help="Only convert these topics (repeatable).")
@click.option("--exclude-topic", "exclude", multiple=True, help="Never convert these topics (repeatable).")
@click.option("--reference", help="Frame reference, e.g. lidar:lidar_top, camera:front, radar:front, rate:10.")
@click.option("--deskew", type=click.Choice(["off", "frame", "sweep_end"]), help="LiDAR motion compensation.")
@click.option("--ego-source", help="Ego trajectory: auto, odom, tf, imu, imu+odom, imu+gnss, imu+odom+gnss.")
@click.option("--overwrite", is_flag=True, help="Replace an existing store.")
@click.option("--resume", is_flag=True, help="Finish an interrupted conversion of the same inputs (redone cleanly).")
@click.option("--each", is_flag=True, help="Convert every bag into its own store under OUTPUT (many logs).")
@click.option(
    "--dask", "dask_address", default=None,
    help="With --each or --split: 'local' (LocalCluster) or a scheduler address.",
)
@click.option("--workers", default=2, show_default=True, help="Workers of the local Dask cluster.")
@click.option("--split", "split_parts", type=int, default=None,
              help="Convert each log in N parts by time, in parallel with --dask (the same store).")
@click.option("--split-above-s", "split_above_s", type=float, default=None,
              help="Split a log longer than S seconds into parts of about S seconds.")
@click.option("--split-dir", "split_dir", default=None,
              help="Folder for the parts' temporary files (default: beside the output; with a remote "
                   "scheduler, a folder all workers share).")
@click.option(
    "-S", "--storage-option", "storage_opts", multiple=True, help="fsspec option KEY=VALUE for remote stores."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def convert(
    bags: tuple[Path, ...],
    output: str,
    config_path: Path | None,
    rig_path: Path | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    reference: str | None,
    deskew: str | None,
    ego_source: str | None,
    overwrite: bool,
    resume: bool,
    each: bool,
    dask_address: str | None,
    workers: int,
    split_parts: int | None,
    split_above_s: float | None,
    split_dir: str | None,
    storage_opts: tuple[str, ...],
    as_json: bool,
) -> None:
    """Read, synchronize and write BAGS into a chunked, sharded Zarr v3 store.

    All BAGS together form one log (split bags), unless --each is given. With --split or
    --split-above-s a log's pass 2 runs in parts by time (serially, or on --dask), joined into
    the store a single process writes.
    """
    splitting = split_parts is not None or split_above_s is not None
    early = (each or splitting) and dask_address == "local"
    if early:  # the local cluster's warm process starts while the config is read
        from fusion.pipeline.executor import start_forkserver

        start_forkserver()
    try:
        cfg = _build_config(config_path, rig_path, include, exclude, reference, deskew, ego_source)
        options = _storage_options(storage_opts)
        split = _split_spec(split_parts, split_above_s, split_dir) if splitting else None
    except BaseException:
        _stop_early(early)
        raise
    if splitting:
        from fusion.cli.split import convert_split

        convert_split(bags, output, cfg, split, each=each, overwrite=overwrite, resume=resume, dask=dask_address,
                      workers=workers, options=options, as_json=as_json)
        return
    if each:
        _convert_each(bags, output, cfg, overwrite, resume, dask_address, workers, options, as_json)
        return
    if dask_address is not None:
        raise click.UsageError("--dask fans out over several logs or parts: use it with --each or --split")
    from fusion.pipeline.convert import convert as run

    try:
        with progress_bar("converting", enabled=not as_json and sys.stderr.isatty()) as update:
            result = run(bags, output, cfg, overwrite=overwrite, resume=resume, storage_options=options,
                         progress=update)  # fmt: skip
    except KeyboardInterrupt:
        raise Interrupted([output]) from None
    if as_json:
        click.echo(json.dumps(result_dict(result), indent=2))
    else:
        print_convert_result(result)


def _build_config(
    config_path: Path | None,
    rig_path: Path | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    reference: str | None,
    deskew: str | None,
    ego_source: str | None = None,
) -> Any:
    """The config file with the command line's overrides, validated."""
    from dataclasses import replace

    from fusion.config_values import choice
    from fusion.pipeline.config import load_config, validate_config
    from fusion.sync.deskew_mode import DESKEW_MODES
    from fusion.sync.reference import FrameReference

    cfg = load_config(config_path)
    if rig_path is not None:
        cfg = replace(cfg, rig=str(rig_path.resolve()))
    if include:
        cfg = replace(cfg, include_topics=tuple(include))
    if exclude:
        cfg = replace(cfg, exclude_topics=tuple(exclude))
    if reference:
        cfg = replace(cfg, frames=replace(cfg.frames, reference=FrameReference.parse(reference, "--reference")))
    if deskew:
        cfg = replace(cfg, deskew=choice(DESKEW_MODES)(deskew, "--deskew"))
    if ego_source:
        from fusion.ego.sources import parse_source

        cfg = replace(cfg, ego=replace(cfg.ego, source=parse_source(ego_source, "--ego-source")))
    validate_config(cfg, "command line")
    return cfg


def _split_spec(parts: int | None, above_s: float | None, folder: str | None) -> Any:
    """The split settings of the command line (a ``ConfigError`` for a bad value: one error line, exit 2)."""
    from fusion.errors import ConfigError
    from fusion.pipeline.split import SplitSpec

    if parts is not None and above_s is not None:
        raise ConfigError("--split and --split-above-s: give one of them (a number of parts, or a length in s)")
    return SplitSpec(parts=parts, above_s=above_s, folder=folder)


def _stop_early(early: bool) -> None:
    """Stop the forkserver started before the config was read (an error came before the cluster)."""
    if early:
        from fusion.pipeline.executor import stop_helpers

        stop_helpers()


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a conversion: the stores it was writing are incomplete (``fusion.cli.main`` prints it)."""

    def __init__(self, stores: list[str], each: bool = False) -> None:
        super().__init__()
        self.stores = stores
        self.each = each

    def message(self, argv: list[str]) -> str:
        """One line: which store(s) are incomplete and the command (``fusion`` + ``argv``) that finishes them."""
        cmd = " ".join(_quote(a) for a in argv if a not in ("--resume", "--overwrite"))
        what = self.stores[0]
        if self.each:
            what = "every store of a log not finished under " + self.stores[0].rsplit("/", 1)[0]
        return (f"interrupted: {what} is incomplete; finish with: fusion {cmd} --resume "
                "(or start again with --overwrite)")  # fmt: skip


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def _storage_options(items: tuple[str, ...]) -> dict[str, Any] | None:
    if not items:
        return None
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--storage-option")
        out[key] = value
    return out


def _failure_message(exc: BaseException) -> str:
    """One line for a failed log of ``--each``: the message of a deliberate error, the path of an OSError."""
    from fusion.cli.main import os_error_message

    if isinstance(exc, FusionError):
        return str(exc)
    if isinstance(exc, OSError):
        return os_error_message(exc)
    return f"{type(exc).__name__}: {exc}"


def _convert_each(
    bags: tuple[Path, ...],
    output: str,
    cfg: Any,
    overwrite: bool,
    resume: bool,
    dask_address: str | None,
    workers: int,
    options: dict[str, Any] | None,
    as_json: bool,
) -> None:
    from fusion.pipeline.batch import convert_many, store_names

    try:
        results = convert_many(
            list(bags),
            output,
            cfg,
            overwrite=overwrite,
            resume=resume,
            dask=dask_address,
            workers=workers,
            storage_options=options,
        )
    except KeyboardInterrupt:
        _stop_early(dask_address == "local")
        base = output.rstrip("/")
        raise Interrupted([f"{base}/{n}" for n in store_names(list(bags))], each=True) from None
    except BaseException:
        _stop_early(dask_address == "local")  # e.g. the output folder cannot be made
        raise
    failed = 0
    rows = []
    for bag, res in results:
        if isinstance(res, BaseException):
            failed += 1
            msg = _failure_message(res)
            rows.append({"bag": str(bag), "error": msg})
            if not as_json:
                where = "" if str(bag) in msg else f"{bag}: "  # name the log once
                console(stderr=True).print(f"[red]error[/red]: {where}{msg}")
        else:
            rows.append({"bag": str(bag), **result_dict(res)})
            if not as_json:
                print_convert_result(res)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        print_each_table(rows)
    if failed:
        raise SystemExit(2)


def print_each_table(rows: list[dict[str, Any]]) -> None:
    """The last thing ``--each`` prints: one line per log (ok or failed with the reason, frames, time, size)."""
    from fusion.cli.tables import Column, fit_table

    con = console()
    columns = (Column("log", elide=True), Column("store", elide=True), Column("result", elide=True),
               Column("frames", right=True), Column("time s", right=True), Column("MB", right=True),
               Column("× real time", right=True))  # fmt: skip
    table_rows = []
    for r in rows:
        if "error" in r:
            table_rows.append((r["bag"], "-", f"failed: {r['error']}", "-", "-", "-", "-"))
        else:
            table_rows.append((r["bag"], r["store"], "ok", str(r["frames"]), f"{r['seconds']:.2f}",
                               f"{r['bag_bytes'] / 1e6:.1f}", f"{r['realtime_factor']:.1f}"))  # fmt: skip
    ok = sum(1 for r in rows if "error" not in r)
    con.print(fit_table(columns, table_rows, con, title=f"{ok} of {len(rows)} log(s) converted"))
