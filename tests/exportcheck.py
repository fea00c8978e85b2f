"""Test helper: independent readers for exported files (numpy only, not fusion's writers)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np


def run_export(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``fusion export ARGS`` as a user would."""
    return subprocess.run([sys.executable, "-m", "fusion", "export", *args], capture_output=True, text=True,
                          timeout=600)


def read_binary_pcd(path: Path) -> tuple[dict[str, list[str]], np.ndarray]:
    """A ``DATA binary`` PCD v0.7: header (key → words) and its structured little-endian records."""
    raw = path.read_bytes()
    header: dict[str, list[str]] = {}
    pos = 0
    while True:
        end = raw.index(b"\n", pos)
        words = raw[pos:end].decode("ascii").split()
        pos = end + 1
        if words and not words[0].startswith("#"):
            header[words[0]] = words[1:]
            if words[0] == "DATA":
                break
    assert header["DATA"] == ["binary"]
    letter = {"F": "f", "I": "i", "U": "u"}
    dtype = np.dtype([(n, f"<{letter[t]}{s}") for n, s, t in zip(header["FIELDS"], header["SIZE"], header["TYPE"],
                                                                 strict=True)])
    n = int(header["POINTS"][0])
    assert len(raw) - pos == n * dtype.itemsize
    return header, np.frombuffer(raw, dtype=dtype, count=n, offset=pos)


def quat_xyzw_to_matrix(q: list[float] | np.ndarray) -> np.ndarray:
    """(3, 3) rotation of a unit quaternion x, y, z, w (textbook formula)."""
    x, y, z, w = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def pose_matrix(position: list[float], quat_xyzw: list[float]) -> np.ndarray:
    """(4, 4) from a position and an x, y, z, w quaternion."""
    T = np.eye(4)
    T[:3, :3] = quat_xyzw_to_matrix(quat_xyzw)
    T[:3, 3] = position
    return T


def pinhole_shift_cv2(cam: object) -> float:
    """Largest pixel shift between a distorted image and its pinhole K over the border's corners and
    midpoints, by OpenCV's iterative undistortion (independent of fusion's camera model)."""
    import cv2

    w, h = cam.width - 1, cam.height - 1  # type: ignore[attr-defined]
    uv = np.array([[0, 0], [w, 0], [0, h], [w, h], [w / 2, 0], [w / 2, h], [0, h / 2], [w, h / 2]], np.float64)
    K, D = np.asarray(cam.K, np.float64), np.asarray(cam.D, np.float64)  # type: ignore[attr-defined]
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)
    und = cv2.undistortPoints(uv.reshape(-1, 1, 2), K, D, R=None, P=K, criteria=crit).reshape(-1, 2)
    return float(np.max(np.linalg.norm(und - uv, axis=1)))
