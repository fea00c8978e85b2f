"""Test helper: a dataset devkit in its own venv (made once under the user cache, reused after),
for devkits whose pins clash with fusion's (nuscenes-devkit pins numpy < 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def devkit_python(name: str, packages: list[str], module: str) -> Path:
    """Python of the venv ``~/.cache/fusion/<name>`` with ``packages`` installed, or skip the test.

    Args:
        name: Folder under the cache (one venv per devkit).
        packages: pip requirements installed into it.
        module: Imported to check the venv works (``import <module>``).
    """
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fusion" / name
    py = cache / "bin" / "python"
    check = [str(py), "-c", f"import {module}"]
    if py.exists() and subprocess.run(check, capture_output=True, timeout=300).returncode == 0:
        return py
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(cache)], check=True, capture_output=True,
                       timeout=300)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *packages], check=True, capture_output=True,
                       timeout=1500)
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"cannot install {' '.join(packages)} into {cache}: {exc}")
    res = subprocess.run(check, capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        pytest.skip(f"{' '.join(packages)} installed into {cache} but `import {module}` fails: "
                    f"{res.stderr.strip().splitlines()[-1:]}")
    return py
