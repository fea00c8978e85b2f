"""`fusion export points`: a frame's deskewed LiDAR as binary PCD/PLY, read back exactly with numpy.

Every per-point column travels (intensity, ring, the bag's per-point time, time_offset_ns), no
non-finite point is ever written, ``--in auto`` falls back to the LiDAR frame with a note when the
frame has no ego pose, and ``--in world`` then refuses naming the frame.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from synthlog import make_log

import fusion
from fusion.export.pointcloud import has_ego_pose, read_pcd
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


def _unposed_and_posed(store: Path) -> tuple[int, int]:
    ds = fusion.open(str(store))
    posed = [has_ego_pose(ds[i]) for i in range(len(ds))]
    assert not all(posed) and any(posed)  # the log's first frame precedes the first odometry sample
    return posed.index(False), posed.index(True)


def read_ply(path: Path) -> tuple[list[str], np.ndarray]:
    """Read a binary little-endian PLY as written by fusion (header lines, structured records)."""
    raw = path.read_bytes()
    end = raw.index(b"end_header\n") + len(b"end_header\n")
    header = raw[:end].decode("ascii").splitlines()
    types = {"char": "i1", "uchar": "u1", "short": "i2", "ushort": "u2", "int": "i4", "uint": "u4",
             "float": "f4", "double": "f8"}
    props = [ln.split() for ln in header if ln.startswith("property ")]
    n = int(next(ln for ln in header if ln.startswith("element vertex")).split()[-1])
    dtype = np.dtype([(p[2], "<" + types[p[1]]) for p in props])
    return header, np.frombuffer(raw, dtype=dtype, count=n, offset=end)


@pytest.mark.parametrize("frame", ["world", "base", "sensor"])
def test_export_pcd_round_trip_with_every_column(store: Path, tmp_path: Path, frame: str) -> None:
    _, posed = _unposed_and_posed(store)
    out = tmp_path / "f.pcd"
    res = export_points(str(store), "--frame", str(posed), "--lidar", "lidar_top", "--in", frame, "-o", str(out))
    assert res.returncode == 0, res.stderr
    header, rec = read_pcd(out)
    lid = fusion.open(str(store))[posed].lidar["lidar_top"]
    expect = {"world": lid.in_world(), "base": lid.in_base(), "sensor": lid.xyz.astype(np.float64)}[frame]
    assert header["FIELDS"].split() == ["x", "y", "z", "intensity", "ring", "t", "time_offset_ns"]
    assert int(header["POINTS"]) == len(expect) == len(rec) > 1000
    xyz = np.stack([rec["x"], rec["y"], rec["z"]], axis=1)
    np.testing.assert_array_equal(xyz, expect)  # float64 in the file: exact
    np.testing.assert_array_equal(rec["intensity"], lid.fields["intensity"])
    np.testing.assert_array_equal(rec["ring"], lid.fields["ring"])
    np.testing.assert_array_equal(rec["t"], lid.fields["t"])
    np.testing.assert_array_equal(rec["time_offset_ns"], lid["time_offset_ns"])
    assert rec["ring"].dtype == lid.fields["ring"].dtype


def test_export_ply_round_trip(store: Path, tmp_path: Path) -> None:
    _, posed = _unposed_and_posed(store)
    out = tmp_path / "f.ply"
    res = export_points(str(store), "--frame", str(posed), "--in", "sensor", "--lidar", "lidar_top", "-o", str(out))
    assert res.returncode == 0, res.stderr
    header, rec = read_ply(out)
    lid = fusion.open(str(store))[posed].lidar["lidar_top"]
    assert any(ln.endswith(" time_offset_ns") for ln in header)  # int32 in the store; an int64 would be a double
    np.testing.assert_array_equal(np.stack([rec["x"], rec["y"], rec["z"]], 1), lid.xyz.astype(np.float64))
    np.testing.assert_array_equal(rec["intensity"], lid.fields["intensity"])
    np.testing.assert_array_equal(rec["time_offset_ns"], lid["time_offset_ns"])


def test_default_is_auto_and_never_writes_nan(store: Path, tmp_path: Path) -> None:
    unposed, posed = _unposed_and_posed(store)
    ds = fusion.open(str(store))
    out = tmp_path / "u.pcd"
    res = export_points(str(store), "--frame", str(unposed), "-o", str(out))  # the defaults of the issue
    assert res.returncode == 0, res.stderr
    assert f"frame {unposed} has no ego pose" in res.stderr and "sensor frame" in res.stdout
    _, rec = read_pcd(out)
    assert "frame sensor" in out.read_bytes()[:60].decode("ascii")
    xyz = np.stack([rec["x"], rec["y"], rec["z"]], axis=1)
    assert len(xyz) > 1000 and np.isfinite(xyz).all()
    np.testing.assert_array_equal(xyz, ds[unposed].lidar["lidar_top"].xyz.astype(np.float64))
    res = export_points(str(store), "--frame", str(posed), "-o", str(tmp_path / "p.pcd"))
    assert res.returncode == 0 and "world frame" in res.stdout and "note" not in res.stderr
    _, rec = read_pcd(tmp_path / "p.pcd")
    np.testing.assert_array_equal(rec["x"], ds[posed].lidar["lidar_top"].in_world()[:, 0])


def test_world_without_ego_pose_and_bad_names_are_errors(store: Path, tmp_path: Path) -> None:
    unposed, _ = _unposed_and_posed(store)
    out = tmp_path / "x.pcd"
    res = export_points(str(store), "--frame", str(unposed), "--in", "world", "-o", str(out))
    assert res.returncode == 2 and f"error: frame {unposed} has no ego pose" in res.stderr and not out.exists()
    res = export_points(str(store), "--lidar", "nope", "-o", str(out))
    assert res.returncode == 2 and "no LiDAR 'nope'" in res.stderr
    res = export_points(str(store), "--frame", "999", "-o", str(out))
    assert res.returncode == 2 and "--frame 999 is out of range" in res.stderr and "Traceback" not in res.stderr


def test_existing_file_needs_overwrite(store: Path, tmp_path: Path) -> None:
    _, posed = _unposed_and_posed(store)
    out = tmp_path / "x.pcd"
    out.write_text("mine")
    res = export_points(str(store), "--frame", str(posed), "-o", str(out))
    assert res.returncode == 2 and "--overwrite" in res.stderr and out.read_text() == "mine"
    res = export_points(str(store), "--frame", str(posed), "-o", str(out), "--overwrite")
    assert res.returncode == 0 and read_pcd(out)[1].size > 1000
