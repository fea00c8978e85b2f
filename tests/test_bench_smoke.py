"""The benchmark harness runs end to end on a tiny log (no timing is asserted: numbers are for tools/)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_bench_harness_tiny(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    md = tmp_path / "bench.md"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "fusion",
            "bench",
            "--preset",
            "tiny",
            "--repeats",
            "1",
            "--no-memory",
            "--workdir",
            str(tmp_path / "work"),
            "--json",
            str(out),
            "--markdown",
            str(md),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    stages = [r["stage"] for r in data["rows"]]
    assert stages[0].startswith("(a)") and stages[1].startswith("(a2)") and stages[-1].startswith("(f)")
    assert len(stages) == 8
    sec = {r["stage"][:4]: r["seconds"] for r in data["rows"]}
    assert abs(sec["(a2)"] - (sec["(a) "] + min(sec["(d) "], sec["(d2)"]))) < 1e-9  # floor = raw + faster write
    for r in data["rows"]:
        assert r["seconds"] > 0 and r["mb_per_s"] > 0
    assert data["rows"][1]["vs_floor"] == 1.0
    t = data["tuned_floor"]  # the same floor with rosbags' raw iteration under tuned malloc settings
    assert abs(t["floor_s"] - (t["raw_s"] + min(sec["(d) "], sec["(d2)"]))) < 1e-9
    assert abs(t["convert_vs_tuned_floor"] - sec["(e) "] / t["floor_s"]) < 1e-9
    assert data["stages"]["convert"]["frames"] == 20  # 2 s at 10 Hz
    assert len(data["stages"]["convert"]["cold_seconds"]) == 1  # the untimed first conversion, reported apart
    assert data["random_frame_ms_p50"] > 0
    c = data["deskew"]["column_times"]
    assert c["max_abs_diff_vs_numpy_m"] <= 1e-6  # the kernel equals the numpy reference
    assert "| stage |" in md.read_text()
