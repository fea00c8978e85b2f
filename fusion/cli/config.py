"""``fusion config``: write the config discovery makes of a log (``init``), to edit instead of writing YAML."""

from __future__ import annotations

from pathlib import Path

import click

from fusion.cli.output import console


@click.group("config")
def config() -> None:
    """Write a conversion config from what a log holds (init)."""


@config.command("init")
@click.argument("bags", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", default=Path("fusion.yaml"), show_default=True,
              type=click.Path(path_type=Path, dir_okay=False), help="Config YAML to write.")
@click.option("--overwrite", is_flag=True, help="Replace the config (and its sensor map) if they exist.")
@click.option("--msg-dir", "msg_dirs", multiple=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder with <pkg>/msg/*.msg for types the bag does not define (repeatable).")
def init(bags: tuple[Path, ...], output: Path, overwrite: bool, msg_dirs: tuple[Path, ...]) -> None:
    """Discover BAGS (one log) and write a commented config plus its sensor map.

    The config states every choice `fusion convert` makes with no config: the sensors (topic,
    kind, frame), the frame reference and why, the ego source, each stream's clock domain, the
    rig's base frame. Edit what discovery got wrong, then `fusion convert BAGS --config OUTPUT`.

    \b
    Example:
      fusion config init drive.bag -o fusion.yaml
      fusion convert drive.bag -o drive.zarr --config fusion.yaml
    """
    from fusion.pipeline.config_init import write_config

    cfg, smap, d = write_config(list(bags), output, overwrite=overwrite, msg_dirs=list(msg_dirs))
    con = console()
    con.print(f"[bold]{cfg}[/bold] and [bold]{smap}[/bold]: {len(d.sensors)} sensor(s) "
              f"({', '.join(d.sensors)}), frames {d.reference[0]}, ego {d.ego_topic or 'none'}, "
              f"base frame {d.base_frame[0]}")
