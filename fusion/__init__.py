"""fusion: turn ROS 1 / ROS 2 drive logs into synchronized, calibrated Zarr v3 datasets.

The public entry point for reading a converted store is :func:`open`::

    import fusion
    ds = fusion.open("drive.zarr")
    frame = ds[0]
    frame.lidar["lidar_top"].xyz   # (N, 3) float32, sensor frame, deskewed to frame.time_ns
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from fusion._numba_cache import configure_numba_cache

configure_numba_cache()  # before anything imports numba: a non-editable install caches in the user's cache

from fusion.errors import FusionError  # noqa: E402

try:
    __version__ = version("fusion")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+local"

if TYPE_CHECKING:
    from fusion.store.dataset import Dataset


def open(path_or_url: str, **storage_options: Any) -> Dataset:
    """Open a converted fusion store (local dir, ``.zip``, ``s3://...``) for reading.

    Args:
        path_or_url: Store location as zarr/fsspec accept it.
        **storage_options: Passed to fsspec for remote stores (e.g. ``endpoint_url``).

    Returns:
        The :class:`fusion.store.dataset.Dataset`.
    """
    from fusion.store.dataset import open_dataset

    return open_dataset(path_or_url, **storage_options)


__all__ = ["FusionError", "__version__", "open"]
