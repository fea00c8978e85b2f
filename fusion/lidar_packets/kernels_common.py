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
    d_cut = cut - last  # all three in [0, period): one conditional wrap each
    if d_cut < 0.0:
        d_cut += period
    d_az = az - last
    if d_az < 0.0:
        d_az += period
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


@njit(cache=True)
def group_by_sweep(sweep, lo, n_ids, xyz, inten, chan, ret, t):  # type: ignore[no-untyped-def]
    """Stable partition of points by sweep id (``lo`` … ``lo + n_ids - 1``, larger ids last).

    Returns the reordered copies of every column and ``starts`` (n_ids + 2,): group ``i`` is
    ``[starts[i], starts[i + 1])``; the last group holds the ids above the range (the remainder).
    """
    n = sweep.size
    counts = np.zeros(n_ids + 1, np.int64)
    for i in range(n):
        g = sweep[i] - lo
        counts[g if g < n_ids else n_ids] += 1
    starts = np.zeros(n_ids + 2, np.int64)
    for g in range(n_ids + 1):
        starts[g + 1] = starts[g] + counts[g]
    pos = starts[:-1].copy()
    o_xyz = np.empty_like(xyz)
    o_i = np.empty_like(inten)
    o_c = np.empty_like(chan)
    o_r = np.empty_like(ret)
    o_t = np.empty_like(t)
    o_s = np.empty_like(sweep)
    for i in range(n):
        g = sweep[i] - lo
        if g >= n_ids:
            g = n_ids
        j = pos[g]
        pos[g] = j + 1
        o_xyz[j, 0] = xyz[i, 0]
        o_xyz[j, 1] = xyz[i, 1]
        o_xyz[j, 2] = xyz[i, 2]
        o_i[j] = inten[i]
        o_c[j] = chan[i]
        o_r[j] = ret[i]
        o_t[j] = t[i]
        o_s[j] = sweep[i]
    return o_xyz, o_i, o_c, o_r, o_t, o_s, starts


# return selection: 0 = every return, 1 = first, 2 = last, 3 = strongest
WANT = {"auto": 0, "first": 1, "last": 2, "strongest": 3}


@njit(cache=True)
def hesai_pick(mode: int, want: int, refl0: int, refl1: int, flipped: bool) -> int:
    """Index of the wanted return in a Hesai return group, -1 when the packets' mode lacks it.

    Orders (the sensors' manuals): 0x39 last, strongest; 0x3A first, second; 0x3B first, last
    (XT16/XT32/XT32M: last, first); 0x3C first, strongest; 0x3D first, last, strongest;
    0x3E strongest, second. The "strongest" block holds the second strongest when the other one
    is the strongest: it is taken from the reflectivities.
    """
    if mode == 0x33 or mode == 0x34 or mode == 0x37 or mode == 0x38:
        ok = (want == 1 and mode == 0x33) or (want == 2 and mode == 0x38) or (want == 3 and mode == 0x37)
        return 0 if ok else -1
    if mode == 0x39:
        if want == 2:
            return 0
        if want == 3:
            return 0 if refl0 >= refl1 else 1
        return -1
    if mode == 0x3A:
        return 0 if want == 1 else -1
    if mode == 0x3B:
        if want == 1:
            return 1 if flipped else 0
        if want == 2:
            return 0 if flipped else 1
        return -1
    if mode == 0x3C:
        if want == 1:
            return 0
        if want == 3:
            return 0 if refl0 >= refl1 else 1
        return -1
    if mode == 0x3D:
        return want - 1 if want >= 1 else -1
    if mode == 0x3E:
        return 0 if want == 3 else -1
    return -1
