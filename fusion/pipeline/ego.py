"""The plan's ego trajectory from ``ego.source`` (:mod:`fusion.ego.sources`): recorded or estimated.

Gathers what the log has — the recorded trajectory (``build_ego``), the frame IMU with its mount
from the rig, the first GNSS stream in local ENU with its antenna position — picks the source
(``auto``: recorded, else the richest inertial estimate), runs it only when it is needed, and
returns the :class:`~fusion.pipeline.streams.EgoTable` that deskew, radar compensation and the
frames use, with ``report.extra["ego"]`` saying which source, from which topics, how accurate.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from calibration import Rig
from fusion.ego.geo import fixes_to_enu
from fusion.ego.inputs import EstimatorParams, GnssInput, ImuInput, WheelInput
from fusion.ego.lidar_odometry import LidarSweep
from fusion.ego.sources import EgoInputs, LidarInput, RecordedInput, choose
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.report import ReportBuilder
from fusion.pipeline.scan import Scan
from fusion.pipeline.sensors import SelectedSensors
from fusion.pipeline.streams import EgoTable, ImuTable, MessageTable, SampleTable


def _recorded(ego: EgoTable, scan: Scan, selected: SelectedSensors) -> RecordedInput | None:
    if len(ego.times_ns) < 2:
        return None
    tw = scan.poses["linear_velocity_mps"], scan.poses["angular_velocity_radps"]
    twist = len(scan.poses) > 0 and bool(np.isfinite(tw[0]).all() and np.isfinite(tw[1]).all())
    kind = "tf" if selected.ego_kind == "tf" else "odometry"
    return RecordedInput(ego.times_ns, ego.translation_m, ego.rotation_xyzw, ego.linear_velocity_mps,
                         ego.angular_velocity_radps, ego.parent, ego.child, ego.topic, kind, twist)


def _gnss(samples: list[SampleTable], selected: SelectedSensors, rig: Rig, params: EstimatorParams,
          ) -> tuple[GnssInput | None, str, bool]:
    gnss = next((c for c in selected.continuous if c.kind == "gnss"), None)
    table = next((t for t in samples if gnss is not None and t.name == gnss.name), None)
    if gnss is None or table is None:
        return None, "", True
    known = gnss.name in rig
    t_ba = rig.sensor(gnss.name).T_base_sensor.translation if known else np.zeros(3)
    c = table.columns
    enu = fixes_to_enu(table.times_ns, c["latitude_deg"], c["longitude_deg"], c["altitude_m"], c["status"],
                       c["position_covariance_m2"], c["covariance_type"], t_ba, params.gnss_default_sigma)
    return enu, table.topic, known


def _twist(samples: list[SampleTable], selected: SelectedSensors) -> tuple[WheelInput | None, str]:
    """The first twist topic (wheel odometry without a pose) as wheel odometry."""
    tw = next((c for c in selected.continuous if c.kind == "twist"), None)
    table = next((t for t in samples if tw is not None and t.name == tw.name), None)
    if table is None or len(table.times_ns) < 2:
        return None, ""
    c = table.columns
    return WheelInput(table.times_ns, c["linear_velocity_mps"], c["angular_velocity_radps"]), table.topic


def lidar_input(cfg: ConvertConfig, selected: SelectedSensors, rig: Rig, tables: dict[str, MessageTable],
                read_topic: Any) -> LidarInput | None:
    """The first LiDAR's sweeps for LiDAR odometry (only when ``ego.source`` asks for it): read again
    from the bag, per-point times moved to the common clock with the sensor's offset."""
    if "lidar" not in str(cfg.ego.source) or read_topic is None:
        return None
    name = next((n for n, s in selected.sensors.items() if s.kind == "lidar" and n in tables), None)
    if name is None:
        return None
    tab = tables[name]
    known = name in rig
    T = rig.sensor(name).T_base_sensor.matrix if known else np.eye(4)

    def sweeps() -> Iterator[LidarSweep]:
        off = np.int64(tab.offset_ns)
        for rec in read_topic(tab.topic):
            xyz = getattr(rec, "xyz", None)
            pt = getattr(rec, "point_time_ns", None)
            if xyz is None or len(xyz) == 0:
                continue
            i = rec.meta.index
            common = int(tab.common_ns[i]) if i < len(tab.common_ns) else 0
            times = np.full(len(xyz), common, np.int64) if pt is None else np.asarray(pt, np.int64) + off
            ok = np.isfinite(xyz).all(axis=1)
            yield LidarSweep(np.asarray(xyz[ok], np.float64), times[ok])

    return LidarInput(sweeps, T, tab.topic, known)


