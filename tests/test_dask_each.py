"""``fusion convert --each --dask``: many logs on a local cluster and on a running scheduler.

Each run is a real ``fusion`` process in its own process group (as a terminal starts it); after
it exits, no process of that group may remain (zombies count: they hold the group too), no new
child of this test process may remain, and no process whose command line names the run's
cluster (forkserver, worker, resource tracker of that group) may remain.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from daskcluster import running_scheduler
from synthlog import make_log

import fusion
from fusion.store.validate import validate_store

REPO = Path(__file__).resolve().parents[1]
FUSION = [sys.executable, "-m", "fusion"]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], str]:
    base = tmp_path_factory.mktemp("dask_logs")
    bags, rig = [], ""
    for seed in range(4):
        out, _, rig_path = make_log(base / f"log{seed}", ("mcap",), duration_s=1.0, seed=seed)
        bags.append(str(out["mcap"]))
        rig = str(rig_path)
    return bags, rig


def _group(pgid: int) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid:
                out.append(p)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return out


def _cluster_processes(pgid: int) -> list[psutil.Process]:
    """Processes whose command line names a Dask worker, the forkserver or the resource tracker, of this run."""
    marks = ("multiprocessing.forkserver", "resource_tracker", "spawn_main", "distributed")
    out = []
    for p in _group(pgid):
        try:
            if any(m in " ".join(p.cmdline()) for m in marks):
                out.append(p)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            out.append(p)
    return out


def run_group(args: list[str], interrupt_when: int | None = None, timeout: float = 600) -> tuple[int, str, str]:
    """Run ``fusion ARGS`` in a new process group; optionally Ctrl-C the group once it has that many processes.

    Returns (exit status, stdout, stderr) after asserting that nothing of the run remains.
    """
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    proc = subprocess.Popen([*FUSION, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            start_new_session=True)  # fmt: skip
    pgid = proc.pid
    if interrupt_when is not None:
        deadline = time.monotonic() + timeout
        while len(_group(pgid)) < interrupt_when and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # the workers are converting
        os.killpg(pgid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    out, err = proc.communicate(timeout=timeout)
    deadline = time.monotonic() + 15
    while _group(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _group(pgid) == [], [p.pid for p in _group(pgid)]
    assert _cluster_processes(pgid) == []
    after = {p.pid for p in psutil.Process().children(recursive=True)}
    assert after - before == set()
    return proc.returncode, out, err


def test_four_logs_on_a_local_cluster_leave_no_process(logs: tuple[list[str], str], tmp_path: Path) -> None:
    bags, rig = logs
    code, out, err = run_group(["convert", *bags, "--each", "-o", str(tmp_path / "stores"), "--rig", rig,
                                "--dask", "local", "--workers", "2", "--json"])  # fmt: skip
    assert code == 0, err
    rows = json.loads(out)
    assert [r["bag"] for r in rows] == bags
    for r in rows:
        assert validate_store(r["store"]).ok
        assert len(fusion.open(r["store"])) == 10  # 1 s of 10 Hz LiDAR


def test_a_failing_log_gives_its_error_line_and_the_others_convert(logs: tuple[list[str], str], tmp_path: Path) -> None:
    bags, rig = logs
    empty = tmp_path / "empty.mcap"
    empty.write_bytes(b"")
    code, out, err = run_group(["convert", bags[0], str(empty), bags[1], "--each", "-o", str(tmp_path / "stores"),
                                "--rig", rig, "--dask", "local", "--workers", "2"])  # fmt: skip
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and str(empty) in errors[0] and "empty" in errors[0], err
    assert errors[0].count(str(empty)) == 1  # named once
    assert err.strip() == errors[0]  # nothing else: no worker log with a traceback (distributed's "Compute Failed")
    assert "2 of 3 log(s) converted" in out
    stores = sorted((tmp_path / "stores").glob("*.zarr"))
    assert len(stores) == 2
    for store in stores:
        assert validate_store(str(store)).ok


@pytest.mark.slow
def test_ctrl_c_stops_every_process_and_says_how_to_finish(logs: tuple[list[str], str], tmp_path: Path) -> None:
    bags, rig = logs
    many = bags * 3  # 12 logs: still converting when Ctrl-C comes
    code, _out, err = run_group(["convert", *many, "--each", "-o", str(tmp_path / "stores"), "--rig", rig,
                                "--dask", "local", "--workers", "2"], interrupt_when=5)  # fmt: skip
    # main + resource tracker + forkserver + 2 workers = 5 processes when the workers run
    assert code != 0
    assert "interrupted:" in err and "--resume" in err, err


@pytest.mark.slow
def test_the_same_command_on_a_running_scheduler(logs: tuple[list[str], str], tmp_path: Path) -> None:
    bags, rig = logs
    with running_scheduler(tmp_path, ENV) as cluster:
        empty = tmp_path / "empty.mcap"
        empty.write_bytes(b"")
        code, out, _err = run_group(["convert", *bags[:2], str(empty), "--each", "-o", str(tmp_path / "stores"),
                                    "--rig", rig, "--dask", cluster.address, "--json"])  # fmt: skip
        assert code == 2
        rows = json.loads(out)
        assert [("error" in r) for r in rows] == [False, False, True]
        for r in rows[:2]:
            assert len(fusion.open(r["store"])) == 10
        assert "empty" in rows[2]["error"]
        from distributed import Client

        with Client(cluster.address, timeout=60) as client:  # the cluster outlives the command, its workers warm
            warm = client.run(lambda: __import__("fusion.pipeline.worker_warm", fromlist=["_warm"])._warm)
        assert len(warm) == 2 and all(warm.values())
        assert cluster.alive()



def test_a_bad_option_before_the_cluster_leaves_no_process(logs: tuple[list[str], str], tmp_path: Path) -> None:
    # the warm forkserver starts before the config is read: an error there must stop it
    bags, rig = logs
    code, _out, err = run_group(["convert", *bags[:2], "--each", "-o", str(tmp_path / "stores"), "--rig", rig,
                                 "--reference", "nonsense", "--dask", "local"])  # fmt: skip
    assert code == 2 and "--reference" in err, err
    bad_rig = tmp_path / "missing.yaml"
    code, _out, err = run_group(["convert", *bags[:2], "--each", "-o", str(tmp_path / "stores"), "--rig",
                                 str(bad_rig), "--dask", "local"])  # fmt: skip
    assert code == 2 and "missing.yaml" in err, err


def test_serial_executor_keeps_order_and_reports_each_failure() -> None:
    from fusion.pipeline.executor import SerialExecutor, run_all

    def fn(item: int, common: int) -> int:
        if item == 2:
            raise ValueError("two")
        return item * common

    out = run_all(SerialExecutor(), fn, [1, 2, 3], 10)
    assert out[0] == 10 and out[2] == 30
    assert isinstance(out[1], ValueError) and str(out[1]) == "two"


@pytest.mark.slow
def test_bench_dask_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    res = subprocess.run([sys.executable, str(REPO / "tools" / "bench_dask.py"), "--logs", "2", "--rounds", "1",
                          "--json", str(out)], capture_output=True, text=True, env=ENV, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(out.read_text())
    assert [r["mode"] for r in doc["runs"]] == ["serial", "dask"]
    assert all(r["leftover_pids"] == [] and r["cpu_s"] > 0 and len(r["log_s"]) == 2 for r in doc["runs"])
    assert "| 2 |" in res.stdout
