"""Point transforms between sensor, base_link and world frames."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _apply(T: NDArray[np.float64], xyz: ArrayLike) -> NDArray[np.floating]:
    p = np.asarray(xyz)
    out = np.asarray(p, dtype=np.float64) @ T[:3, :3].T + T[:3, 3]
    return out.astype(np.float32) if p.dtype == np.float32 else out


def to_base(xyz: ArrayLike, T_base_sensor: ArrayLike) -> NDArray[np.floating]:
    """Points (N, 3) in a sensor frame → base_link: ``p_base = T_base_sensor · p``.

    Computed in float64; float32 input gives float32 output, anything else float64.
    """
    return _apply(np.asarray(T_base_sensor, dtype=np.float64), xyz)


def to_world(xyz: ArrayLike, T_world_base: ArrayLike, T_base_sensor: ArrayLike) -> NDArray[np.floating]:
    """Points (N, 3) in a sensor frame → world: ``p_world = T_world_base · T_base_sensor · p``.

    Args:
        xyz: (N, 3) points, metres, sensor frame.
        T_world_base: (4, 4) vehicle pose at the points' (deskewed) reference time.
        T_base_sensor: (4, 4) extrinsic.
    """
    T = np.asarray(T_world_base, dtype=np.float64) @ np.asarray(T_base_sensor, dtype=np.float64)
    return _apply(T, xyz)
