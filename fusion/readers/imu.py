"""``sensor_msgs/Imu`` → :class:`~fusion.readers.records.ImuSample`.

A covariance whose first element is -1 means that quantity is absent (REP-145).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fusion.readers.records import ImuSample, MessageMeta


def _vec3(v: Any) -> np.ndarray:
    return np.array([v.x, v.y, v.z], dtype=np.float64)


def _present(cov: Any) -> bool:
    return not (len(cov) and float(cov[0]) == -1.0)


def decode_imu(msg: Any, meta: MessageMeta) -> ImuSample:
    """IMU sample in the IMU frame: orientation x,y,z,w (None if absent), rad/s, m/s^2."""
    q = msg.orientation
    orientation = np.array([q.x, q.y, q.z, q.w], dtype=np.float64) if _present(msg.orientation_covariance) else None
    return ImuSample(
        meta,
        orientation,
        _vec3(msg.angular_velocity),
        _vec3(msg.linear_acceleration),
        angular_velocity_valid=_present(msg.angular_velocity_covariance),
        linear_acceleration_valid=_present(msg.linear_acceleration_covariance),
    )
