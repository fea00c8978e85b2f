"""Pose and IMU interpolation for fusion: :mod:`calibration.interpolate`'s, with fusion's error.

The one pose interpolator (tf2 semantics, explicit ``max_gap_ns`` and ``max_extrapolation_ns``,
numba kernel) lives in :mod:`calibration.interpolate`; ``interpolate_poses`` is re-exported
unchanged. :func:`lookup_poses` raises :class:`fusion.errors.ExtrapolationError` (a subclass of
:class:`calibration.errors.ExtrapolationError`, so ``except`` on either catches it).
:func:`interpolate_imu` runs the same kernel on IMU samples.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibration.errors import ExtrapolationError as CalibrationExtrapolationError
from calibration.interpolate import (
    NO_GAP_LIMIT,
    check_rows,
    check_times,
    interpolate_poses,
    interpolate_rows,
    interpolate_vectors,
)
from calibration.interpolate import lookup_poses as _lookup_poses
from fusion.errors import ExtrapolationError

__all__ = ["NO_GAP_LIMIT", "interpolate_imu", "interpolate_poses", "interpolate_vectors", "lookup_poses"]

F64 = NDArray[np.float64]


def lookup_poses(
    times_ns: ArrayLike,
    translations: ArrayLike,
    rotations_xyzw: ArrayLike,
    query_ns: ArrayLike,
    max_gap_ns: int | None = None,
    what: str = "pose trajectory",
) -> tuple[F64, F64]:
    """:func:`calibration.interpolate.lookup_poses` raising fusion's :class:`ExtrapolationError`.

    Returns:
        ``(t (M,3) f64, q (M,4) f64 xyzw)``.

    Raises:
        ExtrapolationError: a query time is outside the samples (or in a gap), naming the
            first such time and the covered range.
    """
    try:
        return _lookup_poses(times_ns, translations, rotations_xyzw, query_ns, max_gap_ns, what)
    except CalibrationExtrapolationError as exc:
        raise ExtrapolationError(str(exc)) from None


def interpolate_imu(
    times_ns: ArrayLike,
    angular_velocity_radps: ArrayLike,
    linear_acceleration_mps2: ArrayLike,
    query_ns: ArrayLike,
    orientation_xyzw: ArrayLike | None = None,
    max_gap_ns: int | None = None,
) -> tuple[F64, F64, F64 | None, NDArray[np.bool_]]:
    """Interpolate IMU samples at query times (no extrapolation, the pose interpolator's gap rule).

    Args:
        times_ns: IMU sample times (N,) int64 ns, strictly increasing.
        angular_velocity_radps: (N, 3) rad/s in the IMU frame.
        linear_acceleration_mps2: (N, 3) specific force, m/s², in the IMU frame.
        query_ns: (M,) int64 ns.
        orientation_xyzw: optional (N, 4) orientation quaternions, x, y, z, w order.
        max_gap_ns: queries inside a longer gap between samples are treated as outside.

    Returns:
        ``(omega (M,3), accel (M,3), orientation (M,4) xyzw or None, inside (M,) bool)``:
        angular velocity and specific force linear, orientation slerped; NaN where not inside.
    """
    t = check_times(times_ns, "imu times_ns")
    n = t.shape[0]
    vec = np.ascontiguousarray(
        np.concatenate(
            [check_rows(angular_velocity_radps, n, 3, "angular_velocity_radps"),
             check_rows(linear_acceleration_mps2, n, 3, "linear_acceleration_mps2")], axis=1
        )
    )  # fmt: skip
    q = np.zeros((0, 4)) if orientation_xyzw is None else check_rows(orientation_xyzw, n, 4, "orientation_xyzw")
    qry = np.ascontiguousarray(query_ns, dtype=np.int64).reshape(-1)
    out_v, out_q, inside = interpolate_rows(t, vec, q, qry, max_gap_ns)
    return out_v[:, :3].copy(), out_v[:, 3:].copy(), (out_q if orientation_xyzw is not None else None), inside