def _no_trajectory(poses: int, topic: str, kinds: set[str]) -> str:
    """The warning of a log without an ego trajectory: what it costs for the sensors it has, what to set."""
    costs = [what for kind, what in (("lidar", "LiDAR is not deskewed"), ("radar", "radar Doppler is not compensated"))
             if kind in kinds]
    costs.append("frames have no ego pose and are flagged")
    fix = "ego.source: lidar (LiDAR odometry) or ego.topic" if "lidar" in kinds else "ego.topic or ego.source"
    return (f"no usable ego trajectory ({poses} pose(s) on {topic or 'no ego topic'}, no IMU to estimate one): "
            f"{', '.join(costs)}; set {fix} in the config")


def build_ego_source(cfg: ConvertConfig, scan: Scan, selected: SelectedSensors, rig: Rig, recorded: EgoTable,
                     imu: ImuTable | None, samples: list[SampleTable], report: ReportBuilder,
                     lidar: LidarInput | None = None) -> EgoTable:
    """The ego trajectory ``ego.source`` asks for (see module docstring).

    Raises:
        ConfigError: an explicit ``ego.source`` whose inputs the log lacks.
    """
    e = cfg.ego
    params = EstimatorParams(wheel_yaw_rate_sigma=e.wheel_yaw_rate_sigma, rate_hz=e.rate_hz)
    imu_in, mount_known = None, True
    if imu is not None and len(imu.times_ns) >= 10:
        mount_known = imu.name in rig
        T = rig.sensor(imu.name).T_base_sensor.matrix if mount_known else np.eye(4)
        imu_in = ImuInput(imu.times_ns, imu.angular_velocity_radps, imu.linear_acceleration_mps2, T)
    gnss, gnss_topic, antenna_known = _gnss(samples, selected, rig, params)
    twist, twist_topic = _twist(samples, selected)
    inputs = EgoInputs(_recorded(recorded, scan, selected), imu_in, gnss, params, mount_known, antenna_known,
                       imu.topic if imu is not None else "", gnss_topic, twist, twist_topic, lidar)
    source, why = choose(e.source, inputs)
    info: dict[str, Any] = {"source": "none", "choice": why, "inputs": [], "expected_accuracy": "no trajectory",
                            "notes": [], "estimator_s": 0.0}
    report.extra["ego"] = info
    if source is None:
        report.warn(_no_trajectory(len(recorded.times_ns), recorded.topic, {s.kind for s in selected.sensors.values()}))
        return recorded
    t0 = time.perf_counter()
    track = source.build(inputs)
    info.update(source=track.source, inputs=list(track.inputs), expected_accuracy=track.expected_accuracy,
                notes=list(track.notes), estimator_s=round(time.perf_counter() - t0, 3),
                translation=track.translation)
    if track.quality is not None:  # LiDAR odometry: registration residual and fitness per sweep
        res, fit = np.asarray(track.quality["residual_m"]), np.asarray(track.quality["fitness"])
        info["lidar"] = {"sweeps": len(res), "residual_m_p50": round(float(np.nanmedian(res)), 4),
                         "residual_m_max": round(float(np.nanmax(res)), 4),
                         "fitness_min": round(float(np.nanmin(fit)), 3),
                         "low_fitness_sweeps": int((fit < 0.5).sum())}
        if (fit < 0.5).any():
            report.warn(f"ego.source {track.source}: {int((fit < 0.5).sum())} sweep(s) registered with fitness < 0.5 "
                        "(degenerate or changing scene): the trajectory may drift there")
    if track.origin is not None:
        info["enu_origin"] = {"latitude_deg": track.origin[0], "longitude_deg": track.origin[1],
                              "altitude_m": track.origin[2]}
    if track.position_sigma_m is None:  # recorded: as it was built
        return recorded
    if not track.translation:
        report.warn(f"ego.source {track.source}: rotation only — LiDAR deskew does not compensate translation "
                    "and radar Doppler is not compensated (the ego velocity is unknown)")
    return EgoTable(track.times_ns, track.translation_m, track.rotation_xyzw, track.linear_velocity_mps,
                    track.angular_velocity_radps, parent=e.world_frame or track.parent,
                    child=recorded.child if len(recorded.times_ns) else "base_link", topic=track.source,
                    position_sigma_m=track.position_sigma_m, yaw_sigma_rad=track.yaw_sigma_rad)

