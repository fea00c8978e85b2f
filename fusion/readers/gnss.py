"""``sensor_msgs/NavSatFix`` → :class:`~fusion.readers.records.GnssFix`."""

from __future__ import annotations

from typing import Any

import numpy as np

from fusion.readers.records import GnssFix, MessageMeta


def decode_navsatfix(msg: Any, meta: MessageMeta) -> GnssFix:
    """WGS-84 fix; covariance (3, 3) m^2 ENU with its ``position_covariance_type``."""
    cov = np.asarray(msg.position_covariance, dtype=np.float64).reshape(3, 3)
    lat, lon = float(msg.latitude), float(msg.longitude)
    if abs(lat) > 90 or abs(lon) > 180:  # NaN (no fix) passes: a receiver without a fix publishes NaN
        from fusion.errors import DecodeError

        raise DecodeError(f"fix outside WGS-84 (latitude {lat:g}°, longitude {lon:g}°): not a position")
    return GnssFix(
        meta,
        float(msg.latitude),
        float(msg.longitude),
        float(msg.altitude),
        int(msg.status.status),
        cov,
        int(msg.position_covariance_type),
    )
