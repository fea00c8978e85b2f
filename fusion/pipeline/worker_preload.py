"""Imported by a local Dask cluster's forkserver before it forks any worker: warms that process.

Importing this module runs :func:`fusion.pipeline.worker_warm.ensure_warm` (fusion's conversion
imported, numba's CPU target loaded), so every worker forked afterwards starts warm. Nothing
else should import it.
"""

from fusion.pipeline.worker_warm import ensure_warm

ensure_warm()
