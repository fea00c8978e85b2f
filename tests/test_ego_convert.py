"""``ego.source`` end to end: a generated log without /odom and /tf (noisy IMU, wheel odometry on
/wheel/odom, GNSS on /gnss/fix) converted with each estimated source; deskew and radar Doppler
compensation checked against the generator's truth (issue 19: p99 ≤ 3 cm at 20 m range)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import fusion
from fusion.ego.sources import parse_source
from fusion.errors import ConfigError
from fusion.pipeline.config import ConvertConfig, EgoConfig, StoreConfig, config_from_dict
from fusion.pipeline.convert import convert
from fusion.store.inspect import inspect_store
from fusion.store.validate import validate_store
from fusion.testing.synth import SynthConfig, generate, load_truth
from fusion.testing.synth.config import SensorNoise

WHEEL, GNSS = "/wheel/odom", "/gnss/fix"


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    tmp = tmp_path_factory.mktemp("ego_log")
    cfg = SynthConfig.tiny(duration_s=10.0, seed=4, sensor_noise=SensorNoise(), odometry=False)
    out = generate(cfg, tmp, formats=("mcap",))
    assert "/odom" not in out.counts and "/tf" not in out.counts
    assert out.counts[WHEEL] == 500 and out.counts[GNSS] == 100
    return out.bags["mcap"], load_truth(out.truth_path)


def _convert(bag: Path, out: Path, source: str, **cfg: Any) -> tuple[fusion.Dataset, Any]:
    res = convert([bag], str(out), ConvertConfig(ego=EgoConfig(source=source, wheel_yaw_rate_sigma=0.005),
                                                 store=StoreConfig(keep_raw_points=True), **cfg))
    return fusion.open(str(out)), res


def _deskew_errors(ds: fusion.Dataset, truth: Any, min_frames: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """Per point (deskewed xyz placed with the true LiDAR pose at the frame time) − truth, m; and range."""
    T_bl = truth.T_base_sensor("lidar_top")
    tab = truth.messages("/lidar/points")
    errs, ranges = [], []
    for frame in ds:
        if frame.flags & 3:
            continue
        pts = frame.lidar["lidar_top"]
        scan = truth.lidar_scan(int(tab.seq[tab.index == pts.message_index][0]))
        t, q = truth.pose_at(np.array([frame.time_ns]))
        T = np.eye(4)
        T[:3, :3], T[:3, 3] = Rotation.from_quat(q[0]).as_matrix(), t[0]
        T_wl = T @ T_bl
        p = pts.xyz.astype(np.float64) @ T_wl[:3, :3].T + T_wl[:3, 3]
        errs.append(np.linalg.norm(p - scan.world_xyz, axis=1))
        ranges.append(np.linalg.norm(pts.xyz, axis=1))
    assert len(errs) >= min_frames
    return np.concatenate(errs), np.concatenate(ranges)


def _static_doppler(ds: fusion.Dataset, truth: Any) -> np.ndarray:
    tab = truth.messages("/radar/front/points")
    out = []
    for frame in ds:
        r = frame.radar.get("radar_front")
        if r is None or frame.flags & 3:
            continue
        obj = truth.radar_scan(int(tab.seq[tab.index == r.message_index][0])).object_id
        out.append(np.abs(r.radial_velocity_comp_mps[obj < truth.n_static_boxes]))
    return np.concatenate(out)


@pytest.mark.parametrize("source", ["imu+odom", "imu+gnss", "imu+odom+gnss"])
def test_estimated_trajectory_deskews_and_compensates(log: tuple[Path, Any], tmp_path: Path, source: str) -> None:
    bag, truth = log
    ds, res = _convert(bag, tmp_path / "out.zarr", source)
    assert res.ego["source"] == source and res.ego["choice"] == f"{source} (ego.source in the config)"
    assert "synthetic" in res.ego["expected_accuracy"] and "estimated 1σ" in res.ego["expected_accuracy"]
    assert ds.ego.attrs["estimator"] == source and ds.ego.attrs["source"] == source
    assert ds.ego.attrs["parent"] == ("enu" if "gnss" in source else "odom")
    e, rng = _deskew_errors(ds, truth)
    near = rng <= 20.0
    # issue target 3 cm; measured p99 (≤ 20 m) 0.34 / 1.35 / 0.35 cm (p50 0.15–0.18 cm)
    assert np.percentile(e[near], 99) <= 0.03
    assert np.percentile(e, 99) <= 0.045  # every range: measured 0.58 / 1.41 / 0.58 cm
    c = _static_doppler(ds, truth)
    # static radar returns after Doppler compensation with the estimated twist: measured median
    # 0.026 / 0.026 / 0.024 m/s (the +0.3 % wheel scale error at 10 m/s), p99 0.035 / 0.15 / 0.035
    assert len(c) > 100 and np.median(c) <= 0.08 and np.percentile(c, 99) <= 0.45
    assert ds.report["ego"]["source"] == source
    # per-frame ego quality: the estimate's 1σ at the frame time (stored, shown by fusion inspect)
    q = [f.ego_quality for f in ds]
    assert all(x["source"] == source for x in q)
    sig = np.array([x["position_sigma_m"] for x in q[1:-1]])
    assert np.isfinite(sig).all() and (sig > 0).all() and np.median(sig) < 1.0  # measured 0.1–0.3 m
    summary = inspect_store(str(tmp_path / "out.zarr"))["ego"]
    assert summary["source"] == source and summary["position_sigma_m"]["p50"] > 0
    assert validate_store(str(tmp_path / "out.zarr")).ok


def test_imu_only_compensates_rotation_only(log: tuple[Path, Any], tmp_path: Path) -> None:
    bag, truth = log
    ds, res = _convert(bag, tmp_path / "imu.zarr", "imu")
    assert res.ego["translation"] is False and "rotation only" in res.ego["expected_accuracy"]
    assert any("rotation only" in w for w in res.warnings)
    e, _ = _deskew_errors(ds, truth)
    assert np.all(ds.ego.translation_m == 0) and np.isnan(ds.ego.linear_velocity_mps).all()
    assert np.isnan(_static_doppler(ds, truth)).all()  # velocity unknown: Doppler left uncompensated
    # the translation over a sweep (10 m/s × ≤ 0.1 s) is not compensated: errors up to ~1 m remain
    assert 0.3 < np.percentile(e, 99) < 1.5  # measured 1.06 m (p50 0.51 m)


def test_auto_prefers_the_recorded_odometry_then_estimates(log: tuple[Path, Any], tmp_path: Path) -> None:
    bag, _ = log
    res = convert([bag], str(tmp_path / "a.zarr"), ConvertConfig())
    assert res.ego["source"] == "odom" and res.ego["inputs"] == [WHEEL]
    frame = fusion.open(str(tmp_path / "a.zarr"))[5]
    assert frame.ego_quality["source"] == "odom" and np.isnan(frame.ego_quality["position_sigma_m"])
    res = convert([bag], str(tmp_path / "b.zarr"), ConvertConfig(exclude_topics=(WHEEL,)))
    assert res.ego["source"] == "imu+gnss" and res.ego["choice"].startswith("imu+gnss (auto: no recorded")
    res = convert([bag], str(tmp_path / "c.zarr"), ConvertConfig(exclude_topics=(WHEEL, GNSS)))
    assert res.ego["source"] == "imu"


def test_missing_inputs_are_config_errors(log: tuple[Path, Any], tmp_path: Path) -> None:
    bag, _ = log
    with pytest.raises(ConfigError, match=r"ego\.source imu\+gnss: the log has no GNSS fixes"):
        convert([bag], str(tmp_path / "x.zarr"), ConvertConfig(ego=EgoConfig(source="imu+gnss"),
                                                              exclude_topics=(GNSS,)))
    with pytest.raises(ConfigError, match=r"ego\.source lidar\+imu: the log has no IMU"):
        convert([bag], str(tmp_path / "y.zarr"), ConvertConfig(ego=EgoConfig(source="lidar+imu"),
                                                              exclude_topics=("/imu/data",)))
    assert not (tmp_path / "x.zarr").exists() and not (tmp_path / "y.zarr").exists()


def test_parse_source() -> None:
    assert parse_source("gnss+imu") == "imu+gnss"
    assert parse_source(" odom + imu ") == "imu+odom"
    assert parse_source("auto") == "auto"
    assert parse_source("imu+lidar") == "lidar+imu"
    with pytest.raises(ConfigError, match=r"ego\.source: unknown source 'wheels'"):
        parse_source("imu+wheels")
    with pytest.raises(ConfigError, match="not a supported combination"):
        parse_source("odom+gnss")
    cfg = config_from_dict({"ego": {"source": "gnss+odom+imu", "wheel_yaw_rate_sigma": 0.01}})
    assert cfg.ego.source == "imu+odom+gnss" and cfg.ego.wheel_yaw_rate_sigma == 0.01
    with pytest.raises(ConfigError, match=r"ego\.rate_hz"):
        config_from_dict({"ego": {"rate_hz": 0}})


def test_wheel_twist_topic_is_wheel_odometry(tmp_path: Path) -> None:
    """Wheel odometry published as geometry_msgs/TwistStamped (no pose): no recorded trajectory, so
    ``auto`` estimates from the IMU and the twist (the issue's "no odometry topic" case)."""
    cfg = SynthConfig.tiny(duration_s=6.0, seed=5, sensor_noise=SensorNoise(wheel_message="twist"), odometry=False)
    out = generate(cfg, tmp_path / "log", formats=("mcap",))
    assert out.counts["/wheel/twist"] == 300 and WHEEL not in out.counts
    truth = load_truth(out.truth_path)
    res = convert([out.bags["mcap"]], str(tmp_path / "t.zarr"), ConvertConfig(exclude_topics=(GNSS,)))
    assert res.ego["source"] == "imu+odom" and res.ego["inputs"] == ["/imu/data", "/wheel/twist"]
    ds = fusion.open(str(tmp_path / "t.zarr"))
    assert ds.stream("base").rows()["linear_velocity_mps"].shape == (300, 3)  # stored as a twist stream
    e, rng = _deskew_errors(ds, truth, min_frames=55)
    assert np.percentile(e[rng <= 20.0], 99) <= 0.03  # measured 1.75 cm (defaults: the wheel yaw rate is not used)


def test_cli_ego_source(log: tuple[Path, Any], tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    bag, _ = log
    fusion_cli = [sys.executable, "-m", "fusion"]
    out = subprocess.run([*fusion_cli, "convert", str(bag), "-o", str(tmp_path / "c.zarr"), "--ego-source",
                          "gnss+imu", "--json"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["ego"]["source"] == "imu+gnss"
    bad = subprocess.run([*fusion_cli, "convert", str(bag), "-o", str(tmp_path / "d.zarr"), "--ego-source", "wheels"],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("error: --ego-source: unknown source")
    assert not (tmp_path / "d.zarr").exists()
