"""Message timing and faults: true times, header stamps, record times, fault choice.

Per topic, message ``seq`` (generation order) has a true time; its header stamp is
``true - clock_offset`` (0 for a zero_stamp fault); its record time is
``true + latency`` (for a LiDAR with ``lidar_publish="sweep_end"``: the sweep's true end + latency;
the latency range per sensor from ``sensor_latency_ns``, else ``latency_ns``) with latency
uniform in ``[min, max]`` ns, then sorted within
the topic (FIFO transport: the realized latency stays within [min, max]) and made
strictly increasing with ≥ 2 ns steps. Faults then modify the written rows; the
result is the truth table of every message (written or not) with its record-order
``index`` (-1 when not written).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fusion.errors import ConfigError
from fusion.testing.synth import rig as rigdef
from fusion.testing.synth.config import FAULT_KINDS, SynthConfig

I64 = NDArray[np.int64]
GAP_TOPICS = (rigdef.TOPIC_ODOM, rigdef.TOPIC_IMU, rigdef.TOPIC_TF)
PHASE_NS = {rigdef.TOPIC_CAM_FRONT: 3_000_000, rigdef.TOPIC_CAM_FRONT_INFO: 3_000_000, rigdef.TOPIC_CAM_LEFT: 7_000_000,
            rigdef.TOPIC_CAM_LEFT_INFO: 7_000_000, rigdef.TOPIC_RADAR: 11_000_000, rigdef.TOPIC_IMU: 500_000,
            rigdef.TOPIC_ODOM: 1_000_000, rigdef.TOPIC_TF: 1_000_000, rigdef.TOPIC_WHEEL: 1_500_000,
            rigdef.TOPIC_GNSS: 2_500_000, rigdef.TOPIC_WHEEL_TWIST: 1_500_000}
FAULT_CODE = {name: i for i, name in enumerate(FAULT_KINDS)}


@dataclass(frozen=True)
class TopicTable:
    """Truth rows of one topic (one row per written copy plus one per unwritten message).

    Rows are sorted by (index ≥ 0 in record order first, then unwritten rows by seq).
    Attributes are parallel (R,) arrays: ``seq``, ``index``, ``true_time_ns``,
    ``stamp_ns``, ``record_time_ns``, ``fault`` (int code into ``FAULT_KINDS``).
    """

    topic: str
    seq: I64
    index: I64
    true_time_ns: I64
    stamp_ns: I64
    record_time_ns: I64
    fault: NDArray[np.int8]


def periodic_times(start_ns: int, duration_ns: int, rate_hz: float, phase_ns: int) -> I64:
    """True times ``start + phase + round(k * 1e9 / rate)`` that fall inside the log window."""
    period = 1e9 / rate_hz
    n = int(np.ceil((duration_ns - phase_ns) / period)) + 1
    rel = phase_ns + np.round(np.arange(n) * period).astype(np.int64)
    return np.int64(start_ns) + rel[rel < duration_ns]


def lidar_sweep_starts(cfg: SynthConfig) -> I64:
    """(n,) true start time of each full sweep: ``floor(duration * rate)`` sweeps."""
    n = int(np.floor(cfg.duration_s * cfg.lidar_rate_hz + 1e-9))
    return np.int64(cfg.start_time_ns) + np.round(np.arange(n) * 1e9 / cfg.lidar_rate_hz).astype(np.int64)


def _pick(rng: np.random.Generator, pool: I64, k: int, what: str, topic: str) -> I64:
    if k > pool.size:
        raise ConfigError(f"faults.{what}: {k} requested on {topic} but only {pool.size} messages are eligible")
    return np.sort(rng.choice(pool, k, replace=False)) if k else np.zeros(0, np.int64)


def build_table(cfg: SynthConfig, topic: str, true_ns: I64, rng: np.random.Generator) -> TopicTable:
    """Stamps, record times and faults of one topic's messages (``true_ns`` in seq order)."""
    n = true_ns.size
    f = cfg.faults
    clock = log_clock(cfg)[topic]
    lo, hi = cfg.latency_of(clock)
    base = true_ns
    if topic == rigdef.TOPIC_LIDAR and cfg.lidar_publish == "sweep_end":  # published after its last point
        base = lidar_sweep_starts(cfg)[:n] + np.int64(round(1e9 / cfg.lidar_rate_hz))
    rec = np.sort(base + rng.integers(lo, hi + 1, n, dtype=np.int64))
    steps = 2 * np.arange(n, dtype=np.int64)
    rec = np.maximum.accumulate(rec - steps) + steps if n else rec
    stamp = true_ns - np.int64(cfg.offset_ns(clock))
    fault = np.zeros(n, dtype=np.int8)
    if f.gap is not None and topic in GAP_TOPICS:
        g0 = cfg.start_time_ns + round(f.gap[0] * 1e9)
        g1 = g0 + round(f.gap[1] * 1e9)
        fault[(true_ns >= g0) & (true_ns < g1)] = FAULT_CODE["gap"]
    eligible = topic != rigdef.TOPIC_TF_STATIC and (not f.topics or topic in f.topics)
    dup = np.zeros(0, np.int64)
    if eligible and f.any:
        present = np.flatnonzero(fault == 0)
        drop = _pick(rng, present, round(f.drop_rate * present.size), "drop_rate", topic)
        fault[drop] = FAULT_CODE["drop"]
        remaining = np.flatnonzero(fault == 0)
        used = np.zeros(remaining.size, dtype=bool)
        chosen: list[int] = []
        for pos in rng.permutation(np.arange(1, remaining.size)):
            if len(chosen) == f.out_of_order_count:
                break
            if not used[pos] and not used[pos - 1]:
                used[pos] = used[pos - 1] = True
                chosen.append(int(pos))
        if len(chosen) < f.out_of_order_count:
            raise ConfigError(f"faults.out_of_order_count: too many for {topic} ({remaining.size} messages)")
        for pos in chosen:
            a, b = remaining[pos - 1], remaining[pos]
            rec[a], rec[b] = rec[b], rec[a]
            fault[b] = FAULT_CODE["out_of_order"]
        free = remaining[~used]
        for what, count in (("duplicate_count", f.duplicate_count), ("zero_stamp_count", f.zero_stamp_count),
                            ("corrupt_count", f.corrupt_count)):
            picked = _pick(rng, free, int(count), what, topic)
            free = np.setdiff1d(free, picked)
            if what == "duplicate_count":
                dup = picked
            else:
                fault[picked] = FAULT_CODE["zero_stamp" if what == "zero_stamp_count" else "corrupt"]
        stamp = np.where(fault == FAULT_CODE["zero_stamp"], 0, stamp)
    seq = np.concatenate([np.arange(n, dtype=np.int64), dup])
    row_fault = np.concatenate([fault, np.full(dup.size, FAULT_CODE["duplicate"], np.int8)])
    row_rec = np.concatenate([rec, rec[dup] + 1])
    written = ~np.isin(row_fault, [FAULT_CODE["drop"], FAULT_CODE["gap"]])
    order = np.lexsort((seq, row_rec, ~written))  # written first, by record time
    seq, row_fault, row_rec, written = seq[order], row_fault[order], row_rec[order], written[order]
    index = np.where(written, np.cumsum(written) - 1, -1).astype(np.int64)
    return TopicTable(topic, seq, index, true_ns[seq], stamp[seq], row_rec, row_fault)


