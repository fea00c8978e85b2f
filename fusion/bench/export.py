"""``fusion bench --stage export``: every exporter on a generated log and on one 4x as long.

In one run: the log is generated at 1x and 4x its length and converted (conversion MB/s of bag
and frames/s, timed after one untimed conversion in the same process: numba start-up, caches),
then each exporter — package, kitti, nuscenes, mcap, rerun (when rerun-sdk is
installed) and the preview video — exports every frame but the first (frame 0 may precede the
first ego pose) of each store, each export in a fresh process (``python -m fusion.bench.stages
export …``) whose peak RSS is its own ``VmHWM`` (Linux; elsewhere the parent's 10 ms sampling,
:func:`fusion.bench.runner.run_stage`; both are in the JSON). The
ratio of the 4x to the 1x peak RSS shows whether an exporter's memory grows with the log (the
target is <= 1.2).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

from fusion.bench.runner import Preset, generate_log, run_stage

#: Log sizes of the export benchmark: the 1x log; the other is 4x as long.
EXPORT_PRESETS = {
    "default": Preset(duration_s=5.0, beams=32, columns=1024, cameras=((640, 480, 15.0), (640, 480, 12.0))),
    "tiny": Preset(duration_s=1.0, beams=16, columns=256, cameras=((320, 240, 15.0), (320, 240, 20.0))),
}
EXPORTERS = ("package", "kitti", "nuscenes", "mcap", "rerun", "preview")
#: Output name of each exporter (a folder unless it has a suffix).
_OUT = {"mcap": "out.mcap", "rerun": "out.rrd", "preview": "out.mp4"}
RATIO_TARGET = 1.2


def stage_export(store: str, fmt: str, out: str, repeats: int = 1, **_: Any) -> dict[str, Any]:
    """Export frames 1.. of ``store`` as ``fmt`` into ``out`` (replaced); wall time of the export alone."""
    import shutil
    import time

    import fusion
    from fusion.export.common import Selection, prepare_file, prepare_output

    ds = fusion.open(store)
    frames = range(1, len(ds))
    path = Path(out)
    seconds = []
    info: dict[str, Any] = {}
    for _run in range(repeats):
        if path.is_dir():
            shutil.rmtree(path)
        t0 = time.perf_counter()
        if fmt == "mcap":
            from fusion.export.mcap_replay import export_mcap

            res = export_mcap(store, path, frames=slice(1, None), overwrite=True)
            info = {"frames": res.frames, "bytes": res.bytes, "files": 1}
        elif fmt == "preview":
            from fusion.export.preview_video import write_video

            video = write_video(ds, frames, path, 10.0, overwrite=True)
            info = {"frames": len(frames), "bytes": path.stat().st_size, "files": 1, "codec": video.codec}
        else:
            from fusion.export.formats import get_exporter

            exporter = get_exporter(fmt)
            single = bool(getattr(exporter, "single_file", False))
            target = prepare_file(path, True) if single else prepare_output(path, True)
            opts = {spec.name: spec.default for spec in exporter.options}
            r = exporter.export(ds, target, Selection(frames), lambda _n: None, **opts)
            info = {"frames": r.frames, "bytes": r.bytes, "files": r.files}
        seconds.append(time.perf_counter() - t0)
    return {"seconds": seconds, **info}


def available_exporters() -> list[str]:
    """:data:`EXPORTERS` less rerun when rerun-sdk is not installed."""
    return [f for f in EXPORTERS if f != "rerun" or importlib.util.find_spec("rerun") is not None]


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def run_export_bench(preset_name: str = "default", workdir: Path | None = None,
                     exporters: list[str] | None = None) -> dict[str, Any]:
    """The export benchmark (module docstring); JSON-friendly results."""
    preset = EXPORT_PRESETS[preset_name]
    work = workdir or Path(tempfile.mkdtemp(prefix="fusion-bench-export-"))
    work.mkdir(parents=True, exist_ok=True)
    fmts = exporters or available_exporters()
    res: dict[str, Any] = {"preset": preset_name, "exporters": fmts, "logs": {}, "rows": []}
    stores: dict[str, str] = {}
    for tag, factor in (("1x", 1), ("4x", 4)):
        dur = preset.duration_s * factor
        bag, rig = generate_log(preset, work, duration_s=dur)
        store = str(work / f"store_{tag}.zarr")
        conv = run_stage("convert", bag=str(bag), repeats=1, scratch=store, rig=str(rig), warmup=True)
        sec = float(conv["seconds"][0])
        bag_bytes = _size(Path(bag))
        conv_peak = float(conv.get("vm_hwm_mb", conv["peak_rss_mb"]))
        res["logs"][tag] = {
            "duration_s": dur, "bag_bytes": bag_bytes, "store_bytes": _size(Path(store)), "frames": conv["frames"],
            "convert_seconds": sec, "convert_mb_per_s": bag_bytes / 1e6 / sec, "convert_frames_per_s":
            conv["frames"] / sec, "convert_peak_rss_mb": conv_peak,
        }  # fmt: skip
        stores[tag] = store
    for fmt in fmts:
        row: dict[str, Any] = {"format": fmt}
        for tag, store in stores.items():
            out = work / f"{fmt}_{tag}" / _OUT.get(fmt, "out")
            out.parent.mkdir(parents=True, exist_ok=True)
            r = run_stage("export", store=store, fmt=fmt, out=str(out), repeats=1)
            sec = float(r["seconds"][0])
            peak = float(r.get("vm_hwm_mb", r["peak_rss_mb"]))  # exact on Linux; else the parent's sampling
            row[tag] = {"seconds": sec, "frames": r["frames"], "bytes": r["bytes"], "files": r["files"],
                        "frames_per_s": r["frames"] / sec, "mb_per_s": r["bytes"] / 1e6 / sec,
                        "peak_rss_mb": peak, "sampled_rss_mb": r["peak_rss_mb"],
                        **({"codec": r["codec"]} if "codec" in r else {})}
        row["rss_ratio"] = row["4x"]["peak_rss_mb"] / row["1x"]["peak_rss_mb"]
        row["within_target"] = row["rss_ratio"] <= RATIO_TARGET
        res["rows"].append(row)
    res["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    return res


def markdown(res: dict[str, Any]) -> str:
    """The table of docs/EXPORT.md (section "Export benchmark")."""
    a, b = res["logs"]["1x"], res["logs"]["4x"]
    lines = [
        f"Logs: {a['duration_s']:g} s and {b['duration_s']:g} s (preset `{res['preset']}`: {a['frames']} and "
        f"{b['frames']} frames, {a['bag_bytes'] / 1e6:.0f} and {b['bag_bytes'] / 1e6:.0f} MB of bag); machine: "
        f"{res['machine']['cpus']} cores, {res['machine']['platform']}.",
        "",
        "| stage | 1x s | 1x frames/s | 1x MB/s | 1x peak RSS MB | 4x s | 4x frames/s | 4x MB/s | 4x peak RSS MB "
        "| RSS 4x/1x |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| convert (MB/s of bag) | {a['convert_seconds']:.2f} | {a['convert_frames_per_s']:.1f} | "
        f"{a['convert_mb_per_s']:.1f} | {a['convert_peak_rss_mb']:.0f} | {b['convert_seconds']:.2f} | "
        f"{b['convert_frames_per_s']:.1f} | {b['convert_mb_per_s']:.1f} | {b['convert_peak_rss_mb']:.0f} | "
        f"{b['convert_peak_rss_mb'] / a['convert_peak_rss_mb']:.2f} |",
    ]
    for r in res["rows"]:
        x, y = r["1x"], r["4x"]
        name = f"export {r['format']}" + (f" ({x['codec']})" if "codec" in x else "") + " (MB/s written)"
        lines.append(
            f"| {name} | {x['seconds']:.2f} | {x['frames_per_s']:.1f} | {x['mb_per_s']:.1f} | {x['peak_rss_mb']:.0f} "
            f"| {y['seconds']:.2f} | {y['frames_per_s']:.1f} | {y['mb_per_s']:.1f} | {y['peak_rss_mb']:.0f} | "
            f"{r['rss_ratio']:.2f}{'' if r['within_target'] else ' (over 1.2)'} |"
        )
    return "\n".join(lines)
