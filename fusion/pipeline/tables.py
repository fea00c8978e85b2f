"""Everything a conversion writes besides the streamed payloads: ego, continuous streams (IMU), the
frame table with its per-sensor matches and sync quality, rig and report."""

from __future__ import annotations

from typing import Any

import numpy as np

from calibration import Rig
from fusion import kinds
from fusion.pipeline.execute import StreamPass
from fusion.pipeline.plan import ConversionPlan
from fusion.pipeline.report import ReportBuilder
from fusion.pipeline.streams import EgoTable
from fusion.store.sink import EgoColumns, FrameSink, FrameTable, RootAttrs, SensorMatches


def write_tables(writer: FrameSink, rig: Rig, plan: ConversionPlan, ex: StreamPass, report: ReportBuilder) -> None:
    """Everything besides the streamed payloads: ego, continuous streams (IMU), frame table, rig, report."""
    ego = plan.ego
    writer.set_root_attrs(RootAttrs(base_frame=rig.base_frame, world_frame=ego.parent or "odom",
                                    reference=str(plan.reference)))
    writer.write_rig(rig.to_dict())
    info = report.extra.get("ego", {})
    report.extra["ego_rows"] = len(ego.times_ns)  # what `fusion validate` checks ego/ against
    writer.write_ego(EgoColumns(ego.times_ns, ego.translation_m, ego.rotation_xyzw, ego.linear_velocity_mps,
                                ego.angular_velocity_radps,
                                attrs={"parent": ego.parent, "child": ego.child, "source": ego.topic,
                                       "estimator": info.get("source", "none"),
                                       "expected_accuracy": info.get("expected_accuracy", ""),
                                       **({"enu_origin": info["enu_origin"]} if "enu_origin" in info else {})}))
    if plan.imu is not None and ex.selected.imu is not None:
        kinds.get(ex.selected.imu.kind).write_table(writer, plan.imu)
    kind_of = {c.name: c.kind for c in ex.selected.continuous}
    for table in plan.samples:
        kinds.get(kind_of[table.name]).write_table(writer, table)
    frames = plan.frames
    sensors = ex.frame_sensors()
    flags = np.asarray(frames.flags, dtype=np.uint32)
    imu_range = (
        np.asarray(frames.imu_range, dtype=np.int64)
        if plan.imu is not None
        else np.zeros((len(frames.time_ns), 2), np.int64)
    )
    writer.write_frames(FrameTable(np.asarray(frames.time_ns, dtype=np.int64), ex.ego_at_frames(), flags, imu_range,
                                   sensors, imu_stream=plan.imu.name if plan.imu is not None else None,
                                   ego_quality=ego_quality(ego, frames.time_ns),
                                   ego_source=str(info.get("source", "none"))))
    report.sync_quality = sync_quality(frames.time_ns, sensors, flags)
    report.extra["frames"] = len(frames.time_ns)
    report.extra["reference"] = str(plan.reference)
    report.extra["lidar"] = {k: vars(v) for k, v in ex.lidar_stats.items()}
    writer.write_report(report.to_dict())


def ego_quality(ego: EgoTable, times: Any) -> np.ndarray:
    """(F, 2) float32 1σ horizontal position (m) and heading (rad) of the ego pose at each frame time
    (interpolated; NaN outside the trajectory and for a recorded trajectory)."""
    t = np.asarray(times, np.int64)
    out = np.full((len(t), 2), np.nan, np.float32)
    if ego.position_sigma_m is None or ego.yaw_sigma_rad is None or len(ego.times_ns) < 2:
        return out
    inside = (t >= ego.times_ns[0]) & (t <= ego.times_ns[-1])
    for i, sig in enumerate((ego.position_sigma_m, ego.yaw_sigma_rad)):
        out[inside, i] = np.interp(t[inside], ego.times_ns, sig)
    return out


def sync_quality(times: Any, sensors: dict[str, SensorMatches], flags: np.ndarray) -> dict[str, Any]:
    """Per sensor p50/p99/max |Δt| (ms) over frames where it is present, and frames missing it."""
    out: dict[str, Any] = {"frames": len(times), "ego_gap_frames": int((flags & 1).astype(bool).sum())}
    per: dict[str, Any] = {}
    for name, m in sensors.items():
        dt, valid = m.dt_ns, m.valid
        a = np.abs(dt[valid]).astype(np.float64) / 1e6
        per[name] = {
            "present": int(valid.sum()),
            "missing": int((~valid).sum()),
            "p50_ms": float(np.percentile(a, 50)) if len(a) else None,
            "p99_ms": float(np.percentile(a, 99)) if len(a) else None,
            "max_ms": float(a.max()) if len(a) else None,
        }
    out["sensors"] = per
    return out
