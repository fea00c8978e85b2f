"""``fusion calib``: rig calibration from bags (``extract``) and its visual check (``check``)."""

from __future__ import annotations

from pathlib import Path

import click

from fusion.cli.output import console


@click.group("calib")
def calib() -> None:
    """Extract a rig from bags (extract) and check it visually on camera images (check)."""


@calib.command("extract")
@click.argument("bags", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Rig YAML to write.")  # fmt: skip
@click.option("--base-frame", default="base_link", show_default=True, help="The rig's base frame.")
@click.option("--msg-dir", "msg_dirs", multiple=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder with <pkg>/msg/*.msg for types the bag does not define (repeatable).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print what was extracted as JSON.")
def extract(bags: tuple[Path, ...], output: Path, base_frame: str, msg_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Build a rig from /tf_static (and constant /tf edges) and the first CameraInfo per camera; save it as YAML.

    Without BASE_FRAME in the tf tree, the root connected to the most sensor frames is the base
    frame (a camera-only bag: the camera's frame). Cameras known from tf or an image topic but
    without CameraInfo are written with ``intrinsics: missing``. Exits with status 2 and one
    ``error:`` line when nothing can be extracted.

    \b
    Example:
      fusion calib extract drive.bag -o rig.yaml --base-frame base_link
    """
    import calibration as cal
    from calibration.sources.ros_tree import extract_rig
    from fusion.errors import ConfigError
    from fusion.readers import open_bags
    from fusion.readers.calib_source import collect_calibration

    with open_bags(list(bags), msg_dirs=msg_dirs) as src:
        found = collect_calibration(src)
    names = ", ".join(map(str, bags))
    if not found.static_transforms and not found.camera_infos:
        raise ConfigError(f"{names}: no /tf_static transform, no constant /tf transform and no CameraInfo; "
                          "nothing to extract")
    result = extract_rig(found.static_transforms, found.camera_infos, base_frame, found.sensor_frames)
    rig = result.rig
    if not len(rig):
        raise ConfigError(f"{names}: the tf tree ({len(found.static_transforms)} transform(s)) names no sensor frame "
                          "and there is no CameraInfo; nothing to extract")
    cal.save_rig(rig, output)
    if as_json:
        import json

        click.echo(json.dumps({
            "rig": str(output), "sensors": sorted(rig.sensors), "base_frame": rig.base_frame,
            "base_reason": result.base_reason, "static_transforms": len(found.static_transforms),
            "camera_infos": len(found.camera_infos), "constant_tf": len(found.dynamic_constant),
            "intrinsics_missing": list(result.no_intrinsics), "unconnected": sorted(result.unconnected),
            "skipped": list(found.skipped),
        }, indent=2))  # fmt: skip
        return
    con = console()
    con.print(
        f"[bold]{output}[/bold]: {len(rig.sensors)} sensor(s) from {len(found.static_transforms)} static transform(s) "
        f"and {len(found.camera_infos)} camera info(s): {', '.join(sorted(rig.sensors))}"
    )
    con.print(f"base frame {rig.base_frame!r}: {result.base_reason}")
    if found.dynamic_constant:
        con.print(f"{len(found.dynamic_constant)} /tf transform(s) constant over the bag taken as static "
                  f"({len(found.dynamic_moving)} moving transform(s) left out)")
    for name in result.no_intrinsics:
        con.print(f"[yellow]warning[/yellow] camera {name}: no CameraInfo; written with intrinsics: missing")
    if result.unconnected:
        con.print(f"[yellow]warning[/yellow] sensor frame(s) not connected to {rig.base_frame!r} left out: "
                  f"{', '.join(sorted(result.unconnected))} (other roots: {', '.join(result.other_roots) or 'none'})")
    for why in found.skipped:
        con.print(f"[yellow]skipped[/yellow] {why}")


def _register_optional() -> None:
    """Attach subcommands other modules provide (``check`` in fusion/cli/calib_check.py)."""
    import importlib

    try:
        module = importlib.import_module("fusion.cli.calib_check")
    except ModuleNotFoundError as exc:
        if exc.name != "fusion.cli.calib_check":
            raise
        return
    calib.add_command(module.check)


_register_optional()
