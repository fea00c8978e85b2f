"""Spinning LiDAR simulation with real motion distortion, and its PointCloud2 layout.

A sweep has ``columns`` columns over one period; column ``j`` fires at
``sweep_start + (j * period_ns) // columns`` (true time), all beams at once.
Azimuth of column ``j`` is ``π - 2π j / columns`` (clockwise seen from above,
starting backwards like Ouster); beam ``b`` (= ``ring``) has elevation
``linspace(-25°, +15°, beams)[b]`` (ring 0 lowest). Each ray is cast from the
LiDAR pose at its own time against the world at that time, and the hit is stored
in the LiDAR frame at that same time (float32). Points are unorganized
(``height = 1``), ordered column by column, beam by beam; rays without a hit are
dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fusion.testing.synth.trajectory import AnalyticTrajectory
from fusion.testing.synth.world import GROUND_ID, NO_HIT, World, raycast

F64 = NDArray[np.float64]
ELEVATION_MIN_DEG = -25.0
ELEVATION_MAX_DEG = 15.0

# PointField datatypes
UINT16, UINT32, FLOAT32, FLOAT64 = 4, 6, 7, 8


@dataclass(frozen=True)
class Sweep:
    """One simulated sweep (truth and message content).

    Attributes:
        start_ns: true time of column 0, int64 ns.
        xyz_lidar: (N, 3) float32 points in the LiDAR frame at their own time, m.
        world_xyz: (N, 3) float64 exact hit points in odom, m.
        time_ns: (N,) int64 true (common-clock) time of each point.
        object_id: (N,) int64 object hit (-1 ground).
        ring: (N,) uint16 beam index.
        intensity: (N,) float32.
    """

    start_ns: int
    xyz_lidar: NDArray[np.float32]
    world_xyz: F64
    time_ns: NDArray[np.int64]
    object_id: NDArray[np.int64]
    ring: NDArray[np.uint16]
    intensity: NDArray[np.float32]


def beam_directions(beams: int, columns: int) -> F64:
    """(columns, beams, 3) unit ray directions in the LiDAR frame."""
    el = np.deg2rad(np.linspace(ELEVATION_MIN_DEG, ELEVATION_MAX_DEG, beams))
    az = np.pi - 2 * np.pi * np.arange(columns) / columns
    ce, se = np.cos(el)[None, :], np.sin(el)[None, :]
    return np.stack([ce * np.cos(az)[:, None], ce * np.sin(az)[:, None], np.broadcast_to(se, (columns, beams))],
                    axis=-1)


def column_times_ns(start_ns: int, period_ns: int, columns: int) -> NDArray[np.int64]:
    """(columns,) int64 true firing time of each column."""
    return np.int64(start_ns) + (np.arange(columns, dtype=np.int64) * np.int64(period_ns)) // columns


def intensity_of(object_id: NDArray[np.int64], world_xyz: F64) -> NDArray[np.float32]:
    """Deterministic per-surface intensity: boxes by id, ground as a 2 m checker (20 / 40)."""
    box = (40.0 + (object_id * 37) % 200).astype(np.float32)
    cell = (np.floor(world_xyz[:, 0] / 2.0) + np.floor(world_xyz[:, 1] / 2.0)).astype(np.int64) % 2
    ground = np.where(cell == 0, 20.0, 40.0).astype(np.float32)
    return np.where(object_id == GROUND_ID, ground, box).astype(np.float32)


def simulate_sweep(traj: AnalyticTrajectory, world: World, T_base_lidar: F64, start_ns: int, period_ns: int,
                   dirs_lidar: F64, max_range_m: float) -> Sweep:
    """Cast one sweep; see the module docstring for the geometry and ordering."""
    columns, beams, _ = dirs_lidar.shape
    col_t = column_times_ns(start_ns, period_ns, columns)
    T_wl = traj.matrices(col_t) @ T_base_lidar  # (C, 4, 4)
    d_world = np.matmul(dirs_lidar, np.transpose(T_wl[:, :3, :3], (0, 2, 1)))  # (C, B, 3)
    rng_m, ids, _ = raycast(world, T_wl[:, :3, 3], d_world, col_t, max_range_m)
    d_world = d_world.reshape(-1, 3)
    origins = np.repeat(T_wl[:, :3, 3], beams, axis=0)
    times = np.repeat(col_t, beams)
    keep = ids != NO_HIT
    r = rng_m[keep]
    world_xyz = origins[keep] + r[:, None] * d_world[keep]
    xyz = (r[:, None] * dirs_lidar.reshape(-1, 3)[keep]).astype(np.float32)
    ring = np.tile(np.arange(beams, dtype=np.uint16), columns)[keep]
    obj = ids[keep]
    return Sweep(int(start_ns), xyz, world_xyz, times[keep], obj, ring, intensity_of(obj, world_xyz))


def point_layout(convention: str) -> tuple[list[tuple[str, int, int]], int, np.dtype]:
    """PointCloud2 fields of the LiDAR cloud for ``convention``.

    Returns:
        ([(name, offset, datatype)], point_step, numpy structured dtype).
    """
    fields = [("x", 0, FLOAT32), ("y", 4, FLOAT32), ("z", 8, FLOAT32), ("intensity", 12, FLOAT32)]
    if convention == "ouster_t":
        fields += [("t", 16, UINT32), ("ring", 20, UINT16)]
        step = 24
    elif convention == "velodyne_time":
        fields += [("time", 16, FLOAT32), ("ring", 20, UINT16)]
        step = 24
    else:  # hesai_timestamp
        fields += [("timestamp", 16, FLOAT64), ("ring", 24, UINT16)]
        step = 32
    np_types = {UINT16: "<u2", UINT32: "<u4", FLOAT32: "<f4", FLOAT64: "<f8"}
    dtype = np.dtype({"names": [f[0] for f in fields], "formats": [np_types[f[2]] for f in fields],
                      "offsets": [f[1] for f in fields], "itemsize": step})
    return fields, step, dtype


def sweep_stamp_true_ns(convention: str, start_ns: int, period_ns: int, columns: int) -> int:
    """True time represented by the header stamp: first column, or last column for velodyne_time."""
    if convention == "velodyne_time":
        return int(column_times_ns(start_ns, period_ns, columns)[-1])
    return int(start_ns)


def encode_points(sweep: Sweep, convention: str, stamp_true_ns: int, offset_ns: int) -> bytes:
    """Packed little-endian point bytes (``width * point_step``) for ``convention``.

    Per-point time fields are hardware times (true - ``offset_ns``):
    ``t`` = uint32 ns since the header stamp (sweep start);
    ``time`` = float32 s relative to the header stamp (sweep end, so ≤ 0);
    ``timestamp`` = float64 absolute s (≈ 0.24 µs resolution at 1.7e9 s).
    """
    _, _, dtype = point_layout(convention)
    arr = np.zeros(sweep.xyz_lidar.shape[0], dtype=dtype)
    arr["x"], arr["y"], arr["z"] = sweep.xyz_lidar[:, 0], sweep.xyz_lidar[:, 1], sweep.xyz_lidar[:, 2]
    arr["intensity"] = sweep.intensity
    arr["ring"] = sweep.ring
    rel_ns = sweep.time_ns - np.int64(stamp_true_ns)
    if convention == "ouster_t":
        arr["t"] = rel_ns.astype(np.uint32)
    elif convention == "velodyne_time":
        arr["time"] = (rel_ns.astype(np.float64) * 1e-9).astype(np.float32)
    else:
        hw = sweep.time_ns - np.int64(offset_ns)
        arr["timestamp"] = (hw // 1_000_000_000).astype(np.float64) + (hw % 1_000_000_000).astype(np.float64) * 1e-9
    return arr.tobytes()
