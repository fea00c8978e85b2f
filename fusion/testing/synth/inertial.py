"""Noisy proprioceptive sensors of the synthetic drive: IMU bias + noise, wheel odometry, GNSS.

Truth is the analytic trajectory (:mod:`fusion.testing.synth.trajectory`); its ``odom`` frame is
local ENU at the GNSS datum (x east, y north, z up). Every random draw comes from the generator
passed in (seeded by the caller), so the measurements are deterministic.

- **IMU**: the exact samples (:func:`fusion.testing.synth.content.imu_samples`) plus a constant
  bias per axis (uniform in ±``gyro_bias_radps`` / ±``accel_bias_mps2``) and white noise of the
  given density (σ per sample = density·√rate).
- **Wheel odometry** (base_link twist, ``nav_msgs/Odometry`` or ``geometry_msgs/TwistStamped``):
  forward speed × (1 + ``wheel_scale_error``) + N(0, ``wheel_speed_sigma``), lateral/vertical 0,
  yaw rate + N(0, ``wheel_yaw_rate_sigma``); the pose is dead-reckoned from these (as a wheel
  odometry node does), so it drifts.
- **GNSS** (``sensor_msgs/NavSatFix``): the antenna (``t_base_antenna``) position + N(0, σ)
  per ENU axis (horizontal ``gnss_sigma_m``, vertical ``gnss_vertical_sigma_m``) converted to
  WGS-84 with pymap3d at ``gnss_datum``; covariance type 2 (diagonal known).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from fusion.testing.synth.config import SensorNoise
from fusion.testing.synth.trajectory import AnalyticTrajectory

if TYPE_CHECKING:
    from fusion.ego import GnssInput, ImuInput, WheelInput

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


def noisy_imu(exact_gyro: F64, exact_accel: F64, rate_hz: float, noise: SensorNoise,
              rng: np.random.Generator) -> tuple[F64, F64, F64, F64]:
    """IMU samples with bias and white noise.

    Returns:
        (gyro (N, 3) rad/s, accel (N, 3) m/s², gyro bias (3,), accel bias (3,)), IMU frame.
    """
    bg = rng.uniform(-noise.gyro_bias_radps, noise.gyro_bias_radps, 3)
    ba = rng.uniform(-noise.accel_bias_mps2, noise.accel_bias_mps2, 3)
    s = np.sqrt(rate_hz)
    gyro = exact_gyro + bg + rng.normal(0, noise.gyro_noise_density * s, exact_gyro.shape)
    accel = exact_accel + ba + rng.normal(0, noise.accel_noise_density * s, exact_accel.shape)
    return gyro, accel, bg, ba


def wheel_odometry(traj: AnalyticTrajectory, times_ns: I64, noise: SensorNoise,
                   rng: np.random.Generator) -> dict[str, F64]:
    """Wheel odometry at ``times_ns``: ``v_base`` (N, 3), ``w_base`` (N, 3) (only z non-zero) and the
    dead-reckoned pose ``t`` (N, 3), ``quat_xyzw`` (N, 4), starting at the true first pose (2D)."""
    R = traj.rotation_matrices(times_ns)
    v_true = np.einsum("nji,nj->ni", R, traj.velocity(times_ns))
    n = len(times_ns)
    v = np.zeros((n, 3))
    v[:, 0] = v_true[:, 0] * (1 + noise.wheel_scale_error) + rng.normal(0, noise.wheel_speed_sigma, n)
    w = np.zeros((n, 3))
    w[:, 2] = traj.yaw_rate(times_ns) + rng.normal(0, noise.wheel_yaw_rate_sigma, n)
    dt = np.diff(times_ns) * 1e-9
    yaw0 = float(np.arctan2(R[0, 1, 0], R[0, 0, 0]))
    yaw = yaw0 + np.concatenate([[0.0], np.cumsum(0.5 * (w[1:, 2] + w[:-1, 2]) * dt)])
    ym = 0.5 * (yaw[1:] + yaw[:-1])
    vm = 0.5 * (v[1:, 0] + v[:-1, 0])
    t = np.zeros((n, 3))
    t[0] = traj.position(times_ns[:1])[0]
    t[0, 2] = 0.0
    t[1:, 0] = t[0, 0] + np.cumsum(vm * np.cos(ym) * dt)
    t[1:, 1] = t[0, 1] + np.cumsum(vm * np.sin(ym) * dt)
    q = np.zeros((n, 4))
    q[:, 2], q[:, 3] = np.sin(yaw / 2), np.cos(yaw / 2)
    return {"t": t, "quat_xyzw": q, "v_base": v, "w_base": w}


def gnss_fixes(traj: AnalyticTrajectory, times_ns: I64, noise: SensorNoise,
               rng: np.random.Generator) -> dict[str, F64]:
    """Fixes at ``times_ns``: ``latitude_deg``, ``longitude_deg``, ``altitude_m`` (N,),
    ``covariance`` (N, 9) row-major ENU m², ``enu_true`` (N, 3) the antenna's true ENU position."""
    import pymap3d

    R = traj.rotation_matrices(times_ns)
    enu = traj.position(times_ns) + R @ np.asarray(noise.t_base_antenna, np.float64)
    n = len(times_ns)
    sig = np.array([noise.gnss_sigma_m, noise.gnss_sigma_m, noise.gnss_vertical_sigma_m])
    meas = enu + rng.normal(0, 1, (n, 3)) * sig
    lat0, lon0, h0 = noise.gnss_datum
    lat, lon, alt = pymap3d.enu2geodetic(meas[:, 0], meas[:, 1], meas[:, 2], lat0, lon0, h0)
    cov = np.zeros((n, 9))
    cov[:, 0], cov[:, 4], cov[:, 8] = sig**2
    return {"latitude_deg": np.asarray(lat), "longitude_deg": np.asarray(lon), "altitude_m": np.asarray(alt),
            "covariance": cov, "enu_true": enu}


