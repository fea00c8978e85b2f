"""Clock domains: which streams of a log run on another clock, and by how much.

Every stream's header stamps are compared with the record (bag write) clock through the lower
support line of ``(publication, record − publication)`` (:func:`fusion.sync.clock.estimate_clock_offset`),
where ``publication`` is the stream's *earliest possible publication* on its own clock: the stamp,
or for a sweep stream the last point time (a sweep is published after its last point). The fitted
offset ``record − publication`` is the clock offset plus the stream's minimum transport latency.

Domains (``ClockDomain.domain``):

* ``common``: within ``threshold_ns`` of the common clock (sub-second offsets are measured, not a
  domain of their own);
* ``offset``: another wall clock, ``threshold_ns`` or more away (an unsynchronised PC, GPS time);
* ``uptime``: stamps before 2001-09-09 (< 1e9 s) and after the first hour: a clock since boot;
* ``simulated``: stamps within the first hour after epoch 0 (simulation time);
* ``zero``: more than half the stamps are 0 (no usable clock: aligned by record time);
* ``frozen``: most stamps repeat an earlier one, the sensor does not update them (aligned by record
  time; :attr:`StreamClock.frozen` says so);
* ``drift``: on the common clock at the log's middle but drifting more than ``drift_ppm``.

The common clock is the record clock (the stream fits of the streams within ``threshold_ns`` of it),
or, when a reference stream is named, that stream's clock. The relative offset of a stream is what to
add to its stamps to put them on the common clock, measured against the *clock reference that fits
best*: the common-domain stream whose minimum latency is known most precisely (see ``docs/SYNC.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fusion.sync.clock import ClockFit, estimate_clock_offset, relative_offset_ns

I64 = NDArray[np.int64]

#: Default threshold between "the same clock, some latency" and "another clock domain", ns.
DOMAIN_THRESHOLD_NS = 1_000_000_000
#: Drift beyond which a common-domain stream is named ``drift``, ppm.
DRIFT_PPM = 200.0
_HOUR_NS = 3600 * 10**9
_UPTIME_LIMIT_NS = 10**18  # 2001-09-09: no wall clock of a recording is earlier


@dataclass(frozen=True)
class StreamClock:
    """One stream's clock samples.

    Attributes:
        stamp_ns: (M,) header stamps (the stream's clock), record order.
        record_ns: (M,) record times.
        publish_ns: (M,) earliest possible publication on the stream's clock (``>= stamp``),
            or None for the stamp itself.
        period_ns: median stamp period, ns (0 when unknown).
        frozen: Why the header stamps were set aside although most are not 0 (they repeat: the
            sensor does not update them); the stream is aligned by record time. None: not so.
    """

    stamp_ns: I64
    record_ns: I64
    publish_ns: I64 | None = None
    frozen: str | None = None

    @property
    def period_ns(self) -> int:
        s = np.sort(self.stamp_ns[self.stamp_ns != 0])
        d = np.diff(s)
        d = d[d > 0]
        return int(np.median(d)) if d.size else 0


@dataclass(frozen=True)
class ClockDomain:
    """What the clock analysis found for one stream.

    Attributes:
        stream: Stream (sensor) name.
        domain: ``common``, ``offset``, ``uptime``, ``simulated``, ``zero``, ``frozen``, ``drift``, ``unknown``.
        offset_to_record_ns: ``record − publication`` of the support line (offset + minimum latency), ns.
        relative_ns: Add to the stamps to reach the common clock (vs ``relative_to``), ns.
        relative_to: The clock reference stream the relative offset was measured against.
        drift_ppm: Clock-rate difference to the record clock, ppm.
        uncertainty_ns: Honest 1-sigma-like bound of ``relative_ns``: the two streams' floor
            uncertainties (``10·q10(residual)/n``: where the fastest deliveries lie) combined, ns.
        period_ns: Median stamp period, ns.
        n_samples: Stamps used.
        detail: One line for people.
    """

    stream: str
    domain: str
    offset_to_record_ns: int | None
    relative_ns: int | None
    relative_to: str | None
    drift_ppm: float | None
    uncertainty_ns: int | None
    period_ns: int
    n_samples: int
    detail: str

    @property
    def other_domain(self) -> bool:
        """True for a stream whose clock is evidently another domain (an offset to apply)."""
        return self.domain in ("offset", "uptime", "simulated")

    def to_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def floor_uncertainty_ns(fit: ClockFit, stamp_ns: I64, record_ns: I64) -> float:
    """How far the support line may lie above the true latency floor, ns.

    Of ``n`` deliveries with latency spread ``w`` near its minimum, the ``k``-th smallest residual
    lies ``≈ (k − s)·w/(n + 1)`` above the line (``s`` support points have residual 0), and the line
    itself ``≈ w/(n + 1)`` above the floor: the estimate is ``r_(k) / (k − s)`` with ``k = max(5, n/10)``
    (exact on average for uniform latency).
    """
    resid = np.sort((record_ns - stamp_ns - fit.offset_at(stamp_ns)).astype(np.float64))
    n = int(resid.size)
    if n < 5:
        return float("inf")
    k = max(5, n // 10)
    s = int((resid <= 0.5).sum())
    return float(max(resid[k - 1], 0.0) / max(k - s, 1))


#: Logs shorter than this fit no drift (it would be noise: ``2·uncertainty / span``), s.
MIN_DRIFT_SPAN_S = 60.0


@dataclass(frozen=True)
class _Fit:
    fit: ClockFit
    floor_ns: float


def _fit(c: StreamClock) -> _Fit | None:
    keep = np.flatnonzero(c.stamp_ns != 0)
    keep = keep[np.argsort(c.stamp_ns[keep], kind="stable")]
    rec = c.record_ns[keep]
    reordered = rec < np.maximum.accumulate(rec) if rec.size else np.zeros(0, bool)
    if reordered.size and reordered.mean() <= 0.2:  # FIFO transport with a few reordered messages (a fault): they would
        keep = keep[~reordered]  # pull the support line down, so they are left out
    pub, rec = c.stamp_ns[keep], c.record_ns[keep]
    if c.publish_ns is not None and pub.size:
        last = np.maximum(c.publish_ns, c.stamp_ns)[keep]
        if (rec - last).min() >= 0 or (rec - pub).min() < 0:  # else records precede the last point: no model
            pub = last
    if np.unique(pub).size < 2:
        return None
    fit = estimate_clock_offset(pub, rec, fit_drift=float(pub.max() - pub.min()) >= MIN_DRIFT_SPAN_S * 1e9)
    return _Fit(fit, floor_uncertainty_ns(fit, pub, rec))


def _kind_of_clock(stamp_ns: I64, rel_ns: int, threshold_ns: int) -> str:
    if abs(rel_ns) < threshold_ns:
        return "common"
    med = int(np.median(stamp_ns[stamp_ns != 0]))
    if 0 <= med < _HOUR_NS:
        return "simulated"
    if med < _UPTIME_LIMIT_NS:
        return "uptime"
    return "offset"


def _human(ns: int) -> str:
    a = abs(ns)
    sign = "-" if ns < 0 else "+"
    if a >= 86400 * 10**9:
        return f"{sign}{a / 86400e9:.2f} d"
    if a >= 10**9:
        return f"{sign}{a / 1e9:.3f} s"
    return f"{sign}{a / 1e6:.3f} ms"


def analyse_domains(
    streams: Mapping[str, StreamClock],
    reference: str | None = None,
    threshold_ns: int = DOMAIN_THRESHOLD_NS,
    drift_ppm: float = DRIFT_PPM,
    exclude_from_reference: tuple[str, ...] = (),
) -> dict[str, ClockDomain]:
    """Classify every stream's clock against the common clock (see the module docstring).

    Args:
        streams: name -> clock samples.
        reference: The stream whose clock is the common clock (None: the record clock).
        threshold_ns: Offsets at least this large are another domain, ns.
        drift_ppm: Drift beyond which a common stream is named ``drift``.
        exclude_from_reference: Streams never used as the clock reference (their offset is in doubt).

    Returns:
        name -> :class:`ClockDomain`, in the order of ``streams``.
    """
    fits: dict[str, _Fit | None] = {}
    zero: set[str] = set()
    for name, c in streams.items():
        if c.frozen is not None or (c.stamp_ns.size and (c.stamp_ns == 0).mean() > 0.5):
            zero.add(name)
            fits[name] = None
        else:
            fits[name] = _fit(c)
    ref_fit = fits.get(reference) if reference is not None else None
    base_ns = 0 if ref_fit is None else ref_fit.fit.offset_ns
    # Common domain: within the threshold of the common clock's offset to record.
    common = [n for n, f in fits.items() if f is not None and abs(f.fit.offset_ns - base_ns) < threshold_ns]
    candidates = [n for n in common if n not in exclude_from_reference] or common
    # The clock reference that fits best: fastest deliveries (least latency bias), precisely known.
    best = min(candidates, key=lambda n: (fits[n].fit.offset_ns + 3 * fits[n].floor_ns, n)) if candidates else None  # type: ignore[union-attr]
    out: dict[str, ClockDomain] = {}
    for name, c in streams.items():
        period = c.period_ns
        f = fits[name]
        if name in zero:
            out[name] = ClockDomain(
                name,
                "zero" if c.frozen is None else "frozen",
                None,
                None,
                None,
                None,
                None,
                period,
                int(c.stamp_ns.size),
                c.frozen or f"{int((c.stamp_ns == 0).sum())}/{c.stamp_ns.size} header stamps are 0",
            )
            continue
        if f is None:
            out[name] = ClockDomain(
                name,
                "unknown",
                None,
                None,
                None,
                None,
                None,
                period,
                int(c.stamp_ns.size),
                "fewer than 2 distinct stamps",
            )
            continue
        rel_to_base = f.fit.offset_ns - base_ns  # coarse: add this to the stamps to reach the common clock
        domain = _kind_of_clock(c.stamp_ns, rel_to_base, threshold_ns)
        src, sf = name, f
        if domain != "common":  # one offset per foreign clock: from its best-fitting stream
            same = [
                n
                for n, g in fits.items()
                if g is not None and n not in common and abs(g.fit.offset_ns - f.fit.offset_ns) < threshold_ns
            ]
            src = min(same, key=lambda n: (fits[n].floor_ns, n))  # type: ignore[union-attr]
            sf = fits[src]  # type: ignore[assignment]
        bf = fits[best] if best is not None else None
        if bf is not None and best is not None and best != src:
            rel = relative_offset_ns(sf.fit, bf.fit)
            unc = float(np.hypot(sf.floor_ns, bf.floor_ns))
            rel_to = best
        elif bf is not None and best == src:
            rel, unc, rel_to = 0, 0.0, name
        else:
            rel, unc, rel_to = sf.fit.offset_ns - base_ns, sf.floor_ns, None
        if domain == "common" and abs(f.fit.drift_ppm) > drift_ppm:
            domain = "drift"
        detail = {
            "common": f"on the common clock ({_human(rel)} vs {rel_to or 'record time'})",
            "drift": f"drifts {f.fit.drift_ppm:+.0f} ppm against record time",
            "offset": f"another clock: stamps {_human(-rel)} from {rel_to or 'record time'}",
            "uptime": f"uptime clock (stamps ~{np.median(c.stamp_ns) / 86400e9:.2f} d since epoch), "
            f"{_human(-rel)} from {rel_to or 'record time'}",
            "simulated": f"simulated time (stamps near epoch 0), {_human(-rel)} from {rel_to or 'record time'}",
        }[domain]
        if src != name:
            detail += f" (one offset for this clock, measured on {src})"
        if not np.isfinite(unc):
            detail += " (fewer than 5 samples: no uncertainty, never applied)"
        out[name] = ClockDomain(
            name,
            domain,
            int(f.fit.offset_ns),
            int(rel),
            rel_to,
            float(f.fit.drift_ppm),
            round(unc) if np.isfinite(unc) else None,
            period,
            int(f.fit.n_samples),
            detail,
        )
    return out
