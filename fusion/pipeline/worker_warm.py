"""Warm a Dask worker once: fusion's conversion imported and every numba kernel loaded.

The forkserver of a local cluster imports :mod:`fusion.pipeline.worker_preload` and so
warms *before* it forks any worker: workers inherit the loaded kernels. Workers of an
existing scheduler warm through :class:`FusionWorkerPlugin` when they join (a no-op when the
process is already warm). Warming runs ``fusion warmup``'s tiny conversion: with numba's
cache filled by the install it only loads the cached kernels (≈ 1.5 CPU-s here).
"""

from __future__ import annotations

import contextlib
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

_warm = False


def ensure_warm() -> None:
    """Import ``fusion.pipeline.convert`` and load every kernel, once per process.

    A failure to warm is not fatal: the first conversion then loads what it needs itself.
    """
    global _warm
    if _warm:
        return
    import fusion.pipeline.convert  # noqa: F401 - the import is the point
    from fusion.warmup import warmup

    with contextlib.suppress(Exception):  # a broken warm-up only costs time; conversions report errors
        warmup()
    _warm = True


class FusionWorkerPlugin(WorkerPlugin):
    """Warms a worker (imports + kernels) before its first task; a no-op if it was forked warm."""

    name = "fusion-warm"

    def setup(self, worker: Any) -> None:
        ensure_warm()
