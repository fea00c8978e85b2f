"""``sensor_msgs/CameraInfo`` → :class:`~fusion.readers.records.CameraInfoRecord`.

ROS 1 names the matrices ``D K R P``, ROS 2 ``d k r p``; both are accepted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fusion.errors import DecodeError
from fusion.readers.records import CameraInfoRecord, MessageMeta


def _field(msg: Any, name: str) -> np.ndarray:
    value = getattr(msg, name, None)
    if value is None:
        value = getattr(msg, name.upper(), None)
    if value is None:
        raise DecodeError(f"CameraInfo has no field {name!r} / {name.upper()!r}")
    return np.asarray(value, dtype=np.float64)


def decode_camera_info(msg: Any, meta: MessageMeta) -> CameraInfoRecord:
    """Intrinsics as carried: d (n,), k (3, 3), r (3, 3), p (3, 4)."""
    k, r, p = _field(msg, "k"), _field(msg, "r"), _field(msg, "p")
    if k.size != 9 or r.size != 9 or p.size != 12:
        raise DecodeError(f"CameraInfo matrices have sizes K {k.size}, R {r.size}, P {p.size} (expected 9, 9, 12)")
    return CameraInfoRecord(
        meta,
        int(msg.width),
        int(msg.height),
        str(msg.distortion_model),
        _field(msg, "d").copy(),
        k.reshape(3, 3).copy(),
        r.reshape(3, 3).copy(),
        p.reshape(3, 4).copy(),
    )
