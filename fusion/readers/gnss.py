"""``sensor_msgs/NavSatFix`` → :class:`~fusion.readers.records.GnssFix`."""

from __future__ import annotations

from typing import Any

import numpy as np

from fusion.readers.records import GnssFix, MessageMeta


def decode_navsatfix(msg: Any, meta: MessageMeta) -> GnssFix:
    """WGS-84 fix; covariance (3, 3) m^2 ENU with its ``position_covariance_type``."""
    cov = np.asarray(msg.position_covariance, dtype=np.float64).reshape(3, 3)
    return GnssFix(
        meta,
        float(msg.latitude),
        float(msg.longitude),
        float(msg.altitude),
        int(msg.status.status),
        cov,
        int(msg.position_covariance_type),
    )
