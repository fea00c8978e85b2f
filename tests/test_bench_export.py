"""``fusion bench --stage export`` runs end to end on the tiny logs (1 s and 4 s); no timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fusion.bench.export import RATIO_TARGET, available_exporters


@pytest.mark.slow
def test_export_bench_tiny(tmp_path: Path) -> None:
    out, md, work = tmp_path / "export.json", tmp_path / "export.md", tmp_path / "work"
    res = subprocess.run(
        [sys.executable, "-m", "fusion", "bench", "--stage", "export", "--preset", "tiny", "--workdir", str(work),
         "--json", str(out), "--markdown", str(md)],
        capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    logs = data["logs"]
    assert (logs["1x"]["duration_s"], logs["4x"]["duration_s"]) == (1.0, 4.0)
    assert (logs["1x"]["frames"], logs["4x"]["frames"]) == (10, 40)  # 10 Hz LiDAR reference
    assert 3.0 < logs["4x"]["bag_bytes"] / logs["1x"]["bag_bytes"] < 5.0  # measured 3.98
    for tag in ("1x", "4x"):
        lg = logs[tag]
        assert lg["convert_mb_per_s"] == pytest.approx(lg["bag_bytes"] / 1e6 / lg["convert_seconds"])
        assert lg["convert_peak_rss_mb"] > 50
    fmts = [r["format"] for r in data["rows"]]
    assert fmts == available_exporters() and {"package", "kitti", "nuscenes", "mcap", "preview"} <= set(fmts)
    for r in data["rows"]:
        for tag, frames in (("1x", 9), ("4x", 39)):  # every frame but the first
            x = r[tag]
            assert x["frames"] == frames, (r["format"], tag, x)
            assert x["frames_per_s"] == pytest.approx(frames / x["seconds"])
            assert x["mb_per_s"] == pytest.approx(x["bytes"] / 1e6 / x["seconds"])
            assert 50 < x["peak_rss_mb"] < 4000  # measured 145-302 MB
            written = work / f"{r['format']}_{tag}"
            on_disk = sum(f.stat().st_size for f in written.rglob("*") if f.is_file())
            if x["files"] == 1:
                assert x["bytes"] == on_disk  # the one file the exporter wrote
            else:
                assert on_disk / 3 <= x["bytes"] <= on_disk  # manifests may be left out of the count
        assert 1.5 < r["4x"]["bytes"] / r["1x"]["bytes"] < 8  # more frames, more bytes (measured 3.7-4.4)
        assert r["rss_ratio"] == pytest.approx(r["4x"]["peak_rss_mb"] / r["1x"]["peak_rss_mb"])
        assert r["within_target"] == (r["rss_ratio"] <= RATIO_TARGET)
    preview = next(r for r in data["rows"] if r["format"] == "preview")
    assert preview["1x"]["codec"] in ("h264", "mp4v")
    table = md.read_text()
    assert table.count("| export ") == len(fmts) and "| convert " in table
