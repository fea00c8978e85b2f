"""The reader's ego-pose lookup: ``T_world_base`` matrices from a store's ``ego/`` arrays.

Store-specific glue only: the interpolation is :func:`calibration.interpolate.interpolate_poses`
(the one pose interpolator) and the matrix algebra is :mod:`calibration.se3`'s. The reader's
extrapolation policy is explicit: callers pass ``max_extrapolation_ns`` (the reader passes
:data:`READER_MAX_EXTRAPOLATION_NS`), within which the end pose is moved by the end sample's stored
constant twist (``linear_velocity_mps``, ``angular_velocity_radps``, base frame). Quaternions are
x, y, z, w.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibration.se3 import pose_matrix
from fusion.errors import StoreError

F64 = NDArray[np.float64]

#: How far outside the ego trajectory the reader extrapolates a pose (constant twist), ns: a radar
#: message just before the first odometry sample still gets its motion correction.
READER_MAX_EXTRAPOLATION_NS = 100_000_000


def ego_poses(
    ego: dict[str, np.ndarray], query_ns: ArrayLike, *, max_extrapolation_ns: int, max_gap_ns: int | None = None
) -> F64:
    """``T_world_base`` (M, 4, 4) at query times (M,) int64 ns from the stored ego arrays.

    Args:
        ego: the store's ``ego/`` arrays (``time_ns`` (K,), ``translation_m`` (K, 3),
            ``rotation_xyzw`` (K, 4) x, y, z, w, ``linear_velocity_mps`` and
            ``angular_velocity_radps`` (K, 3) in the base frame).
        query_ns: (M,) int64 ns.
        max_extrapolation_ns: queries up to this far outside the trajectory get the end pose moved by
            the end sample's constant twist (0: none).
        max_gap_ns: samples further apart are a gap (never bridged); None: no gap limit.

    Raises:
        StoreError: a query is not covered (naming the trajectory span and the time).
    """
    q_ns = np.atleast_1d(np.asarray(query_ns, dtype=np.int64))
    t = ego["time_ns"]
    if t.size:
        from calibration.interpolate import interpolate_poses  # numba: imported when a pose is interpolated

        trans, rot, inside = interpolate_poses(
            t, ego["translation_m"], ego["rotation_xyzw"], q_ns, max_gap_ns,
            max_extrapolation_ns=max_extrapolation_ns,
            twist=(ego["linear_velocity_mps"], ego["angular_velocity_radps"]),
        )  # fmt: skip
        if inside.all():
            return pose_matrix(trans, rot)
        bad = int(q_ns[np.flatnonzero(~inside)[0]])
    else:
        bad = int(q_ns[0]) if q_ns.size else 0
    span = f"[{t[0]}, {t[-1]}]" if t.size else "(empty)"
    gap = f" or has a gap > {max_gap_ns} ns there" if max_gap_ns is not None else ""
    raise StoreError(
        f"ego trajectory {span} does not cover time {bad} ns (nor within "
        f"{max_extrapolation_ns / 1e6:g} ms of it){gap}; cannot motion-compensate"
    )
