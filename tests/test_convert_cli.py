"""`fusion convert` / `fusion demo` as a user runs them: CLI, errors, resume after kill -9, Dask, real bags."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from synthlog import make_log

import fusion
from fusion.errors import IncompleteStoreError
from fusion.store.validate import validate_store

FUSION = [sys.executable, "-m", "fusion"]


def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FUSION, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    bags, _, rig = make_log(tmp_path_factory.mktemp("cli"), ("mcap", "bag"), duration_s=1.5)
    return bags["mcap"], rig


def test_help_lists_subcommands_with_examples() -> None:
    res = run("--help")
    assert res.returncode == 0
    for name in ("demo", "inspect", "convert", "validate", "calib", "synth", "annotate", "bench", "export"):
        assert name in res.stdout
    conv = run("convert", "--help")
    assert conv.returncode == 0 and "Examples:" in conv.stdout and "fusion convert" in conv.stdout


def test_convert_cli_and_validate(log: tuple[Path, Path], tmp_path: Path) -> None:
    bag, rig = log
    store = tmp_path / "cli.zarr"
    res = run("convert", str(bag), "-o", str(store), "--rig", str(rig), "--reference", "lidar:lidar_top")
    assert res.returncode == 0, res.stderr
    assert "frames" in res.stdout and "MB/s" in res.stdout and "sync quality" in res.stdout
    val = run("validate", str(store))
    assert val.returncode == 0, val.stdout + val.stderr
    insp = run("inspect", str(store))
    assert insp.returncode == 0, insp.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["convert", "/nonexistent/drive.bag", "-o", "x.zarr"], "/nonexistent/drive.bag"),
        (["convert", "BAG", "-o", "OUT", "--config", "CFG"], "frames.referenc"),
        (["convert", "BAG", "-o", "OUT", "--include-topic", "/nope"], "no sensor, continuous or ego topic selected"),
    ],
)
def test_user_mistakes_give_one_error_line(
    log: tuple[Path, Path], tmp_path: Path, args: list[str], needle: str
) -> None:
    bag, _ = log
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("frames:\n  referenc: lidar:lidar_top\n")
    args = [a.replace("BAG", str(bag)).replace("OUT", str(tmp_path / "o.zarr")).replace("CFG", str(cfg)) for a in args]
    res = run(*args)
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert needle in lines[0]
    assert "Traceback" not in res.stderr


def test_existing_store_is_not_overwritten_silently(log: tuple[Path, Path], tmp_path: Path) -> None:
    bag, rig = log
    store = tmp_path / "twice.zarr"
    assert run("convert", str(bag), "-o", str(store), "--rig", str(rig)).returncode == 0
    again = run("convert", str(bag), "-o", str(store), "--rig", str(rig))
    assert again.returncode == 2 and "--overwrite" in again.stderr
    assert run("convert", str(bag), "-o", str(store), "--rig", str(rig), "--overwrite").returncode == 0


def test_kill_9_then_resume(tmp_path: Path) -> None:
    bags, _, rig = make_log(
        tmp_path, duration_s=6.0, lidar_beams=64, lidar_columns=1024, image_width=640, image_height=480
    )
    store = tmp_path / "killed.zarr"
    scratch = tmp_path / "tmpdir"  # the spool's folder (TMPDIR): kill -9 must leave nothing there
    scratch.mkdir()
    proc = subprocess.Popen(
        [*FUSION, "convert", str(bags["mcap"]), "-o", str(store), "--rig", str(rig)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    deadline = time.time() + 300
    while time.time() < deadline and not (store / "streams").exists():
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(scratch.iterdir()) == []
    assert (store / "zarr.json").exists()
    with pytest.raises(IncompleteStoreError):
        fusion.open(str(store))
    bad = run("validate", str(store))
    assert bad.returncode != 0 and "complete" in (bad.stdout + bad.stderr).lower()
    res = run("convert", str(bags["mcap"]), "-o", str(store), "--rig", str(rig), "--resume")
    assert res.returncode == 0, res.stderr
    assert validate_store(str(store)).ok
    assert len(fusion.open(str(store))) == 60


def test_many_logs_on_a_dask_local_cluster(tmp_path: Path) -> None:
    bags = []
    for seed in (1, 2):
        logs, _, _ = make_log(tmp_path / f"log{seed}", ("bag",), seed=seed, duration_s=1.0)
        bags.append(str(logs["bag"]))
    res = run("convert", *bags, "--each", "-o", str(tmp_path / "stores"), "--dask", "local", "--workers", "2", "--json")
    assert res.returncode == 0, res.stderr
    import json

    rows = json.loads(res.stdout)
    assert [r["bag"] for r in rows] == bags
    stores = [r["store"] for r in rows]
    assert len(set(stores)) == 2  # both bags are named synth.bag: parent folders disambiguate
    for store in stores:
        assert Path(store).parent == tmp_path / "stores"
        assert validate_store(store).ok
        assert len(fusion.open(store)) == 10


def test_demo_runs_and_reports_accuracy(tmp_path: Path) -> None:
    res = run("demo", "-o", str(tmp_path / "demo"), "--duration", "2")
    assert res.returncode == 0, res.stderr
    assert "deskewed median" in res.stdout and "fusion validate: OK" in res.stdout
    med = float(res.stdout.split("deskewed median")[1].split("mm")[0])
    assert med <= 5.0


def test_real_camera_bag_converts(shared_data: Path, tmp_path: Path) -> None:
    bag = shared_data / "real" / "fiducials_camera_jpeg.bag"
    store = tmp_path / "fid.zarr"
    res = run("convert", str(bag), "-o", str(store), "--json")
    assert res.returncode == 0, res.stderr
    ds = fusion.open(str(store))
    assert validate_store(str(store)).ok
    rep = ds.report
    for topic, t in rep["topics"].items():
        assert t["stored"] + sum(t["skipped"].values()) == t["in_bag"], topic
    cams = [n for n, s in ds.sensors.items() if s.kind == "camera"]
    assert cams and len(ds) > 0
    img = ds[0].cameras[cams[0]].image
    assert img.ndim == 3 and img.shape[2] == 3 and img.std() > 1.0  # a real picture, not blank


def test_real_luminar_lidar_bag_converts(shared_data: Path, tmp_path: Path) -> None:
    bag = shared_data / "real" / "embag_luminar_lidar.bag"
    store = tmp_path / "lum.zarr"
    res = run("convert", str(bag), "-o", str(store), "--json")
    assert res.returncode == 0, res.stderr
    ds = fusion.open(str(store))
    lidars = [n for n, s in ds.sensors.items() if s.kind == "lidar"]
    assert lidars
    pts = ds[0].lidar[lidars[0]]
    assert len(pts.xyz) > 10_000 and np.isfinite(pts.xyz).all()
    t = pts.time_ns
    assert 0 < (t.max() - t.min()) < 200_000_000  # per-point time_sec/time_nsec decoded: one sweep


def test_real_radar_bag_with_trigger_stamps(shared_data: Path, tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    bag = shared_data / "real" / "rio_ti_mmwave_radar_imu.bag"
    store = tmp_path / "rio.zarr"
    res = run("convert", str(bag), "-o", str(store), "--config", str(repo / "configs" / "real" / "rio_radar.yaml"))
    assert res.returncode == 0, res.stderr
    ds = fusion.open(str(store))
    assert validate_store(str(store)).ok
    assert ds.sensors["radar"].count == 412  # every radar message (the bag's count)
    assert any("trigger topic" in w for w in ds.report["warnings"])
    dts = [ds[i].cameras.get("x") for i in range(3)]  # no cameras in this bag
    assert dts == [None, None, None]
    present = sum(ds[i].valid["radar"] for i in range(len(ds)))
    assert present >= 0.95 * len(ds)
    # Radar stamps come from the trigger clock (sensor platform, days behind record time).
    t_radar = ds[10].radar["radar"].message_time_ns
    assert abs(t_radar - ds.times_ns[10]) <= 50_000_000


def test_truncated_bag_converts_what_precedes_the_damage(log: tuple[Path, Path], tmp_path: Path) -> None:
    mcap_dir, rig = log
    bag = mcap_dir.parent / "synth.bag"
    cut = tmp_path / "cut.bag"
    data = bag.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    store = tmp_path / "cut.zarr"
    res = run("convert", str(cut), "-o", str(store), "--rig", str(rig))
    assert res.returncode == 0, res.stderr
    ds = fusion.open(str(store))
    rep = ds.report
    assert 0 < len(ds) < 15  # a 1.5 s log has 15 sweeps; only those before the damage
    for topic, t in rep["topics"].items():
        assert t["stored"] + sum(t["skipped"].values()) == t["in_bag"], topic
    assert validate_store(str(store)).ok


def test_convert_to_s3_and_zip(log: tuple[Path, Path], tmp_path: Path, s3: dict[str, str]) -> None:
    bag, rig = log
    url = "s3://fusion/drives/cli.zarr"
    opts = [a for k, v in s3.items() for a in ("-S", f"{k}={v}")]
    res = run("convert", str(bag), "-o", url, "--rig", str(rig), *opts)
    assert res.returncode == 0, res.stderr
    ds = fusion.open(url, **s3)
    assert len(ds) == 15 and validate_store(url, **s3).ok
    local = tmp_path / "local.zarr"
    assert run("convert", str(bag), "-o", str(local), "--rig", str(rig)).returncode == 0
    ref = fusion.open(str(local))
    np.testing.assert_array_equal(ds.times_ns, ref.times_ns)
    np.testing.assert_array_equal(ds[7].lidar["lidar_top"].xyz, ref[7].lidar["lidar_top"].xyz)
    zipped = tmp_path / "drive.zarr.zip"
    res = run("convert", str(bag), "-o", str(zipped), "--rig", str(rig))
    assert res.returncode == 0, res.stderr
    dz = fusion.open(str(zipped))
    np.testing.assert_array_equal(dz[7].lidar["lidar_top"].xyz, ref[7].lidar["lidar_top"].xyz)
    assert dz[3].cameras["camera_front"].data == ref[3].cameras["camera_front"].data
