"""Time-varying transforms: a sampled trajectory ``T_parent_child(t)`` with tf2-style interpolation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibration.errors import ExtrapolationError, TransformError
from calibration.rotation import F64, normalize_quat_xyzw
from calibration.se3 import SE3

I64 = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Poses ``T_parent_child`` sampled at increasing times.

    Attributes:
        times_ns: (N,) int64, strictly increasing, ns on the common clock.
        translations_m: (N, 3) float64, child origin in the parent frame, metres.
        rotations_xyzw: (N, 4) float64 unit quaternions, **x, y, z, w** order.
        parent: parent frame id (e.g. ``odom``).
        child: child frame id (e.g. ``base_link``).

    Interpolation is :func:`calibration.interpolate.interpolate_poses` (the one pose interpolator):
    linear in translation and slerp in rotation, with the hemisphere check (``q`` and ``−q`` mixed
    in the samples interpolate the short way), like tf2.
    """

    times_ns: I64
    translations_m: F64
    rotations_xyzw: F64
    parent: str = "odom"
    child: str = "base_link"

    def __post_init__(self) -> None:
        what = f"Trajectory {self.parent}->{self.child}"
        t = np.asarray(self.times_ns)
        if t.ndim != 1 or t.size == 0:
            raise TransformError(f"{what}: times_ns must be a non-empty 1-D array, got shape {t.shape}")
        if not np.issubdtype(t.dtype, np.integer):
            raise TransformError(f"{what}: times_ns must be int64 nanoseconds, got dtype {t.dtype}")
        t = t.astype(np.int64)
        if t.size > 1 and not np.all(np.diff(t) > 0):
            i = int(np.argmin(np.diff(t)))
            raise TransformError(
                f"{what}: times_ns must be strictly increasing; sample {i + 1} ({t[i + 1]}) "
                f"does not follow sample {i} ({t[i]}); sort and deduplicate the poses"
            )
        n = t.size
        tr = np.asarray(self.translations_m, dtype=np.float64)
        if tr.shape != (n, 3) or not np.all(np.isfinite(tr)):
            raise TransformError(f"{what}: translations_m must be finite with shape ({n}, 3), got {tr.shape}")
        q = np.asarray(self.rotations_xyzw, dtype=np.float64)
        if q.shape != (n, 4):
            raise TransformError(f"{what}: rotations_xyzw must have shape ({n}, 4) (x,y,z,w), got {q.shape}")
        q = normalize_quat_xyzw(q, f"{what}: rotations_xyzw")
        for name, value in (("times_ns", t), ("translations_m", tr), ("rotations_xyzw", q)):
            stored = np.array(value, copy=True)
            stored.flags.writeable = False
            object.__setattr__(self, name, stored)

    def __len__(self) -> int:
        return int(self.times_ns.size)

    @property
    def start_ns(self) -> int:
        """First sample time (ns)."""
        return int(self.times_ns[0])

    @property
    def end_ns(self) -> int:
        """Last sample time (ns)."""
        return int(self.times_ns[-1])

    def interpolate(
        self, times_ns: ArrayLike, allow_extrapolation: bool = False, max_gap_ns: int | None = None
    ) -> tuple[F64, F64]:
        """Poses at query times (vectorized), by :func:`calibration.interpolate.interpolate_poses`.

        Args:
            times_ns: (M,) int64 query times (ns); a scalar is treated as (1,).
            allow_extrapolation: when True, queries outside ``[start_ns, end_ns]`` hold the
                nearest end pose (no extrapolation of motion); when False they raise.
            max_gap_ns: samples further apart than this are a gap a query inside raises for
                (never bridged); None: no gap limit.

        Returns:
            ``(translations_m (M, 3), rotations_xyzw (M, 4))``, quaternions x, y, z, w.

        Raises:
            ExtrapolationError: a query lies outside the sampled range and ``allow_extrapolation``
                is False, or inside a gap (message names the frames and the range).
        """
        from calibration.interpolate import NO_GAP_LIMIT, interpolate_poses  # numba: imported on first use

        q_ns = np.atleast_1d(np.asarray(times_ns)).astype(np.int64)
        t = self.times_ns
        extrapolation_ns = int(NO_GAP_LIMIT) if allow_extrapolation else 0
        trans, rot, inside = interpolate_poses(
            t, self.translations_m, self.rotations_xyzw, q_ns, max_gap_ns, max_extrapolation_ns=extrapolation_ns
        )
        if not inside.all():
            bad = q_ns[~inside]
            gap = f" or inside a gap > {max_gap_ns} ns" if max_gap_ns is not None else ""
            raise ExtrapolationError(
                f"Trajectory {self.parent}->{self.child}: {bad.size} query time(s) outside the sampled range "
                f"[{t[0]}, {t[-1]}] ns{gap} (first offending: {int(bad[0])} ns); pass allow_extrapolation=True "
                "to hold the end poses, or restrict the queries"
            )
        return trans, rot

    def at(self, time_ns: int, allow_extrapolation: bool = False) -> SE3:
        """``T_parent_child`` at one time (ns) as an :class:`SE3`; raises ``ExtrapolationError`` outside."""
        tr, q = self.interpolate(np.array([time_ns], dtype=np.int64), allow_extrapolation)
        return SE3._trusted(q[0], tr[0])
