"""``fusion synth`` command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from fusion.cli.synth import synth
from fusion.testing.synth import load_truth

REPO = Path(__file__).resolve().parents[1]


def test_help_has_example() -> None:
    result = CliRunner().invoke(synth, ["--help"])
    assert result.exit_code == 0
    assert "fusion synth -o /tmp/synth --duration 10 --format bag --format mcap --seed 0" in result.output


def test_cli_writes_log_and_truth(tmp_path) -> None:
    args = ["-o", str(tmp_path), "--duration", "0.3", "--format", "bag", "--format", "mcap", "--seed", "4",
            "--lidar-beams", "4", "--lidar-columns", "32", "--width", "32", "--height", "24",
            "--lidar-time", "velodyne_time", "--clock-offset", "imu=1500", "--drop-rate", "0.1",
            "--gap", "0.1", "0.05"]
    result = CliRunner().invoke(synth, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "synth.bag").is_file() and (tmp_path / "synth_mcap" / "metadata.yaml").is_file()
    assert not (tmp_path / "synth_db3").exists()
    truth = load_truth(tmp_path)
    cfg = truth.config
    assert (cfg.seed, cfg.lidar_beams, cfg.lidar_time_convention) == (4, 4, "velodyne_time")
    assert truth.time_offsets_ns["imu"] == 1500 and cfg.faults.gap == (0.1, 0.05)
    assert json.loads((tmp_path / "truth.json").read_text())["counts"]["/lidar/points"] == 3
    # existing outputs are not overwritten silently
    again = CliRunner().invoke(synth, args)
    assert again.exit_code != 0 and "exists" in str(again.exception)


def test_tools_script_and_error_line(tmp_path) -> None:
    out = subprocess.run([sys.executable, str(REPO / "tools" / "synth.py"), "-o", str(tmp_path), "--duration",
                          "0.2", "--format", "mcap", "--clock-offset", "nonsense"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 2
    assert out.stderr.strip() == "error: --clock-offset 'nonsense': use SENSOR=NANOSECONDS, e.g. lidar_top=5000000"