def log_topics(cfg: SynthConfig) -> dict[str, str]:
    """Every topic of the log ``cfg`` describes and its type: the base topics (without ``/odom`` and
    ``/tf`` when ``cfg.odometry`` is False), the extra cameras', then wheel odometry and GNSS when
    ``cfg.sensor_noise`` is set."""
    out = rigdef.topic_types(cfg.extra_cameras)
    if not cfg.odometry:
        del out[rigdef.TOPIC_ODOM], out[rigdef.TOPIC_TF]
    if cfg.sensor_noise is not None:
        out.update(rigdef.NOISY_TOPIC_TYPES)
        if cfg.sensor_noise.wheel_message == "twist":  # wheel odometry as a twist (no pose), same slot
            types = {rigdef.TOPIC_WHEEL_TWIST if t == rigdef.TOPIC_WHEEL else t: v for t, v in out.items()}
            types[rigdef.TOPIC_WHEEL_TWIST] = "geometry_msgs/msg/TwistStamped"
            out = types
    return out


def log_clock(cfg: SynthConfig) -> dict[str, str]:
    """Topic -> sensor clock of every topic of :func:`log_topics` (wheel odometry and GNSS: ``odom``)."""
    out = rigdef.topic_clock(cfg.extra_cameras)
    out.update({t: "odom" for t in (*rigdef.NOISY_TOPIC_TYPES, rigdef.TOPIC_WHEEL_TWIST)})
    return out


