"""Frame planning records: what a frame is (``FrameSpec``), stream times in, plan out.

A *frame* is one reference time on the common clock plus, per sensor, the index of the
message matched to it. See ``docs/SYNC.md`` for the meaning of every field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusion.frame_flags import FLAG_EGO_GAP_SWEEP, FLAG_EGO_GAP_TIME, FLAG_IMU_GAP
from fusion.sync.reference import POLICIES, REFERENCE_TIMES, FrameReference, Policy, ReferenceKind, ReferenceTime

I64 = NDArray[np.int64]

#: ``FramePlan.flags`` bits: see :mod:`fusion.frame_flags`.


@dataclass(frozen=True)
class FrameSpec:
    """How frames are defined and matched.

    The values come checked from the config layer (:mod:`fusion.pipeline.config`, which names the
    key of a bad value); ``__post_init__`` only guards programmatic use (``ValueError``).

    Attributes:
        reference: the parsed frame reference (``lidar:<sensor>``, ``camera:<sensor>``,
            ``radar:<sensor>`` or ``rate:<hz>``), see :class:`FrameReference`.
        reference_time: for LiDAR streams, which time is the frame time: ``"sweep_start"``,
            ``"sweep_end"`` (needs the stream's sweep arrays) or ``"header"`` (the stamp).
            Non-LiDAR streams always use their (offset-corrected) header stamp.
        tolerances_ns: per sensor max ``|Δt|`` (ns); default half the sensor's median period.
        policy: ``"nearest"`` (per-sensor nearest, see ``matching``) or ``"approximate_time"``
            (ros2 message_filters ApproximateTime over all streams, in stamp order).
        unique: nearest policy: a message is used by at most one frame.
        max_gap_ns: ego / IMU samples further apart than this are a gap (never bridged).
        queue_size: approximate_time policy queue size.
        age_penalty: approximate_time policy age penalty.
        sweep_fraction: per camera, match at ``sweep_start + f·(sweep_end − sweep_start)`` of the
            reference LiDAR (beam-crossing trigger time, see ``beam.beam_crossing_fraction``)
            instead of at the frame time.
    """

    reference: FrameReference
    reference_time: ReferenceTime = "sweep_start"
    tolerances_ns: Mapping[str, int] = field(default_factory=dict)
    policy: Policy = "nearest"
    unique: bool = True
    max_gap_ns: int = 100_000_000
    queue_size: int = 10
    age_penalty: float = 0.1
    sweep_fraction: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ok = (
            isinstance(self.reference, FrameReference)
            and self.reference_time in REFERENCE_TIMES
            and self.policy in POLICIES
            and self.max_gap_ns > 0
            and self.queue_size >= 1
            and all(tol >= 0 for tol in self.tolerances_ns.values())
        )
        if not ok:
            raise ValueError(f"invalid FrameSpec (parse config values with fusion.pipeline.config): {self!r}")

    @property
    def reference_kind(self) -> ReferenceKind:
        """``"lidar"``, ``"camera"``, ``"radar"`` or ``"rate"``."""
        return self.reference.kind

    @property
    def reference_sensor(self) -> str | None:
        """The reference sensor name, or None for a fixed rate."""
        return self.reference.sensor

    @property
    def rate_hz(self) -> float | None:
        """The fixed frame rate (Hz) for ``rate:<hz>``, else None."""
        return self.reference.rate_hz


@dataclass(frozen=True, eq=False)
class StreamTimes:
    """Pass-1 times of one sensor stream, in record order.

    Attributes:
        common_ns: (M,) int64 header stamp + the sensor's clock offset (common clock), ns.
        kind: sensor kind (``camera``, ``lidar``, ``radar``, ``gnss``, ...).
        sweep_start_ns: LiDAR only, (M,) int64 first point time of each sweep (common clock).
        sweep_end_ns: LiDAR only, (M,) int64 last point time of each sweep (common clock).
        stamp_ns: optional (M,) raw header stamps; a zero raw stamp marks an unusable message
            (without it, ``common_ns <= 0`` does).
        record_ns: optional (M,) bag record times; when every stream has them, the
            ``approximate_time`` policy feeds messages in record (arrival) order, like a live node.
    """

    common_ns: I64
    kind: str
    sweep_start_ns: I64 | None = None
    sweep_end_ns: I64 | None = None
    stamp_ns: I64 | None = None
    record_ns: I64 | None = None

    def __post_init__(self) -> None:
        m = np.asarray(self.common_ns).shape
        for name in ("sweep_start_ns", "sweep_end_ns", "stamp_ns", "record_ns"):
            arr = getattr(self, name)
            if arr is not None and np.asarray(arr).shape != m:
                raise ValueError(f"StreamTimes.{name} has shape {np.asarray(arr).shape}, common_ns has {m}")

    def times(self, which: str) -> I64:
        """The stream's times for ``which`` ∈ {header, sweep_start, sweep_end} (LiDAR sweeps only).

        Streams without sweep arrays (not LiDAR, or LiDAR without per-point time) return ``common_ns``.
        """
        if which == "sweep_start" and self.sweep_start_ns is not None:
            return np.asarray(self.sweep_start_ns, dtype=np.int64)
        if which == "sweep_end" and self.sweep_end_ns is not None:
            return np.asarray(self.sweep_end_ns, dtype=np.int64)
        return np.asarray(self.common_ns, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class SensorMatch:
    """Per-sensor match of a plan: ``index`` (F,) into the stream (-1 missing), ``dt_ns`` (F,)
    = matched − target time (0 if missing), ``valid`` (F,) bool, ``tolerance_ns`` used."""

    index: I64
    dt_ns: I64
    valid: NDArray[np.bool_]
    tolerance_ns: int


@dataclass(frozen=True, eq=False)
class FramePlan:
    """The synchronizer's output for one conversion.

    Attributes:
        time_ns: (F,) int64 frame times, common clock, strictly increasing.
        reference_index: (F,) int64 index of the reference message (-1 for ``rate:<hz>``).
        sensors: sensor name → :class:`SensorMatch` (the reference sensor included, Δt = 0).
        imu_range: (F, 2) int64 ``[start, stop)`` into the sorted IMU samples with time in
            (previous frame time, frame time]; frame 0 uses (t0 − (t1 − t0), t0]. None without IMU.
        flags: (F,) uint8 bit set of ``FLAG_*``; flagged frames are never bridged over a gap.
        excluded_reference: reason → (K,) int64 reference message indices not made frames
            (``"zero_stamp"``, ``"duplicate_stamp"``).
        spec: the :class:`FrameSpec` used.
    """

    time_ns: I64
    reference_index: I64
    sensors: dict[str, SensorMatch]
    imu_range: I64 | None
    flags: NDArray[np.uint8]
    excluded_reference: dict[str, I64]
    spec: FrameSpec

    @property
    def n_frames(self) -> int:
        """Number of frames F."""
        return int(self.time_ns.shape[0])

    def quality(self) -> dict[str, Any]:
        """JSON-friendly quality summary.

        Returns:
            ``{"frames": F, "sensors": {name: {"matched", "missing", "missing_frames",
            "abs_dt_ns": {"p50", "p99", "max"}, "tolerance_ns"}}, "flagged_frames": [...],
            "flag_counts": {...}, "excluded_reference": {...}}``; Δt statistics over valid matches
            (None when a sensor never matched).
        """
        sensors: dict[str, Any] = {}
        for name, m in self.sensors.items():
            ad = np.abs(m.dt_ns[m.valid])
            stats = (
                {"p50": int(np.percentile(ad, 50)), "p99": int(np.percentile(ad, 99)), "max": int(ad.max())}
                if ad.size
                else {"p50": None, "p99": None, "max": None}
            )
            missing = np.flatnonzero(~m.valid)
            sensors[name] = {
                "matched": int(m.valid.sum()),
                "missing": int(missing.size),
                "missing_frames": missing.tolist(),
                "abs_dt_ns": stats,
                "tolerance_ns": int(m.tolerance_ns),
            }
        flagged = np.flatnonzero(self.flags)
        return {
            "frames": self.n_frames,
            "sensors": sensors,
            "flagged_frames": flagged.tolist(),
            "flag_counts": {
                "ego_gap_time": int(np.count_nonzero(self.flags & FLAG_EGO_GAP_TIME)),
                "ego_gap_sweep": int(np.count_nonzero(self.flags & FLAG_EGO_GAP_SWEEP)),
                "imu_gap": int(np.count_nonzero(self.flags & FLAG_IMU_GAP)),
            },
            "excluded_reference": {k: v.tolist() for k, v in self.excluded_reference.items()},
        }
