"""The inertial ego estimator against the synthetic drive's truth (issue 19's accuracy targets).

60 s at 10 m/s mean with 30 °/s yaw-rate peaks; IMU 200 Hz with bias (±0.002 rad/s, ±0.05 m/s²)
and noise, wheel odometry 50 Hz (+0.3 % scale error), GNSS 10 Hz σ 1 m (1.5 m vertical).
"""

from __future__ import annotations

import numpy as np
import pymap3d
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from fusion.ego import EgoEstimate, EstimatorError, EstimatorParams, GnssInput, ImuInput, WheelInput, estimate
from fusion.ego.geo import fixes_to_enu
from fusion.ego.metrics import ate_rmse, path_length, rigid_align, yaw_error_rad
from fusion.testing.synth.inertial import EgoLog, ego_log, estimator_inputs


def _inputs(log: EgoLog) -> tuple[ImuInput, WheelInput, GnssInput | None]:
    return estimator_inputs(log)


def _truth(log: EgoLog, est: EgoEstimate) -> tuple[np.ndarray, np.ndarray]:
    """True ``T_world_base`` at the estimate's times, in the estimate's world frame."""
    t, q = log.traj.pose(est.times_ns)
    if est.world == "enu":  # truth odom = ENU at the datum -> ENU at the estimate's origin (first fix)
        assert est.origin is not None
        geo = pymap3d.enu2geodetic(t[:, 0], t[:, 1], t[:, 2], *log.noise.gnss_datum)
        t = np.stack(pymap3d.geodetic2enu(*geo, *est.origin), axis=1)
    return t, q


@pytest.fixture(scope="module", params=[0, 2])
def drive(request: pytest.FixtureRequest) -> EgoLog:
    return ego_log(seed=request.param, duration_s=60.0)


WHEEL_YAW = EstimatorParams(wheel_yaw_rate_sigma=0.005)


