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

from typing import TYPE_CHECKING

from fusion._lazy import lazy_getattr

if TYPE_CHECKING:
    from fusion.kinds.camera import CameraFrame
    from fusion.kinds.imu import ImuSamples
    from fusion.kinds.lidar import LidarFrame
    from fusion.kinds.radar import RadarFrame
    from fusion.store.dataset import Dataset, EgoTrajectory, Frame, StreamView, open_dataset
    from fusion.store.frame import SensorInfo
    from fusion.store.inspect import inspect_store
    from fusion.store.layout import FORMAT_VERSION
    from fusion.store.sink import FrameSink
    from fusion.store.validate import ValidationResult, validate_store
    from fusion.store.writer import StoreWriter

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
    "StreamView",
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
    "StreamView": "fusion.store.streamview",
    "CameraFrame": "fusion.kinds.camera",
    "ImuSamples": "fusion.kinds.imu",
    "LidarFrame": "fusion.kinds.lidar",
    "RadarFrame": "fusion.kinds.radar",
    "SensorInfo": "fusion.store.frame",
    "inspect_store": "fusion.store.inspect",
    "FORMAT_VERSION": "fusion.store.layout",
    "ValidationResult": "fusion.store.validate",
    "validate_store": "fusion.store.validate",
    "FrameSink": "fusion.store.sink",
    "StoreWriter": "fusion.store.writer",
}



__getattr__ = lazy_getattr(__name__, _EXPORTS)
