"""`fusion warmup` compiles the conversion kernels into numba's cache; rerunning only loads it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fusion._numba_cache import configure_numba_cache, user_cache_dir


def _warmup(cache: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    cmd = [sys.executable, "-m", "fusion", "warmup"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow
def test_warmup_fills_the_cache_and_reruns(tmp_path: Path) -> None:
    cache = tmp_path / "numba"
    first = _warmup(cache)
    assert first.returncode == 0, first.stderr
    assert str(cache) in first.stdout
    files = {p.relative_to(cache) for p in cache.rglob("*.nbi")}
    # one index per cached kernel: the deskew, interpolation, matching and compensation kernels
    assert len(files) >= 8, sorted(map(str, files))  # measured: 14
    assert any("deskew_sweep" in str(f) for f in files) and any("interp_kernels" in str(f) for f in files)
    assert any("kernels_clock.lower_hull_kernel" in str(f) for f in files)  # short logs fit clocks in Python
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*.nbc")}
    second = _warmup(cache)  # idempotent: loads the cache, compiles nothing new
    assert second.returncode == 0, second.stderr
    after = {p: p.stat().st_mtime_ns for p in cache.rglob("*.nbc")}
    assert after == before


def test_cache_dir_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert configure_numba_cache(tmp_path) == str(tmp_path / "mine")  # the user's choice is kept
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    assert configure_numba_cache(tmp_path) is None  # writable package folder: numba's own __pycache__
    assert "NUMBA_CACHE_DIR" not in os.environ
    # a folder this process cannot write (a missing one: root can write any existing folder)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert configure_numba_cache(tmp_path / "absent") == str(tmp_path / "xdg" / "fusion" / "numba")
    assert os.environ["NUMBA_CACHE_DIR"] == str(user_cache_dir())
