"""Split-by-time conversion of one log: pass 2 in parts run in parallel, joined into one store.

The driver (:func:`fusion.pipeline.convert.convert` with ``split=``) runs pass 1 and the plan once,
exactly as a single-process conversion does (clock offsets, ego trajectory and frames are the
log's, never re-estimated by a part), and writes the cameras in pass 1 as usual (they need no
compute, only compression, which the driver's shard pool does either way). It then cuts the log
into K contiguous windows of record time; each message of a pass-2 stream (LiDAR, radar, a camera
written again in pass 2, ...) belongs to exactly one part, by its topic index: part ``p`` owns the
indices ``[lo, hi)`` of each topic whose running-maximum record time falls in its window, so the
parts' messages, concatenated, are each stream's messages in the single-process order.

Each part (:func:`run_part`, on the :mod:`~fusion.pipeline.executor`: serial, a local Dask
cluster or a scheduler) opens the log, reads its topics from its window's start
(:mod:`fusion.pipeline.window`), runs pass 2 on the messages it owns with the shipped plan, and
records its writers' calls in a call log (:mod:`fusion.pipeline.parts`). The driver replays the
call logs in part order on the final store's writers (the same writers a single-process
conversion uses) while later parts still run, maps the stored rows for the frame table, merges
the parts' report entries, writes the tables and finalizes. The part folder is removed in every case.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from calibration import Rig
from fusion.errors import ConfigError
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.execute import StreamPass
from fusion.pipeline.plan import ConversionPlan
from fusion.pipeline.report import ReportBuilder, TopicTally
from fusion.pipeline.sensors import SelectedSensors


@dataclass(frozen=True)
class SplitSpec:
    """How to split a conversion.

    Attributes:
        parts: Number of parts (None: from ``above_s``).
        above_s: Split a log longer than this (record time, s) into parts of about this length.
        executor: Where the parts run (:mod:`fusion.pipeline.executor`); None: serially here.
        folder: Where the parts' call logs go (None: beside a local output, else a temporary folder);
            with a remote scheduler it must be a folder every worker and this process share.
    """

    parts: int | None = None
    above_s: float | None = None
    executor: Any = None
    folder: str | None = None

    def __post_init__(self) -> None:
        if self.parts is not None and self.parts < 1:
            raise ConfigError(f"--split: expected a number of parts >= 1, got {self.parts}")
        if self.above_s is not None and not self.above_s > 0:
            raise ConfigError(f"--split-above-s: expected seconds > 0, got {self.above_s}")

    def count(self, duration_s: float) -> int:
        """Parts for a log spanning ``duration_s`` seconds of record time."""
        if self.parts is not None:
            return self.parts
        assert self.above_s is not None
        return max(1, math.ceil(duration_s / self.above_s)) if duration_s > self.above_s else 1


@dataclass(frozen=True)
class PartTask:
    """One part: its number, record-time window and, per topic, the topic indices ``[lo, hi)`` it owns."""

    index: int
    start_ns: int
    stop_ns: int
    owned: dict[str, tuple[int, int]]
    log_path: str
    read_from_ns: int | None = None  # ask the reader for messages from here on (None: from the start)


@dataclass(frozen=True)
class PartCommon:
    """What every part shares (shipped once per worker)."""

    bags: tuple[str, ...]
    msg_dirs: tuple[str, ...]
    cfg: ConvertConfig
    selected: SelectedSensors
    rig: Rig
    plan: ConversionPlan
    prewritten: tuple[str, ...]
    tallies: dict[str, tuple[str, str | None, str, int]]  # topic -> (msgtype, sensor, kind, in_bag)


@dataclass
class PartResult:
    """What a part hands back (its writes are in its call log)."""

    index: int
    rows: dict[str, np.ndarray]  # sensor -> topic index -> row within the part (-1: not stored here)
    counts: dict[str, int]  # sensor -> rows the part stored
    topics: dict[str, TopicTally]
    skipped: list[dict[str, Any]]
    warnings: list[str]
    lidar_stats: dict[str, dict[str, int]]
    calls: int
    nbytes: int  # serialized bytes of its messages
    seconds: float
    host: str = field(default_factory=lambda: os.uname().nodename)


def windows(tables: dict[str, Any], count: int) -> list[tuple[int, int, dict[str, tuple[int, int]]]]:
    """``count`` equal record-time windows over the pass-2 messages, and each topic's index range per window.

    Returns:
        Per part: (start ns, stop ns, topic -> (lo, hi) topic indices owned); the last window ends
        after the last message, and every index of every topic is owned by exactly one part.
    """
    rec = [np.asarray(t.record_ns, np.int64) for t in tables.values() if len(t.record_ns)]
    if not rec:
        return [(0, 0, {t.topic: (0, len(t.record_ns)) for t in tables.values()})]
    t0 = min(int(r.min()) for r in rec)
    t1 = max(int(r.max()) for r in rec) + 1
    bounds = [t0 + (t1 - t0) * p // count for p in range(count + 1)]
    bounds[0], bounds[-1] = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    out = []
    for p in range(count):
        owned = {}
        for tab in tables.values():
            run = np.maximum.accumulate(np.asarray(tab.record_ns, np.int64)) if len(tab.record_ns) else np.zeros(0)
            lo, hi = (int(np.searchsorted(run, b, side="left")) for b in (bounds[p], bounds[p + 1]))
            owned[tab.topic] = (lo, hi)
        out.append((max(bounds[p], t0), min(bounds[p + 1], t1), owned))
    return out


def run_part(task: PartTask, common: PartCommon) -> PartResult:
    """Pass 2 of one part (in a worker): its messages decoded, compensated and recorded in its call log."""
    from fusion.kernel_policy import serial_kernels
    from fusion.pipeline.parts import CallLog, RecordingSink
    from fusion.pipeline.window import WindowPass
    from fusion.readers import open_bags

    t0 = time.perf_counter()
    report = ReportBuilder()
    for topic, (msgtype, sensor, kind, in_bag) in common.tallies.items():
        report.topic(topic, msgtype, sensor, kind, in_bag)
    prewritten = {name: np.zeros(0, np.int64) for name in common.prewritten}
    with serial_kernels(), open_bags([Path(b) for b in common.bags], msg_dirs=list(common.msg_dirs)) as source, \
            open(task.log_path, "wb") as fh:  # fmt: skip
        log = CallLog(fh)
        sink = RecordingSink(log)
        ex = WindowPass(source, common.selected, common.rig, common.cfg, common.plan, sink, report,
                        prewritten=prewritten, owned=task.owned, start_ns=task.read_from_ns)  # fmt: skip
        ex.open_streams()
        sink.start()
        ex.run()
    names = ex.pass2_tables()
    return PartResult(task.index, {n: ex.rows[n] for n in names}, dict(ex.next_row), report.topics, report.skipped,
                      report.warnings, {k: vars(v) for k, v in ex.lidar_stats.items()}, log.calls, ex.nbytes,
                      time.perf_counter() - t0)  # fmt: skip


def part_folder(out: str, spec: SplitSpec) -> Path:
    """A new, empty folder for the parts' call logs (see :attr:`SplitSpec.folder`)."""
    if spec.folder is not None:
        base = Path(spec.folder)
    elif "://" not in out and not out.endswith(".zip"):
        base = Path(out).resolve().parent
    else:
        base = Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{Path(out.rstrip('/')).name}.parts-", dir=base))


