"""``ego.source: lidar`` / ``lidar+imu`` (issue 19): LiDAR odometry on the generator's urban world
against its truth — through a bag (deskew p99 at ≤ 20 m, drift, report) and on the 60 s drive."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fusion
from fusion.ego.lidar import LIDAR, LIDAR_IMU
from fusion.ego.lidar_odometry import LidarSweep
from fusion.ego.metrics import path_length, yaw_error_rad
from fusion.ego.sources import EgoInputs, LidarInput
from fusion.pipeline.config import ConvertConfig, EgoConfig, StoreConfig
from fusion.pipeline.convert import convert
from fusion.testing.synth import SynthConfig, generate, load_truth
from fusion.testing.synth.config import SensorNoise

pytest.importorskip("kiss_icp", reason="LiDAR odometry needs the lidar-odometry extra")
pytestmark = pytest.mark.slow


def _drift(t_est: np.ndarray, q_est: np.ndarray, times: np.ndarray, truth: Any) -> tuple[float, float]:
    """(horizontal end-point drift / path length, max |yaw error| deg) after aligning the first poses."""
    from scipy.spatial.transform import Rotation

    t, q = truth.pose_at(times)
    Re, Rt = Rotation.from_quat(q_est), Rotation.from_quat(q)
    A = Rt[0] * Re[0].inv()
    te = A.apply(t_est - t_est[0]) + t[0]
    drift = float(np.linalg.norm(te[-1, :2] - t[-1, :2]) / path_length(t))
    yaw = np.degrees(yaw_error_rad((A * Re).as_quat(), q))
    return drift, float(np.abs(yaw).max())


@pytest.fixture(scope="module")
def urban(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    cfg = SynthConfig.tiny(duration_s=8.0, seed=0, sensor_noise=SensorNoise(), odometry=False, world="urban",
                           lidar_beams=64, lidar_columns=512, image_width=32, image_height=24,
                           cam_front_rate_hz=1.0, cam_left_rate_hz=1.0, radar_rate_hz=2.0)
    out = generate(cfg, tmp_path_factory.mktemp("urban"), formats=("mcap",))
    return out.bags["mcap"], load_truth(out.truth_path)


@pytest.fixture(scope="module")
def converted(urban: tuple[Path, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Any]]:
    """source -> (conversion result, dataset), converted on first use."""

    class _Lazy(dict):  # type: ignore[type-arg]
        def __missing__(self, source: str) -> tuple[Any, Any]:
            out = tmp_path_factory.mktemp("lidar") / "s.zarr"
            res = convert([urban[0]], str(out), ConvertConfig(ego=EgoConfig(source=source),
                                                              store=StoreConfig(keep_raw_points=True)))
            self[source] = (res, fusion.open(str(out)))
            return self[source]
    return _Lazy()


#: source -> (drift bound, yaw bound °): ≈ 3× measured, never looser than issue 19's 1 % / 0.5°
BOUNDS = {"lidar": (0.0075, 0.5),  # measured 0.25 %, 0.27°
          "lidar+imu": (0.01, 0.5)}  # measured 0.49 %, 0.41° (8 s: the start dominates; 60 s below: 0.12 %, 0.11°)


@pytest.mark.parametrize("source", ["lidar", "lidar+imu"])
def test_lidar_odometry_through_the_bag(urban: tuple[Path, Any], converted: Any, source: str) -> None:
    _, truth = urban
    res, ds = converted[source]
    assert res.ego["source"] == source and res.ego["inputs"][0] == "/lidar/points"
    assert res.ego["lidar"]["sweeps"] >= 75 and res.ego["lidar"]["fitness_min"] >= 0.6  # measured 0.92 / 0.87
    ego = ds.ego
    drift, yaw = _drift(ego.translation_m, ego.rotation_xyzw, ego.time_ns, truth)
    assert drift <= BOUNDS[source][0] and yaw <= BOUNDS[source][1]
    q = np.array([f.ego_quality["position_sigma_m"] for f in ds if np.isfinite(f.ego_quality["position_sigma_m"])])
    assert len(q) >= 60 and (np.diff(q) >= -1e-6).all()  # grows with the distance travelled


#: source -> deskew p99 bound at ≤ 20 m, m: ≈ 3× measured, never looser than issue 19's 3 cm
DESKEW_P99 = {"lidar": 0.03,  # measured 2.59 cm (seed 1: 2.61 cm)
              "lidar+imu": 0.028}  # measured 0.94 cm


@pytest.mark.parametrize("source", ["lidar", "lidar+imu"])
def test_deskew_with_lidar_odometry(urban: tuple[Path, Any], converted: Any, source: str) -> None:
    from test_ego_convert import _deskew_errors

    _, ds = converted[source]
    e, rng = _deskew_errors(ds, urban[1], min_frames=60)
    assert np.percentile(e[rng <= 20.0], 99) <= DESKEW_P99[source]


def test_sixty_second_drive_lidar_imu(tmp_path: Path) -> None:
    """Issue 19's drive (60 s, 10 m/s, 30 °/s peaks), sweeps and IMU as arrays (no bag: 64 × 512 points)."""
    from fusion.testing.synth import rig as rigdef
    from fusion.testing.synth.inertial import ego_log, estimator_inputs
    from fusion.testing.synth.lidar import beam_directions, simulate_sweep
    from fusion.testing.synth.trajectory import AnalyticTrajectory, TrajectoryParams
    from fusion.testing.synth.urban import make_structures
    from fusion.testing.synth.world import make_world

    start = 1_700_000_000_000_000_000
    traj = AnalyticTrajectory(TrajectoryParams.make(start, 10.0, 30.0, np.random.default_rng([0, 2])))
    world = dataclasses.replace(make_world(start, 60.0, 10.0, 12, 4, np.random.default_rng([0, 1])),
                                structures=make_structures(600.0, np.random.default_rng([0, 8])))
    T_bl = rigdef.SENSORS["lidar_top"].T_base_sensor
    dirs = beam_directions(64, 512)

    def sweeps() -> Any:
        for k in range(600):
            s = simulate_sweep(traj, world, T_bl, start + k * 100_000_000, 100_000_000, dirs, 100.0)
            yield LidarSweep(s.xyz_lidar.astype(np.float64), s.time_ns)

    imu, _, _ = estimator_inputs(ego_log(seed=0))
    inputs = EgoInputs(imu=imu, imu_topic="/imu/data", lidar=LidarInput(sweeps, T_bl, "/lidar/points"))
    assert LIDAR_IMU.missing(inputs) is None and LIDAR.missing(EgoInputs()) is not None
    track = LIDAR_IMU.build(inputs)

    class _Truth:
        def pose_at(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            from calibration.rotation import matrix_to_quat_xyzw

            M = traj.matrices(t)
            return M[:, :3, 3], matrix_to_quat_xyzw(M[:, :3, :3])

    drift, yaw = _drift(track.translation_m, track.rotation_xyzw, track.times_ns, _Truth())
    assert drift <= 0.0036  # issue target 1 %; measured 0.12 % (lidar alone: 0.21 %)
    assert yaw <= 0.33  # issue target 0.5°; measured 0.11° (lidar alone: 0.32°)
