"""One-way clock offset and drift estimation (lower support line of (stamp, record) pairs).

Model, per sensor: ``record_ns ≈ stamp_ns·(1 + drift) + offset + delay`` with ``delay ≥ 0``
(transport/queueing latency, never negative). The estimate is the lower support line of the
points ``(stamp, record − stamp)``: the lower-convex-hull edge spanning the mean stamp, i.e. the
line that lies below every point and minimises the summed residual (the LP of Zhang/Liu/Xia,
as in Kalibr's timestamp corrector and cuckoo_time_translator).

What is observable: ``offset`` *plus the sensor's minimum latency*. A latency common to two
sensors is not observable one-way, so the offset *between* two sensor clocks
(:func:`relative_offset_ns`) is recovered up to the difference of their minimum latencies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusion.errors import SyncError
from fusion.kernel_policy import numba_loaded

#: Blocks used for the uncertainty estimate.
N_BLOCKS = 10
#: Most samples whose lower hull is found in Python while no numba kernel is loaded in the process
#: (Python: ≈ 0.6 µs a sample, 60 ms for 100 k; the first kernel of a process: ≈ 0.3–0.5 CPU-s).
PY_HULL_MAX = 100_000


def _lower_hull_py(x: NDArray[np.float64], y: NDArray[np.float64], hull: NDArray[np.int64]) -> int:
    """:func:`fusion.sync.kernels_clock.lower_hull_kernel` in Python: the same steps and float64
    arithmetic, so the same vertices."""
    xs, ys = x.tolist(), y.tolist()
    out: list[int] = []
    for i in range(len(xs)):
        xi, yi = xs[i], ys[i]
        while len(out) >= 2:
            a, b = out[-2], out[-1]
            if (xs[b] - xs[a]) * (yi - ys[a]) - (ys[b] - ys[a]) * (xi - xs[a]) <= 0.0:
                out.pop()
            else:
                break
        out.append(i)
    hull[: len(out)] = out
    return len(out)


def lower_hull(x: NDArray[np.float64], y: NDArray[np.float64], hull: NDArray[np.int64]) -> int:
    """Lower hull of points sorted by (x, y) into ``hull`` (vertex indices); returns the count.

    In Python up to :data:`PY_HULL_MAX` samples while the process has loaded no numba kernel
    (``fusion inspect`` of a short log then loads none), else the kernel.
    """
    if x.shape[0] <= PY_HULL_MAX and not numba_loaded():
        return _lower_hull_py(x, y, hull)
    from fusion.sync.kernels_clock import lower_hull_kernel  # numba: imported when a kernel runs

    return int(lower_hull_kernel(x, y, hull))


@dataclass(frozen=True)
class ClockFit:
    """Fitted one-way clock model of a sensor against the record (host) clock.

    Attributes:
        offset_ns: ``record − stamp`` of the support line at ``ref_stamp_ns`` (true offset + the
            sensor's minimum latency), ns.
        drift_ppm: clock-rate difference, parts per million (record advances ``1 + drift``).
        ref_stamp_ns: stamp where ``offset_ns`` applies (the mean stamp), ns.
        uncertainty_ns: the largest, over 10 equal stamp blocks, of the smallest residual above the
            line: how far the line is from being touched everywhere (0 = well supported), ns.
        n_samples: pairs used.
        n_support: lower-hull vertices.
    """

    offset_ns: int
    drift_ppm: float
    ref_stamp_ns: int
    uncertainty_ns: int
    n_samples: int
    n_support: int

    def offset_at(self, stamp_ns: ArrayLike) -> NDArray[np.int64]:
        """Offset (record − stamp of the support line) at the given stamps, ns (int64)."""
        s = np.asarray(stamp_ns, dtype=np.int64)
        return self.offset_ns + np.round((s - self.ref_stamp_ns) * (self.drift_ppm * 1e-6)).astype(np.int64)


def estimate_clock_offset(stamp_ns: ArrayLike, record_ns: ArrayLike, fit_drift: bool = True) -> ClockFit:
    """Fit ``record ≈ stamp·(1 + drift) + offset + delay, delay ≥ 0`` (lower support line).

    The drift is only as good as ``2·uncertainty / time span`` (e.g. ±40 ppm for 1 ms over 50 s);
    for short logs pass ``fit_drift=False`` (offset = the minimum of ``record − stamp``).

    Args:
        stamp_ns: (M,) int64 sensor header stamps, ns (any order).
        record_ns: (M,) int64 record (receive) times, ns, same order.
        fit_drift: fit the clock-rate difference too (else drift = 0).

    Returns:
        A :class:`ClockFit`.

    Raises:
        SyncError: fewer than two distinct stamps.
    """
    s = np.asarray(stamp_ns, dtype=np.int64).reshape(-1)
    r = np.asarray(record_ns, dtype=np.int64).reshape(-1)
    if s.shape != r.shape:
        raise ValueError(f"stamp_ns {s.shape} and record_ns {r.shape} differ in shape")
    if np.unique(s).size < 2:
        raise SyncError(f"clock offset estimation needs >= 2 distinct stamps, got {np.unique(s).size}")
    s0 = int(s.min())
    x = (s - s0).astype(np.float64)
    y = (r - s).astype(np.float64)
    order = np.lexsort((y, x))
    xs, ys = x[order], y[order]
    hull = np.empty(xs.size, dtype=np.int64)
    h = lower_hull(xs, ys, hull)
    hull = hull[:h]
    xm = float(x.mean())
    hx = xs[hull]
    if not fit_drift:
        b, c = 0.0, float(ys.min())
    elif h == 1:
        b, c = 0.0, float(ys[hull[0]])
    else:
        e = int(np.clip(np.searchsorted(hx, xm, side="right") - 1, 0, h - 2))
        i, j = hull[e], hull[e + 1]
        b = (ys[j] - ys[i]) / (xs[j] - xs[i])
        c = ys[i] - b * xs[i]
    resid = y - (c + b * x)
    edges = np.linspace(0.0, float(x.max()), N_BLOCKS + 1)
    blk = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, N_BLOCKS - 1)
    mins = np.full(N_BLOCKS, np.inf)
    np.minimum.at(mins, blk, resid)
    unc = float(np.max(mins[np.isfinite(mins)]))
    return ClockFit(
        offset_ns=round(c + b * xm),
        drift_ppm=float(b * 1e6),
        ref_stamp_ns=s0 + round(xm),
        uncertainty_ns=round(max(unc, 0.0)),
        n_samples=int(s.size),
        n_support=int(h),
    )


def relative_offset_ns(fit: ClockFit, reference: ClockFit, at_stamp_ns: int | None = None) -> int:
    """Offset to add to this sensor's stamps to put them on the reference sensor's clock, ns.

    ``stamp_ref ≈ stamp + relative_offset_ns(fit, reference)``. Exact up to the difference of the
    two sensors' minimum latencies (unobservable one-way); with drift it is evaluated at
    ``at_stamp_ns`` (default: ``fit.ref_stamp_ns``).
    """
    s = fit.ref_stamp_ns if at_stamp_ns is None else int(at_stamp_ns)
    on_record = s + int(fit.offset_at(s))
    ref_stamp = on_record - int(reference.offset_at(on_record))
    ref_stamp = on_record - int(reference.offset_at(ref_stamp))
    return ref_stamp - s
