"""Throughput where users feel it, in one run (``fusion bench --stage throughput``).

Four measurements, each in fresh processes, on fixed-seed generated logs:

* **reads** — a store of a 20 s log with a 64 × 1024 LiDAR (with its point fields), two 1280 × 720
  JPEG cameras (front 15 Hz, right 12 Hz; bytes, not decoded), radar and IMU: a random frame with
  every sensor against plain zarr reading the same bytes with its best access pattern
  (:mod:`fusion.bench.reads`), a sequential scan (frames/s of one process, ``frame.load()`` and
  ``ds.iter``), and the scan over 1 and 2 DataLoader-like worker processes;
* **memory** — peak RSS of ``fusion convert`` of a 10 s log of the default sensors and of the same
  log 4× as long (the issue's 10 s vs 40 s);
* **many logs** — ``fusion convert LOGS --each`` serially vs ``--dask local --workers 2``
  (:mod:`fusion.bench.dask_each`), with the processes left behind;
* **start-up** — a warm one-off ``fusion convert`` of a 10 s log vs a naive rosbags + zarr script
  (:mod:`fusion.bench.startup`), and ``fusion --help``.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

from fusion.bench.reads import summarize_read
from fusion.bench.runner import Preset, generate_log, run_stage

#: The reads log: what a training loop reads (issue 23's frame: LiDAR, 2 JPEG cameras, radar, IMU).
READS_PRESET = Preset(duration_s=20.0, cameras=((1280, 720, 15.0), (1280, 720, 12.0)), extra_cameras=1)
#: The memory logs: the default sensors, 10 s (and 40 s).
MEMORY_PRESET = Preset(duration_s=10.0)
#: The smoke run's sizes (``--preset tiny``): the same sensors, small.
QUICK_PRESET = Preset(duration_s=2.0, beams=16, columns=256, cameras=((320, 240, 15.0), (320, 240, 12.0)),
                      extra_cameras=1)
#: Topics of the generator's raw left camera, left out of the reads store (its frames are JPEG only).
RAW_CAMERA_TOPICS = ("/camera/left/image_raw", "/camera/left/camera_info")


def reads_store(work: Path, preset: Preset = READS_PRESET) -> str:
    """Convert the reads log (once; reused when present) and return the store path."""
    from fusion.pipeline.config import ConvertConfig
    from fusion.pipeline.convert import convert
    from fusion.store.dataset import store_status

    bag, rig = generate_log(preset, work)
    out = work / f"reads_{Path(bag).parent.name}.zarr"
    if not (out.exists() and store_status(str(out)).complete):
        convert([bag], str(out), ConvertConfig(rig=str(rig), exclude_topics=RAW_CAMERA_TOPICS), overwrite=True)
    return str(out)


def _med(values: list[float]) -> float:
    return float(statistics.median(values))


def run_reads(work: Path, repeats: int, preset: Preset = READS_PRESET) -> dict[str, Any]:
    """Random-frame and sequential reads vs plain zarr, and DataLoader-like worker scaling."""
    store = reads_store(work, preset)
    rd = run_stage("read", store=store, repeats=repeats)
    loaders = run_stage("read_loaders", store=store, repeats=max(1, repeats - 1), processes="1,2")
    fps = loaders["frames_per_s"]
    return {
        **summarize_read(rd),
        "loader_frames_per_s": fps,
        "loader_scaling_2": fps["2"] / fps["1"],
        "raw": {"read": rd, "loaders": loaders},
    }


def run_memory(work: Path, preset: Preset = MEMORY_PRESET, rounds: int = 5) -> dict[str, Any]:
    """Peak RSS of converting the preset's log and the same log 4× as long (one process each, after an
    untimed first conversion in it), alternated ``rounds`` times: medians. One run per size is not
    enough — a single pair measured anywhere from 0.94× to 1.29× (glibc's heap and arenas)."""
    dur = preset.duration_s
    out: dict[str, Any] = {"duration_s": dur, "rounds": rounds}
    logs = {tag: generate_log(preset, work, duration_s=dur * factor) for tag, factor in (("1x", 1), ("4x", 4))}
    runs: dict[str, list[dict[str, Any]]] = {"1x": [], "4x": []}
    for _ in range(max(1, rounds)):
        for tag, (bag, rig) in logs.items():
            runs[tag].append(run_stage("convert", bag=str(bag), repeats=1, scratch=str(work / f"mem_{tag}.zarr"),
                                       rig=str(rig), warmup=True))
    for tag, rs in runs.items():
        out[f"rss_{tag}_mb"] = _med([r["peak_rss_mb"] for r in rs])
        out[f"rss_{tag}_runs_mb"] = [r["peak_rss_mb"] for r in rs]
        out[f"seconds_{tag}"] = _med([_med(r["seconds"]) for r in rs])
    out["ratio"] = out["rss_4x_mb"] / out["rss_1x_mb"]
    return out


def run_many_logs(work: Path, logs: int, log_s: float, rounds: int, full: bool = True) -> dict[str, Any]:
    """``--each`` serially vs ``--dask local --workers 2`` on ``logs`` generated logs (full-size: the
    generator's default sensors; else :data:`fusion.bench.dask_each.SMALL`'s)."""
    from fusion.bench.dask_each import compare, full_size, log_seconds, make_logs

    folder = work / f"many_{logs}x{log_s:g}s"
    folder.mkdir(parents=True, exist_ok=True)
    bags, rig = make_logs(folder, logs, **(full_size() if full else {}), duration_s=log_s)
    res = compare(bags, rig, folder, workers=2, rounds=rounds)
    # the cores one serial conversion keeps busy (its CPU s ÷ its wall s): what two workers on two
    # cores can gain at most over the serial conversions, before the cluster's own cost
    res["serial_cores"] = log_seconds(res["runs"], "serial", "log_cpu_s") / log_seconds(res["runs"], "serial")
    res["ceiling_2_cores"] = (os.cpu_count() or 1) / res["serial_cores"]
    res["log_s"] = log_s
    return res


def run_throughput_bench(work: Path, *, repeats: int = 3, logs: int = 8, log_s: float = 10.0,
                         quick: bool = False, many_logs: bool = True, startup: bool = True) -> dict[str, Any]:
    """Every measurement of this module; ``quick`` shrinks logs for a smoke run; ``many_logs`` and
    ``startup`` off skip those two (their harnesses have smoke tests of their own)."""
    work.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()
    res: dict[str, Any] = {"cores": os.cpu_count(), "load_before": load0[0]}
    res["reads"] = run_reads(work, repeats, QUICK_PRESET if quick else READS_PRESET)
    res["memory"] = run_memory(work, QUICK_PRESET if quick else MEMORY_PRESET, 1 if quick else 5)
    res["many_logs"] = run_many_logs(work, 2 if quick else logs, 1.0 if quick else log_s, 1 if quick else 3,
                                     full=not quick) if many_logs else None
    res["startup"] = None
    if startup:
        from fusion.bench.startup import run_startup_bench

        res["startup"] = run_startup_bench("tiny", duration_s=1.0 if quick else 10.0, rounds=2 if quick else 5,
                                           workdir=work)
    res["load_after"] = os.getloadavg()[0]
    return res


def markdown(res: dict[str, Any]) -> str:
    """The results as the tables of docs/FORMAT.md and README.md."""
    r, m, d = res["reads"], res["memory"], res.get("many_logs")
    lines = [f"{res['cores']} cores, load average {res['load_before']:.1f} → {res['load_after']:.1f}", "",
             "| reads | fusion | plain zarr | ratio |", "|---|---:|---:|---:|",
             f"| random frame, all sensors (ms, median) | {r['random_frame_ms']:.2f} | "
             f"{r['plain_zarr_random_frame_ms']:.2f} | {r['random_vs_plain']:.2f}× |",
             f"| first frame of a freshly opened store (ms) | {r['first_frame_of_open_ms']:.2f} | | |",
             f"| sequential scan, `load()` (frames/s) | {r['sequential_frames_per_s']:.0f} | "
             f"{r['plain_zarr_sequential_frames_per_s']:.0f} | "
             f"{r['sequential_frames_per_s'] / r['plain_zarr_sequential_frames_per_s']:.2f}× |",
             f"| sequential scan, `ds.iter()` (frames/s) | {r['sequential_iter_frames_per_s']:.0f} | | |",
             f"| with a {r['consumer_ms']:g} ms consumer: loop / `ds.iter()` (frames/s) | "
             f"{r['with_consumer_loop_frames_per_s']:.0f} / {r['with_consumer_iter_frames_per_s']:.0f} | | "
             f"{r['with_consumer_iter_frames_per_s'] / r['with_consumer_loop_frames_per_s']:.2f}× |",
             f"| 1 / 2 loader processes (frames/s) | {r['loader_frames_per_s']['1']:.0f} / "
             f"{r['loader_frames_per_s']['2']:.0f} | | {r['loader_scaling_2']:.2f}× |",
             "", f"Memory: peak RSS {m['rss_1x_mb']:.0f} MB ({m['duration_s']:g} s log) vs {m['rss_4x_mb']:.0f} MB "
             f"(4×): {m['ratio']:.2f}× (medians of {m.get('rounds', 1)} alternating runs; every run: "
             f"{', '.join(f'{v:.0f}' for v in m.get('rss_1x_runs_mb', []))} vs "
             f"{', '.join(f'{v:.0f}' for v in m.get('rss_4x_runs_mb', []))} MB)."]
    if d:
        lines += ["", f"Many logs ({d['logs']} × {d['log_s']:g} s, 2 workers, {d['rounds']} rounds): medians serial "
                  f"{d['serial_wall_s']:.2f} s (CPU {d['serial_cpu_s']:.2f}) vs Dask {d['dask_wall_s']:.2f} s "
                  f"(CPU {d['dask_cpu_s']:.2f}): {d['speedup']:.2f}×; best runs {d['serial_wall_best_s']:.2f} vs "
                  f"{d['dask_wall_best_s']:.2f} s: {d['speedup_best']:.2f}×; a serial conversion keeps "
                  f"{d['serial_cores']:.2f} cores busy (ceiling on {res['cores']} cores "
                  f"{d['ceiling_2_cores']:.2f}×); processes left: {d['leftover']}.",
                  "Every run: " + ", ".join(f"{r['mode']} {r['wall_s']:.2f} s" for r in d["runs"]) + "."]
    s = res.get("startup")
    if s:
        from fusion.bench.startup import markdown as startup_markdown

        lines += ["", "Start-up (`fusion bench --stage startup`):", "", startup_markdown(s)]
    return "\n".join(lines) + "\n"
