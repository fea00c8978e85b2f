"""Pass-2 motion compensation of one message: LiDAR deskew and radar Doppler ego-compensation.

Both use the plan's ego trajectory (``T_world_base`` samples on the common clock) and the rig's
extrinsics. LiDAR points are moved to the LiDAR pose at the sweep's reference time; a sweep is
left raw (and counted) when it has no per-point time or the trajectory does not cover it, because
a gap in the ego trajectory is never bridged. Radar radial velocities get the sensor's own motion
removed: ``v_comp = v_r + v_sensor · u`` (lever arm included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from calibration import Rig
from calibration.interpolate import locate
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.plan import ConversionPlan
from fusion.pipeline.streams import MessageTable
from fusion.readers.records import PointCloud, RadarDetections
from fusion.sync import compensate_doppler, sensor_velocity
from fusion.sync.deskew_sweep import DESKEWED, deskew_sweep


@njit(cache=True, nogil=True)
def _sweep_times(xyz, pt, offset_ns, ref_ns, offsets):  # type: ignore[no-untyped-def]
    """One pass over a sweep: are all points finite, and per-point times on the common clock.

    Args:
        xyz: (N, 3) float32 points. pt: (N,) int64 point times on the sensor clock, ns.
        offset_ns: Sensor clock -> common clock, ns. ref_ns: Reference time (common clock), ns.
        offsets: out (N,) int32 ``pt + offset_ns - ref_ns``.

    Returns:
        (all finite, earliest, latest point time on the common clock, ns).
    """
    finite = True
    lo = np.int64(ref_ns)
    hi = np.int64(ref_ns)
    for i in range(xyz.shape[0]):
        if not (np.isfinite(xyz[i, 0]) and np.isfinite(xyz[i, 1]) and np.isfinite(xyz[i, 2])):
            finite = False
        t = pt[i] + offset_ns
        lo = min(lo, t)
        hi = max(hi, t)
        offsets[i] = t - ref_ns
    return finite, lo, hi


@dataclass
class LidarStats:
    """Deskew bookkeeping reported per LiDAR."""

    deskewed: int = 0
    not_deskewed_no_time: int = 0
    not_deskewed_no_ego: int = 0
    nonfinite_points_dropped: int = 0


@dataclass(frozen=True)
class CompensatedCloud:
    """One LiDAR sweep ready to store.

    Attributes:
        xyz: (N, 3) float32 points in the sensor frame at ``ref_ns`` (raw when not deskewed), m.
        time_offset_ns: (N,) int32 point time minus ``ref_ns`` (common clock), ns.
        fields: Other per-point fields, (N,) each.
        ref_ns: Reference time of ``xyz`` (common clock), ns.
        raw: (N, 3) float32 points as measured (sensor frame), m.
    """

    xyz: np.ndarray
    time_offset_ns: np.ndarray
    fields: dict[str, np.ndarray]
    ref_ns: int
    raw: np.ndarray


class Compensator:
    """Motion compensation of one conversion (see module docstring)."""

    def __init__(self, rig: Rig, cfg: ConvertConfig, plan: ConversionPlan, fields: dict[str, dict[str, Any]]) -> None:
        self.cfg = cfg
        self.plan = plan
        self.fields = fields  # sensor -> stored point fields
        ego = plan.ego
        self._ego = (
            np.ascontiguousarray(ego.times_ns, dtype=np.int64),
            np.ascontiguousarray(ego.translation_m, dtype=np.float64).reshape(-1, 3),
            np.ascontiguousarray(ego.rotation_xyzw, dtype=np.float64).reshape(-1, 4),
        )
        self._R_t_base: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._max_gap_ns = int(cfg.frames.max_gap_ms * 1e6)
        self._rig = rig
        self._T: dict[str, np.ndarray] = {}
        self.lidar_stats: dict[str, LidarStats] = {}

    def _T_base_sensor(self, name: str) -> np.ndarray:
        T = self._T.get(name)
        if T is None:
            T = self._T[name] = self._rig.sensor(name).T_base_sensor.matrix
        return T

    def _base_lidar(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(3, 3) rotation and (3,) translation of ``T_base_sensor`` of ``name`` (contiguous float64)."""
        Rt = self._R_t_base.get(name)
        if Rt is None:
            T = self._T_base_sensor(name)
            Rt = self._R_t_base[name] = (np.ascontiguousarray(T[:3, :3], np.float64), np.ascontiguousarray(T[:3, 3]))
        return Rt

    def _ref_time(self, tab: MessageTable, i: int, common: int) -> int:
        mode = self.cfg.deskew
        if mode == "sweep_end" and tab.sweep_end_ns is not None and tab.sweep_end_ns[i] >= 0:
            return int(tab.sweep_end_ns[i])
        rt = self.cfg.frames.reference_time
        if rt == "sweep_start" and tab.sweep_start_ns is not None and tab.sweep_start_ns[i] >= 0:
            return int(tab.sweep_start_ns[i])
        if rt == "sweep_end" and tab.sweep_end_ns is not None and tab.sweep_end_ns[i] >= 0:
            return int(tab.sweep_end_ns[i])
        return common

    def lidar(self, name: str, tab: MessageTable, rec: PointCloud, common: int) -> CompensatedCloud:
        """Deskew one sweep of sensor ``name`` (message ``rec.meta.index`` of ``tab``)."""
        stats = self.lidar_stats.setdefault(name, LidarStats())
        xyz = rec.xyz
        wanted = self.fields[name]
        fields = {k: v for k, v in rec.fields.items() if k in wanted}
        pt = rec.point_time_ns
        columns = rec.width if rec.height > 1 else 0
        ref = self._ref_time(tab, rec.meta.index, common)
        offset_ns = np.int64(tab.offset_ns)
        offsets = np.zeros(len(xyz), dtype=np.int32)
        if pt is not None:
            finite, lo, hi = _sweep_times(xyz, pt, offset_ns, np.int64(ref), offsets)
        else:
            finite, lo, hi = bool(np.isfinite(xyz).all()), ref, ref
        if not finite:
            keep = np.isfinite(xyz).all(axis=1)
            stats.nonfinite_points_dropped += int((~keep).sum())
            xyz, offsets = xyz[keep], offsets[keep]
            fields = {k: v[keep] for k, v in fields.items()}
            pt = pt[keep] if pt is not None else None
            columns = 0  # no longer organized
            # the span of the points kept (offsets are 0 without point times)
            lo = min(int(offsets.min()) + ref, ref) if len(offsets) else ref
            hi = max(int(offsets.max()) + ref, ref) if len(offsets) else ref
        raw = xyz
        if pt is None:
            stats.not_deskewed_no_time += 1
            return CompensatedCloud(xyz, offsets, fields, ref, raw)
        if self.cfg.deskew == "off":
            return CompensatedCloud(xyz, offsets, fields, ref, raw)
        R_bl, t_bl = self._base_lidar(name)
        xyz = np.ascontiguousarray(xyz, dtype=np.float32)
        out = np.empty_like(xyz)
        pt = np.ascontiguousarray(pt, dtype=np.int64)
        status = deskew_sweep(
            xyz, pt, offset_ns, np.int64(ref), np.int64(lo), np.int64(hi), *self._ego, R_bl, t_bl,
            np.int64(self._max_gap_ns), columns, out,
        )  # fmt: skip
        if status == DESKEWED:
            stats.deskewed += 1
            return CompensatedCloud(out, offsets, fields, ref, raw)
        stats.not_deskewed_no_ego += 1  # not covered by the trajectory, or a gap inside the sweep: never bridged
        return CompensatedCloud(xyz, offsets, fields, ref, raw)

    def radar(self, name: str, rec: RadarDetections, common: int) -> np.ndarray:
        """(N,) float32 ego-compensated radial velocity, m/s (NaN outside the ego trajectory)."""
        # the ego twist at the message time: the pose interpolator's segment and fraction, blended as
        # (1 - a)·v0 + a·v1 (the stored values' arithmetic, kept bit for bit). max_gap_ns=None: radar
        # compensation bridges ego gaps (as the stores written so far do; deskew never bridges them).
        k, alpha, inside = locate(self._ego[0], np.array([common], np.int64), max_gap_ns=None)
        if not inside[0]:
            return np.full(len(rec.radial_velocity_mps), np.nan, dtype=np.float32)
        ego, k0, a = self.plan.ego, int(k[0]), float(alpha[0])
        k1 = min(k0 + 1, len(ego.times_ns) - 1)
        v = (1 - a) * ego.linear_velocity_mps[k0] + a * ego.linear_velocity_mps[k1]
        w = (1 - a) * ego.angular_velocity_radps[k0] + a * ego.angular_velocity_radps[k1]
        v_sensor = sensor_velocity(self._T_base_sensor(name), v, w)
        return compensate_doppler(rec.xyz, rec.radial_velocity_mps, v_sensor).astype(np.float32)
