"""The ego estimator on a real log: ../shared/data/real/husky_imu_odom_gps.bag (Clearpath Husky,
395 s loop; IMU 30 Hz, wheel odometry 10 Hz, GNSS 2.5 Hz σ ≈ 0.9 m), with the IMU mount from
configs/rigs/husky_imu.yaml (the bag has no tf for it). Truth is the GNSS track itself (local ENU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fusion
from fusion.ego.geo import fixes_to_enu
from fusion.ego.metrics import ate_rmse, path_length
from fusion.pipeline.config import ConvertConfig, EgoConfig
from fusion.pipeline.convert import convert

pytestmark = [pytest.mark.shared, pytest.mark.slow]
RIG = Path(__file__).resolve().parents[1] / "configs" / "rigs" / "husky_imu.yaml"


def _fixes(ds: fusion.Dataset, origin: tuple[float, float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(times_ns, ENU (K, 3)) of the stored fixes, origin = the first fix (or ``origin``)."""
    g = ds.stream("gps").rows()
    n = len(g["time_ns"])
    enu = fixes_to_enu(g["time_ns"], g["latitude_deg"], g["longitude_deg"], g["altitude_m"], g["status"],
                       g["position_covariance_m2"], g["covariance_type"], np.zeros(3))
    assert enu is not None and len(enu.times_ns) == n
    if origin is not None:
        assert enu.origin == pytest.approx(origin)
    return enu.times_ns, enu.enu_m


def _at(ego: object, t: np.ndarray) -> np.ndarray:
    tt, p = ego.time_ns, ego.translation_m  # type: ignore[attr-defined]
    return np.stack([np.interp(t, tt, p[:, a]) for a in range(3)], axis=1)


@pytest.fixture(scope="module")
def husky(shared_data: Path) -> Path:
    return shared_data / "real" / "husky_imu_odom_gps.bag"


def _convert(bag: Path, out: Path, source: str) -> fusion.Dataset:
    res = convert([bag], str(out), ConvertConfig(rig=str(RIG), ego=EgoConfig(source=source)))
    assert res.ego["source"] == source and res.ego["inputs"][0] == "/imu/data"
    return fusion.open(str(out))


def test_defaults_keep_the_recorded_odometry(husky: Path, tmp_path: Path) -> None:
    res = convert([husky], str(tmp_path / "d.zarr"), ConvertConfig())
    assert res.ego["source"] == "odom" and res.ego["choice"].startswith("odom (auto")
    assert fusion.open(str(tmp_path / "d.zarr")).ego.attrs["estimator"] == "odom"


def test_imu_odom_gnss_follows_the_fixes(husky: Path, tmp_path: Path) -> None:
    ds = _convert(husky, tmp_path / "iog.zarr", "imu+odom+gnss")
    ego = ds.ego
    assert ego.attrs["parent"] == "enu" and ego.attrs["estimator"] == "imu+odom+gnss"
    o = ego.attrs["enu_origin"]
    t, enu = _fixes(ds, (o["latitude_deg"], o["longitude_deg"], o["altitude_m"]))
    inside = (t >= ego.time_ns[0]) & (t <= ego.time_ns[-1])
    h = np.hypot(*(_at(ego, t[inside]) - enu[inside])[:, :2].T)
    assert np.percentile(h, 95) <= 2.5  # issue target; measured 2.32 m (p50 0.80 m; the fixes' own σ ≈ 0.9 m)
    end = _at(ego, t[-1:])[0, :2]
    assert np.hypot(*(end - enu[-1, :2])) < 5.0  # the GNSS track ends ≈ (13.4, −1.4) m; measured 3.5 m off


def test_imu_gnss_follows_the_fixes(husky: Path, tmp_path: Path) -> None:
    ds = _convert(husky, tmp_path / "ig.zarr", "imu+gnss")
    t, enu = _fixes(ds)
    inside = (t >= ds.ego.time_ns[0]) & (t <= ds.ego.time_ns[-1])
    h = np.hypot(*(_at(ds.ego, t[inside]) - enu[inside])[:, :2].T)
    assert np.percentile(h, 95) <= 2.5  # measured 1.57 m


def test_imu_odom_ate_against_the_gnss_track(husky: Path, tmp_path: Path) -> None:
    ds = _convert(husky, tmp_path / "io.zarr", "imu+odom")
    assert ds.ego.attrs["parent"] == "odom"
    t, enu = _fixes(ds)
    inside = (t >= ds.ego.time_ns[0]) & (t <= ds.ego.time_ns[-1])
    length = path_length(_at(ds.ego, t[inside]))
    ate = ate_rmse(_at(ds.ego, t[inside]), enu[inside], dims=2)
    assert ate <= 0.05 * length  # issue target; measured 2.85 m = 0.8 % of 357 m (raw wheel odometry: 7.0 m = 1.8 %)
    report = ds.report["ego"]
    assert report["source"] == "imu+odom" and report["estimator_s"] < 30  # measured 1–3 s for 395 s of log