def topic_true_times(cfg: SynthConfig) -> dict[str, I64]:
    """True time (the instant the header stamp represents) of every message, per topic, seq order."""
    from fusion.testing.synth.lidar import sweep_stamp_true_ns

    dur = round(cfg.duration_s * 1e9)
    t0 = cfg.start_time_ns
    period = round(1e9 / cfg.lidar_rate_hz)
    lidar = np.array([sweep_stamp_true_ns(cfg.lidar_time_convention, int(s), period, cfg.lidar_columns)
                      for s in lidar_sweep_starts(cfg)], dtype=np.int64)
    rates = {rigdef.TOPIC_CAM_FRONT: cfg.cam_front_rate_hz, rigdef.TOPIC_CAM_FRONT_INFO: cfg.cam_front_rate_hz,
             rigdef.TOPIC_CAM_LEFT: cfg.cam_left_rate_hz, rigdef.TOPIC_CAM_LEFT_INFO: cfg.cam_left_rate_hz,
             rigdef.TOPIC_RADAR: cfg.radar_rate_hz, rigdef.TOPIC_IMU: cfg.imu_rate_hz,
             rigdef.TOPIC_ODOM: cfg.odom_rate_hz, rigdef.TOPIC_TF: cfg.odom_rate_hz}
    if cfg.sensor_noise is not None:
        noise = cfg.sensor_noise
        wheel = rigdef.TOPIC_WHEEL_TWIST if noise.wheel_message == "twist" else rigdef.TOPIC_WHEEL
        rates.update({wheel: noise.wheel_rate_hz, rigdef.TOPIC_GNSS: noise.gnss_rate_hz})
    out = {rigdef.TOPIC_TF_STATIC: np.array([t0], dtype=np.int64), rigdef.TOPIC_LIDAR: lidar}
    for topic, rate in rates.items():
        out[topic] = periodic_times(t0, dur, rate, PHASE_NS[topic])
    for cam in rigdef.extra_camera_specs(cfg.extra_cameras):
        out[cam.image_topic] = out[cam.info_topic] = periodic_times(t0, dur, cfg.extra_camera_rate_hz, cam.phase_ns)
    return {topic: out[topic] for topic in log_topics(cfg)}


def build_schedule(cfg: SynthConfig) -> dict[str, TopicTable]:
    """Truth tables of every topic (deterministic by ``cfg.seed``).

    Base topic ``k`` (order of ``rig.TOPIC_TYPES``) draws from ``default_rng([seed, 1000 + k])``;
    extra-camera topic ``j`` (image, info, image, info, ...) from its own stream
    ``default_rng([seed, 5, j])``, so enabling extra cameras leaves every other stream unchanged;
    wheel odometry and GNSS from ``default_rng([seed, 8, j])``.
    """
    topics = log_topics(cfg)
    unknown = sorted(set(cfg.faults.topics) - set(topics))
    if unknown:
        raise ConfigError(f"faults.topics: unknown topic(s) {unknown}; use some of {list(topics)}")
    base = list(rigdef.TOPIC_TYPES)
    extra = [t for c in rigdef.extra_camera_specs(cfg.extra_cameras) for t in (c.image_topic, c.info_topic)]
    noisy = list(rigdef.NOISY_TOPIC_TYPES)
    tables = {}
    for topic, true_ns in topic_true_times(cfg).items():
        if topic in base:
            key = [cfg.seed, 1000 + base.index(topic)]
        elif topic in extra:
            key = [cfg.seed, 5, extra.index(topic)]
        else:
            key = [cfg.seed, 8, 0 if topic == rigdef.TOPIC_WHEEL_TWIST else noisy.index(topic)]
        tables[topic] = build_table(cfg, topic, true_ns, np.random.default_rng(key))
    return tables
