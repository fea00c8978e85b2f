"""Exporters on a store converted from a real bag (../shared/data: 5 real Luminar LiDAR clouds whose
simulated odometry lies outside the clouds' time): the package in the LiDAR frame carries every real
point exactly; the formats that need an ego pose per frame refuse with one error line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from exportcheck import read_binary_pcd, run_export

import fusion
from fusion.cli.main import main


@pytest.fixture(scope="module")
def luminar_store(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("lum") / "lum.zarr"
    main(["convert", str(shared_data / "real" / "embag_luminar_lidar.bag"), "-o", str(store)])
    return store


@pytest.mark.shared
def test_real_lidar_package_and_refusals(luminar_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    res = run_export("package", str(luminar_store), "-o", str(out), "--in", "sensor")
    assert res.returncode == 0, res.stderr
    ds = fusion.open(str(luminar_store))
    assert len(ds) == 5
    for k in range(len(ds)):
        lid = ds[k].lidar["luminar_lidar"]
        _, rec = read_binary_pcd(out / "frames" / f"{k:06d}" / "points.pcd")
        keep = np.isfinite(lid.xyz).all(axis=1)
        assert len(rec) == int(keep.sum()) > 30_000  # 35707 real points in the first cloud
        np.testing.assert_array_equal(np.stack([rec["x"], rec["y"], rec["z"]], 1), lid.xyz[keep])
        np.testing.assert_array_equal(rec["t_ns"], (lid.time_ns - ds[k].time_ns)[keep])
    for fmt in ("kitti", "nuscenes", "package"):
        res = run_export(fmt, str(luminar_store), "-o", str(tmp_path / fmt))
        lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
        assert res.returncode == 2 and len(lines) == 1 and "no ego pose" in lines[0], res.stderr
