"""``fusion preview``: a frame-by-frame MP4 (or one PNG still) of a store.

Each video frame is laid out as::

    +---------------------------+-----------+
    | camera tiles (grid, ≤3    | bird's-eye|
    | columns): LiDAR by range, | view      |
    | boxes as 3D cuboids       |           |
    +---------------------------+-----------+
    | sync strip: Δt per sensor vs the frame |
    +---------------------------------------+

Camera tiles reuse the ``fusion calib check`` overlay (:func:`fusion.export.preview.render_frame`:
LiDAR motion-compensated to each image's time, range colour bar, projected boxes); a camera without
a message in the frame is a dark "MISSING" tile. Frames are rendered and written one at a time
(H.264 through PyAV when it has libx264, else OpenCV's ``mp4v``: :mod:`fusion.export.video_encode`),
so memory does not grow with the drive's length.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from calibration import SE3, Trajectory
from fusion.errors import ExportError
from fusion.export.preview import _ego_trajectory, camera_names, render_frame
from fusion.export.preview_panels import bev_panel, fit, frame_dts, missing_tile, sync_strip
from fusion.export.preview_radar import radar_points
from fusion.export.video_encode import open_encoder

TILE_W = 480
COLS = 3
_PATH_MAX = 4000


@dataclass(frozen=True)
class VideoResult:
    """What :func:`write_video` wrote: the file, its codec ("h264" or "mp4v"), a note when it fell back."""

    path: Path
    codec: str
    note: str | None = None


@dataclass(frozen=True)
class Layout:
    """Fixed geometry of every video frame (pixels)."""

    cameras: tuple[str, ...]
    tile_wh: tuple[int, int]
    cols: int
    bev_px: int
    strip_h: int = 44

    @property
    def grid_wh(self) -> tuple[int, int]:
        if not self.cameras:
            return 0, self.bev_px
        rows = -(-len(self.cameras) // self.cols)
        return self.tile_wh[0] * min(self.cols, len(self.cameras)), self.tile_wh[1] * rows

    @property
    def size_wh(self) -> tuple[int, int]:
        gw, gh = self.grid_wh
        return gw + self.bev_px, max(gh, self.bev_px) + self.strip_h


def make_layout(ds: Any) -> Layout:
    """Layout from the rig's camera image sizes (tile height from the first camera's aspect ratio)."""
    cams = tuple(camera_names(ds))
    rig = ds.calibration
    tile_h = TILE_W * 3 // 4
    for name in cams:
        cam = rig.sensor(name).camera
        if cam is not None:
            tile_h = round(TILE_W * cam.height / cam.width)
            break
    tile_h += tile_h % 2
    cols = min(COLS, max(1, len(cams)))
    rows = -(-len(cams) // cols) if cams else 1
    bev = max(360, tile_h * rows) if cams else 480
    bev += bev % 2
    return Layout(cams, (TILE_W, tile_h), cols, bev)


def _path(ds: Any) -> np.ndarray:
    t = np.asarray(ds.ego.translation_m, dtype=np.float64)
    step = max(1, len(t) // _PATH_MAX)
    return t[::step]


def render_preview(ds: Any, index: int, layout: Layout, path_world: np.ndarray,
                   traj: Trajectory | None = None) -> np.ndarray:
    """One video frame of frame ``index`` (BGR uint8, ``layout.size_wh``; ``traj``: the ego
    trajectory, None: built from ``ds.ego``)."""
    frame = ds[index]
    rig = ds.calibration
    traj = traj if traj is not None else _ego_trajectory(ds)
    W, H = layout.size_wh
    canvas = np.zeros((H, W, 3), np.uint8)
    has_cam = any(c in frame.cameras for c in layout.cameras)
    tiles = render_frame(ds, index, radar=True, traj=traj) if has_cam else {}
    tw, th = layout.tile_wh
    for i, name in enumerate(layout.cameras):
        r, c = divmod(i, layout.cols)
        tile = fit(tiles[name], (tw, th)) if name in tiles else missing_tile(name, (tw, th))
        canvas[r * th:(r + 1) * th, c * tw:(c + 1) * tw] = tile
    pose = frame.ego_pose
    T_base_world = SE3.from_matrix(pose).inverse() if np.isfinite(pose).all() else None
    pts = [rig.sensor(n).T_base_sensor.apply(v.xyz.astype(np.float64)) for n, v in frame.lidar.items()]
    points = np.concatenate(pts) if pts else np.zeros((0, 3))
    boxes = [T_base_world.apply(b.corners()) for b in frame.boxes] if T_base_world is not None else []
    path = T_base_world.apply(path_world) if T_base_world is not None and len(path_world) else np.zeros((0, 3))
    title = "bird's-eye view" if T_base_world is not None else "bird's-eye view (no ego pose)"
    gw = layout.grid_wh[0]
    radar = radar_points(ds, frame, SE3.identity(), int(frame.time_ns), traj)
    canvas[:layout.bev_px, gw:gw + layout.bev_px] = bev_panel(points, boxes, path, radar=radar,
                                                             size_px=layout.bev_px, title=title)
    sensors = [n for n in frame.valid if n in rig]
    t_s = (frame.time_ns - int(ds.times_ns[0])) / 1e9
    label = f"frame {index}/{len(ds) - 1}  t={t_s:7.2f} s"
    canvas[H - layout.strip_h:, :] = sync_strip(frame_dts(frame, sensors), W, label, layout.strip_h)
    return canvas


def check_output(path: Path, overwrite: bool, suffixes: tuple[str, ...] = (".mp4",)) -> None:
    """Refuse a folder, a name without one of ``suffixes``, or an existing ``path`` without ``overwrite``.

    Raises:
        ExportError: naming ``path`` and what to do.
    """
    if path.is_dir():
        raise ExportError(f"{path} is a folder; give a file name ending in .mp4 (or .png with --png)")
    if path.suffix.lower() not in suffixes:
        raise ExportError(f"{path}: the name must end in {' or '.join(suffixes)}")
    if path.exists() and not overwrite:
        raise ExportError(f"{path} exists; pass --overwrite to replace it")


def write_png(ds: Any, index: int, path: Path, overwrite: bool = False) -> Path:
    """Write the preview of frame ``index`` as one PNG.

    Raises:
        ExportError: index out of range, output exists without ``overwrite``, or cannot be written.
    """
    n = len(ds)
    if not -n <= index < n:
        raise ExportError(f"--png {index} is out of range: the store has {n} frames (0..{n - 1})")
    check_output(path, overwrite, (".png", ".jpg", ".jpeg"))
    img = render_preview(ds, index % n, make_layout(ds), _path(ds))
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img):
        raise ExportError(f"cannot write {path} (check the folder is writable and the name ends in .png)")
    return path


def write_video(ds: Any, frames: range, path: Path, fps: float, overwrite: bool = False,
                progress: Callable[[int, int], None] = lambda done, total: None,
                codec: str = "auto") -> VideoResult:
    """Render ``frames`` one by one into an MP4 at ``fps``; written beside and renamed at the end.

    Args:
        codec: "auto" (H.264 when PyAV has libx264, else mp4v with a note), "h264" or "mp4v".

    Raises:
        ExportError: output exists without ``overwrite``, fps not positive, no H.264 encoder for
            ``codec="h264"``, or the writer cannot be opened.
    """
    if not fps > 0:
        raise ExportError(f"--fps {fps}: must be a positive number of frames per second")
    check_output(path, overwrite)
    layout = make_layout(ds)
    path_world = _path(ds)
    traj = _ego_trajectory(ds)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.stem}.part{path.suffix or '.mp4'}")
    writer, note = open_encoder(part, fps, layout.size_wh, codec)
    try:
        for done, i in enumerate(frames, 1):
            writer.write(render_preview(ds, i, layout, path_world, traj))
            progress(done, len(frames))
        writer.close()
    except BaseException:
        with contextlib.suppress(Exception):  # the original error is what the user needs
            writer.close()
        part.unlink(missing_ok=True)
        raise
    os.replace(part, path)
    return VideoResult(path, writer.codec, note)