class Joiner:
    """Replays finished parts on ``ex``'s writers in part order, each as soon as every earlier part is in.

    Stored rows are mapped to store rows (offset by the earlier parts' rows), the parts' report
    entries and LiDAR counters merged; a part's call log is removed once replayed.
    """

    def __init__(self, ex: StreamPass, folder: Path, report: ReportBuilder) -> None:
        self.ex, self.folder, self.report = ex, folder, report
        self.offset = dict.fromkeys(ex.next_row, 0)
        self.waiting: dict[int, PartResult] = {}
        self.done: list[PartResult] = []
        self.seconds = 0.0

    def add(self, res: PartResult) -> None:
        """Part ``res.index`` finished: replay it and every waiting part that now follows in order."""
        self.waiting[res.index] = res
        while (nxt := self.waiting.pop(len(self.done), None)) is not None:
            t0 = time.perf_counter()
            self._replay(nxt)
            self.seconds += time.perf_counter() - t0
            self.done.append(nxt)

    def _replay(self, res: PartResult) -> None:
        from fusion.pipeline.parts import replay

        ex, report = self.ex, self.report
        path = self.folder / f"part-{res.index:04d}.calls"
        with open(path, "rb") as fh:
            replay(fh, ex.streams)
        path.unlink()
        for name, rows in res.rows.items():
            mine = rows >= 0
            ex.rows[name][mine] = rows[mine] + self.offset[name]
            self.offset[name] += res.counts.get(name, 0)
        for topic, tally in res.topics.items():
            mine_t = report.topics[topic]
            mine_t.stored += tally.stored
            mine_t.skipped.update(tally.skipped)
            mine_t.carried_over += tally.carried_over
            mine_t.trailing += tally.trailing
        report.skipped.extend(res.skipped)
        for w in res.warnings:
            report.warn(w)
        for name, stats in res.lidar_stats.items():
            for key, value in stats.items():
                setattr(ex.lidar_stats[name], key, getattr(ex.lidar_stats[name], key) + value)
        ex.next_row.update(self.offset)


