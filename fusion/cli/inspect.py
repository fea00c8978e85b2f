"""``fusion inspect BAG...``: what is in a log and how well it is timed (or summarise a store)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from fusion.cli.output import console


def _wide_console() -> Any:
    con = console()
    if not con.is_terminal:
        from rich.console import Console

        con = Console(highlight=False, width=220)
    return con


def _iso(ns: int | None) -> str:
    if ns is None:
        return "-"
    import datetime as dt

    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).isoformat(timespec="milliseconds")


def _lat(ms: float | None) -> str:
    if ms is None:
        return "-"
    return f"{ms / 1000:.1f}s" if abs(ms) >= 10_000 else f"{ms:.2f}"


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _anomalies(a: dict[str, Any] | None) -> str:
    if not a:
        return ""
    parts = [f"{k.replace('_', '-')} {v}" for k, v in a.items() if k != "max_gap_ms" and v]
    if a.get("max_gap_ms"):
        parts.append(f"(max gap {a['max_gap_ms']:.1f} ms)")
    return ", ".join(parts) or "ok"


def print_bag_summary(summary: dict[str, Any]) -> None:
    """Rich table of :func:`fusion.readers.inspect.inspect_bags` output."""
    con = _wide_console()
    con.print(
        f"[bold]{', '.join(summary['paths'])}[/bold] ({summary.get('format', '?')}): "
        f"{summary.get('message_count', 0)} messages, {summary.get('duration_s', 0.0):.3f} s of record time"
        f" ({_iso(summary.get('start_record_ns'))} → {_iso(summary.get('end_record_ns'))})"
    )
    table = Table(show_edge=False)
    cols = ("topic", "type", "kind", "frame", "count", "rate Hz", "jitter ms", "latency p50 / p99 ms", "anomalies")
    for c in cols:
        table.add_column(c, justify="right" if c in ("count", "rate Hz", "jitter ms") else "left", overflow="fold")
    notes_out: list[str] = []
    for name, t in summary["topics"].items():
        lat = t.get("latency_ms")
        notes = []
        if t.get("time_source") == "record":
            notes.append("no header stamp: record time")
        if t.get("lidar_time_convention"):
            notes.append(f"point time: {t['lidar_time_convention']}")
        if t.get("type_error"):
            notes.append(f"[red]{t['type_error']}[/red]")
        table.add_row(
            name, t["msgtype"].replace("/msg/", "/"), t["kind"], t.get("frame_id") or "-", str(t["count"]),
            _fmt(t.get("rate_hz")), _fmt(t.get("jitter_ms"), 3),
            f"{_lat(lat['median'])} / {_lat(lat['p99'])}" if lat else "-",
            _anomalies(t.get("anomalies")),
        )  # fmt: skip
        if notes:
            notes_out.append(f"  {name}: {'; '.join(notes)}")
    con.print(table)
    for line in notes_out:
        con.print(line)
    domains = summary.get("clock_domains") or {}
    other = {t: d for t, d in domains.items() if d["domain"] != "common"}
    if domains:
        con.print(f"clock domains: {len(domains) - len(other)} topic(s) on the record clock"
                  + ("" if other else " (all)"))
    for topic, d in other.items():
        con.print(f"  [yellow]{topic}[/yellow]: {d['domain']}: {d['detail']}")
    if summary.get("error"):
        con.print(f"[red]damaged:[/red] {summary['error']}")


def print_store_summary(summary: dict[str, Any]) -> None:
    """Key facts of :func:`fusion.store.inspect_store` output."""
    con = _wide_console()
    keys = ("url", "fusion_format", "complete", "frames", "duration_s", "frame_rate_hz", "base_frame", "world_frame")
    for k in keys:
        if k in summary:
            con.print(f"[bold]{k}[/bold]: {summary[k]}")
    ego = summary.get("ego") or {}
    if ego.get("source"):
        sig = ego.get("position_sigma_m")
        yaw = ego.get("yaw_sigma_deg")
        quality = (f"; per-frame 1σ p50/p95: {sig['p50']:.2f}/{sig['p95']:.2f} m, "
                   f"{yaw['p50']:.2f}/{yaw['p95']:.2f}° heading") if sig and yaw else ""
        con.print(f"[bold]ego[/bold]: {ego['source']}{quality}")
        if ego.get("expected_accuracy"):
            con.print(f"[bold]ego expected accuracy[/bold]: {ego['expected_accuracy']}")
    table = Table(show_edge=False)
    for c in ("sensor", "kind", "topic", "count", "matched", "median |dt| ms", "max |dt| ms"):
        table.add_column(c)
    for name, s in (summary.get("sensors") or {}).items():
        table.add_row(
            name, str(s.get("kind", "-")), str(s.get("topic", "-")), str(s.get("count", "-")),
            _fmt(s.get("matched_fraction")), _fmt(s.get("median_abs_dt_ms")), _fmt(s.get("max_abs_dt_ms")),
        )  # fmt: skip
    con.print(table)


@click.command("inspect")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--msg-dir", "msg_dirs", multiple=True, type=click.Path(path_type=Path, file_okay=False),
    help="Folder with <pkg>/msg/*.msg for types the bag does not define (repeatable).",
)  # fmt: skip
def inspect(paths: tuple[Path, ...], as_json: bool, msg_dirs: tuple[Path, ...]) -> None:
    """Summarise bags (topics, rates, latency, anomalies) or a fusion store.

    Several PATHS form one log (split bags). Streams the bag: nothing is loaded whole.

    \b
    Example:
      fusion inspect drive.bag
      fusion inspect rosbag2_dir/ --json
    """
    from fusion.readers.inspect import inspect_bags, is_fusion_store

    if len(paths) == 1 and is_fusion_store(paths[0]):
        from fusion.store import inspect_store

        summary = inspect_store(str(paths[0]))
        if as_json:
            click.echo(json.dumps(summary, indent=2, default=str))
        else:
            print_store_summary(summary)
        return
    summary = inspect_bags(list(paths), msg_dirs=msg_dirs)
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
    else:
        print_bag_summary(summary)
