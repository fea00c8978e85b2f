"""Which clock aligns a sensor's stream: its header stamps, unless they cannot.

Decided per stream in the plan, from pass 1's stamps and record times, before the stamp filter
(:mod:`fusion.sync.stamps`) judges the messages:

* most header stamps 0: the stream is aligned by bag record time (off by the transport latency);
* bursts of one header stamp, one burst per scan, each earlier message with more rows at (0, 0, 0)
  than the burst's last (:func:`fusion.sync.stamps.republished`: a driver re-publishing a scan as
  it fills it): the header stamps stay; every message of a burst but its last is set aside as
  ``republished``. Only for radar scans and track lists (pass 1 counts their empty rows);
* otherwise most stamps repeating an earlier one (a stamp the sensor does not update): record time.

Each decision is a warning of the report naming the sensor, its topic and the numbers.
"""

from __future__ import annotations

import numpy as np

from fusion.pipeline.report import ReportBuilder
from fusion.pipeline.streams import MessageTable
from fusion.sync.stamps import republished


def repeated_share(stamps: np.ndarray) -> float:
    """Share of the non-zero stamps that repeat an earlier one."""
    nz = stamps[stamps != 0]
    return 1.0 - np.unique(nz).size / nz.size if nz.size else 0.0


def choose_stamp_source(tab: MessageTable, report: ReportBuilder) -> None:
    """Set ``tab.stamp_source`` (and ``tab.republished``) as the module docstring says; warn on ``report``."""
    if tab.stamp_source != "header" or not len(tab.stamp_ns):
        return
    st, label = tab.stamp_ns, f"{tab.name} ({tab.topic})"
    if (st == 0).mean() > 0.5:
        tab.stamp_source = "record"
        report.warn(f"{label}: {int((st == 0).sum())}/{len(st)} header stamps are 0; aligning this stream by bag "
                    "record time (off by the transport latency)")
        return
    if tab.carried is None and tab.empty_rows is not None:
        pre = republished(st, tab.record_ns, tab.empty_rows)
        if pre.size:
            tab.republished = pre
            report.warn(f"{label}: its messages come in bursts of one header stamp, one burst per scan (a driver "
                        f"publishing each scan as it fills it); the last of each burst is kept, {pre.size} of "
                        f"{len(st)} messages are skipped as republished")
            return
    if len(st) > 1 and (share := repeated_share(st)) > 0.5:
        tab.stamp_source = "record"
        tab.record_why = f"{share:.0%} of the header stamps repeat an earlier one"
        report.warn(f"{label}: {share:.0%} of its header stamps repeat an earlier one (the sensor does not update "
                    "them); aligning this stream by bag record time (off by the transport latency)")
