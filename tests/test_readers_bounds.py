"""`lidar_time_bounds`: the cheap pass-1 path equals the full decode's per-point time extent."""

from __future__ import annotations

from pathlib import Path

import pytest
from synthlog import make_log

from fusion.readers import open_bags
from fusion.readers.records import PointCloud


@pytest.mark.parametrize("convention", ["ouster_t", "velodyne_time", "hesai_timestamp"])
def test_bounds_equal_full_decode(tmp_path: Path, convention: str) -> None:
    bags, _, _ = make_log(tmp_path, ("bag",), duration_s=0.5, lidar_time_convention=convention)
    n = 0
    with open_bags([bags["bag"]]) as src:
        for raw in src.messages(["/lidar/points"]):
            rec = src.decode(raw)
            assert isinstance(rec, PointCloud) and rec.point_time_ns is not None
            lo, hi, count = src.lidar_time_bounds(raw)
            assert (lo, hi, count) == (int(rec.point_time_ns.min()), int(rec.point_time_ns.max()), len(rec.xyz))
            assert 50_000_000 < hi - lo < 100_000_001  # one 0.1 s sweep
            n += 1
    assert n == 5
