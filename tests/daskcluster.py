"""A real Dask scheduler and workers as subprocesses (``dask scheduler`` + ``dask worker``), for the
tests that run ``--dask tcp://…`` against a cluster that outlives the command."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Cluster:
    """The running cluster: its ``address`` and processes."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]

    def alive(self) -> bool:
        """Scheduler and every worker still running."""
        return self.scheduler.poll() is None and all(w.poll() is None for w in self.workers)


@contextlib.contextmanager
def running_scheduler(folder: Path, env: Mapping[str, str], workers: int = 2) -> Iterator[Cluster]:
    """A scheduler on 127.0.0.1 and ``workers`` one-thread workers (no nanny), all joined; stopped
    (workers first: they say goodbye to a live scheduler) when the block ends."""
    from distributed import Client

    py = [sys.executable, "-m"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": dict(env)}
    sched_file = folder / "scheduler.json"
    scheduler = subprocess.Popen([*py, "distributed.cli.dask_scheduler", "--no-dashboard", "--host", "127.0.0.1",
                                  "--port", "0", "--scheduler-file", str(sched_file)], **quiet)  # type: ignore[call-overload]  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []
    try:
        deadline = time.monotonic() + 120
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.3)
        address = json.loads(sched_file.read_text())["address"]
        procs = [subprocess.Popen([*py, "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny",
                                   "--no-dashboard"], **quiet) for _ in range(workers)]  # type: ignore[call-overload]  # fmt: skip
        with Client(address, timeout=120) as client:
            client.wait_for_workers(workers, timeout=120)
        yield Cluster(address, scheduler, procs)
    finally:
        for group in (procs, [scheduler]):
            for p in group:
                p.terminate()
            for p in group:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=30)
