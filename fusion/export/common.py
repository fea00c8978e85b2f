"""What every exporter shares: the selection (frames, sensors), options, results, output folder,
image bytes and pose conversions. Reads the store through the public reader API only."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from calibration.rotation import matrix_to_quat_xyzw
from fusion.errors import ExportError


@dataclass(frozen=True)
class OptionSpec:
    """One format-specific option (the CLI turns it into ``--name``).

    Attributes:
        name: Option name with underscores (``--every`` → ``every``).
        help: One-line help.
        default: Default value (its type is the option's type unless ``choices``).
        choices: Allowed values, or None.
        flag: A boolean flag (no value).
        cli: The option as typed (default ``--`` + name with dashes).
    """

    name: str
    help: str
    default: Any = None
    choices: tuple[str, ...] | None = None
    flag: bool = False
    cli: str = ""


@dataclass(frozen=True)
class Selection:
    """What to export.

    Attributes:
        frames: Store frame indices, in order.
        sensors: Sensor names to export, or None for every sensor the format takes.
    """

    frames: range
    sensors: tuple[str, ...] | None = None

    def pick(self, ds: Any, kind: str) -> list[str]:
        """Sensor names of ``kind`` in the store, filtered by :attr:`sensors`, sorted."""
        names = sorted(n for n, s in ds.sensors.items() if s.kind == kind)
        return names if self.sensors is None else [n for n in names if n in self.sensors]


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: frame count, files, bytes, seconds and notes for the user."""

    frames: int
    files: int
    bytes: int
    notes: tuple[str, ...] = field(default_factory=tuple)


def parse_frames(text: str | None, n: int) -> range:
    """``--frames a:b`` (Python slice semantics, either end optional, negative from the end) → range.

    Raises:
        ExportError: not ``a:b`` or ``a:b:step`` with integers, or an empty selection.
    """
    if text is None or text.strip() in ("", ":"):
        frames = range(n)
    else:
        parts = text.split(":")
        try:
            if len(parts) == 1:
                i = int(parts[0])
                vals: list[int | None] = [i, i + 1 if i != -1 else None, None]
            elif len(parts) in (2, 3):
                vals = [int(p) if p.strip() else None for p in parts] + [None] * (3 - len(parts))
            else:
                raise ValueError(text)
        except ValueError:
            raise ExportError(f"--frames {text!r}: expected START:STOP (e.g. 10:50, :100, -20:) "
                              "of frame indices") from None
        frames = range(n)[slice(*vals)]
    if len(frames) == 0:
        raise ExportError(f"--frames {text!r} selects no frame: the store has {n} frames (0..{n - 1})")
    return frames


def check_sensors(ds: Any, sensors: Sequence[str] | None) -> tuple[str, ...] | None:
    """Validate ``--sensors`` names against the store."""
    if not sensors:
        return None
    unknown = [s for s in sensors if s not in ds.sensors]
    if unknown:
        raise ExportError(f"--sensors: {', '.join(unknown)} not in the store (have {', '.join(sorted(ds.sensors))})")
    return tuple(sensors)


def prepare_output(out: Path, overwrite: bool) -> Path:
    """Create the output folder; refuse a non-empty one unless ``overwrite`` (then empty it)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is a file; -o takes a folder")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ExportError(f"{out} exists and is not empty; pass --overwrite to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def prepare_file(out: Path, overwrite: bool) -> Path:
    """Make way for one output file: refuse an existing one unless ``overwrite`` (then remove it);
    create its parent folder."""
    out = Path(out)
    if out.is_dir():
        raise ExportError(f"{out} is a folder; -o takes a file for this format")
    if out.exists():
        if not overwrite:
            raise ExportError(f"{out} exists; pass --overwrite to replace it")
        out.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def write_json(path: Path, data: Any) -> int:
    """Write JSON atomically (temporary name, then rename); returns the byte count."""
    raw = json.dumps(data, indent=1, allow_nan=False).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(raw)
    os.replace(tmp, path)
    return len(raw)


_EXT = {"jpeg": ".jpg", "jpg": ".jpg", "png": ".png"}
_RAW = {"bgr8": 3, "rgb8": 3, "mono8": 1, "mono16": 1, "bgra8": 4, "rgba8": 4}


def image_file(cam: Any, raw_as: str = ".png") -> tuple[bytes, str]:
    """An image's bytes for a file and its suffix.

    Compressed images keep their bytes as received (suffix from the format: ``.jpg``/``.png``).
    Raw images are encoded once, as ``raw_as`` (``.png``: lossless; ``.jpg``: quality 95), from
    their stored layout (rgb8/bgr8/mono8/mono16; 16-bit only as PNG).

    Raises:
        ExportError: a raw encoding without a lossless mapping (e.g. bayer, 32FC1).
    """
    import cv2

    fmt = str(cam.format).lower()
    if cam.compressed:
        for key, ext in _EXT.items():
            if key in fmt:
                return bytes(cam.data), ext
        return bytes(cam.data), ".jpg"  # CompressedImage without a named format: JPEG by convention
    enc = fmt.split(";")[0].strip()
    if enc not in _RAW or (enc == "mono16" and raw_as != ".png"):
        raise ExportError(f"streams/{cam.name}: raw encoding {enc!r} cannot be written as {raw_as}; "
                          "leave the camera out with --sensors")
    img = np.asarray(cam.image)
    if enc == "rgb8":
        img = img[..., ::-1]
    elif enc == "rgba8":
        img = img[..., [2, 1, 0, 3]]
    params = [int(cv2.IMWRITE_JPEG_QUALITY), 95] if raw_as == ".jpg" else []
    ok, buf = cv2.imencode(raw_as, np.ascontiguousarray(img), params)
    if not ok:
        raise ExportError(f"streams/{cam.name}: could not encode image {cam.message_index} as {raw_as}")
    return buf.tobytes(), raw_as


def has_pose(T: np.ndarray) -> bool:
    """Whether a (4, 4) pose is finite."""
    return bool(np.isfinite(T).all())


def require_poses(ds: Any, frames: range, fmt: str) -> None:
    """Refuse a selection with a frame that has no ego pose (formats that need one per frame)."""
    for i in frames:
        if not has_pose(ds[i].ego_pose):
            posed = [j for j in frames if has_pose(ds[j].ego_pose)]
            hint = f"--frames {posed[0]}:{posed[-1] + 1}" if posed else "a store with ego motion"
            raise ExportError(f"frame {i} has no ego pose, which {fmt} needs for every frame; "
                              f"select posed frames (e.g. {hint})")


def pose_record(T: np.ndarray) -> dict[str, Any]:
    """A (4, 4) transform as ``position`` [x, y, z] m and ``orientation_xyzw`` [x, y, z, w]."""
    q = matrix_to_quat_xyzw(np.asarray(T[:3, :3], dtype=np.float64))
    return {"position": [float(v) for v in T[:3, 3]], "orientation_xyzw": [float(v) for v in q]}


def quat_wxyz(T: np.ndarray) -> list[float]:
    """Scalar-first quaternion [w, x, y, z] of a (4, 4) transform's rotation (nuScenes order)."""
    x, y, z, w = matrix_to_quat_xyzw(np.asarray(T[:3, :3], dtype=np.float64)).tolist()
    return [w, x, y, z]


def ego_poses_at(ego: Any, times_ns: np.ndarray) -> np.ndarray:
    """(M, 4, 4) ``T_world_base`` interpolated from ``ds.ego`` (the stored full-rate trajectory; NaN
    outside it)."""
    from calibration.interpolate import interpolate_poses
    from calibration.se3 import pose_matrix

    t, q, _ = interpolate_poses(ego.time_ns, ego.translation_m, ego.rotation_xyzw,
                                np.asarray(times_ns, dtype=np.int64))
    out: np.ndarray = pose_matrix(t, q)
    return out
