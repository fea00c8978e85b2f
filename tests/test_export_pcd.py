"""fusion.export.pcd: binary PCD/PLY written by us, read back exactly by independent readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pcd_reader import read_points

from fusion.errors import StoreError
from fusion.export.pcd import write_points


def _columns(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    xyz = rng.normal(0, 30, (n, 3)).astype(np.float32)
    return {
        "x": xyz[:, 0],
        "y": xyz[:, 1],
        "z": xyz[:, 2],
        "intensity": rng.uniform(0, 255, n).astype(np.float32),
        "ring": rng.integers(0, 128, n).astype(np.uint16),
        "t": rng.normal(0, 1, n),  # float64 per-point time
    }


@pytest.mark.parametrize("suffix", [".pcd", ".ply"])
def test_round_trip_exact(tmp_path: Path, suffix: str) -> None:
    cols = _columns(1000)
    out = write_points(tmp_path / f"c{suffix}", cols)
    head, rows = read_points(out)
    assert list(rows.dtype.names or ()) == list(cols)
    for name, col in cols.items():
        assert rows[name].dtype == col.dtype.newbyteorder("<")
        np.testing.assert_array_equal(rows[name], col)  # bit-exact: the bytes are the values
    if suffix == ".pcd":
        assert head["DATA"] == "binary" and head["WIDTH"] == "1000" and head["HEIGHT"] == "1"
    assert not list(tmp_path.glob(".*tmp*")), "temporary file left behind"


def test_empty_cloud(tmp_path: Path) -> None:
    z = np.zeros(0, np.float32)
    _, rows = read_points(write_points(tmp_path / "e.pcd", {"x": z, "y": z, "z": z}))
    assert rows.shape == (0,)


@pytest.mark.parametrize("suffix", [".pcd", ".ply"])
def test_open3d_reads_it(tmp_path: Path, suffix: str) -> None:
    o3d = pytest.importorskip("open3d")
    cols = _columns(500)
    out = write_points(tmp_path / f"c{suffix}", {k: cols[k] for k in ("x", "y", "z", "intensity")})
    pts = np.asarray(o3d.io.read_point_cloud(str(out)).points)
    expect = np.stack([cols["x"], cols["y"], cols["z"]], axis=1).astype(np.float64)
    np.testing.assert_array_equal(pts, expect)  # float32 widened: exact


def test_rejects_bad_input(tmp_path: Path) -> None:
    x = np.zeros(3, np.float32)
    with pytest.raises(StoreError, match=r"use a \.pcd or \.ply"):
        write_points(tmp_path / "a.xyz", {"x": x})
    with pytest.raises(StoreError, match="expected"):
        write_points(tmp_path / "a.pcd", {"x": x, "y": np.zeros(2, np.float32)})
    with pytest.raises(StoreError, match="no PCD/PLY type"):
        write_points(tmp_path / "a.pcd", {"x": x.astype(np.int64)})
    assert not (tmp_path / "a.pcd").exists()
