"""Assemble the arrays of ``truth.npz`` (see docs/SYNTH.md for every name, shape and unit)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusion.testing.synth import rig as rigdef
from fusion.testing.synth.config import SynthConfig
from fusion.testing.synth.content import ContentSource
from fusion.testing.synth.schedule import TopicTable


def _ragged(parts: list[NDArray[Any]], dtype: Any, width: int | None = None) -> NDArray[Any]:
    shape = (0,) if width is None else (0, width)
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(shape, dtype)


def truth_arrays(cfg: SynthConfig, tables: dict[str, TopicTable], src: ContentSource) -> dict[str, NDArray[Any]]:
    """Every truth array, keyed by its npz name."""
    out: dict[str, NDArray[Any]] = {}
    topics = list(tables)
    tabs = [tables[t] for t in topics]
    out["msg_topic"] = np.concatenate([np.full(t.seq.size, k, np.int16) for k, t in enumerate(tabs)])
    for name in ("seq", "index", "true_time_ns", "stamp_ns", "record_time_ns"):
        out[f"msg_{name}"] = np.concatenate([getattr(t, name) for t in tabs]).astype(np.int64)
    out["msg_fault"] = np.concatenate([t.fault for t in tabs]).astype(np.int8)

    sweeps = [src.sweeps[i] for i in range(len(src.sweep_starts))]
    lidar_offset = cfg.offset_ns("lidar_top")
    out["lidar_offsets"] = np.concatenate([[0], np.cumsum([s.xyz_lidar.shape[0] for s in sweeps])]).astype(np.int64)
    out["lidar_world_xyz"] = _ragged([s.world_xyz for s in sweeps], np.float64, 3)
    out["lidar_xyz"] = _ragged([s.xyz_lidar for s in sweeps], np.float32, 3)
    out["lidar_time_ns"] = _ragged([s.time_ns for s in sweeps], np.int64)
    out["lidar_object_id"] = _ragged([s.object_id for s in sweeps], np.int32)
    out["lidar_ring"] = _ragged([s.ring for s in sweeps], np.uint16)
    out["lidar_intensity"] = _ragged([s.intensity for s in sweeps], np.float32)
    out["lidar_start_ns"] = np.asarray(src.sweep_starts, dtype=np.int64)
    out["lidar_stamp_true_ns"] = np.asarray(src.true_times[rigdef.TOPIC_LIDAR], dtype=np.int64)
    out["lidar_stamp_ns"] = out["lidar_stamp_true_ns"] - np.int64(lidar_offset)

    scans = [src.scans[i] for i in range(src.true_times[rigdef.TOPIC_RADAR].size)]
    out["radar_offsets"] = np.concatenate([[0], np.cumsum([s.xyz_radar.shape[0] for s in scans])]).astype(np.int64)
    out["radar_xyz"] = _ragged([s.xyz_radar for s in scans], np.float64, 3)
    out["radar_world_xyz"] = _ragged([s.world_xyz for s in scans], np.float64, 3)
    out["radar_doppler_mps"] = _ragged([s.doppler_mps for s in scans], np.float64)
    out["radar_rcs"] = _ragged([s.rcs for s in scans], np.float32)
    out["radar_object_id"] = _ragged([s.object_id for s in scans], np.int64)
    out["radar_target_velocity"] = _ragged([s.target_velocity for s in scans], np.float64, 3)
    out["radar_time_ns"] = np.asarray(src.true_times[rigdef.TOPIC_RADAR], dtype=np.int64)
    out["radar_stamp_ns"] = out["radar_time_ns"] - np.int64(cfg.offset_ns("radar_front"))
    return out
