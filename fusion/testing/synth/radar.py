"""Radar simulation: detections on box surfaces (and a few on the ground) with exact Doppler.

A scan casts a fan of rays (azimuth ±60°, elevation ±6°) from the radar pose at
the scan's true time. Up to ``max_detections`` box hits and up to 4 ground hits
(range ≥ 3 m) are kept (seeded random choice), in ray order. Measured radial
velocity ``v_r = (v_target - v_sensor) · u`` (world frame, ``u`` unit vector
sensor → target, positive away); ``v_sensor = v_base + ω × (R_odom_base t_base_radar)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fusion.testing.synth.trajectory import AnalyticTrajectory
from fusion.testing.synth.world import GROUND_ID, NO_HIT, World, raycast

F64 = NDArray[np.float64]
AZIMUTHS_DEG = np.linspace(-60.0, 60.0, 121)
ELEVATIONS_DEG = np.linspace(-6.0, 6.0, 7)
MAX_GROUND = 4
RADAR_MAX_RANGE_M = 100.0
FIELDS = [("x", 0), ("y", 4), ("z", 8), ("doppler_mps", 12), ("rcs", 16)]
POINT_STEP = 20


@dataclass(frozen=True)
class RadarScan:
    """One radar scan (truth and message content).

    Attributes:
        time_ns: true scan time, int64 ns.
        xyz_radar: (N, 3) float64 true positions in the radar frame, m.
        world_xyz: (N, 3) float64 positions in odom, m.
        doppler_mps: (N,) float64 radial velocity (positive away), m/s.
        rcs: (N,) float32, dBsm.
        object_id: (N,) int64 (-1 ground).
        target_velocity: (N, 3) float64 true world velocity of the target, m/s.
    """

    time_ns: int
    xyz_radar: F64
    world_xyz: F64
    doppler_mps: F64
    rcs: NDArray[np.float32]
    object_id: NDArray[np.int64]
    target_velocity: F64


def _fan() -> F64:
    az2, el2 = np.meshgrid(np.deg2rad(AZIMUTHS_DEG), np.deg2rad(ELEVATIONS_DEG))
    az, el = az2.ravel(), el2.ravel()
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)


def simulate_scan(traj: AnalyticTrajectory, world: World, T_base_radar: F64, time_ns: int, max_detections: int,
                  rng: np.random.Generator) -> RadarScan:
    """Simulate one scan at true time ``time_ns``."""
    T_wr = traj.matrices([time_ns])[0] @ T_base_radar
    dirs_r = _fan()
    d_w = dirs_r @ T_wr[:3, :3].T
    o = T_wr[:3, 3]
    r, ids, _ = raycast(world, np.broadcast_to(o, d_w.shape).copy(), d_w[:, None, :], np.int64(time_ns),
                        RADAR_MAX_RANGE_M)
    box_idx = np.flatnonzero(ids >= 0)
    ground_idx = np.flatnonzero((ids == GROUND_ID) & (r >= 3.0))
    if box_idx.size > max_detections:
        box_idx = np.sort(rng.choice(box_idx, max_detections, replace=False))
    if ground_idx.size > MAX_GROUND:
        ground_idx = np.sort(rng.choice(ground_idx, MAX_GROUND, replace=False))
    keep = np.sort(np.concatenate([box_idx, ground_idx]))
    assert not np.any(ids[keep] == NO_HIT)
    rr, obj, u = r[keep], ids[keep], d_w[keep]
    world_xyz = o + rr[:, None] * u
    v_target = np.zeros((keep.size, 3))
    moving = obj >= 0
    v_target[moving] = world.velocities[obj[moving]]
    v_sensor = traj.point_velocity_world([time_ns], T_base_radar[:3, 3])[0]
    doppler = np.einsum("ni,ni->n", v_target - v_sensor, u)
    rcs = np.where(obj == GROUND_ID, -10.0, 5.0 + (obj % 7) * 2.0).astype(np.float32)
    xyz_radar = rr[:, None] * dirs_r[keep]
    return RadarScan(int(time_ns), xyz_radar, world_xyz, doppler, rcs, obj, v_target)


def encode_scan(scan: RadarScan) -> bytes:
    """Packed float32 x y z doppler_mps rcs (point_step 20, little-endian)."""
    arr = np.empty((scan.xyz_radar.shape[0], 5), dtype="<f4")
    arr[:, :3] = scan.xyz_radar
    arr[:, 3] = scan.doppler_mps
    arr[:, 4] = scan.rcs
    return arr.tobytes()
