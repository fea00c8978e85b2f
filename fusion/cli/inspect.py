"""``fusion inspect BAG...``: what is in a log and how well it is timed (or summarise a store)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from fusion.cli.output import console
from fusion.cli.tables import Column, fit_table


def _iso(ns: int | None) -> str:
    if ns is None:
        return "-"
    import datetime as dt

    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).isoformat(timespec="milliseconds")


def _lat(ms: float | None) -> str:
    if ms is None:
        return "-"
    if abs(ms) >= 86_400_000:
        return f"{ms / 86_400_000:.2f} d"
    return f"{ms / 1000:.1f} s" if abs(ms) >= 10_000 else f"{ms:.2f}"


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
    con = console()
    con.print(
        f"[bold]{', '.join(summary['paths'])}[/bold] ({summary.get('format_name') or summary.get('format', '?')}): "
        f"{summary.get('message_count', 0)} messages, {summary.get('duration_s', 0.0):.3f} s of record time"
        f" ({_iso(summary.get('start_record_ns'))} → {_iso(summary.get('end_record_ns'))})"
    )
    columns = (Column("topic", elide=True), Column("type", elide=True), Column("kind"), Column("frame", elide=True),
               Column("count", right=True), Column("rate Hz", right=True), Column("jitter ms", right=True),
               Column("latency p50 / p99 ms"), Column("anomalies", elide=True))  # fmt: skip
    rows: list[tuple[str, ...]] = []
    notes_out: list[str] = []
    for name, t in summary["topics"].items():
        lat = t.get("latency_ms")
        notes = [f"read as: {t['reader']}"] if t.get("reader") else []
        if t.get("time_source") == "record":
            notes.append("no header stamp: record time")
        if t.get("packets"):
            notes.append(t["packets"].get("reads_as") or t["packets"].get("error", ""))
        elif t.get("lidar_time_convention"):
            notes.append(f"point time: {t['lidar_time_convention']}")
        if t.get("type_error"):
            notes.append(f"[red]{t['type_error']}[/red]")
        rows.append((
            name, t["msgtype"].replace("/msg/", "/"), t["kind"], t.get("frame_id") or "-", str(t["count"]),
            _fmt(t.get("rate_hz")), _fmt(t.get("jitter_ms"), 3),
            f"{_lat(lat['median'])} / {_lat(lat['p99'])}" if lat else "-",
            _anomalies(t.get("anomalies")),
        ))  # fmt: skip
        if notes:
            notes_out.append(f"  {name}: {'; '.join(notes)}")
    con.print(fit_table(columns, rows, con))
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


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * float(v):.1f} %"


def print_store_summary(summary: dict[str, Any], *, max_warnings: int = 10) -> None:
    """Key facts of :func:`fusion.store.inspect_store` output, the sensors, the report's warnings and skips."""
    con = console()
    state = "complete" if summary.get("complete") else "[red]incomplete[/red] (an interrupted conversion)"
    rate = summary.get("frame_rate_hz")
    con.print(
        f"[bold]{summary.get('url')}[/bold]: fusion store format {summary.get('fusion_format', '?')}, {state}; "
        f"{summary.get('frames', 0)} frames over {float(summary.get('duration_s') or 0.0):.2f} s"
        + (f" ({rate:.2f} Hz)" if rate else "")
        + f", start {_iso(summary.get('start_ns'))}"
    )
    con.print(f"frames: base {summary.get('base_frame', '-')}, world {summary.get('world_frame', '-')}; "
              f"ego poses: {summary.get('ego_samples', 0)}")  # fmt: skip
    ego = summary.get("ego") or {}
    if ego.get("source"):
        sig = ego.get("position_sigma_m")
        yaw = ego.get("yaw_sigma_deg")
        quality = (f"; per-frame 1σ p50/p95: {sig['p50']:.2f}/{sig['p95']:.2f} m, "
                   f"{yaw['p50']:.2f}/{yaw['p95']:.2f}° heading") if sig and yaw else ""
        con.print(f"[bold]ego[/bold]: {ego['source']}{quality}")
        if ego.get("expected_accuracy"):
            con.print(f"[bold]ego expected accuracy[/bold]: {ego['expected_accuracy']}")
    columns = (Column("sensor", elide=True), Column("kind"), Column("topic", elide=True),
               Column("stored", right=True), Column("frames matched", right=True),
               Column("median |Δt| ms", right=True), Column("max |Δt| ms", right=True),
               Column("skipped", elide=True))  # fmt: skip
    skipped = summary.get("skipped_by_topic") or {}
    rows = []
    for name, s in (summary.get("sensors") or {}).items():
        reasons = skipped.get(str(s.get("topic", "")), {})
        skip = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])) or "0"
        rows.append((
            name, str(s.get("kind", "-")), str(s.get("topic", "-")), str(s.get("count", "-")),
            _pct(s.get("matched_fraction")), _fmt(s.get("median_abs_dt_ms")), _fmt(s.get("max_abs_dt_ms")), skip,
        ))  # fmt: skip
    con.print(fit_table(columns, rows, con))
    topics = {str(s.get("topic", "")) for s in (summary.get("sensors") or {}).values()}
    for topic, reasons in skipped.items():
        if topic not in topics:
            con.print(f"skipped on {topic}: " + ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())))
    warnings = summary.get("warnings") or []
    for w in warnings[:max_warnings]:
        con.print(f"[yellow]warning[/yellow]: {w}")
    if len(warnings) > max_warnings:
        con.print(f"… and {len(warnings) - max_warnings} more warning(s) (--json lists them all)")
    for problem in summary.get("damage") or []:
        con.print(f"[red]damaged:[/red] {problem}")
    if summary.get("damage"):
        con.print("run `fusion validate` to list every problem (reads of the damaged parts raise StoreCorruptError)")


def _is_store(path: Path) -> bool:
    """A fusion store, or a directory with a root ``zarr.json`` (summarised as a store even when damaged)."""
    from fusion.readers.inspect import is_fusion_store

    return is_fusion_store(path) or (path.is_dir() and (path / "zarr.json").is_file())


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
    from fusion.readers.inspect import inspect_bags

    if len(paths) == 1 and _is_store(paths[0]):
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
