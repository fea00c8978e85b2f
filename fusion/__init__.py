"""fusion: turn ROS 1 / ROS 2 drive logs into synchronized, calibrated Zarr v3 datasets.

The public entry point for reading a converted store is :func:`open`::

    import fusion
    ds = fusion.open("drive.zarr")
    frame = ds[0]
    frame.lidar["lidar_top"].xyz   # (N, 3) float32, sensor frame, deskewed to frame.time_ns
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fusion._numba_cache import configure_numba_cache

configure_numba_cache()  # before anything imports numba: a non-editable install caches in the user's cache

from fusion.errors import FusionError  # noqa: E402

if TYPE_CHECKING:
    from fusion.store.dataset import Dataset

    __version__: str


def __getattr__(name: str) -> Any:
    """``fusion.__version__``, read from the installed metadata on first use (importlib.metadata costs
    ≈ 25 ms, which every CLI start-up would pay)."""
    if name != "__version__":
        raise AttributeError(f"module 'fusion' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("fusion")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        value = "0.0.0+local"
    globals()["__version__"] = value
    return value


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
