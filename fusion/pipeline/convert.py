"""``fusion convert``: read → plan (pass 1) → execute (pass 2) → finalized Zarr store.

The store is marked complete only at the very end; an interrupted conversion
(Ctrl-C, a killed process) leaves an incomplete store that ``fusion.open`` and
``fusion validate`` detect, and ``resume=True`` redoes cleanly when the inputs
are unchanged. A conversion that fails for any other reason (a config, rig or
planning error, a full disk) removes the store it created, so nothing
half-written is left behind (docs/FORMAT.md, "Completeness"). The checks that
need no bag data (config, rig file, output location) run before the store is
created.
"""

from __future__ import annotations

import errno
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fusion.errors import StoreError
from fusion.kernel_policy import serial_kernels
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.early import EarlyStreams
from fusion.pipeline.execute import StreamPass
from fusion.pipeline.plan import check_reference, make_plan
from fusion.pipeline.report import ReportBuilder
from fusion.pipeline.result import ConvertResult
from fusion.pipeline.rigs import check_rig_file, resolve_rig
from fusion.pipeline.scan import scan
from fusion.pipeline.sensors import select_sensors
from fusion.pipeline.split import SplitSpec, run_split
from fusion.pipeline.spool import Spool
from fusion.pipeline.summary import check_stored, sensor_summary
from fusion.pipeline.tables import write_tables
from fusion.pipeline.window import stateful_topics
from fusion.readers import open_bags
from fusion.store.sink import FrameSink
from fusion.store.writer import StoreWriter


def _bag_bytes(paths: Sequence[Path]) -> int:
    total = 0
    for p in paths:
        if p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        elif p.exists():
            total += p.stat().st_size
    return total