def test_imu_wheel_odometry_drift(drive: EgoLog) -> None:
    imu, wheel, _ = _inputs(drive)
    est = estimate(imu, wheel=wheel, params=WHEEL_YAW)
    t, q = _truth(drive, est)
    assert est.world == "odom"
    drift = np.linalg.norm(est.translation_m[-1, :2] - t[-1, :2]) / path_length(t)
    yaw = np.abs(np.degrees(yaw_error_rad(est.rotation_xyzw, q)))
    assert drift <= 0.01  # issue target; measured 0.32 % (seed 0), 0.31 % (seed 2)
    assert yaw.max() <= 1.0  # issue target; measured 0.23°, 0.30°
    assert est.times_ns[0] == imu.times_ns[0] and est.times_ns[-1] == imu.times_ns[-1]
    assert np.all(np.diff(est.times_ns) > 0)
    # the twist is the base_link's (measured max error 0.087 / 0.054 m/s)
    v_true = np.einsum("nji,nj->ni", drive.traj.rotation_matrices(est.times_ns), drive.traj.velocity(est.times_ns))
    assert np.abs(est.linear_velocity_mps - v_true).max() < 0.3
    w_true = drive.traj.angular_velocity_body(est.times_ns)
    assert np.abs(est.angular_velocity_radps - w_true).max() < 0.05
    # gyro bias recovered (measured within 3.4e-5 / 7.6e-5 rad/s)
    assert np.abs(est.gyro_bias_radps[len(est.times_ns) // 2] - drive.gyro_bias).max() < 3e-4


def test_imu_gnss_accuracy(drive: EgoLog) -> None:
    imu, _, gnss = _inputs(drive)
    est = estimate(imu, gnss=gnss)
    t, q = _truth(drive, est)
    assert est.world == "enu"
    assert ate_rmse(est.translation_m, t) <= 0.3  # issue target; measured 0.089 m, 0.074 m
    err = est.translation_m - t  # without alignment (the ENU origin is known): measured 0.115 m, 0.069 m
    assert np.sqrt((err[:, :2] ** 2).sum(1).mean()) < 0.35
    yaw = np.abs(np.degrees(yaw_error_rad(est.rotation_xyzw, q)))
    assert yaw.max() <= 0.5  # issue target; measured 0.10°, 0.09°
    # the stated 1σ is consistent with the error (horizontal error < 3σ at 99 % of the samples)
    h = np.hypot(err[:, 0], err[:, 1])
    assert np.mean(h < 3 * est.position_sigma_m) > 0.99


def test_imu_wheel_gnss(drive: EgoLog) -> None:
    imu, wheel, gnss = _inputs(drive)
    est = estimate(imu, wheel=wheel, gnss=gnss, params=WHEEL_YAW)
    t, q = _truth(drive, est)
    assert ate_rmse(est.translation_m, t) < 0.25  # measured 0.076 m, 0.063 m
    assert np.abs(np.degrees(yaw_error_rad(est.rotation_xyzw, q))).max() < 0.25  # measured 0.08°, 0.08°
    # the +0.3 % wheel scale error is estimated against GNSS (measured within 0.20 % / 0.16 %)
    mid = slice(len(est.times_ns) // 4, -len(est.times_ns) // 4)
    assert np.abs(est.wheel_scale_error[mid] - drive.noise.wheel_scale_error).max() < 0.006


def test_forward_only_is_worse_than_smoothed(drive: EgoLog) -> None:
    imu, _, gnss = _inputs(drive)
    smooth = estimate(imu, gnss=gnss)
    fwd = estimate(imu, gnss=gnss, params=EstimatorParams(smooth=False))
    t, _ = _truth(drive, smooth)
    assert ate_rmse(smooth.translation_m, t) < ate_rmse(fwd.translation_m, t)


def test_stationary_start_gives_gravity_and_gyro_bias() -> None:
    rng = np.random.default_rng(3)
    n = 600  # 3 s at 200 Hz, standing still, tilted 4° roll
    t = 1_000_000_000 + np.arange(n, dtype=np.int64) * 5_000_000
    R = Rotation.from_euler("x", 4, degrees=True).as_matrix()
    bg = np.array([0.003, -0.002, 0.004])
    gyro = bg + rng.normal(0, 0.002, (n, 3))
    accel = (R.T @ np.array([0, 0, 9.80665])) + rng.normal(0, 0.03, (n, 3))
    est = estimate(ImuInput(t, gyro, accel))
    assert est.stationary_start_s == pytest.approx(2.75, abs=0.26)  # whole 0.25 s blocks before the last
    assert np.abs(est.gyro_bias_radps[-1] - bg).max() < 3e-4  # measured 5e-5
    roll = Rotation.from_quat(est.rotation_xyzw[-1]).as_euler("xyz", degrees=True)[0]
    assert roll == pytest.approx(4.0, abs=0.05)
    assert np.abs(est.translation_m).max() < 0.01 and np.abs(est.linear_velocity_mps).max() < 0.01


def test_too_few_imu_samples() -> None:
    t = np.arange(5, dtype=np.int64) * 5_000_000
    with pytest.raises(EstimatorError, match="at least 10"):
        estimate(ImuInput(t, np.zeros((5, 3)), np.zeros((5, 3))))


def test_fixes_to_enu_round_trip() -> None:
    log = ego_log(seed=1, duration_s=5.0, noise=None)
    g = log.gnss
    n = len(log.gnss_times_ns)
    o = (g["latitude_deg"][0], g["longitude_deg"][0], g["altitude_m"][0])
    enu = np.stack(pymap3d.geodetic2enu(g["latitude_deg"], g["longitude_deg"], g["altitude_m"], *o), axis=1)
    gi = fixes_to_enu(log.gnss_times_ns, g["latitude_deg"], g["longitude_deg"], g["altitude_m"], np.zeros(n),
                      g["covariance"], np.zeros(n), np.zeros(3), default_sigma_m=2.0)
    assert gi is not None
    assert gi.origin == pytest.approx(o)
    assert np.abs(gi.enu_m - enu).max() < 1e-9
    assert np.allclose(gi.covariance_m2[:, 0, 0], 4.0)  # covariance type 0: the default σ
    status = np.full(n, -1)
    assert fixes_to_enu(log.gnss_times_ns, g["latitude_deg"], g["longitude_deg"], g["altitude_m"], status,
                        g["covariance"], np.zeros(n), np.zeros(3)) is None


@settings(max_examples=30, deadline=None)
@given(yaw=st.floats(-3.1, 3.1), tx=st.floats(-50, 50), ty=st.floats(-50, 50), seed=st.integers(0, 1000))
def test_rigid_align_recovers_a_planar_motion(yaw: float, tx: float, ty: float, seed: int) -> None:
    pts = np.random.default_rng(seed).normal(0, 10, (20, 3))
    R = Rotation.from_euler("z", yaw).as_matrix()
    dst = pts @ R.T + np.array([tx, ty, 0.0])
    Re, te = rigid_align(pts, dst, dims=2)
    assert np.allclose(Re, R, atol=1e-9) and np.allclose(te[:2], [tx, ty], atol=1e-7)
    assert ate_rmse(pts, dst, dims=2) < 1e-9


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), kind=st.sampled_from([0, 1, 2, 3]))
def test_measurement_jacobians_match_finite_differences(seed: int, kind: int) -> None:
    """Each measurement's H (error state, attitude error on the right) equals central differences."""
    from fusion.ego import kernels as ek

    rng = np.random.default_rng(seed)
    R = Rotation.random(random_state=seed).as_matrix()
    p, v = rng.normal(size=3), rng.normal(size=3) * 5
    bg, w_m = rng.normal(size=3) * 0.01, rng.normal(size=3)
    R_bi = Rotation.random(random_state=seed + 1).as_matrix()
    t_ib, t_ia, sk = rng.normal(size=3), rng.normal(size=3), float(rng.normal() * 0.02)
    z, Rm, mask = np.zeros(3), np.eye(3), np.ones(3, bool)

    def residual(d: np.ndarray) -> np.ndarray:
        y, _, _ = ek._measure(kind, z, Rm, mask, p + d[0:3], v + d[3:6], R @ ek._exp(d[6:9]), bg + d[12:15],
                              sk + d[15], w_m, R_bi, t_ib, t_ia)
        return np.asarray(y)

    _, H, _ = ek._measure(kind, z, Rm, mask, p, v, R, bg, sk, w_m, R_bi, t_ib, t_ia)
    eps = 1e-6
    num = np.stack([-(residual(e) - residual(-e)) / (2 * eps) for e in np.eye(16) * eps], axis=1)
    assert np.abs(num - H).max() < 1e-5  # measured ≤ 4e-8


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_prediction_transition_matches_finite_differences(seed: int) -> None:
    """The one-step transition Φ of the error state equals differences of the nominal propagation
    (to first order in dt: the δp ← δθ term of order dt² is left out, ≤ 1e-3 here)."""
    from fusion.ego import kernels as ek

    rng = np.random.default_rng(seed)
    R = Rotation.random(random_state=seed).as_matrix()
    p, v, ba, bg = rng.normal(size=3), rng.normal(size=3) * 5, rng.normal(size=3) * 0.1, rng.normal(size=3) * 0.01
    w_m, f_m, dt = rng.normal(size=3), rng.normal(size=3) * 3, 0.005

    def step(d: np.ndarray) -> tuple[np.ndarray, ...]:
        pp, vv, RR = p + d[0:3], v + d[3:6], R @ ek._exp(d[6:9])
        P, Phi = np.eye(16), np.eye(16)
        ek._predict(pp, vv, RR, ba + d[9:12], bg + d[12:15], P, Phi, w_m, f_m, dt, np.zeros(5))
        return pp, vv, RR, Phi

    p0, v0, R0, Phi = step(np.zeros(16))
    num = np.zeros((15, 15))
    for j in range(15):
        e = np.zeros(16)
        e[j] = 1e-6
        p1, v1, R1, _ = step(e)
        num[:, j] = np.concatenate([p1 - p0, v1 - v0, Rotation.from_matrix(R0.T @ R1).as_rotvec(),
                                    e[9:12], e[12:15]]) / 1e-6
    assert np.abs(num - Phi[:15, :15]).max() < 1e-3
