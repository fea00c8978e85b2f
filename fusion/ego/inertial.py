"""Ego sources ``imu``, ``imu+odom``, ``imu+gnss``, ``imu+odom+gnss``: the inertial estimate.

With wheel odometry and/or GNSS the error-state filter + smoother of :mod:`fusion.ego.estimator`
gives the full pose and twist. With the IMU alone only the rotation is observable over a sweep:
``imu`` integrates the (bias-corrected, gravity-aligned) gyro and holds the translation at 0 with
zero velocity, so LiDAR deskew compensates rotation only (said in the summary and the report).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.rotation import matrix_to_quat_xyzw
from fusion.ego import kernels
from fusion.ego.estimator import estimate
from fusion.ego.init import initial_state
from fusion.ego.sources import EgoInputs, EgoTrack

#: Expected accuracy per source, measured on the synthetic 60 s drive (docs/SYNC.md).
EXPECTED: dict[str, str] = {
    "imu": "rotation only (gyro integration; heading drifts with the gyro bias); translation not estimated: "
           "LiDAR deskew compensates rotation only, radar Doppler is not compensated (velocity unknown)",
    "imu+odom": "horizontal drift 0.3–0.6 % of distance, heading within 0.8° after 60 s (synthetic, +0.3 % wheel "
                "scale error; husky: 0.8 % ATE); grows with the wheels' scale error and slip",
    "imu+gnss": "0.07–0.16 m ATE and heading within 0.15° (synthetic, GNSS σ 1 m at 10 Hz); bounded by the fixes",
    "imu+odom+gnss": "≈ 0.1 m ATE and heading within 0.2° (synthetic, GNSS σ 1 m at 10 Hz; the wheel scale error "
                     "is estimated); bounded by the fixes",
}


@dataclass(frozen=True)
class InertialSource:
    """The IMU with optional wheel odometry and GNSS."""

    name: str
    wheel: bool
    gnss: bool

    def missing(self, inputs: EgoInputs) -> str | None:
        lack = []
        if inputs.imu is None or len(inputs.imu.times_ns) < 10:
            lack.append("an IMU (sensor_msgs/Imu, ≥ 10 samples)")
        if self.wheel and inputs.wheel is None:
            lack.append("wheel odometry (a nav_msgs/Odometry topic with twist, or a TwistStamped topic; set ego.topic)")
        if self.gnss and inputs.gnss is None:
            lack.append("GNSS fixes (sensor_msgs/NavSatFix with a fix)")
        return None if not lack else "the log has no " + " and no ".join(lack)

    def build(self, inputs: EgoInputs) -> EgoTrack:
        imu = inputs.imu
        assert imu is not None
        notes = []
        if not inputs.imu_mount_known:
            notes.append("the IMU mount is not in the rig (identity assumed): give it in a rig file")
        if self.gnss and not inputs.antenna_known:
            notes.append("the GNSS antenna position is not in the rig (base_link origin assumed)")
        used = [inputs.imu_topic] + ([inputs.wheel_topic] if self.wheel else []) \
            + ([inputs.gnss_topic] if self.gnss else [])
        if not self.wheel and not self.gnss:
            return self._rotation_only(inputs, notes, tuple(t for t in used if t))
        est = estimate(imu, wheel=inputs.wheel if self.wheel else None, gnss=inputs.gnss if self.gnss else None,
                       params=inputs.params)
        med_p = float(np.median(est.position_sigma_m))
        med_y = float(np.degrees(np.median(est.yaw_sigma_rad)))
        acc = f"{EXPECTED[self.name]}; estimated 1σ (median): {med_p:.2f} m horizontal, {med_y:.2f}° heading"
        rej = [f"{n} {k} measurement(s) rejected as outliers" for k, n in est.rejected.items()]
        parent = "enu" if est.world == "enu" else (inputs.recorded.parent if inputs.recorded else "odom")
        return EgoTrack(est.times_ns, est.translation_m, est.rotation_xyzw, est.linear_velocity_mps,
                        est.angular_velocity_radps, parent=parent, source=self.name,
                        inputs=tuple(t for t in used if t), expected_accuracy=acc,
                        position_sigma_m=est.position_sigma_m, yaw_sigma_rad=est.yaw_sigma_rad,
                        notes=(*notes, *est.notes, *rej), origin=est.origin)

    def _rotation_only(self, inputs: EgoInputs, notes: list[str], used: tuple[str, ...]) -> EgoTrack:
        imu = inputs.imu
        assert imu is not None
        T_bi = np.asarray(imu.T_base_imu, np.float64)
        R_bi = T_bi[:3, :3]
        init = initial_state(imu, None, None, -R_bi.T @ T_bi[:3, 3])
        t = np.asarray(imu.times_ns, np.int64)
        secs = (t - t[0]).astype(np.float64) * 1e-9
        bg = init.x0[18:21]
        R_wi = kernels.integrate_gyro(secs, np.ascontiguousarray(imu.angular_velocity_radps, np.float64),
                                      init.x0[6:15].reshape(3, 3).copy(), bg)
        R_wb = R_wi @ R_bi.T
        w_base = (imu.angular_velocity_radps - bg) @ R_bi.T
        n = len(t)
        yaw_sigma = np.sqrt(init.P0[14, 14]) * secs  # the gyro bias uncertainty integrated
        # the velocity is unknown: NaN, so radar Doppler is left uncompensated rather than compensated wrongly
        return EgoTrack(t, np.zeros((n, 3)), matrix_to_quat_xyzw(R_wb), np.full((n, 3), np.nan), w_base, parent="odom",
                        source=self.name, inputs=used, expected_accuracy=EXPECTED["imu"],
                        position_sigma_m=np.full(n, np.nan), yaw_sigma_rad=yaw_sigma, translation=False,
                        notes=(*notes, *init.notes))


IMU = InertialSource("imu", wheel=False, gnss=False)
IMU_ODOM = InertialSource("imu+odom", wheel=True, gnss=False)
IMU_GNSS = InertialSource("imu+gnss", wheel=False, gnss=True)
IMU_ODOM_GNSS = InertialSource("imu+odom+gnss", wheel=True, gnss=True)