def fingerprint(paths: Sequence[Path], cfg: ConvertConfig) -> str:
    """Identity of a conversion's inputs: bag names and sizes, and the config."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(str(_bag_bytes([p])).encode())
    h.update(json.dumps(cfg.to_dict(), sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def _open_writer(
    out: str, fp: str, overwrite: bool, resume: bool, storage_options: dict[str, Any] | None
) -> StoreWriter:
    from fusion.store import StoreWriter

    if resume:
        from fusion.store.dataset import store_status

        status = store_status(out, storage_options=storage_options)
        if status.exists and status.complete and status.input_fingerprint == fp:
            raise StoreError(f"{out}: already complete for these inputs; nothing to resume")
        if status.exists and status.input_fingerprint not in (None, fp):
            raise StoreError(
                f"{out}: was started from other inputs or another config; "
                "use --overwrite to replace it or choose another output"
            )
        overwrite = True
    try:
        return StoreWriter.create(out, overwrite=overwrite, input_fingerprint=fp, storage_options=storage_options)
    except OSError as exc:
        raise StoreError(f"cannot create the store at {out}: {exc.strerror or exc}; choose another output") from None


#: errno values of a write that failed for lack of room (the store is removed, one error line).
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _interrupted(exc: BaseException) -> bool:
    """Whether a conversion stopped because it was interrupted (kept for ``--resume``), not failed."""
    return isinstance(exc, (KeyboardInterrupt, SystemExit))


def _discard(writer: StoreWriter) -> None:
    """Remove the store a failed conversion created (the original error is what matters).

    Retried a few times: a write that was in flight when the conversion failed (a full disk fails
    several at once) can land while the folder is being removed ("Directory not empty")."""
    for attempt in range(5):
        try:
            loc = writer.location
            loc.remove()
            if not (loc.path.exists() if loc.kind == "local" else loc.exists()):
                return
        except Exception:  # the conversion's own error is reported, not this one
            pass
        time.sleep(0.05 * (attempt + 1))


def _open_spool(cfg: ConvertConfig) -> Spool | None:
    """The spool of this conversion (None when ``store.spool`` is off)."""
    st = cfg.store
    if not st.spool:
        return None
    folder = cfg.resolve(st.spool_dir)
    max_bytes = None if st.spool_max_gb is None else int(st.spool_max_gb * 1e9)
    return Spool(str(folder) if folder is not None else None, max_bytes, int(st.spool_memory_mb * (1 << 20)))


def _report_spool(spool: Spool | None, report: ReportBuilder) -> None:
    if spool is None:
        report.extra["spool"] = {"used": False, "reason": "store.spool is off"}
        return
    if spool.abandoned:
        report.warn(f"spool abandoned ({spool.abandoned}); LiDAR/radar were read from the bag again")
    report.extra["spool"] = {
        "used": not spool.abandoned,
        "reason": spool.abandoned,
        "records": spool.records,
        "bytes": spool.nbytes,
        "memory_bytes": spool.memory_nbytes,
    }


def _report_packets(source: Any, report: ReportBuilder) -> None:
    """Raw LiDAR packet topics: decoder counters (empty returns, bad packets, ...) in the report."""
    packets = getattr(getattr(source, "decoder", None), "packets_seen", None)
    summary = packets.summary() if packets is not None else {}
    if summary:
        report.extra["lidar_packets"] = summary
    for topic, s in summary.items():
        lp = s.get("last_partial_sweep")
        if lp and not lp.get("stored"):
            report.warn(f"{topic}: the log ends mid-rotation and its last message also completed a full one: the "
                        f"last partial sweep ({lp['points']} points, {lp['span_ms']} ms) has no message of its own "
                        "and is not stored (report.lidar_packets: partial_sweep)")


def convert(
    bags: Sequence[str | Path],
    out: str,
    cfg: ConvertConfig,
    *,
    overwrite: bool = False,
    resume: bool = False,
    storage_options: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    sink: FrameSink | None = None,
    split: SplitSpec | None = None,
    say: Callable[[str], None] | None = None,
) -> ConvertResult:
    """Convert one log (one or several bag files read as one) into a store.

    Args:
        bags: Bag files or bag directories forming one log.
        out: Store URL (local dir, ``.zip``, ``s3://...``).
        cfg: Conversion config.
        overwrite: Replace an existing store.
        resume: Finish an interrupted conversion of the same inputs (redone cleanly).
        storage_options: fsspec options for remote stores.
        progress: Called with (bytes read, bytes to read) over both passes (the total grows
            once pass 1 knows what pass 2 reads).
        sink: Write into this :class:`~fusion.store.sink.FrameSink` instead of a store at ``out``
            (e.g. a :class:`~fusion.store.memory.MemorySink`; ``out`` then only names the result).
        split: Run pass 2 in parts by time (:mod:`fusion.pipeline.split`); the store is the same.
        say: Called with a line per part of a split conversion (which parts ran, where).

    Returns:
        The :class:`ConvertResult` summary.
    """
    t0, cpu0 = time.perf_counter(), time.process_time()
    paths = [Path(b) for b in bags]
    report = ReportBuilder()
    report.config = cfg.to_dict()
    total_bytes = _bag_bytes(paths)
    report.inputs = [{"path": str(p), "bytes": _bag_bytes([p])} for p in paths]
    msg_dirs = [cfg.resolve(d) for d in cfg.msg_dirs]
    with serial_kernels(), open_bags(paths, msg_dirs=[d for d in msg_dirs if d is not None]) as source:
        selected = select_sensors(source, cfg, report)
        check_reference(cfg, selected)
        check_rig_file(cfg)
        fp = fingerprint(paths, cfg)
        if split is not None and (why := stateful_topics(source, selected)) is not None:
            split, report.extra["split"] = None, {"parts": 1, "reason": why}
            if say is not None:
                say(f"not split: {why}")
        writer = sink if sink is not None else _open_writer(out, fp, overwrite, resume, storage_options)
        spool = _open_spool(cfg) if split is None else None  # a split's parts read the bag
        try:
            done, total = 0, total_bytes

            def tick(n: int) -> None:
                nonlocal done
                done += n
                if progress is not None:
                    progress(done, total)

            early = EarlyStreams(source, selected, writer)  # a split too: the driver writes the store
            first = scan(source, selected, report, early=early, tick=tick, spool=spool)
            if spool is not None:
                spool.finish()
            rig = resolve_rig(first, selected, cfg, report)
            plan = make_plan(first, selected, rig, cfg, report, read_topic=lambda topic: (
                source.decode(raw, options=selected.decode_options) for raw in source.messages([topic])))
            prewritten = early.settle(plan.tables, report, first.truncated)
            ex = StreamPass(source, selected, rig, cfg, plan, writer, report, prewritten=prewritten)
            ex.open_streams()
            total = done + sum(first.topic_bytes.get(t.topic, 0) for t in ex.pass2_tables().values())
            why = ("the bag is damaged" if first.truncated else "" if ex.pass2_tables()
                   else "no stream is left for pass 2 (cameras are written in pass 1)")
            if split is not None and not why:
                report.extra["split"] = run_split(ex, paths, [str(d) for d in msg_dirs if d is not None], out, split,
                                                  report, say, tick)
            else:
                if split is not None:  # one piece: pass 2 of a damaged bag stops at the damage
                    report.extra["split"] = {"parts": 1, "reason": why}
                    if say is not None:
                        say(f"not split: {why}")
                ex.run(tick, spool=spool, truncated=first.truncated)
            if first.truncated:
                report.skip_rest_unread(first.truncated)
            check_stored(selected, report)
            if spool is not None or split is None:
                _report_spool(spool, report)
            else:
                report.extra["spool"] = {"used": False, "reason": "split conversion (its parts read the bag)"}
            _report_packets(source, report)
            write_tables(writer, rig, plan, ex, report)
            writer.finalize()
        except BaseException as exc:
            writer.abort()
            if sink is None and isinstance(writer, StoreWriter) and not _interrupted(exc):
                _discard(writer)
            if isinstance(exc, OSError) and exc.errno in _FULL:
                raise StoreError(f"{out}: cannot write the store: {exc.strerror or exc} (the disk or quota is "
                                 f"full); nothing was kept; free space or choose another output") from exc
            raise
        finally:
            if spool is not None:
                spool.close()
    fr = plan.frames.time_ns
    duration = float(fr[-1] - fr[0]) * 1e-9 if len(fr) > 1 else 0.0
    from dataclasses import asdict

    return ConvertResult(
        store=str(out),
        frames=len(fr),
        counts=report.counts(),
        skipped=report.skipped_count,
        quality=report.sync_quality,
        seconds=time.perf_counter() - t0,
        bag_bytes=total_bytes,
        duration_s=duration,
        warnings=list(report.warnings),
        lidar={k: asdict(v) for k, v in ex.lidar_stats.items()},
        sensors=sensor_summary(selected, rig, plan, report),
        reference=report.reference_choice or str(plan.reference),
        ego=dict(report.extra.get("ego", {})),
        cpu_seconds=time.process_time() - cpu0,
    )
