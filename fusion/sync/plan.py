"""``plan_frames``: frame times, per-sensor matches, IMU ranges and ego-gap flags (pass 1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusion.errors import ConfigError, SyncError
from fusion.sync.frames import (
    FLAG_EGO_GAP_SWEEP,
    FLAG_EGO_GAP_TIME,
    FLAG_IMU_GAP,
    FramePlan,
    FrameSpec,
    SensorMatch,
    StreamTimes,
)
from fusion.sync.matching import default_tolerance_ns, match_nearest
from fusion.sync.stamps import REASON_DUPLICATE, REASON_ZERO_STAMP

I64 = NDArray[np.int64]


def covered(sample_ns: I64, start_ns: I64, end_ns: I64, max_gap_ns: int) -> NDArray[np.bool_]:
    """Whether each interval ``[start, end]`` is covered by samples spaced ≤ ``max_gap_ns``.

    Args:
        sample_ns: (S,) int64 sorted sample times.
        start_ns, end_ns: (F,) int64 interval bounds (``start == end`` for an instant).
        max_gap_ns: the largest allowed spacing between consecutive samples.

    Returns:
        (F,) bool: a sample ≤ start and a sample ≥ end exist, and no spacing between the
        samples bracketing the interval exceeds ``max_gap_ns``.
    """
    if sample_ns.size == 0:
        return np.zeros(start_ns.shape[0], dtype=bool)
    i0 = np.searchsorted(sample_ns, start_ns, side="right") - 1
    i1 = np.searchsorted(sample_ns, end_ns, side="left")
    ok = (i0 >= 0) & (i1 < sample_ns.size)
    big = np.concatenate([[0], np.cumsum(np.diff(sample_ns) > max_gap_ns)])
    i0c = np.clip(i0, 0, sample_ns.size - 1)
    i1c = np.clip(i1, 0, sample_ns.size - 1)
    return ok & (big[np.maximum(i1c, i0c)] - big[i0c] == 0)


def _sorted_times(x: ArrayLike | None, what: str) -> I64 | None:
    if x is None:
        return None
    a = np.asarray(x, dtype=np.int64).reshape(-1)
    if a.size > 1 and np.any(np.diff(a) < 0):
        raise SyncError(f"{what} must be sorted (non-decreasing) common-clock times")
    return a


def _span(times: Sequence[I64]) -> tuple[list[int], list[int]]:
    """First and last time of each non-empty array."""
    return [int(np.min(t)) for t in times if t.size], [int(np.max(t)) for t in times if t.size]


def _reference_frames(spec: FrameSpec, streams: Mapping[str, StreamTimes],
                      continuous: Sequence[I64] = ()) -> tuple[I64, I64, dict[str, I64]]:
    """Frame times, reference indices and excluded reference messages.

    A rate reference spans the intersection of the frame-matched streams; with none, that of
    the ``continuous`` streams (IMU, GNSS, ego), or their union when they do not overlap.
    """
    name = spec.reference_sensor
    if name is None:
        hz = spec.rate_hz or 1.0
        if not streams and not any(t.size for t in continuous):
            raise SyncError("frames.reference = rate: needs at least one sensor stream to span")
        firsts, lasts = _span([s.common_ns for s in streams.values()])
        if not streams:
            firsts, lasts = _span(continuous)
            if firsts and max(firsts) > min(lasts):  # no common span: the union
                firsts, lasts = [min(firsts)], [max(lasts)]
        if not firsts:
            raise SyncError("frames.reference = rate: every stream is empty")
        step = round(1e9 / hz)
        t0, t1 = max(firsts), min(lasts)
        times = np.arange(t0, t1 + 1, step, dtype=np.int64) if t1 >= t0 else np.zeros(0, np.int64)
        return times, np.full(times.size, -1, np.int64), {}
    if name not in streams:
        raise SyncError(f"reference sensor {name!r} has no stream (known: {sorted(streams)})")
    s = streams[name]
    if spec.reference_kind == "lidar" and spec.reference_time != "header":
        arr = s.sweep_start_ns if spec.reference_time == "sweep_start" else s.sweep_end_ns
        if arr is None:
            raise ConfigError(
                f"frames.reference_time = {spec.reference_time!r} but LiDAR {name!r} has no "
                f"{spec.reference_time}_ns; give the sweep times or use reference_time='header'"
            )
    t = s.times(spec.reference_time)
    raw = s.stamp_ns if s.stamp_ns is not None else s.common_ns
    zero = np.flatnonzero(np.asarray(raw) <= 0)
    usable = np.flatnonzero(np.asarray(raw) > 0)
    order = usable[np.argsort(t[usable], kind="stable")]
    ts = t[order]
    first = np.ones(ts.size, dtype=bool)
    first[1:] = ts[1:] != ts[:-1]
    excluded = {REASON_ZERO_STAMP: zero.astype(np.int64), REASON_DUPLICATE: np.sort(order[~first]).astype(np.int64)}
    return ts[first], order[first].astype(np.int64), excluded


def _targets(spec: FrameSpec, name: str, s: StreamTimes, time_ns: I64, ref_idx: I64,
             streams: Mapping[str, StreamTimes]) -> I64:  # fmt: skip
    """Target time per frame for sensor ``name`` (beam crossing for cameras when configured)."""
    f = spec.sweep_fraction.get(name)
    if f is None:
        return time_ns
    ref = spec.reference_sensor
    rs = streams.get(ref) if ref is not None else None
    if spec.reference_kind != "lidar" or rs is None or rs.sweep_start_ns is None or rs.sweep_end_ns is None:
        raise ConfigError(f"frames.sweep_fraction.{name}: needs a LiDAR reference with sweep_start_ns and sweep_end_ns")
    start = np.asarray(rs.sweep_start_ns, np.int64)[ref_idx]
    dur = np.asarray(rs.sweep_end_ns, np.int64)[ref_idx] - start
    return start + np.round(float(f) * dur).astype(np.int64)


def plan_frames(
    spec: FrameSpec,
    streams: Mapping[str, StreamTimes],
    ego_times_ns: ArrayLike,
    imu_times_ns: ArrayLike | None = None,
    continuous_times_ns: Sequence[ArrayLike] = (),
) -> FramePlan:
    """Plan every frame: reference times, per-sensor matches, IMU ranges and gap flags.

    Args:
        spec: the frame definition.
        streams: sensor name → its pass-1 times (common clock). The reference sensor must be here.
        ego_times_ns: (E,) int64 sorted ego (odometry) sample times, common clock.
        imu_times_ns: optional (I,) int64 sorted IMU sample times, common clock.
        continuous_times_ns: other continuous streams' times (GNSS, further IMUs), common clock:
            with the ego and IMU times they are what a rate reference spans when no frame-matched
            stream is given.

    Returns:
        A :class:`FramePlan` (frames sorted, strictly increasing; see its docstring).

    Raises:
        SyncError: no reference stream, unsorted ego/IMU times.
        ConfigError: the spec asks for data a stream lacks (e.g. sweep times).
    """
    ego = _sorted_times(ego_times_ns, "ego_times_ns")
    assert ego is not None
    imu = _sorted_times(imu_times_ns, "imu_times_ns")
    if spec.policy == "approximate_time":
        from fusion.sync.plan_approx import approximate_frames

        time_ns, ref_idx, sensors, excluded = approximate_frames(spec, streams)
    else:
        spans = [ego, *([imu] if imu is not None else []),
                 *(np.asarray(t, dtype=np.int64).reshape(-1) for t in continuous_times_ns)]
        time_ns, ref_idx, excluded = _reference_frames(spec, streams, spans)
        sensors = {}
        for name, s in streams.items():
            if name == spec.reference_sensor:
                F = time_ns.size
                sensors[name] = SensorMatch(ref_idx.copy(), np.zeros(F, np.int64), np.ones(F, bool), 0)
                continue
            msg = s.times(spec.reference_time)
            tol = spec.tolerances_ns.get(name)
            if tol is None:
                tol = default_tolerance_ns(msg) if np.unique(msg).size >= 2 else 0
            target = _targets(spec, name, s, time_ns, ref_idx, streams)
            idx, dt = match_nearest(target, msg, tol, unique=spec.unique)
            sensors[name] = SensorMatch(idx, dt, idx >= 0, int(tol))
    F = time_ns.size
    flags = np.zeros(F, dtype=np.uint8)
    flags[~covered(ego, time_ns, time_ns, spec.max_gap_ns)] |= FLAG_EGO_GAP_TIME
    for name, s in streams.items():
        if s.sweep_start_ns is None or s.sweep_end_ns is None:
            continue
        m = sensors[name]
        rows = np.flatnonzero(m.valid)
        if rows.size == 0:
            continue
        j = m.index[rows]
        lo = np.minimum(np.asarray(s.sweep_start_ns, np.int64)[j], np.asarray(s.sweep_end_ns, np.int64)[j])
        hi = np.maximum(np.asarray(s.sweep_start_ns, np.int64)[j], np.asarray(s.sweep_end_ns, np.int64)[j])
        bad = rows[~covered(ego, lo, hi, spec.max_gap_ns)]
        flags[bad] |= FLAG_EGO_GAP_SWEEP
    imu_range = None
    if imu is not None:
        prev = np.empty(F, dtype=np.int64)
        if F:
            prev[1:] = time_ns[:-1]
            prev[0] = time_ns[0] - (time_ns[1] - time_ns[0] if F > 1 else spec.max_gap_ns)
        imu_range = np.stack(
            [np.searchsorted(imu, prev, side="right"), np.searchsorted(imu, time_ns, side="right")], axis=1
        ).astype(np.int64)
        flags[~covered(imu, time_ns, time_ns, spec.max_gap_ns)] |= FLAG_IMU_GAP
    return FramePlan(time_ns, ref_idx, sensors, imu_range, flags, excluded, spec)
