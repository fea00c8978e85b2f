"""`fusion export points`: a frame's deskewed LiDAR as binary PCD/PLY, read back exactly (numpy reader)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pcd_reader import read_points
from synthlog import make_log

import fusion
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.convert import convert


def export_points(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``fusion export points ARGS`` as a user would."""
    cmd = [sys.executable, "-m", "fusion", "export", "points", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("export")
    bags, _, rig = make_log(tmp, ("bag",), duration_s=1.0)
    path = tmp / "s.zarr"
    convert([bags["bag"]], str(path), ConvertConfig(rig=str(rig)))
    return path


@pytest.mark.parametrize(("suffix", "frame"), [(".pcd", "world"), (".ply", "sensor"), (".pcd", "base")])
def test_export_points_round_trip(store: Path, tmp_path: Path, suffix: str, frame: str) -> None:
    out = tmp_path / f"f5{suffix}"
    res = export_points(str(store), "--frame", "5", "--lidar", "lidar_top", "--in", frame, "-o", str(out))
    assert res.returncode == 0, res.stderr
    _, rows = read_points(out)
    pts = np.stack([rows["x"], rows["y"], rows["z"]], axis=1).astype(np.float64)
    lid = fusion.open(str(store))[5].lidar["lidar_top"]
    expect = {"world": lid.in_world(), "base": lid.in_base(), "sensor": lid.xyz.astype(np.float64)}[frame]
    assert pts.shape == expect.shape
    np.testing.assert_allclose(pts, expect, atol=1e-4)  # PCD/PLY store float32


def test_export_rejects_bad_names(store: Path, tmp_path: Path) -> None:
    res = export_points(str(store), "--lidar", "nope", "-o", str(tmp_path / "x.pcd"))
    assert res.returncode == 2 and "no LiDAR 'nope'" in res.stderr
