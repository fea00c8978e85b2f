"""The clock fit's numba kernel (:func:`fusion.sync.clock.lower_hull` calls it for large inputs, or once
a kernel is loaded; in its own module so that importing :mod:`fusion.sync.clock` does not import numba)."""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def lower_hull_kernel(x, y, hull):  # type: ignore[no-untyped-def]
    """Monotone-chain lower hull of points sorted by (x, y); writes vertex indices, returns count."""
    h = 0
    for i in range(x.shape[0]):
        while h >= 2:
            a = hull[h - 2]
            b = hull[h - 1]
            cross = (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a])
            if cross <= 0.0:
                h -= 1
            else:
                break
        hull[h] = i
        h += 1
    return h
