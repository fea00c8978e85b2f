"""Generate a synthetic drive log (ROS 1 .bag, ROS 2 sqlite3 and MCAP) plus its ground truth.

Messages are produced in global record-time order; each message's content is
computed once and serialized per ROS version (ROS 1 for .bag, CDR for db3/mcap),
so all formats carry identical payloads and identical record times.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag1 import Writer as Writer1
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer as Writer2

from fusion.errors import ConfigError
from fusion.testing.synth import rig as rigdef
from fusion.testing.synth.config import FAULT_KINDS, SynthConfig
from fusion.testing.synth.content import ContentSource
from fusion.testing.synth.messages import ROS1, ROS2, corrupt_content, serialize, truncate, typestore
from fusion.testing.synth.schedule import FAULT_CODE, TopicTable, build_schedule, log_topics
from fusion.testing.synth.trajectory import AnalyticTrajectory, TrajectoryParams
from fusion.testing.synth.truth import FORMAT_VERSION, TRUTH_JSON, TRUTH_NPZ
from fusion.testing.synth.truth_io import truth_arrays, write_npz
from fusion.testing.synth.urban import make_structures
from fusion.testing.synth.world import add_follower, make_world

FORMATS: dict[str, str] = {"bag": "synth.bag", "db3": "synth_db3", "mcap": "synth_mcap"}
"""Format name -> path of the bag inside the output folder."""
ROS2_VERSION: Literal[8, 9] = 9


@dataclass(frozen=True)
class SynthOutput:
    """What :func:`generate` wrote.

    Attributes:
        out_dir: output folder. bags: format -> path (.bag file or ROS 2 bag folder).
        truth_path: ``truth.json`` (``truth.npz`` beside it). config: the configuration.
        counts: topic -> messages written per bag. elapsed_s: wall time of generation.
    """

    out_dir: Path
    bags: dict[str, Path]
    truth_path: Path
    config: SynthConfig
    counts: dict[str, int]
    elapsed_s: float


def _qos(topic: str) -> list[Qos]:
    """Offered QoS of a ROS 2 topic: reliable keep-last; /tf_static transient-local (latched)."""
    durable = topic == rigdef.TOPIC_TF_STATIC
    zero = QosTime(0, 0)
    return [Qos(QosHistory.KEEP_LAST, 1 if durable else 10, QosReliability.RELIABLE,
                QosDurability.TRANSIENT_LOCAL if durable else QosDurability.VOLATILE, zero, zero,
                QosLiveliness.AUTOMATIC, zero, False)]


class _Writers:
    """The open bag writers, one connection per topic each."""

    def __init__(self, out_dir: Path, formats: Sequence[str], topic_types: dict[str, str]) -> None:
        self.paths = {f: out_dir / FORMATS[f] for f in formats}
        self.writers: dict[str, Writer1 | Writer2] = {}
        self.conns: dict[str, dict[str, object]] = {}
        for fmt, path in self.paths.items():
            if fmt == "bag":
                w1 = Writer1(path)
                w1.open()
                ts = typestore(ROS1)
                self.conns[fmt] = {t: w1.add_connection(t, m, typestore=ts, latching=int(t == rigdef.TOPIC_TF_STATIC))
                                   for t, m in topic_types.items()}
                self.writers[fmt] = w1
            else:
                plugin = StoragePlugin.SQLITE3 if fmt == "db3" else StoragePlugin.MCAP
                w2 = Writer2(path, version=ROS2_VERSION, storage_plugin=plugin)
                w2.open()
                ts = typestore(ROS2)
                self.conns[fmt] = {t: w2.add_connection(t, m, typestore=ts, offered_qos_profiles=_qos(t))
                                   for t, m in topic_types.items()}
                self.writers[fmt] = w2
        self.versions = sorted({ROS1 if f == "bag" else ROS2 for f in formats})

    def write(self, topic: str, record_ns: int, data: dict[str, bytes]) -> None:
        for fmt, w in self.writers.items():
            w.write(self.conns[fmt][topic], record_ns, data[ROS1 if fmt == "bag" else ROS2])  # type: ignore[arg-type]

    def close(self) -> None:
        for w in self.writers.values():
            w.close()


def _prepare(out_dir: Path, formats: Sequence[str], overwrite: bool) -> None:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ConfigError(f"formats: unknown {unknown or 'none given'}; use some of {list(FORMATS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = [out_dir / FORMATS[f] for f in FORMATS] + [out_dir / TRUTH_JSON, out_dir / TRUTH_NPZ]
    existing = [p for p in targets if p.exists()]
    if existing and not overwrite:
        raise ConfigError(f"{existing[0]} exists; choose an empty folder or pass --overwrite")
    for p in existing:
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def generate(cfg: SynthConfig, out_dir: str | Path, formats: Sequence[str] = ("bag", "db3", "mcap"),
             overwrite: bool = False, progress: Callable[[int, int], None] | None = None) -> SynthOutput:
    """Write the log described by ``cfg`` into ``out_dir`` in ``formats`` plus ``truth.json``/``truth.npz``.

    Args:
        cfg: configuration (deterministic by ``cfg.seed``).
        out_dir: output folder (created). Bags: ``synth.bag``, ``synth_db3/``, ``synth_mcap/``.
        formats: any of ``bag`` (ROS 1), ``db3`` (ROS 2 sqlite3), ``mcap`` (ROS 2 MCAP).
        overwrite: replace existing outputs instead of raising ConfigError.
        progress: called as ``progress(written, total)`` (messages) while the bags are written.

    Returns:
        :class:`SynthOutput`.
    """
    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    formats = tuple(dict.fromkeys(formats))
    _prepare(out_dir, formats, overwrite)
    tables = build_schedule(cfg)
    params = TrajectoryParams.make(cfg.start_time_ns, cfg.speed_mps, cfg.yaw_rate_dps,
                                   np.random.default_rng([cfg.seed, 2]))
    traj = AnalyticTrajectory(params)
    world = make_world(cfg.start_time_ns, cfg.duration_s, cfg.speed_mps, cfg.n_static_boxes, cfg.n_moving_objects,
                       np.random.default_rng([cfg.seed, 1]))
    if cfg.world == "urban":  # buildings and poles (own random stream: the boxes stay as they were)
        world = dataclasses.replace(world, structures=make_structures(
            cfg.speed_mps * cfg.duration_s, np.random.default_rng([cfg.seed, 8])))
    if cfg.extra_cameras >= 2:  # camera_rear: a vehicle following in the ego lane (own random stream)
        world = add_follower(world, cfg.speed_mps, np.random.default_rng([cfg.seed, 6]))
    true_times = {t: _unique_by_seq(tab) for t, tab in tables.items()}
    src = ContentSource(cfg, traj, world, true_times)
    plan = _write_plan(tables)
    writers = _Writers(out_dir, formats, log_topics(cfg))
    pending: dict[tuple[str, int], tuple[dict[str, bytes], int]] = {}
    remaining = {(t, int(s)): int(n) for t, tab in tables.items()
                 for s, n in zip(*np.unique(tab.seq[tab.index >= 0], return_counts=True))}
    step = max(1, len(plan) // 200)
    try:
        for i, (record_ns, topic, seq, fault) in enumerate(plan):
            if progress is not None and i % step == 0:
                progress(i, len(plan))
            key = (topic, seq)
            if key in pending:
                data, left = pending.pop(key)
            else:
                data = _serialize(src, topic, seq, fault, writers.versions)
                left = remaining[key]
            writers.write(topic, record_ns, data)
            if left > 1:
                pending[key] = (data, left - 1)
    finally:
        writers.close()
    if progress is not None:
        progress(len(plan), len(plan))
    for seq in range(len(src.sweep_starts)):  # sweeps/scans never written still get truth
        src.sweep(seq)
    for seq in range(true_times[rigdef.TOPIC_RADAR].size):
        src.radar(seq)
    counts = {t: int(np.count_nonzero(tab.index >= 0)) for t, tab in tables.items()}
    truth_path = _save_truth(out_dir, cfg, params, world, tables, src, counts)
    return SynthOutput(out_dir, dict(writers.paths), truth_path, cfg, counts, time.perf_counter() - t_start)


def _unique_by_seq(tab: TopicTable) -> np.ndarray:
    n = int(tab.seq.max()) + 1 if tab.seq.size else 0
    out = np.zeros(n, dtype=np.int64)
    out[tab.seq] = tab.true_time_ns
    return out


def _write_plan(tables: dict[str, TopicTable]) -> list[tuple[int, str, int, int]]:
    """All written rows as (record_ns, topic, seq, fault code), in record-time order."""
    topics = list(tables)
    rec, tid, seq, fault = [], [], [], []
    for k, t in enumerate(topics):
        tab = tables[t]
        w = tab.index >= 0
        rec.append(tab.record_time_ns[w])
        tid.append(np.full(int(w.sum()), k))
        seq.append(tab.seq[w])
        fault.append(tab.fault[w])
    r, k_, s, f = (np.concatenate(a) for a in (rec, tid, seq, fault))
    order = np.lexsort((s, k_, r))
    return [(int(r[i]), topics[int(k_[i])], int(s[i]), int(f[i])) for i in order]


def _serialize(src: ContentSource, topic: str, seq: int, fault: int, versions: list[str]) -> dict[str, bytes]:
    """Bytes per ROS version of message ``seq`` with its fault applied (duplicates reuse them)."""
    c = src.content(topic, seq)
    if fault == FAULT_CODE["zero_stamp"]:
        c = type(c)(c.msgtype, 0, c.frame_id, c.seq, c.payload)
    if fault == FAULT_CODE["corrupt"]:
        bad = corrupt_content(c)
        if bad is None:
            return {v: truncate(serialize(v, c)) for v in versions}
        c = bad
    return {v: serialize(v, c) for v in versions}


def _save_truth(out_dir: Path, cfg: SynthConfig, params: TrajectoryParams, world: object,
                tables: dict[str, TopicTable], src: ContentSource, counts: dict[str, int]) -> Path:
    write_npz(out_dir / TRUTH_NPZ, truth_arrays(cfg, tables, src))
    meta = {
        "format_version": FORMAT_VERSION,
        "generator": "fusion.testing.synth",
        "config": cfg.to_dict(),
        "rig": rigdef.rig_dict(cfg.image_width, cfg.image_height, dict(cfg.clock_offsets_ns), cfg.extra_cameras),
        "trajectory": params.to_dict(),
        "world": world.to_dict(),  # type: ignore[attr-defined]
        "topics": log_topics(cfg),
        "topic_list": list(tables),
        "fault_kinds": list(FAULT_KINDS),
        "counts": counts,
        "bags": {f: FORMATS[f] for f in FORMATS if (out_dir / FORMATS[f]).exists()},
        "lidar_time_convention": cfg.lidar_time_convention,
        "frames": {"world": rigdef.WORLD_FRAME, "base": rigdef.BASE_FRAME},
    }
    if src.imu_bias is not None:  # the drawn IMU biases (truth of the ego estimator)
        meta["imu_bias"] = {"gyro_radps": src.imu_bias[0].tolist(), "accel_mps2": src.imu_bias[1].tolist()}
    path = out_dir / TRUTH_JSON
    path.write_text(json.dumps(meta, indent=1))
    return path
