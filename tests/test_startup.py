"""Start-up (issue 23): what each CLI path imports, the start-up benchmark's harness, the naive
converter it compares with, and the kernel policy (Python lower hull, thread counts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion import kernel_policy as kp
from fusion.bench.startup import NAIVE_SCRIPT, child_env, markdown, startup_commands, time_interleaved, time_process
from fusion.cli.main import COMMANDS
from fusion.sync.clock import _lower_hull_py, estimate_clock_offset, lower_hull
from fusion.sync.kernels_clock import lower_hull_kernel as _lower_hull

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("numba", "zarr", "scipy", "distributed", "dask", "cv2", "av", "rerun", "kiss_icp", "mcap", "rosbags", "numpy",
         "rich")


def _modules_after(args: list[str]) -> set[str]:
    """The modules a fresh ``fusion ARGS`` process has imported when it exits."""
    code = (
        "import sys\n"
        f"sys.argv = ['fusion', *{args!r}]\n"
        "from fusion.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('MODULES ' + ' '.join(sorted(sys.modules)))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300,
                         env=child_env())
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("MODULES "))
    return set(line.split()[1:])


@pytest.mark.parametrize("args", [["--help"], *([c, "--help"] for c in COMMANDS), ["annotate", "import", "--help"]])
def test_help_imports_no_heavy_library(args: list[str]) -> None:
    mods = _modules_after(args)
    assert "fusion.cli.main" in mods
    heavy = sorted(m for m in mods if m.split(".")[0] in HEAVY)
    assert not heavy, f"fusion {' '.join(args)} imported {heavy[:10]}"


def test_inspect_of_a_short_log_imports_no_numba(tmp_path: Path) -> None:
    from fusion.bench.runner import PRESETS, generate_log

    bag, _ = generate_log(PRESETS["tiny"], tmp_path, duration_s=1.0)
    mods = _modules_after(["inspect", str(bag)])
    assert "fusion.readers.inspect" in mods  # it ran
    assert "numba" not in mods  # the clock fits ran in Python; no kernel module was imported
    assert not {"scipy.linalg", "scipy.spatial", "scipy.sparse", "scipy.special"} & mods


def test_dask_driver_imports_no_numba(tmp_path: Path) -> None:
    """``--each --dask local``: the command reads the config (``ego.source``, ``deskew``), starts the
    cluster and receives each log's result without loading numba or the conversion — the workers
    convert, the driver's CPU would only compete with them (it imported both before)."""
    from fusion.bench.runner import PRESETS, generate_log

    bags = [generate_log(PRESETS["tiny"], tmp_path / name, duration_s=1.0) for name in ("a", "b")]
    (tmp_path / "conv.yaml").write_text(f"rig: {bags[0][1]}\nego:\n  source: auto\ndeskew: frame\n")
    mods = _modules_after(["convert", str(bags[0][0]), str(bags[1][0]), "--each", "-o", str(tmp_path / "out"),
                           "--config", str(tmp_path / "conv.yaml"), "--dask", "local", "--workers", "1"])
    assert "fusion.pipeline.result" in mods and "distributed" in mods  # it ran, with results
    assert len(list((tmp_path / "out").glob("*.zarr"))) == 2
    assert not {"numba", "fusion.pipeline.convert", "fusion.ego.estimator"} & mods


@settings(deadline=None)  # the first example loads the kernel
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(-1000, 1000)), min_size=1, max_size=60))
def test_lower_hull_python_equals_kernel(pts: list[tuple[int, int]]) -> None:
    a = np.array(pts, dtype=np.float64) * np.array([1e7, 1e3])
    order = np.lexsort((a[:, 1], a[:, 0]))
    x, y = a[order, 0].copy(), a[order, 1].copy()
    h1, h2 = np.empty(len(x), np.int64), np.empty(len(x), np.int64)
    n1, n2 = _lower_hull_py(x, y, h1), _lower_hull(x, y, h2)
    assert n1 == n2 and (h1[:n1] == h2[:n2]).all()


def test_lower_hull_large_input_uses_the_kernel_and_agrees() -> None:
    rng = np.random.default_rng(3)
    n = 5_000
    stamps = np.cumsum(rng.integers(1_000_000, 2_000_000, n)).astype(np.int64)
    record = stamps + 7_000_000 + rng.exponential(2e6, n).astype(np.int64)
    fit = estimate_clock_offset(stamps, record)
    assert abs(fit.offset_ns - 7_000_000) < 200_000  # measured 7.0e6 + O(1e4)
    x = (stamps - stamps[0]).astype(np.float64)
    y = (record - stamps).astype(np.float64)
    h1, h2 = np.empty(n, np.int64), np.empty(n, np.int64)
    assert lower_hull(x, y, h1) == _lower_hull(x, y, h2)


