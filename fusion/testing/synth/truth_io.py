"""Assemble and write the arrays of ``truth.npz`` (see docs/SYNTH.md for every name, shape and unit)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
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


def _offsets(sizes: list[int]) -> NDArray[np.int64]:
    return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)


def write_npz(path: Path, arrays: Iterator[tuple[str, NDArray[Any]]]) -> None:
    """Write ``(name, array)`` pairs into an uncompressed ``.npz``, one array in memory at a time."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in arrays:
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(arr), allow_pickle=False)


def truth_arrays(cfg: SynthConfig, tables: dict[str, TopicTable], src: ContentSource
                 ) -> Iterator[tuple[str, NDArray[Any]]]:
    """Every truth array as ``(npz name, array)``, built lazily one at a time."""
    tabs = list(tables.values())
    yield "msg_topic", np.concatenate([np.full(t.seq.size, k, np.int16) for k, t in enumerate(tabs)])
    for name in ("seq", "index", "true_time_ns", "stamp_ns", "record_time_ns"):
        yield f"msg_{name}", np.concatenate([getattr(t, name) for t in tabs]).astype(np.int64)
    yield "msg_fault", np.concatenate([t.fault for t in tabs]).astype(np.int8)

    sweeps = [src.sweeps[i] for i in range(len(src.sweep_starts))]
    yield "lidar_offsets", _offsets([s.xyz_lidar.shape[0] for s in sweeps])
    yield "lidar_world_xyz", _ragged([s.world_xyz for s in sweeps], np.float64, 3)
    yield "lidar_xyz", _ragged([s.xyz_lidar for s in sweeps], np.float32, 3)
    yield "lidar_time_ns", _ragged([s.time_ns for s in sweeps], np.int64)
    yield "lidar_object_id", _ragged([s.object_id for s in sweeps], np.int32)
    yield "lidar_ring", _ragged([s.ring for s in sweeps], np.uint16)
    yield "lidar_intensity", _ragged([s.intensity for s in sweeps], np.float32)
    stamp_true = np.asarray(src.true_times[rigdef.TOPIC_LIDAR], dtype=np.int64)
    yield "lidar_start_ns", np.asarray(src.sweep_starts, dtype=np.int64)
    yield "lidar_stamp_true_ns", stamp_true
    yield "lidar_stamp_ns", stamp_true - np.int64(cfg.offset_ns("lidar_top"))

    scans = [src.scans[i] for i in range(src.true_times[rigdef.TOPIC_RADAR].size)]
    yield "radar_offsets", _offsets([s.xyz_radar.shape[0] for s in scans])
    yield "radar_xyz", _ragged([s.xyz_radar for s in scans], np.float64, 3)
    yield "radar_world_xyz", _ragged([s.world_xyz for s in scans], np.float64, 3)
    yield "radar_doppler_mps", _ragged([s.doppler_mps for s in scans], np.float64)
    yield "radar_rcs", _ragged([s.rcs for s in scans], np.float32)
    yield "radar_object_id", _ragged([s.object_id for s in scans], np.int64)
    yield "radar_target_velocity", _ragged([s.target_velocity for s in scans], np.float64, 3)
    radar_time = np.asarray(src.true_times[rigdef.TOPIC_RADAR], dtype=np.int64)
    yield "radar_time_ns", radar_time
    yield "radar_stamp_ns", radar_time - np.int64(cfg.offset_ns("radar_front"))
