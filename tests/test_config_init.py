"""``fusion config init``: the config discovery makes of a log converts exactly as the defaults do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
import zarr
from synthlog import make_log

from fusion.pipeline.config import ConvertConfig, load_config
from fusion.pipeline.config_init import write_config
from fusion.pipeline.convert import convert
from fusion.store import validate_store


def _fusion(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fusion", *args], capture_output=True, text=True, timeout=300)


def _arrays(path: Path) -> dict[str, np.ndarray]:
    root = zarr.open_group(str(path), mode="r")
    return {n: np.asarray(a[...]) for n, a in root.members(max_depth=None)
            if isinstance(a, zarr.Array) and n != "report"}


def test_generated_log_config_converts_like_the_defaults(tmp_path: Path) -> None:
    bags, _, _ = make_log(tmp_path, formats=("mcap",), duration_s=1.0)
    cfg_path, smap_path, d = write_config([bags["mcap"]], tmp_path / "fusion.yaml")
    text = cfg_path.read_text()
    assert "reference: lidar:lidar_top" in text and "# the first lidar" in text
    smap = yaml.safe_load(smap_path.read_text())["sensors"]
    assert smap["lidar_top"] == {"topic": "/lidar/points", "kind": "lidar", "frame_id": "lidar_top"}
    assert {s["kind"] for s in smap.values()} >= {"lidar", "camera", "radar", "imu", "odometry"}
    assert d.ego_topic == "/odom" and d.base_frame[0] == "base_link"
    cfg = load_config(cfg_path)  # loads: every key is valid
    a = convert([bags["mcap"]], str(tmp_path / "a.zarr"), ConvertConfig())
    b = convert([bags["mcap"]], str(tmp_path / "b.zarr"), cfg)
    assert a.counts == b.counts and a.frames == b.frames > 0
    arrays_a, arrays_b = _arrays(tmp_path / "a.zarr"), _arrays(tmp_path / "b.zarr")
    assert arrays_a.keys() == arrays_b.keys()
    for name, values in arrays_a.items():
        np.testing.assert_array_equal(values, arrays_b[name], err_msg=name)


def test_refuses_to_overwrite_and_names_a_missing_bag(tmp_path: Path) -> None:
    bags, _, _ = make_log(tmp_path, formats=("mcap",), duration_s=0.5)
    out = tmp_path / "c.yaml"
    assert _fusion("config", "init", str(bags["mcap"]), "-o", str(out)).returncode == 0
    r = _fusion("config", "init", str(bags["mcap"]), "-o", str(out))
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert r.returncode == 2 and len(errors) == 1 and "--overwrite" in errors[0], r.stderr
    assert _fusion("config", "init", str(bags["mcap"]), "-o", str(out), "--overwrite").returncode == 0
    r = _fusion("config", "init", str(tmp_path / "nope.bag"), "-o", str(tmp_path / "n.yaml"))
    assert r.returncode == 2 and r.stderr.count("error:") == 1 and "nope.bag" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "n.yaml").exists()


@pytest.mark.shared
@pytest.mark.parametrize(("bag", "reference", "streams"), [
    ("rio_ti_mmwave_radar_imu.bag", "radar:ti_mmwave_radar_scan_pcl", 2),
    ("sick_rms1xxx_radar_lms1xx_lidar2d.bag", "lidar:cloud", 4),  # LiDAR, radar detections + tracks, /tf ego
    ("nobleo_gps.bag", "rate:10", 1),
])
def test_real_bags_config_converts_and_validates(shared_data: Path, tmp_path: Path, bag: str, reference: str,
                                                 streams: int) -> None:
    path = shared_data / "real" / bag
    cfg_path, smap_path, _ = write_config([path], tmp_path / "fusion.yaml")
    assert f"reference: {reference}" in cfg_path.read_text()
    if bag.startswith("rio"):  # the radar's header stamps are all 0: said in the map
        smap = yaml.safe_load(smap_path.read_text())["sensors"]
        assert smap["ti_mmwave_radar_scan_pcl"]["stamp_source"] == "record"
    result = convert([path], str(tmp_path / "out.zarr"), load_config(cfg_path))
    assert result.frames > 0 and len(result.counts) == streams, result.counts
    assert validate_store(tmp_path / "out.zarr").ok
