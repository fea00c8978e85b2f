"""Shared terminal output for the CLI: rich console, progress bar, summaries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from fusion.cli.tables import Column, fit_table

if TYPE_CHECKING:  # rich is imported when something is printed: a subcommand's --help does not pay for it
    from rich.console import Console

#: Width of a console that is not a terminal (a log, a pipe): tables are printed whole, never cut.
UNLIMITED_WIDTH = 1000


def console(stderr: bool = False) -> Console:
    """A rich console: colour and the terminal's width on a TTY; elsewhere no colour and no width limit."""
    from rich.console import Console

    con = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not con.is_terminal:
        con.width = UNLIMITED_WIDTH
    return con


@contextmanager
def progress_bar(label: str, enabled: bool, unit: str = "bytes") -> Iterator[Callable[[int, int], None]]:
    """Yield ``update(done, total)``; draws a bar on stderr only when ``enabled`` (a TTY).

    Args:
        label: What is being done ("converting").
        enabled: Draw the bar (pass ``sys.stderr.isatty()`` and not ``--json``).
        unit: ``bytes`` (size and speed columns) or a plural noun counted as ``done/total`` ("messages", "frames").
    """
    if not enabled:
        yield lambda done, total: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns: tuple[Any, ...] = (
        (DownloadColumn(), TransferSpeedColumn()) if unit == "bytes" else (MofNCompleteColumn(), TextColumn(unit))
    )
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        *columns,
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
    columns = (Column("sensor", elide=True), Column("kind"), Column("topics", elide=True),
               Column("clock offset", right=True), Column("clock", elide=True), Column("extrinsic"),
               Column("stored", right=True), Column("skipped (main reason)", elide=True))  # fmt: skip
    rows = []
    for name, s in sorted(sensors.items()):
        skipped = str(s["skipped"]) + (f" ({s['main_skip_reason']})" if s.get("main_skip_reason") else "")
        clock = CLOCK_WORDS.get(s.get("clock_domain", "common"), s.get("clock_domain", "common"))
        if s.get("stamp_source") == "record":
            clock += ", by record time"
        rows.append((name, s["kind"], ", ".join(s["topics"]), format_offset_ns(s["clock_offset_ns"]), clock,
                     s["extrinsic"], str(s["stored"]), skipped))  # fmt: skip
    con.print(fit_table(columns, rows, con, title="sensors"))


#: ``fusion.sync.domains`` clock domain -> the words of the summary's ``clock`` column.
CLOCK_WORDS = {
    "common": "common", "offset": "another clock", "uptime": "uptime clock", "simulated": "simulated time",
    "zero": "stamps all 0", "frozen": "stamps repeat", "drift": "drifting", "unknown": "unknown",
}


def format_offset_ns(offset_ns: int) -> str:
    """A clock offset with a unit that keeps it short: ``0.000 ms``, ``-23.000 ms``, ``+338524.891 s``, ``-3.92 d``."""
    ms = offset_ns / 1e6
    if abs(ms) < 10_000:
        return f"{ms:.3f} ms"
    s = ms / 1e3
    return f"{s:+.3f} s" if abs(s) < 10 * 86_400 else f"{s / 86_400:+.2f} d"


def result_dict(result: Any) -> dict[str, Any]:
    """A ``ConvertResult`` as the JSON ``--json`` prints (with its derived MB/s and real-time factor)."""
    from dataclasses import asdict

    d = asdict(result)
    d["mb_per_s"] = result.mb_per_s
    d["realtime_factor"] = result.realtime_factor
    return d


def print_convert_result(result: Any, *, sensors: bool = True) -> None:
    """The final summary of ``fusion convert``: frames, counts, skips, sync quality, throughput.

    Args:
        result: The ``ConvertResult``.
        sensors: Also print the per-sensor table (topics, clock, extrinsic source, skips).
    """
    con = console()
    con.print(
        f"[bold]{result.store}[/bold]: {result.frames} frames over {result.duration_s:.1f} s, "
        f"{result.skipped} message(s) skipped (listed in the report)"
    )
    columns = [Column("sensor", elide=True)] + [
        Column(h, right=True) for h in ("stored msgs", "frames present", "missing", "p50 ms", "p99 ms", "max ms")
    ]
    per = (result.quality or {}).get("sensors", {})
    rows = []
    for name in sorted(set(per) | set(result.counts)):
        q = per.get(name, {})
        rows.append((
            name,
            str(result.counts.get(name, "-")),
            str(q.get("present", "-")),
            str(q.get("missing", "-")),
            _ms(q.get("p50_ms")),
            _ms(q.get("p99_ms")),
            _ms(q.get("max_ms")),
        ))
    con.print(fit_table(columns, rows, con, title="sync quality (|Δt| to the frame reference time)"))
    if sensors:
        _print_sensors(con, result)
    elif getattr(result, "reference", ""):
        con.print(f"frame reference: {result.reference}")
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
    "n_static_boxes": "--static-boxes", "n_moving_objects": "--moving-objects", "world": "--world",
    "latency_ns": "--latency",
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
