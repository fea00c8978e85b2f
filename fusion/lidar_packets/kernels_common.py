"""Small numba helpers shared by the packet kernels: civil dates, the sweep cut."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@njit(cache=True)
def crossed_cut(last: float, az: float, cut: float, period: float) -> bool:
    """True when moving forward from ``last`` to ``az`` passes ``cut`` (cut in [last, az))."""
    if np.isnan(last) or az == last:
        return False
    d_cut = (cut - last) % period
    d_az = (az - last) % period
    return d_cut < d_az


@njit(cache=True)
def first_sweep(block_az: float, az: float, cut: float, period: float) -> int:
    """Sweep counter of a channel seen for the first time (base 1).

    A channel whose azimuth correction carries it past the cut ahead of its block starts in the
    next sweep (2); one lagging behind a block that already passed the cut starts in the
    previous one (0). So every channel agrees on which rotation it is in from the first packet.
    """
    d = (az - block_az + period / 2.0) % period - period / 2.0
    if d > 0.0 and crossed_cut(block_az, az, cut, period):
        return 2
    if d < 0.0 and crossed_cut(az, block_az, cut, period):
        return 0
    return 1