def run_split(
    ex: StreamPass, paths: list[Path], msg_dirs: list[str], out: str, spec: SplitSpec, report: ReportBuilder,
    say: Callable[[str], None] | None = None,
    tick: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Pass 2 of ``ex`` in parts (see module docstring); returns the report's ``split`` record.

    ``say`` gets a line per finished part; ``tick`` the bytes of each part once it is joined (progress).

    The parts are joined in order while later ones still run (the join of part ``p`` starts once
    parts ``0..p`` are done); the first failed part's error is raised.
    """
    from fusion.pipeline.executor import SerialExecutor

    tables = ex.pass2_tables()
    rec = [t.record_ns for t in tables.values() if len(t.record_ns)]
    span = (max(int(r.max()) for r in rec) - min(int(r.min()) for r in rec)) * 1e-9 if rec else 0.0
    wins = windows(tables, spec.count(span))
    folder = part_folder(out, spec)
    try:
        # with every topic in record order (as the reader yields them), a part may start reading at its window
        ordered = all(bool(np.all(np.diff(t.record_ns) >= 0)) for t in tables.values())
        tasks = [PartTask(p, lo, hi, owned, str(folder / f"part-{p:04d}.calls"), lo if p and ordered else None)
                 for p, (lo, hi, owned) in enumerate(wins)]  # fmt: skip
        tallies = {t: (v.msgtype, v.sensor, v.kind, v.in_bag) for t, v in report.topics.items()}
        common = PartCommon(tuple(str(p) for p in paths), tuple(msg_dirs), ex.cfg, ex.selected, ex.rig, ex.plan,
                            tuple(ex.prewritten), tallies)  # fmt: skip
        executor = spec.executor if spec.executor is not None else SerialExecutor()
        join = Joiner(ex, folder, report)
        t0 = time.perf_counter()
        for _, res in executor.map_unordered(run_part, tasks, common):
            if isinstance(res, BaseException):
                raise res
            if say is not None:
                t = tasks[res.index]
                say(f"part {res.index + 1}/{len(tasks)}: record time {_s(t.start_ns)}–{_s(t.stop_ns)}, "
                    f"{sum(res.counts.values())} messages, {res.seconds:.2f} s on {res.host}")
            join.add(res)
            if tick is not None:
                tick(res.nbytes)
        wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "parts": len(tasks),
        "windows_record_ns": [[t.start_ns, t.stop_ns] for t in tasks],
        "messages": [sum(r.counts.values()) for r in join.done],
        "part_seconds": [round(r.seconds, 3) for r in join.done],
        "wall_seconds": round(wall, 3),
        "join_seconds": round(join.seconds, 3),
    }


def _s(ns: int) -> str:
    return f"{ns * 1e-9:.3f} s"
