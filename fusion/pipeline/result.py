"""What a conversion returns: :class:`ConvertResult` (kept apart from the pipeline so that a
``--dask`` driver receiving results from its workers imports no numba)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ConvertResult:
    """What a conversion produced (also printed by the CLI).

    Attributes:
        store: Store URL.
        frames: Number of frames.
        counts: Stored messages per sensor.
        skipped: Messages not stored (all listed in the report).
        quality: Sync-quality summary.
        seconds: Wall time.
        bag_bytes: Size of the input bags.
        duration_s: Span of the log (first to last frame), s.
        warnings: Report warnings.
        lidar: Deskew statistics per LiDAR.
        sensors: Per sensor: kind, topics, stamp source, clock offset applied (ns), extrinsic
            source (``bag tf`` / ``rig file`` / ``base frame`` / ``identity``), stored, skipped, main skip reason.
        reference: The frame reference and why it was chosen.
        ego: The ego source (``source``, ``choice``, ``inputs``, ``expected_accuracy``, ``notes``).
        cpu_seconds: CPU time of the conversion, every thread of this process (s).
    """

    store: str
    frames: int
    counts: dict[str, int]
    skipped: int
    quality: dict[str, Any]
    seconds: float
    bag_bytes: int
    duration_s: float
    warnings: list[str] = field(default_factory=list)
    lidar: dict[str, dict[str, int]] = field(default_factory=dict)
    sensors: dict[str, dict[str, Any]] = field(default_factory=dict)
    reference: str = ""
    ego: dict[str, Any] = field(default_factory=dict)
    cpu_seconds: float = 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bag_bytes / 1e6 / max(self.seconds, 1e-9)

    @property
    def realtime_factor(self) -> float:
        return self.duration_s / max(self.seconds, 1e-9)