@dataclass(frozen=True)
class EgoLog:
    """Measurement arrays of one synthetic drive (no bag): what the ego estimator takes, plus truth.

    Attributes:
        traj: the true trajectory (``odom`` = ENU at ``noise.gnss_datum``).
        imu_times_ns, gyro, accel: IMU samples (IMU frame, bias + noise); gyro_bias, accel_bias: (3,) truth.
        T_base_imu: (4, 4) the IMU mount.
        wheel_times_ns, wheel: :func:`wheel_odometry` output.
        gnss_times_ns, gnss: :func:`gnss_fixes` output.
        noise: the sensor model.
    """

    traj: AnalyticTrajectory
    imu_times_ns: I64
    gyro: F64
    accel: F64
    gyro_bias: F64
    accel_bias: F64
    T_base_imu: F64
    wheel_times_ns: I64
    wheel: dict[str, F64]
    gnss_times_ns: I64
    gnss: dict[str, F64]
    noise: SensorNoise


def ego_log(seed: int = 0, duration_s: float = 60.0, speed_mps: float = 10.0, yaw_rate_dps: float = 30.0,
            imu_rate_hz: float = 200.0, noise: SensorNoise | None = None,
            start_ns: int = 1_700_000_000_000_000_000) -> EgoLog:
    """The proprioceptive sensors of the generator's drive (same trajectory and IMU mount as
    :func:`fusion.testing.synth.generate` with this seed), as arrays (phases as in the bags)."""
    from fusion.testing.synth import rig as rigdef
    from fusion.testing.synth.content import imu_samples
    from fusion.testing.synth.schedule import periodic_times
    from fusion.testing.synth.trajectory import TrajectoryParams

    noise = noise or SensorNoise()
    traj = AnalyticTrajectory(TrajectoryParams.make(start_ns, speed_mps, yaw_rate_dps,
                                                    np.random.default_rng([seed, 2])))
    dur = int(duration_s * 1e9)
    ti = periodic_times(start_ns, dur, imu_rate_hz, 500_000)
    tw = periodic_times(start_ns, dur, noise.wheel_rate_hz, 1_500_000)
    tg = periodic_times(start_ns, dur, noise.gnss_rate_hz, 2_500_000)
    ex = imu_samples(traj, ti)
    gyro, accel, bg, ba = noisy_imu(ex["gyro"], ex["accel"], imu_rate_hz, noise, np.random.default_rng([seed, 7, 0]))
    wheel = wheel_odometry(traj, tw, noise, np.random.default_rng([seed, 7, 1]))
    gnss = gnss_fixes(traj, tg, noise, np.random.default_rng([seed, 7, 2]))
    return EgoLog(traj, ti, gyro, accel, bg, ba, rigdef.SENSORS["imu"].T_base_sensor, tw, wheel, tg, gnss, noise)


def estimator_inputs(log: EgoLog) -> tuple[ImuInput, WheelInput, GnssInput | None]:
    """``log`` as the estimator's inputs (:func:`fusion.ego.estimate`): IMU, wheel odometry and GNSS fixes in
    local ENU (antenna at the generator's offset)."""
    from fusion.ego import ImuInput, WheelInput
    from fusion.ego.geo import fixes_to_enu

    imu = ImuInput(log.imu_times_ns, log.gyro, log.accel, log.T_base_imu)
    w, g = log.wheel, log.gnss
    wheel = WheelInput(log.wheel_times_ns, w["v_base"], w["w_base"], w["t"], w["quat_xyzw"])
    n = len(log.gnss_times_ns)
    gnss = fixes_to_enu(log.gnss_times_ns, g["latitude_deg"], g["longitude_deg"], g["altitude_m"], np.zeros(n),
                        g["covariance"], np.full(n, 2), np.asarray(log.noise.t_base_antenna))
    return imu, wheel, gnss
