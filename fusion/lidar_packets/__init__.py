"""Raw LiDAR packets → sweeps with per-point time (Velodyne, Hesai).

A packet topic (``velodyne_msgs/VelodyneScan``, ``pandar_msgs/PandarScan``) is read by the
``lidar`` stream kind: :class:`~fusion.lidar_packets.topic.PacketStreams` decodes each message's
packets with the vendor's numba kernel (:mod:`.velodyne_kernel`, :mod:`.hesai_kernel`,
:mod:`.hesai_at128_kernel`), cuts
rotations at the cut angle per channel (:mod:`.sweep`) and returns a
:class:`~fusion.readers.records.PointCloud` with absolute per-point time, so everything after
decoding (deskew, frames, store) is the PointCloud2 LiDAR path. See ``docs/READERS.md``.

Vendor registry: :data:`DECODERS` maps a vendor to the factory of its :class:`PacketDecoder`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["DECODERS", "decoder_for"]


def _velodyne(model: str, calibration: Any, **kw: Any) -> Any:
    from fusion.lidar_packets.velodyne import make_velodyne

    return make_velodyne(model, calibration, **kw)


def _hesai(model: str, calibration: Any, **kw: Any) -> Any:
    from fusion.lidar_packets.hesai import make_hesai

    return make_hesai(model, calibration, **kw)


#: vendor -> factory(model, calibration path or None, **options) -> PacketDecoder
DECODERS: dict[str, Callable[..., Any]] = {"velodyne": _velodyne, "hesai": _hesai}


def decoder_for(vendor: str, model: str, calibration: Any = None, **kw: Any) -> Any:
    """A fresh stateful decoder of ``vendor``/``model`` (see :mod:`fusion.lidar_packets.decoded`)."""
    return DECODERS[vendor](model, calibration, **kw)
