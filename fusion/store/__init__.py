"""The fusion Zarr v3 store: layout (docs/FORMAT.md), streaming writer, reader, validation.

Writing (the conversion pipeline)::

    from fusion.store import StoreWriter
    w = StoreWriter.create("drive.zarr", input_fingerprint=fp)

Reading::

    import fusion
    ds = fusion.open("drive.zarr")          # = fusion.store.open_dataset

Heavy modules are imported on first use of a name, so ``import fusion.store`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fusion.store.dataset import Dataset, EgoTrajectory, Frame, open_dataset
    from fusion.store.frame import CameraFrame, ImuSamples, LidarFrame, RadarFrame, SensorInfo
    from fusion.store.inspect import inspect_store
    from fusion.store.layout import FORMAT_VERSION
    from fusion.store.validate import ValidationResult, validate_store
    from fusion.store.writer import FrameSink, StoreWriter

__all__ = [
    "FORMAT_VERSION",
    "CameraFrame",
    "Dataset",
    "EgoTrajectory",
    "Frame",
    "FrameSink",
    "ImuSamples",
    "LidarFrame",
    "RadarFrame",
    "SensorInfo",
    "StoreWriter",
    "ValidationResult",
    "inspect_store",
    "open_dataset",
    "validate_store",
]

_EXPORTS = {
    "Dataset": "fusion.store.dataset",
    "EgoTrajectory": "fusion.store.dataset",
    "Frame": "fusion.store.dataset",
    "open_dataset": "fusion.store.dataset",
    "CameraFrame": "fusion.store.frame",
    "ImuSamples": "fusion.store.frame",
    "LidarFrame": "fusion.store.frame",
    "RadarFrame": "fusion.store.frame",
    "SensorInfo": "fusion.store.frame",
    "inspect_store": "fusion.store.inspect",
    "FORMAT_VERSION": "fusion.store.layout",
    "ValidationResult": "fusion.store.validate",
    "validate_store": "fusion.store.validate",
    "FrameSink": "fusion.store.writer",
    "StoreWriter": "fusion.store.writer",
}



def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fusion.store' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
