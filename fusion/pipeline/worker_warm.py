"""Warm a Dask worker once: fusion's conversion imported and every numba kernel loaded.

The forkserver of a local cluster imports :mod:`fusion.pipeline.worker_preload` and so
warms *before* it forks any worker: workers inherit the loaded kernels. Workers of an
existing scheduler warm through :class:`FusionWorkerPlugin` when they join (a no-op when the
process is already warm). Warming imports the conversion and loads numba's CPU target
(:func:`ensure_warm`); the kernels themselves load from numba's cache, filled by the install,
when a conversion first calls them.
"""

from __future__ import annotations

import contextlib
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

_warm = False


def ensure_warm() -> None:
    """Import ``fusion.pipeline.convert`` and load numba's CPU target, once per process.

    Loads one cached kernel: that loads numba's typing and lowering registries, the fixed cost of
    the first kernel a process loads (≈ 0.5 CPU-s); each kernel a conversion needs is then loaded
    from the cache in milliseconds when first called. Not ``fusion warmup``'s tiny conversion,
    which loads every kernel (packets, ego estimator, …): ≈ 1.5–2.5 CPU-s more on the critical path
    of a local cluster's start (measured: 8 × 10 s logs, 2 workers, 4 interleaved rounds, medians
    7.70 s with it, 7.08 s without; serial ``--each`` 8.41 s).

    A failure to warm is not fatal: the first conversion then loads what it needs itself.
    """
    global _warm
    if _warm:
        return
    import fusion.pipeline.convert  # noqa: F401 - the import is the point
    from fusion.warmup import load_numba_target

    with contextlib.suppress(Exception):  # a broken warm-up only costs time; conversions report errors
        load_numba_target()
    _warm = True


class FusionWorkerPlugin(WorkerPlugin):
    """Warms a worker (imports + kernels) before its first task; a no-op if it was forked warm."""

    name = "fusion-warm"

    def setup(self, worker: Any) -> None:
        ensure_warm()
