"""Faults of the machine, not of the input: a full disk, a read-only mount, an unreachable Dask
scheduler, a conversion killed again and again during ``--resume``.

Each is one ``error:`` line naming the path or address and what to do, exit status 2, no traceback,
and nothing half-written left where the next run would misread it. The disk faults are real: a
small tmpfs mounted in a private mount namespace (``unshare --user --map-root-user --mount``, no
privileges needed where unprivileged user namespaces are enabled; skipped with the reason where
they are not).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from synthlog import make_log

import fusion
from fusion.store.validate import validate_store

FUSION = [sys.executable, "-m", "fusion"]


def _unshare_works() -> str | None:
    """None when a private tmpfs can be mounted here, else why not."""
    if shutil.which("unshare") is None:
        return "no unshare(1)"
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            "mount -t tmpfs -o size=1m tmpfs /mnt"], capture_output=True, text=True)
    return None if probe.returncode == 0 else f"cannot mount a tmpfs in a user namespace: {probe.stderr.strip()}"


NO_MOUNT = _unshare_works()


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    bags, _, rig = make_log(tmp_path_factory.mktemp("faults"), ("mcap",), duration_s=2.0)
    return bags["mcap"], rig


def _in_tmpfs(mount: Path, options: str, *command: str) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with a fresh tmpfs (``options``) mounted on ``mount``, in a private namespace."""
    script = f'mount -t tmpfs -o {options} tmpfs "{mount}" && "$@"; rc=$?; ls -A "{mount}" >&2; exit $rc'
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", *command],
                          capture_output=True, text=True, timeout=300)


def _one_error_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert "Traceback" not in text, text
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1, text
    return errors[0]


@pytest.mark.skipif(NO_MOUNT is not None, reason=str(NO_MOUNT))
def test_full_disk_is_one_error_line_and_leaves_nothing(log: tuple[Path, Path], tmp_path: Path) -> None:
    bag, rig = log
    mount = tmp_path / "small"
    mount.mkdir()
    out = mount / "drive.zarr"
    # 1 MiB: the store of this log needs ≈ 9 MB (measured), so a shard write fails half-way
    res = _in_tmpfs(mount, "size=1m", *FUSION, "convert", str(bag), "-o", str(out), "--rig", str(rig))
    assert res.returncode == 2, res.stderr
    line = _one_error_line(res.stderr.replace("drive.zarr\n", ""))  # ls -A of the mount follows
    assert line.startswith(f"error: {out}: cannot write the store: No space left on device"), line
    assert "free space or choose another output" in line
    assert res.stderr.rstrip().splitlines()[-1] == line  # the mount is empty: the partial store was removed


@pytest.mark.skipif(NO_MOUNT is not None, reason=str(NO_MOUNT))
def test_read_only_mount_is_one_error_line(log: tuple[Path, Path], tmp_path: Path) -> None:
    bag, rig = log
    mount = tmp_path / "ro"
    mount.mkdir()
    out = mount / "drive.zarr"
    res = _in_tmpfs(mount, "ro,size=1m", *FUSION, "convert", str(bag), "-o", str(out), "--rig", str(rig))
    assert res.returncode == 2, res.stderr
    line = _one_error_line(res.stderr)
    assert str(out) in line and "read-only" in line.lower(), line


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_dask_scheduler(log: tuple[Path, Path], tmp_path: Path) -> None:
    bag, rig = log
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}
    t0 = time.perf_counter()
    res = subprocess.run([*FUSION, "convert", str(bag), str(bag), "--each", "-o", str(tmp_path / "out"),
                          "--rig", str(rig), "--dask", address], capture_output=True, text=True, env=env,
                         timeout=120)
    took = time.perf_counter() - t0
    assert res.returncode == 2, res.stderr
    line = _one_error_line(res.stderr)
    # the reason is the refused connection, or "no connection" when the connect timeout cancels the retry first
    assert line in (f"error: --dask {address}: cannot reach the Dask scheduler ({reason}; waited up to 2s); start one "
                    "there with `dask scheduler`, check the address and port, or use --dask local"
                    for reason in ("[Errno 111] Connection refused", "no connection")), line
    assert not list((tmp_path / "out").glob("*.zarr")) if (tmp_path / "out").exists() else True
    assert took < 60  # measured 9 s on a loaded machine (retries within the connect timeout)


def _kill_when_streams_appear(cmd: list[str], store: Path, delay_s: float) -> None:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not (store / "streams").exists():
        time.sleep(0.02)
    time.sleep(delay_s)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_resume_converges_after_repeated_kills(log: tuple[Path, Path], tmp_path: Path) -> None:
    """kill -9 during the conversion, then during each of two ``--resume`` runs, then a last
    ``--resume``: the store equals a clean conversion's; ``inspect`` never tracebacks between kills."""
    bag, rig = log
    store = tmp_path / "k.zarr"
    cmd = [*FUSION, "convert", str(bag), "-o", str(store), "--rig", str(rig)]
    for i, delay in enumerate((0.0, 0.05, 0.2)):
        _kill_when_streams_appear(cmd if i == 0 else [*cmd, "--resume"], store, delay)
        res = subprocess.run([*FUSION, "inspect", str(store)], capture_output=True, text=True, timeout=120)
        assert "Traceback" not in res.stderr + res.stdout and res.returncode in (0, 2), res.stderr
    res = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    if res.returncode != 0:  # one of the kills came after the store was complete: nothing to resume
        assert "already complete" in res.stderr, res.stderr
    assert validate_store(str(store)).ok
    clean = tmp_path / "clean.zarr"
    subprocess.run([*cmd[:-4], "-o", str(clean), "--rig", str(rig)], check=True, capture_output=True, timeout=300)
    a, b = fusion.open(str(store)), fusion.open(str(clean))
    assert len(a) == len(b) > 0 and (a.times_ns == b.times_ns).all()
