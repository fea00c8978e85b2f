"""Inputs, tuning and result of the inertial ego estimator (frozen dataclasses, SI units, int64 ns).

Frames: ``base`` = base_link (x forward, y left, z up); ``imu`` = the IMU's frame;
world = the odometry frame (IMU + wheel odometry) or local ENU at the first GNSS fix
(x east, y north, z up) whenever GNSS is used. Quaternions are x, y, z, w.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ImuInput:
    """IMU samples on the common clock.

    Attributes:
        times_ns: (K,) strictly increasing.
        angular_velocity_radps: (K, 3) gyro, IMU frame.
        linear_acceleration_mps2: (K, 3) specific force (gravity included), IMU frame.
        T_base_imu: (4, 4) the IMU mount (IMU frame → base_link).
    """

    times_ns: I64
    angular_velocity_radps: F64
    linear_acceleration_mps2: F64
    T_base_imu: F64 = field(default_factory=lambda: np.eye(4))


@dataclass(frozen=True)
class WheelInput:
    """Wheel odometry on the common clock: the twist of base_link in base_link.

    Attributes:
        times_ns: (K,) strictly increasing.
        linear_velocity_mps: (K, 3) (only x is a measurement; y, z are the vehicle's
            non-holonomic constraint, always 0).
        angular_velocity_radps: (K, 3) or None (z is used with ``EstimatorParams.wheel_yaw_rate_sigma``).
        translation_m / rotation_xyzw: (K, 3) / (K, 4) the odometry's own pose, or None
            (the first pose anchors the estimate in the odometry frame when no GNSS is used).
    """

    times_ns: I64
    linear_velocity_mps: F64
    angular_velocity_radps: F64 | None = None
    translation_m: F64 | None = None
    rotation_xyzw: F64 | None = None


@dataclass(frozen=True)
class GnssInput:
    """GNSS fixes in local ENU (see :mod:`fusion.ego.geo`).

    Attributes:
        times_ns: (K,) strictly increasing.
        enu_m: (K, 3) antenna position, m (east, north, up) from ``origin``.
        covariance_m2: (K, 3, 3) ENU covariance.
        origin: (latitude deg, longitude deg, ellipsoidal altitude m) of the ENU origin.
        t_base_antenna: (3,) antenna position in base_link, m.
    """

    times_ns: I64
    enu_m: F64
    covariance_m2: F64
    origin: tuple[float, float, float]
    t_base_antenna: F64 = field(default_factory=lambda: np.zeros(3))


@dataclass(frozen=True)
class EstimatorParams:
    """Noise model and options (defaults fit a MEMS IMU on a road vehicle or a small robot).

    Attributes:
        accel_noise: accelerometer white noise density floor, m/s²/√Hz (raised to what the
            sample-to-sample noise of the log shows).
        gyro_noise: gyro white noise density floor, rad/s/√Hz (raised likewise).
        accel_bias_walk / gyro_bias_walk: bias random walks, m/s³/√Hz and rad/s²/√Hz.
        wheel_speed_sigma: σ of the wheel forward speed, m/s; plus ``wheel_speed_fraction`` of it.
        wheel_scale_walk: random walk of the wheel scale error (estimated with GNSS only), 1/√s.
        nonholonomic_sigma: σ of the zero lateral/vertical base velocity, m/s (also without wheels).
        nonholonomic_rate_hz: rate of that pseudo-measurement when there are no wheel messages.
        wheel_yaw_rate_sigma: σ of the wheel yaw rate, rad/s (None: not used; skid-steer robots).
        gnss_sigma_floor: smallest GNSS σ per axis, m; ``gnss_default_sigma`` when a fix has no covariance.
        gate: χ² gate per innovation dimension (outliers rejected; ≤ 0: none).
        rate_hz: output rate (nodes besides the measurement times), Hz.
        smooth: run the RTS smoother after the forward filter.
        passes: forward + smoother passes; each after the first starts from the previous pass's
            smoothed start state (4× its covariance), which removes most of a poor initial heading.
    """

    accel_noise: float = 0.02
    gyro_noise: float = 0.001
    accel_bias_walk: float = 1e-3
    gyro_bias_walk: float = 1e-5
    wheel_speed_sigma: float = 0.03
    wheel_speed_fraction: float = 0.005
    wheel_scale_walk: float = 3e-3
    nonholonomic_sigma: float = 0.2
    nonholonomic_rate_hz: float = 20.0
    wheel_yaw_rate_sigma: float | None = None
    gnss_sigma_floor: float = 0.1
    gnss_default_sigma: float = 3.0
    gate: float = 16.0
    rate_hz: float = 50.0
    smooth: bool = True
    passes: int = 2


@dataclass(frozen=True)
class EgoEstimate:
    """The estimated trajectory ``T_world_base`` (usable like a recorded one).

    Attributes:
        times_ns: (N,) strictly increasing.
        translation_m / rotation_xyzw: (N, 3) / (N, 4) ``T_world_base`` (x, y, z, w).
        linear_velocity_mps / angular_velocity_radps: (N, 3) base_link twist in base_link.
        position_sigma_m: (N,) horizontal 1σ (√(σx² + σy²)) of base_link, m.
        yaw_sigma_rad: (N,) 1σ of the heading, rad.
        gyro_bias_radps / accel_bias_mps2: (N, 3) estimated biases, IMU frame.
        wheel_scale_error: (N,) estimated wheel scale error k (wheels report (1 + k) × speed; 0 without GNSS).
        world: ``odom`` (anchored at the first wheel-odometry pose or the start) or ``enu``.
        origin: ENU origin (lat, lon, alt) when ``world == "enu"``.
        stationary_start_s: length of the detected stationary start, s (0: moving start).
        rejected: measurement kind → measurements rejected by the gate.
        notes: how the estimate was initialised (for the report).
    """

    times_ns: I64
    translation_m: F64
    rotation_xyzw: F64
    linear_velocity_mps: F64
    angular_velocity_radps: F64
    position_sigma_m: F64
    yaw_sigma_rad: F64
    gyro_bias_radps: F64
    accel_bias_mps2: F64
    wheel_scale_error: F64
    world: str
    origin: tuple[float, float, float] | None = None
    stationary_start_s: float = 0.0
    rejected: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
