"""``fusion convert --split N`` / ``--split-above-s S``: each log's pass 2 in parts by time.

The logs themselves are converted one after another in this process (pass 1, the plan and the
join are the driver's); their parts fan out on the executor: serially, on a local Dask cluster
(``--dask local``) or on a running scheduler (``--dask tcp://…``). See
:mod:`fusion.pipeline.split` and docs/CONVERT.md ("Splitting one long log").
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from fusion.cli.output import console, print_convert_result, result_dict
from fusion.errors import FusionError


def convert_split(
    bags: tuple[Path, ...],
    output: str,
    cfg: Any,
    split: Any,
    *,
    each: bool,
    overwrite: bool,
    resume: bool,
    dask: str | None,
    workers: int,
    options: dict[str, Any] | None,
    as_json: bool,
) -> None:
    """Convert BAGS (one log, or each bag with ``each``) with ``split``; prints like ``fusion convert``."""
    from fusion.cli.convert import Interrupted, _failure_message, _stop_early, print_each_table
    from fusion.pipeline.batch import store_names
    from fusion.pipeline.convert import convert
    from fusion.pipeline.executor import make_executor

    base = output.rstrip("/")
    if each:
        if "://" not in base:
            Path(base).mkdir(parents=True, exist_ok=True)
        logs = [([b], f"{base}/{n}") for b, n in zip(bags, store_names(list(bags)))]
    else:
        logs = [(list(bags), output)]
    err = console(stderr=True)

    def say(line: str) -> None:
        if not as_json:
            err.print(line, highlight=False)

    try:
        executor = make_executor(dask, workers)
    except BaseException:
        _stop_early(dask == "local")
        raise
    rows: list[dict[str, Any]] = []
    done: list[str] = []
    try:
        spec = replace(split, executor=executor)
        for log_bags, out in logs:
            try:
                res = convert(log_bags, out, cfg, overwrite=overwrite, resume=resume, storage_options=options,
                              split=spec, say=say)  # fmt: skip
            except FusionError as exc:
                if not each:
                    raise
                rows.append({"bag": str(log_bags[0]), "error": _failure_message(exc)})
                if not as_json:
                    err.print(f"[red]error[/red]: {_failure_message(exc)}")
                continue
            done.append(out)
            rows.append({"bag": str(log_bags[0]), **result_dict(res)})
            if not as_json:
                print_convert_result(res)
    except KeyboardInterrupt:
        raise Interrupted([out for _, out in logs if out not in done] or [output], each=each) from None
    finally:
        executor.close()
    if as_json:
        click.echo(json.dumps(rows if each else rows[0], indent=2))
    elif each:
        print_each_table(rows)
    if any("error" in r for r in rows):
        sys.exit(2)
