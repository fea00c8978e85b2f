"""Frame planning with the ``approximate_time`` policy (ros2 message_filters semantics).

All streams take part; messages are fed to :class:`ApproximateTimeSynchronizer` in record
(arrival) order when every stream has ``record_ns`` (ties: stamp, then stream order), else in
common-clock stamp order (ties: stream order, the reference stream first). Each published set
is a frame whose time is its reference message's time. A sensor's ``valid`` is True for every
set unless ``FrameSpec.tolerances_ns`` gives it a tolerance, then ``|Δt| ≤ tolerance``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from fusion.errors import ConfigError, SyncError
from fusion.sync.approximate_time import approximate_time_sets
from fusion.sync.frames import FrameSpec, SensorMatch, StreamTimes
from fusion.sync.stamps import REASON_DUPLICATE, REASON_ZERO_STAMP

#: Excluded-reference reason of a reference message in no matched set.
REASON_UNMATCHED = "unmatched"

I64 = NDArray[np.int64]
NO_TOLERANCE = -1


def approximate_frames(
    spec: FrameSpec, streams: Mapping[str, StreamTimes]
) -> tuple[I64, I64, dict[str, SensorMatch], dict[str, I64]]:
    """Frames from ApproximateTime sets.

    Returns:
        ``(time_ns (F,), reference_index (F,), sensors, excluded_reference)`` as in ``FramePlan``;
        excluded reasons: ``zero_stamp``, ``duplicate_stamp``, ``unmatched`` (in no set).
    """
    ref = spec.reference_sensor
    if ref is None:
        raise ConfigError("frames.policy = 'approximate_time' needs a sensor reference, not 'rate:<hz>'")
    if ref not in streams:
        raise SyncError(f"reference sensor {ref!r} has no stream (known: {sorted(streams)})")
    if len(streams) < 2:
        raise SyncError("frames.policy = 'approximate_time' needs at least two streams")
    names = [ref] + [n for n in streams if n != ref]
    topics, stamps, local, records = [], [], [], []
    use_record = all(streams[n].record_ns is not None for n in names)
    zero_ref = np.zeros(0, np.int64)
    for k, name in enumerate(names):
        s = streams[name]
        t = s.times(spec.reference_time)
        raw = np.asarray(s.stamp_ns if s.stamp_ns is not None else s.common_ns)
        ok = np.flatnonzero(raw > 0)
        if k == 0:
            zero_ref = np.flatnonzero(raw <= 0).astype(np.int64)
        topics.append(np.full(ok.size, k, np.int64))
        stamps.append(t[ok])
        local.append(ok.astype(np.int64))
        if use_record:
            records.append(np.asarray(s.record_ns, np.int64)[ok])
    tp = np.concatenate(topics)
    st = np.concatenate(stamps)
    li = np.concatenate(local)
    order = np.lexsort((tp, st, np.concatenate(records))) if use_record else np.lexsort((tp, st))
    sets = approximate_time_sets(tp[order], st[order], len(names), spec.queue_size, age_penalty=spec.age_penalty)
    pos = order[sets] if sets.size else np.zeros((0, len(names)), np.int64)
    ref_t = st[pos[:, 0]] if pos.size else np.zeros(0, np.int64)
    srt = np.argsort(ref_t, kind="stable")
    pos, ref_t = pos[srt], ref_t[srt]
    first = np.ones(ref_t.size, dtype=bool)
    first[1:] = ref_t[1:] != ref_t[:-1]
    dup = li[pos[~first, 0]]
    pos, ref_t = pos[first], ref_t[first]
    ref_idx = li[pos[:, 0]] if pos.size else np.zeros(0, np.int64)
    F = ref_t.size
    sensors: dict[str, SensorMatch] = {}
    for k, name in enumerate(names):
        idx = li[pos[:, k]] if F else np.zeros(0, np.int64)
        dt = st[pos[:, k]] - ref_t if F else np.zeros(0, np.int64)
        tol = spec.tolerances_ns.get(name)
        valid = np.ones(F, bool) if tol is None or k == 0 else np.abs(dt) <= tol
        sensors[name] = SensorMatch(
            idx.astype(np.int64), np.where(valid, dt, 0).astype(np.int64), valid,
            NO_TOLERANCE if tol is None else int(tol),
        )  # fmt: skip
        if k:
            sensors[name].index[~valid] = -1
    n_ref = streams[ref].common_ns.shape[0]
    in_set = np.zeros(n_ref, bool)
    in_set[ref_idx] = True
    in_set[dup] = True
    in_set[zero_ref] = True
    excluded = {
        REASON_ZERO_STAMP: zero_ref,
        REASON_DUPLICATE: np.sort(dup).astype(np.int64),
        REASON_UNMATCHED: np.flatnonzero(~in_set).astype(np.int64),
    }
    return ref_t.astype(np.int64), ref_idx.astype(np.int64), sensors, excluded
