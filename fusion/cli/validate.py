"""``fusion validate STORE [--quick] [--json]``: completeness, consistency and integrity of a store."""

from __future__ import annotations

import json
import sys

import click


def _parse_options(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--storage-option")
        out[key] = value
    return out


@click.command("validate")
@click.argument("store")
@click.option("--quick", is_flag=True,
              help="Metadata and the small arrays only: chunks are checked to exist, not read and decoded.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--storage-option", "-S", "storage_options", multiple=True, metavar="KEY=VALUE",
              help="Remote store option (endpoint_url, key, secret, region); repeatable.")
@click.option("--max-skipped-share", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True,
              help="Largest share of a topic's messages the report may list as skipped.")
def validate(store: str, quick: bool, as_json: bool, storage_options: tuple[str, ...],
             max_skipped_share: float) -> None:
    """Check STORE (directory, .zip or s3://bucket/key); exit 1 listing every problem, 2 when there is no STORE.

    Reads every chunk once (checksums, decoding; streamed shard by shard, so memory stays
    bounded) unless --quick, and checks every array's shape and dtype, offsets, frame order,
    every frame's sensor indices, the metadata documents and the report against the arrays.
    Besides: a selected sensor that stored nothing, and a topic of which more than
    --max-skipped-share of the messages were skipped (the report lists them).

    \b
    Example:
      fusion validate drive.zarr
      fusion validate drive.zarr --quick
      fusion validate s3://bucket/drive.zarr -S endpoint_url=http://127.0.0.1:9000 --json
    """
    from pathlib import Path

    from fusion.cli.output import progress_bar
    from fusion.errors import StoreError
    from fusion.store.validate import validate_store

    if "://" not in store and not Path(store).exists():
        raise StoreError(f"{store}: no such store (nothing at this path)")
    with progress_bar("validating", sys.stderr.isatty() and not as_json) as update:
        result = validate_store(store, max_skipped_share=max_skipped_share, quick=quick, progress=update,
                                **_parse_options(storage_options))
    if result.not_a_store:
        raise StoreError(f"{result.problems[0]}; give the path of a fusion store (made by fusion convert)")
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    elif result.ok:
        read = "metadata only" if quick else f"{result.checked.get('bytes', 0) / 1e6:.1f} MB of chunks read"
        click.echo(f"ok: {result.url} ({result.checked.get('frames', 0)} frames, "
                   f"{result.checked.get('streams', 0)} streams, {read})")
    else:
        click.echo(f"{result.url}: {len(result.problems)} problem(s)", err=True)
        for problem in result.problems:
            click.echo(f"  - {problem}", err=True)
    if not result.ok:
        sys.exit(1)
