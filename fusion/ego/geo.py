"""GNSS fixes (``sensor_msgs/NavSatFix`` columns) → local ENU with pymap3d.

The ENU origin is the first usable fix (status ≥ 0, finite). A fix's covariance is used when its
``covariance_type`` is 1–3 (ROS ``position_covariance`` is ENU, row-major); otherwise
``default_sigma_m`` per axis (vertical ×1.5).
"""

from __future__ import annotations

import numpy as np

from fusion.ego.inputs import F64, I64, GnssInput


def fixes_to_enu(times_ns: I64, latitude_deg: F64, longitude_deg: F64, altitude_m: F64, status: np.ndarray,
                 covariance_m2: F64, covariance_type: np.ndarray, t_base_antenna: F64,
                 default_sigma_m: float = 3.0) -> GnssInput | None:
    """The usable fixes in local ENU (None when there is none).

    Args:
        times_ns: (K,) common-clock times, sorted. latitude_deg, longitude_deg, altitude_m: (K,) WGS-84.
        status: (K,) NavSatStatus (-1: no fix). covariance_m2: (K, 3, 3) or (K, 9) ENU, m².
        covariance_type: (K,) 0 unknown, 1 approximated, 2 diagonal known, 3 known.
        t_base_antenna: (3,) antenna in base_link, m.
        default_sigma_m: σ per horizontal axis for fixes without covariance.
    """
    import pymap3d

    lat, lon, alt = (np.asarray(a, np.float64) for a in (latitude_deg, longitude_deg, altitude_m))
    ok = (np.asarray(status) >= 0) & np.isfinite(lat) & np.isfinite(lon) & np.isfinite(alt)
    ok &= (np.abs(lat) > 1e-9) | (np.abs(lon) > 1e-9)  # (0, 0): a receiver with no fix yet
    if not ok.any():
        return None
    idx = np.flatnonzero(ok)
    o = (float(lat[idx[0]]), float(lon[idx[0]]), float(alt[idx[0]]))
    e, n, u = pymap3d.geodetic2enu(lat[idx], lon[idx], alt[idx], *o)
    enu = np.stack([np.asarray(e), np.asarray(n), np.asarray(u)], axis=1)
    cov = np.asarray(covariance_m2, np.float64).reshape(-1, 3, 3)[idx].copy()
    known = (np.asarray(covariance_type)[idx] > 0) & np.isfinite(cov).all(axis=(1, 2))
    known &= (cov[:, 0, 0] > 0) & (cov[:, 1, 1] > 0) & (cov[:, 2, 2] > 0)
    default = np.diag([default_sigma_m**2, default_sigma_m**2, (1.5 * default_sigma_m) ** 2])
    cov[~known] = default
    return GnssInput(np.asarray(times_ns, np.int64)[idx], enu, cov, o, np.asarray(t_base_antenna, np.float64))
