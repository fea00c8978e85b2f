"""Benchmark stages. Each runs in its own subprocess (``python -m fusion.bench.stages``) so its
peak RSS is its own; each repeats its work and reports every wall time.

Stages (results and reading guide: README.md, section Performance):
  raw      (a)  rosbags raw iteration over the bag (bytes only)
  decode   (b)  fusion read + decode of every sensor message
  sync     (c)  pass-1 plan + deskew of every LiDAR sweep + radar compensation (decoded data in memory)
  write    (d)  Zarr write of the converted store's arrays with the same codecs and shards
  write_direct (d2) the same arrays through fusion's shard encoder (the converter's write path)
  convert  (e)  end-to-end ``fusion convert``
  read     (f)  dataset reads: random frames with all sensors, and a sequential scan
  read_loaders  the sequential read over 1, 2, ... DataLoader-like worker processes
  export        one exporter on one store (``fusion bench --stage export``, fusion/bench/export.py)
  startup       fresh ``fusion`` processes vs a naive converter (fusion/bench/startup.py)
The I/O floor (a2) is raw + the faster of write and write_direct.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fusion.bench.runner import warm_page_cache
from fusion.bench.startup import stage_startup


def _times(fn: Callable[[], dict[str, Any]], repeats: int) -> dict[str, Any]:
    seconds = []
    info: dict[str, Any] = {}
    for _ in range(repeats):
        t0 = time.perf_counter()
        info = fn()
        seconds.append(time.perf_counter() - t0)
    return {"seconds": seconds, **info}


def stage_raw(bag: str, repeats: int, **_: Any) -> dict[str, Any]:
    from rosbags.highlevel import AnyReader

    def run() -> dict[str, Any]:
        n = nbytes = 0
        with AnyReader([Path(bag)]) as reader:
            for _conn, _t, raw in reader.messages():
                n += 1
                nbytes += len(raw)
        return {"messages": n, "payload_bytes": nbytes}

    return _times(run, repeats)


def stage_decode(bag: str, repeats: int, **_: Any) -> dict[str, Any]:
    from fusion.pipeline.config import ConvertConfig
    from fusion.pipeline.report import ReportBuilder
    from fusion.pipeline.sensors import select_sensors
    from fusion.readers import open_bags
    from fusion.readers.records import PointCloud

    def run() -> dict[str, Any]:
        n = points = 0
        with open_bags([bag]) as src:
            sel = select_sensors(src, ConvertConfig(), ReportBuilder())
            for raw in src.messages(sel.topics):
                rec = src.decode(raw, options=sel.decode_options)
                n += 1
                if isinstance(rec, PointCloud):
                    points += len(rec.xyz)
        return {"messages": n, "points": points}

    return _times(run, repeats)


def stage_sync(bag: str, repeats: int, rig: str | None = None, **_: Any) -> dict[str, Any]:
    from fusion.pipeline.config import ConvertConfig
    from fusion.pipeline.plan import make_plan
    from fusion.pipeline.report import ReportBuilder
    from fusion.pipeline.rigs import resolve_rig
    from fusion.pipeline.scan import scan
    from fusion.pipeline.sensors import select_sensors
    from fusion.readers import open_bags
    from fusion.readers.records import PointCloud
    from fusion.sync import deskew_points

    cfg = ConvertConfig(rig=rig)
    with open_bags([bag]) as src:
        report = ReportBuilder()
        sel = select_sensors(src, cfg, report)
        first = scan(src, sel, report)
        the_rig = resolve_rig(first, sel, cfg, report)
        clouds = []
        for raw in src.messages([s.topic for s in sel.sensors.values() if s.kind == "lidar"]):
            rec = src.decode(raw, options=sel.decode_options)
            if isinstance(rec, PointCloud) and rec.point_time_ns is not None:
                clouds.append((sel.name_of_topic(raw.topic), rec.xyz, rec.point_time_ns))

    def run() -> dict[str, Any]:
        plan = make_plan(first, sel, the_rig, cfg, ReportBuilder())
        ego = plan.ego
        points = 0
        for name, xyz, pt in clouds:
            T = the_rig.sensor(name).T_base_sensor.matrix
            ref = int(pt.min())
            if ego.times_ns[0] <= pt.min() and pt.max() <= ego.times_ns[-1]:
                deskew_points(xyz, pt, ego.times_ns, ego.translation_m, ego.rotation_xyzw, T, ref)
            points += len(xyz)
        return {"frames": len(plan.frames.time_ns), "points": points}

    return _times(run, repeats)


def _store_arrays(store: str) -> list[tuple[str, Any, np.ndarray]]:
    """Every array of a store: (path, array, data)."""
    import zarr

    src = zarr.open_group(store, mode="r")
    arrays: list[tuple[str, Any, np.ndarray]] = []

    def collect(group: Any, prefix: str) -> None:
        for name, arr in group.arrays():
            arrays.append((prefix + name, arr, arr[...]))
        for name, sub in group.groups():
            collect(sub, prefix + name + "/")

    collect(src, "")
    return arrays


def _write_arrays(store: str, repeats: int, scratch: str, direct: bool) -> dict[str, Any]:
    import shutil

    import zarr

    from fusion.store.buffers import ColumnBuffer
    from fusion.store.create import WRITE_CONFIG

    arrays = _store_arrays(store)
    total = sum(a.nbytes for _, _, a in arrays)

    def run() -> dict[str, Any]:
        shutil.rmtree(scratch, ignore_errors=True)
        root = zarr.open_group(scratch, mode="w", zarr_format=3)
        buffers = []
        for path, meta, data in arrays:
            dst = root.create_array(
                path,
                shape=data.shape,
                dtype=data.dtype,
                chunks=meta.chunks,
                shards=meta.shards,
                compressors=meta.compressors,
                filters=meta.filters,
                fill_value=meta.fill_value,
                config=WRITE_CONFIG,
            )
            if direct and dst.shards is not None:
                buf = ColumnBuffer(dst, path)
                buf.append(data)
                buffers.append(buf)
            else:
                dst[...] = data
        for buf in buffers:
            buf.finalize()
        return {"array_bytes": int(total)}

    return _times(run, repeats)


def stage_write(store: str, repeats: int, scratch: str, **_: Any) -> dict[str, Any]:
    """(d) The converted store's arrays written again through zarr's API (whole arrays)."""
    return _write_arrays(store, repeats, scratch, direct=False)


def stage_write_direct(store: str, repeats: int, scratch: str, **_: Any) -> dict[str, Any]:
    """(d2) The same arrays written by fusion's shard encoder (the converter's write path)."""
    return _write_arrays(store, repeats, scratch, direct=True)


def stage_convert(
    bag: str, repeats: int, scratch: str, rig: str | None = None, warmup: bool = False,
    spool_memory_mb: float | None = None, **_: Any
) -> dict[str, Any]:
    """(e) ``convert`` timed ``repeats`` times; with ``warmup``, after one untimed first conversion
    (its time is returned as ``cold_seconds``); ``spool_memory_mb`` overrides ``store.spool_memory_mb``."""
    from dataclasses import replace

    from fusion.pipeline.config import ConvertConfig
    from fusion.pipeline.convert import convert

    cfg = ConvertConfig(rig=rig)
    if spool_memory_mb is not None:
        cfg = replace(cfg, store=replace(cfg.store, spool_memory_mb=spool_memory_mb))

    def run() -> dict[str, Any]:
        res = convert([bag], scratch, cfg, overwrite=True)
        return {"frames": res.frames, "duration_s": res.duration_s, "bag_bytes": res.bag_bytes}

    cold: list[float] = []
    if warmup:
        t0 = time.perf_counter()
        run()
        cold.append(time.perf_counter() - t0)
    return {**_times(run, repeats), "cold_seconds": cold}


#: Time a simulated training step takes per frame outside Python (the read stage's overlap test), s.
CONSUMER_S = 0.003


def _empty_cache(guard: Any) -> None:
    """Forget the decoded chunks of an opened store (its :class:`~fusion.store.chunkcache.ChunkCache`)."""
    from fusion.store.chunkcache import ChunkCache

    if getattr(guard, "cache", None) is not None:
        guard.cache = ChunkCache(guard.cache.budget)


def stage_read(store: str, repeats: int, **_: Any) -> dict[str, Any]:
    """Random frames and sequential scans with every sensor: fusion vs plain zarr on the same bytes
    (:mod:`fusion.bench.reads`); scans on a freshly opened store, random frames with an empty chunk
    cache each, and the first frame of a freshly opened store apart."""
    import fusion
    from fusion.bench.reads import plain_reader

    warm_page_cache([store])  # the read paths are compared, not the disk

    def read_frame(fr: Any, decode: bool) -> int:
        n = 0
        for lid in fr.lidar.values():
            n += lid.xyz.nbytes + sum(v.nbytes for v in lid.fields.values())
        for rad in fr.radar.values():
            n += rad.xyz.nbytes + sum(v.nbytes for v in rad.fields.values())
        for cam in fr.cameras.values():
            n += cam.image.nbytes if decode or not cam.compressed else len(cam.data)
        if fr.imu is not None:
            n += fr.imu.angular_velocity_radps.nbytes
        return n

    # Random frames as a training loop with a random sampler reads them: the store opened once and
    # its arrays opened by a first read (as plain zarr's are before its timing), every frame then
    # read with no decoded chunk kept from the frames before (the chunk cache emptied each time).
    ds = fusion.open(store)
    read_frame(ds[0].load(), False)
    guard = ds.state.root.store_path.store
    plain = plain_reader(ds)
    plain(0)
    frames = np.random.default_rng(0).integers(0, len(ds), size=max(20, repeats * 10))
    random_ms, random_dec_ms, plain_random_ms = [], [], []
    for i in frames:  # each random frame: fusion, fusion + JPEG decode, plain zarr
        _empty_cache(guard)
        t0 = time.perf_counter()
        read_frame(ds[int(i)].load(), False)  # one batched request for every sensor
        random_ms.append((time.perf_counter() - t0) * 1e3)
        _empty_cache(guard)
        t0 = time.perf_counter()
        read_frame(ds[int(i)], True)
        random_dec_ms.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        plain(int(i))
        plain_random_ms.append((time.perf_counter() - t0) * 1e3)
    first_ms = []
    for i in frames[:5]:  # the first frame of a freshly opened store (arrays opened by this read)
        fresh = fusion.open(store)
        t0 = time.perf_counter()
        read_frame(fresh[int(i)].load(), False)
        first_ms.append((time.perf_counter() - t0) * 1e3)
    seq, seq_iter, plain_seq, busy_loop, busy_iter = [], [], [], [], []
    nbytes = 0
    for _round in range(max(1, repeats)):
        ds = fusion.open(store)
        t0 = time.perf_counter()
        nbytes = sum(read_frame(ds[i].load(), False) for i in range(len(ds)))
        seq.append(time.perf_counter() - t0)
        ds = fusion.open(store)
        t0 = time.perf_counter()
        sum(read_frame(f, False) for f in ds.iter(prefetch=4))
        seq_iter.append(time.perf_counter() - t0)
        plain = plain_reader(fusion.open(store))
        t0 = time.perf_counter()
        sum(plain(i) for i in range(len(ds)))
        plain_seq.append(time.perf_counter() - t0)
        # a consumer that spends CONSUMER_S per frame outside Python (a training step on a GPU):
        # a plain loop adds it to every read, ds.iter's reading thread overlaps it
        ds = fusion.open(store)
        t0 = time.perf_counter()
        for i in range(len(ds)):
            read_frame(ds[i].load(), False)
            time.sleep(CONSUMER_S)
        busy_loop.append(time.perf_counter() - t0)
        ds = fusion.open(store)
        t0 = time.perf_counter()
        for f in ds.iter(prefetch=4):
            read_frame(f, False)
            time.sleep(CONSUMER_S)
        busy_iter.append(time.perf_counter() - t0)
    return {
        "seconds": [float(np.median(seq))],
        "frames": len(ds),
        "bytes": nbytes,
        "random_frame_ms": random_ms,
        "random_frame_decoded_ms": random_dec_ms,
        "first_frame_of_open_ms": first_ms,
        "plain_zarr_random_frame_ms": plain_random_ms,
        "sequential_s": seq,
        "sequential_iter_s": seq_iter,
        "plain_zarr_sequential_s": plain_seq,
        "consumer_ms": CONSUMER_S * 1e3,
        "with_consumer_loop_s": busy_loop,
        "with_consumer_iter_s": busy_iter,
    }


def stage_read_loaders(store: str, repeats: int, processes: str = "1,2", **_: Any) -> dict[str, Any]:
    """Frames/s of 1, 2, ... DataLoader-like worker processes (:func:`fusion.bench.reads.loader_scaling`),
    interleaved ``repeats`` times."""
    from fusion.bench.reads import loader_scaling

    counts = [int(c) for c in processes.split(",")]
    runs = [loader_scaling(store, n) for _ in range(max(1, repeats)) for n in counts]
    best = {n: float(np.median([r["frames_per_s"] for r in runs if r["processes"] == n])) for n in counts}
    return {"seconds": [r["seconds"] for r in runs], "runs": runs, "frames_per_s": {str(k): v for k, v in best.items()}}


def stage_export(**kwargs: Any) -> dict[str, Any]:
    """One exporter on one store (:func:`fusion.bench.export.stage_export`)."""
    from fusion.bench.export import stage_export as run

    return run(**kwargs)


STAGES: dict[str, Callable[..., dict[str, Any]]] = {
    "raw": stage_raw,
    "decode": stage_decode,
    "sync": stage_sync,
    "write": stage_write,
    "write_direct": stage_write_direct,
    "convert": stage_convert,
    "read": stage_read,
    "read_loaders": stage_read_loaders,
    "export": stage_export,
    "startup": stage_startup,
}


def _vm_hwm_mb() -> float | None:
    """This process's peak RSS since its exec (Linux ``VmHWM``), MiB; None where /proc has none.

    Unlike ``ru_maxrss``, which a child created by fork keeps from its parent's pages, the high-water
    mark belongs to the memory map that exec made: the stage's own peak, sampled or not.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> None:
    """``python -m fusion.bench.stages NAME JSON_KWARGS``: run one stage, print one JSON line."""
    name, kwargs = sys.argv[1], json.loads(sys.argv[2])
    out = STAGES[name](**kwargs)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    hwm = _vm_hwm_mb()
    if hwm is not None:
        out["vm_hwm_mb"] = hwm
    print("BENCH_RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
