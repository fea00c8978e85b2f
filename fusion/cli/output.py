"""Shared terminal output for the CLI: rich console, progress bar, summaries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.table import Table


def console(stderr: bool = False) -> Console:
    """A rich console (colour only on a TTY)."""
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


@contextmanager
def progress_bar(label: str, enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """Yield ``update(done, total)``; draws a bar on stderr only when ``enabled`` (a TTY)."""
    if not enabled:
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,
    ) as prog:
        task = prog.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total or None)

        yield update


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}"


def _print_sensors(con: Any, result: Any) -> None:
    """Per sensor: topics, clock offset applied, extrinsic source, stored/skipped (main reason); the reference."""
    if getattr(result, "reference", ""):
        con.print(f"frame reference: {result.reference}")
    ego = getattr(result, "ego", None) or {}
    if ego:
        used = f" from {', '.join(ego['inputs'])}" if ego.get("inputs") else ""
        con.print(f"ego trajectory: {ego.get('choice', ego.get('source'))}{used}; expected accuracy: "
                  f"{ego.get('expected_accuracy', '-')}")
        for note in ego.get("notes", []):
            con.print(f"  ego: {note}")
    sensors = getattr(result, "sensors", None) or {}
    if not sensors:
        return
    table = Table(title="sensors", show_edge=False)
    for col in ("sensor", "kind", "topics", "clock offset", "extrinsic", "stored", "skipped (main reason)"):
        table.add_column(col, justify="right" if col in ("stored", "clock offset") else "left")
    for name, s in sorted(sensors.items()):
        skipped = str(s["skipped"]) + (f" ({s['main_skip_reason']})" if s.get("main_skip_reason") else "")
        by_record = " (record time)" if s.get("stamp_source") == "record" else ""
        domain = s.get("clock_domain", "common")
        offset = f"{s['clock_offset_ns'] / 1e6:.3f} ms{by_record}" + ("" if domain == "common" else f" ({domain})")
        table.add_row(name, s["kind"], ", ".join(s["topics"]), offset, s["extrinsic"], str(s["stored"]), skipped)
    con.print(table)


def print_convert_result(result: Any) -> None:
    """The final summary of ``fusion convert``: frames, counts, skips, sync quality, throughput."""
    con = console()
    con.print(
        f"[bold]{result.store}[/bold]: {result.frames} frames over {result.duration_s:.1f} s, "
        f"{result.skipped} message(s) skipped (listed in the report)"
    )
    table = Table(title="sync quality (|Δt| to the frame reference time)", show_edge=False)
    for col in ("sensor", "stored msgs", "frames present", "missing", "p50 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="right" if col != "sensor" else "left")
    per = (result.quality or {}).get("sensors", {})
    for name in sorted(set(per) | set(result.counts)):
        q = per.get(name, {})
        table.add_row(
            name,
            str(result.counts.get(name, "-")),
            str(q.get("present", "-")),
            str(q.get("missing", "-")),
            _ms(q.get("p50_ms")),
            _ms(q.get("p99_ms")),
            _ms(q.get("max_ms")),
        )
    con.print(table)
    _print_sensors(con, result)
    for name, st in (result.lidar or {}).items():
        con.print(
            f"{name}: {st['deskewed']} sweeps deskewed, {st['not_deskewed_no_time']} without per-point time, "
            f"{st['not_deskewed_no_ego']} outside the ego trajectory"
        )
    for w in result.warnings:
        con.print(f"[yellow]warning[/yellow]: {w}")
    con.print(
        f"{result.bag_bytes / 1e6:.1f} MB in {result.seconds:.2f} s: {result.mb_per_s:.1f} MB/s, "
        f"{result.realtime_factor:.1f}x real time"
    )


#: ``SynthConfig`` / ``Faults`` field -> the ``fusion synth`` / ``fusion demo`` flag that sets it.
SYNTH_FLAGS = {
    "duration_s": "--duration", "seed": "--seed", "speed_mps": "--speed", "yaw_rate_dps": "--yaw-rate",
    "lidar_beams": "--lidar-beams", "lidar_columns": "--lidar-columns", "lidar_time_convention": "--lidar-time",
    "image_width": "--width", "image_height": "--height", "image size": "--width/--height",
    "extra_cameras": "--extra-cameras", "extra_camera_rate_hz": "--extra-camera-rate",
    "n_static_boxes": "--static-boxes", "n_moving_objects": "--moving-objects", "latency_ns": "--latency",
    "clock_offsets_ns": "--clock-offset", "faults.drop_rate": "--drop-rate", "faults.duplicate_count": "--duplicates",
    "faults.zero_stamp_count": "--zero-stamps", "faults.out_of_order_count": "--out-of-order",
    "faults.corrupt_count": "--corrupt", "faults.gap": "--gap",
}


def in_flags(exc: Exception, flags: dict[str, str]) -> str:
    """An error message with the Python field name it starts with replaced by the CLI flag."""
    msg = str(exc)
    for name in sorted(flags, key=len, reverse=True):
        if msg.startswith(name + " ") or msg.startswith(name + ":"):
            return flags[name] + msg[len(name):]
    return msg