def test_kernel_threads_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    assert kp.kernel_threads(10, min_items=100, max_threads=8) == 1  # below the crossover
    monkeypatch.setattr(kp, "free_cores", lambda: 2)
    assert kp.kernel_threads(1000, min_items=100, max_threads=8) == 2
    assert kp.kernel_threads(1000, min_items=100, max_threads=1) == 1
    with kp.serial_kernels():
        with kp.serial_kernels():
            assert kp.kernel_threads(1000, min_items=100, max_threads=8) == 1
        assert kp.kernel_threads(1000, min_items=100, max_threads=8) == 1
    assert kp.kernel_threads(1000, min_items=100, max_threads=8) == 2
    monkeypatch.undo()
    assert 1 <= kp.free_cores() <= kp.usable_cpus()


def test_free_cores_counts_other_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kp, "usable_cpus", lambda: 2)
    for others, free in ((0.0, 2), (0.4, 2), (1.0, 1), (1.6, 1), (3.0, 1)):
        monkeypatch.setattr(kp, "others_running", lambda o=others: o)
        assert kp.free_cores() == free, others


def test_threads_for_restores_numba_threads() -> None:
    import numba

    before = numba.get_num_threads()
    with kp.threads_for(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before


def test_child_env_drops_what_the_cli_set(monkeypatch: pytest.MonkeyPatch) -> None:
    import fusion.cli.main as cli_main

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setattr(cli_main, "SET_BY_CLI", [])
    cli_main.single_threaded_blas()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1" and cli_main.SET_BY_CLI == ["OPENBLAS_NUM_THREADS"]
    assert "OPENBLAS_NUM_THREADS" not in child_env()  # the naive script does not get it for free
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")  # the user's own value is kept everywhere
    monkeypatch.setattr(cli_main, "SET_BY_CLI", [])
    cli_main.single_threaded_blas()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "4" and child_env()["OPENBLAS_NUM_THREADS"] == "4"


def test_time_process_measures_the_child_alone() -> None:
    burn = [sys.executable, "-c", "import time\nt=time.process_time()\nwhile time.process_time()-t<0.3: pass"]
    r = time_process(burn)
    assert 0.25 <= r["cpu_s"] <= 1.0  # the 0.3 s loop + interpreter start (≈ 0.02 s)
    assert r["wall_s"] >= 0.25
    res = time_interleaved({"burn": burn, "idle": [sys.executable, "-c", "pass"]}, rounds=2, warm=False)
    assert len(res["burn"]["cpu_s"]) == 2 and res["idle"]["cpu_s_median"] < res["burn"]["cpu_s_median"]


def test_naive_converter_and_harness_on_a_short_log(tmp_path: Path) -> None:
    from fusion.bench.runner import PRESETS, generate_log

    assert NAIVE_SCRIPT.is_file()
    bag, rig = generate_log(PRESETS["tiny"], tmp_path, duration_s=1.0)
    cmds = startup_commands(bag, rig, tmp_path)
    assert set(cmds) == {"naive", "convert", "help", "convert_help", "inspect"}
    res = time_interleaved({"naive": cmds["naive"], "help": cmds["help"]}, rounds=1, warm=False)
    assert res["naive"]["wall_s_median"] > 0 and res["help"]["cpu_s_median"] > 0
    g = zarr.open_group(str(tmp_path / "naive.zarr"), mode="r")
    stamps = g["stamp_ns"][:]
    assert len(stamps) == 10  # 1 s of 10 Hz sweeps
    off = g["lidar/offsets"][:]
    assert off[0] == 0 and len(off) == 11 and off[-1] == g["lidar/data"].shape[0]
    assert g["lidar/data"].shape[1] == 3 and np.isfinite(g["lidar/data"][:]).all()
    cam = g["camera_left_image_raw/offsets"][:]
    assert np.all(np.diff(cam) == 320 * 240 * 3)  # one raw bgr8 image per sweep
    table = markdown({"duration_s": 1.0, "preset": "tiny", "bag_bytes": 1e6, "rounds": 1,
                      "machine": {"cpus": 2}, "loadavg_before": [0.1], "loadavg_after": [0.2],
                      "stages": {k: {"wall_s_median": 1.0, "cpu_s_median": 0.5} for k in ("naive", "convert")},
                      "convert_vs_naive_wall": 1.0, "convert_vs_naive_cpu": 1.0})
    assert "| `fusion convert` | 1.00 | 0.50 |" in table
    json.dumps(res)
