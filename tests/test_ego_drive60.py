"""Issue 19's synthetic acceptance drive through bags: 60 s at 10 m/s with 30 °/s yaw-rate peaks,
no /odom and no /tf, noisy IMU + wheel odometry + GNSS → ``fusion convert`` with each estimated
source → the stored ego trajectory against the generator's truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pymap3d
import pytest

import fusion
from fusion.ego.metrics import ate_rmse, path_length, yaw_error_rad
from fusion.pipeline.config import ConvertConfig, EgoConfig
from fusion.pipeline.convert import convert
from fusion.testing.synth import SynthConfig, generate, load_truth
from fusion.testing.synth.config import SensorNoise

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def drive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, SensorNoise]:
    noise = SensorNoise()
    cfg = SynthConfig.tiny(duration_s=60.0, seed=0, sensor_noise=noise, odometry=False, lidar_beams=4,
                           lidar_columns=64, image_width=32, image_height=24, cam_front_rate_hz=1.0,
                           cam_left_rate_hz=1.0, radar_rate_hz=1.0)
    out = generate(cfg, tmp_path_factory.mktemp("drive60"), formats=("mcap",))
    return out.bags["mcap"], load_truth(out.truth_path), noise


def _ego(bag: Path, out: Path, source: str) -> Any:
    convert([bag], str(out), ConvertConfig(ego=EgoConfig(source=source, wheel_yaw_rate_sigma=0.005)))
    return fusion.open(str(out)).ego


def test_imu_wheel_odometry_through_the_bag(drive: tuple[Path, Any, SensorNoise], tmp_path: Path) -> None:
    bag, truth, _ = drive
    ego = _ego(bag, tmp_path / "io.zarr", "imu+odom")
    t, q = truth.pose_at(ego.time_ns)
    drift = np.linalg.norm(ego.translation_m[-1, :2] - t[-1, :2]) / path_length(t)
    assert drift <= 0.01  # issue target; measured 0.32 % (seed 1: 0.30 %)
    assert np.abs(np.degrees(yaw_error_rad(ego.rotation_xyzw, q))).max() <= 1.0  # issue target; measured 0.23° (0.09°)


def test_imu_gnss_through_the_bag(drive: tuple[Path, Any, SensorNoise], tmp_path: Path) -> None:
    bag, truth, noise = drive
    ego = _ego(bag, tmp_path / "ig.zarr", "imu+gnss")
    t, q = truth.pose_at(ego.time_ns)
    o = ego.attrs["enu_origin"]
    geo = pymap3d.enu2geodetic(t[:, 0], t[:, 1], t[:, 2], *noise.gnss_datum)
    t = np.stack(pymap3d.geodetic2enu(*geo, o["latitude_deg"], o["longitude_deg"], o["altitude_m"]), axis=1)
    assert ate_rmse(ego.translation_m, t) <= 0.3  # issue target; measured 0.089 m (seed 1: 0.155 m)
    assert np.abs(np.degrees(yaw_error_rad(ego.rotation_xyzw, q))).max() <= 0.5  # issue target; measured 0.10° (0.09°)
