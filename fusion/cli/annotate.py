"""``fusion annotate``: import 3D cuboid labels into a store, export them as OpenLABEL."""

from __future__ import annotations

from pathlib import Path

import click

from fusion.annotations.codec import CODECS


@click.group("annotate")
def annotate() -> None:
    """Import and export 3D cuboid annotations (tracks) of a fusion store.

    \b
    Example:
      fusion annotate import drive.zarr labels.json                 # OpenLABEL 1.0
      fusion annotate import drive.zarr nuscenes/v1.0-mini --format nuscenes
      fusion annotate import drive.zarr 0001.txt --format kitti --camera cam_front
      fusion annotate import drive.zarr detections_bag/ --format bag --topic /detections
      fusion annotate export drive.zarr -o labels.json
    """


@annotate.command("import")
@click.argument("store")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(sorted(CODECS)), default=None,
              help="Annotation format (default: guessed from the file name).")
@click.option("--max-extrapolation-ms", type=float, default=0.0, show_default=True,
              help="Fill frames up to this far before the first / after the last keyframe of a track.")
@click.option("--camera", default=None, help="KITTI: rig sensor of the rectified camera the labels are in.")
@click.option("--kitti-times", type=click.Path(exists=True, path_type=Path), default=None,
              help="KITTI: text file with one time (int ns) per KITTI frame (default: store frame i).")
@click.option("--topic", "topics", multiple=True, help="bag: Detection3DArray topic(s) (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print the result (counts, labels not imported) as JSON.")
def import_cmd(store: str, file: Path, fmt: str | None, max_extrapolation_ms: float, camera: str | None,
               kitti_times: Path | None, topics: tuple[str, ...], as_json: bool) -> None:
    """Decode FILE, move labels into the world frame, interpolate each track to every frame,
    count LiDAR/radar points per box and write them to STORE (replacing its annotations).

    \b
    Example:
      fusion annotate import drive.zarr labels.json --max-extrapolation-ms 50
    Labels at times outside the store or in unknown frames are listed and kept in the
    `annotations` attrs ("issues"), never silently dropped.
    """
    from fusion.annotations.importer import import_file

    options: dict[str, object] = {}
    if camera is not None:
        options["camera"] = camera
    if kitti_times is not None:
        import numpy as np

        options["frame_times_ns"] = np.loadtxt(kitti_times, dtype=np.int64, ndmin=1)
    if topics:
        options["topics"] = list(topics)
    result = import_file(store, file, fmt, max_extrapolation_ns=round(max_extrapolation_ms * 1e6),
                         decode_options=options)
    if as_json:
        import json

        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(result.summary())


@annotate.command("export")
@click.argument("store")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="OpenLABEL JSON file to write.")
def export_cmd(store: str, output: Path) -> None:
    """Write STORE's boxes as ASAM OpenLABEL 1.0 (validated against the official schema).

    \b
    Example:
      fusion annotate export drive.zarr -o labels.json
    """
    from fusion.annotations.exporter import export_store

    doc = export_store(store, output)
    ol = doc["openlabel"]
    n = sum(len(o["object_data"]["cuboid"]) for f in ol["frames"].values() for o in f["objects"].values())
    click.echo(f"wrote {output}: {len(ol['frames'])} frames, {len(ol['objects'])} objects, {n} cuboids")
