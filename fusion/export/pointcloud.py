"""Point-cloud export of a frame (binary PCD or PLY) for viewers and annotation tools.

Every per-point column of the store travels with the points: ``intensity``, ``ring``,
the bag's own per-point time (e.g. ``t``) and ``time_offset_ns`` (ns after the sweep
start), each with its stored dtype (PLY has no 64-bit integers: such a column is written
there as a double). Points with a non-finite coordinate are never written.
The files are written with numpy alone (no open3d), binary little-endian.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fusion.errors import StoreError
from fusion.export.pcd import PCD_DTYPES, SUFFIXES, write_points

FRAMES = ("auto", "sensor", "base", "world")


@dataclass(frozen=True)
class FrameCloud:
    """The points of one frame, ready to write.

    Attributes:
        xyz: (N, 3) float64 m in :attr:`frame`.
        fields: Per-point columns, each (N,), in the store's dtype.
        frame: ``sensor``, ``base`` or ``world`` (what ``auto`` resolved to).
        notes: What the user should know (a fallback, dropped non-finite points).
    """

    xyz: np.ndarray
    fields: dict[str, np.ndarray]
    frame: str
    notes: list[str] = field(default_factory=list)


def has_ego_pose(frame: Any) -> bool:
    """Whether a frame has a finite ego pose (``T_world_base``) at its time."""
    return bool(np.isfinite(frame.ego_pose).all())


def frame_points(ds: Any, index: int, *, lidar: str | None = None, frame: str = "auto") -> FrameCloud:
    """Points of one frame's LiDAR(s), deskewed to the frame time, with every per-point column.

    Args:
        ds: An open dataset.
        index: Frame index (``-len(ds) <= index < len(ds)``).
        lidar: One LiDAR name, or None for all LiDARs of the frame.
        frame: ``sensor`` (the LiDAR frame; one LiDAR only), ``base`` (base_link), ``world``
            (needs the frame's ego pose) or ``auto`` (world when the frame has an ego pose,
            else base for several LiDARs and sensor for one, with a note).

    Raises:
        StoreError: bad index, unknown LiDAR, ``world`` without an ego pose, ``sensor`` with
            several LiDARs (each message names the CLI option).
    """
    if frame not in FRAMES:
        raise StoreError(f"--in must be one of {', '.join(FRAMES)}, got {frame!r}")
    n = len(ds)
    if not -n <= index < n:
        raise StoreError(f"--frame {index} is out of range: the store has {n} frames (0..{n - 1})")
    fr = ds[index]
    if lidar is not None and lidar not in fr.lidar:
        raise StoreError(f"frame {index} has no LiDAR {lidar!r} (--lidar; present: {sorted(fr.lidar) or 'none'})")
    names = [lidar] if lidar is not None else sorted(fr.lidar)
    if not names:
        raise StoreError(f"frame {index} has no LiDAR sweep; pick another --frame")
    notes: list[str] = []
    posed = has_ego_pose(fr)
    if frame == "auto":
        frame = "world" if posed else ("sensor" if len(names) == 1 else "base")
        if not posed:
            notes.append(f"frame {index} has no ego pose: points are in the {frame} frame, not the world")
    if frame == "world" and not posed:
        raise StoreError(
            f"frame {index} has no ego pose, so its points cannot be put in the world frame; "
            "use --in base or --in sensor, or a frame with a pose"
        )
    if frame == "sensor" and len(names) != 1:
        raise StoreError(f"--in sensor needs exactly one LiDAR; frame {index} has {names}: pass --lidar NAME")
    xyz: list[np.ndarray] = []
    cols: list[dict[str, np.ndarray]] = []
    for name in names:
        pts = fr.lidar[name]
        p = pts.xyz.astype(np.float64) if frame == "sensor" else (pts.in_base() if frame == "base" else pts.in_world())
        xyz.append(p)
        c = dict(pts.fields)
        if "time_offset_ns" in pts.stream.point_columns():
            c["time_offset_ns"] = pts["time_offset_ns"]
        cols.append(c)
    common = [k for k in cols[0] if all(k in c for c in cols)]
    all_xyz = np.concatenate(xyz)
    fields = {k: np.concatenate([np.asarray(c[k]) for c in cols]) for k in common}
    keep = np.isfinite(all_xyz).all(axis=1)
    if not keep.all():
        notes.append(f"{int((~keep).sum())} point(s) without a finite position were left out")
        all_xyz = all_xyz[keep]
        fields = {k: v[keep] for k, v in fields.items()}
    return FrameCloud(all_xyz, fields, frame, notes)


def _columns(cloud: FrameCloud) -> dict[str, np.ndarray]:
    """x, y, z and every 1-D numeric field; a dtype PCD/PLY cannot hold (64-bit integers) as float64."""
    cols: dict[str, np.ndarray] = {a: cloud.xyz[:, i] for i, a in enumerate("xyz")}
    for name, v in cloud.fields.items():
        v = np.asarray(v)
        if v.ndim != 1 or v.dtype.kind not in "fiu":
            continue
        cols[name] = v if np.dtype(v.dtype) in PCD_DTYPES else v.astype(np.float64)
    return cols


def write_point_cloud(path: str | Path, cloud: FrameCloud, *, overwrite: bool = False) -> Path:
    """Write a :class:`FrameCloud` as binary PCD (v0.7) or binary little-endian PLY, by suffix
    (:func:`fusion.export.pcd.write_points`).

    Raises:
        StoreError: another suffix, or the file exists and ``overwrite`` is False.
        OSError: the file cannot be written.
    """
    out = Path(path)
    if out.suffix.lower() not in SUFFIXES:
        raise StoreError(f"{out}: use a .pcd or .ply file name (-o)")
    if out.exists() and not overwrite:
        raise StoreError(f"{out} exists; pass --overwrite to replace it")
    return write_points(out, _columns(cloud), comment=f"fusion export, frame {cloud.frame}")


def read_pcd(path: str | Path) -> tuple[dict[str, str], np.ndarray]:
    """Read a binary PCD written by :func:`write_point_cloud` (header dict, structured records)."""
    raw = Path(path).read_bytes()
    header: dict[str, str] = {}
    pos = 0
    while True:
        end = raw.index(b"\n", pos)
        line = raw[pos:end].decode("ascii")
        pos = end + 1
        if line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        header[key] = value
        if key == "DATA":
            break
    kinds = {"F": "f", "I": "i", "U": "u"}
    names, sizes, types = header["FIELDS"].split(), header["SIZE"].split(), header["TYPE"].split()
    dtype = np.dtype([(n, f"<{kinds[t]}{s}") for n, s, t in zip(names, sizes, types, strict=True)])
    return header, np.frombuffer(raw, dtype=dtype, count=int(header["POINTS"]), offset=pos)
