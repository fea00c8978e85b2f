"""Smoke run of ``fusion bench --stage throughput`` (tiny logs): the reads and memory harnesses run end
to end and report sane values (the numbers themselves are measured, never asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusion.bench.throughput import markdown, run_throughput_bench


@pytest.mark.slow
def test_throughput_bench_smoke(tmp_path: Path) -> None:
    res = run_throughput_bench(tmp_path, repeats=1, quick=True, many_logs=False, startup=False)
    r = res["reads"]
    assert r["frames"] >= 15 and r["bytes_per_frame"] > 10_000  # 2 s at 10 Hz; LiDAR + 2 JPEGs + radar + IMU
    assert r["random_frame_ms"] > 0 and r["plain_zarr_random_frame_ms"] > 0
    assert set(r["loader_frames_per_s"]) == {"1", "2"}
    m = res["memory"]
    assert m["rss_1x_mb"] > 50 and m["rss_4x_mb"] > 50
    assert res["many_logs"] is None  # tests/test_dask_each.py runs that harness (tools/bench_dask.py)
    assert "random frame" in markdown(res)
