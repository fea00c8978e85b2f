"""Panels of the preview video: camera tiles, the bird's-eye view and the sync-quality strip.

Every panel is an ``(H, W, 3)`` uint8 BGR image of a fixed size, so the video layout never
changes from frame to frame. The bird's-eye view is drawn in the ego ``base`` frame at the frame
time (x forward = up in the image, y left = left in the image).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from calibration.overlay import colorize
from fusion.export.preview_radar import RadarPoints, draw_radar_bev

#: |Δt| thresholds (ns) of the sync strip: below the first green, below the second amber, else red.
SYNC_OK_NS = 5_000_000
SYNC_WARN_NS = 20_000_000
GREEN, AMBER, RED, GREY = (0, 200, 0), (0, 190, 255), (0, 0, 255), (110, 110, 110)
BOX_BGR = (0, 255, 0)
PATH_BGR = (255, 255, 255)
EGO_BGR = (255, 0, 255)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def text(image: np.ndarray, s: str, xy: tuple[int, int], color: tuple[int, int, int] = (255, 255, 255),
         scale: float = 0.5) -> None:
    """Draw ``s`` in place on a black box so it reads on any background."""
    (w, h), base = cv2.getTextSize(s, _FONT, scale, 1)
    cv2.rectangle(image, (xy[0] - 2, xy[1] - h - 2), (xy[0] + w + 2, xy[1] + base), (0, 0, 0), -1)
    cv2.putText(image, s, xy, _FONT, scale, color, 1, cv2.LINE_AA)


def fit(image: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """Resize ``image`` to exactly ``size_wh`` (width, height) pixels."""
    if image.shape[1] == size_wh[0] and image.shape[0] == size_wh[1]:
        return image
    enlarge = size_wh[0] > image.shape[1]  # nearest keeps drawn colours exact when enlarging
    interp = cv2.INTER_NEAREST if enlarge else cv2.INTER_AREA
    return np.asarray(cv2.resize(image, size_wh, interpolation=interp), dtype=np.uint8)


def missing_tile(name: str, size_wh: tuple[int, int]) -> np.ndarray:
    """A dark tile saying the sensor ``name`` has no message in this frame."""
    tile = np.full((size_wh[1], size_wh[0], 3), 40, np.uint8)
    text(tile, f"{name}: MISSING", (10, size_wh[1] // 2), RED, 0.7)
    return tile


def bev_panel(
    points_base: np.ndarray,
    boxes_base: list[np.ndarray],
    path_base: np.ndarray,
    *,
    radar: RadarPoints | None = None,
    size_px: int = 480,
    half_range_m: float = 40.0,
    max_range_m: float = 60.0,
    title: str = "",
) -> np.ndarray:
    """Bird's-eye view of LiDAR points, radar returns, box footprints and the ego path, in the base frame.

    Args:
        points_base: (N, 3) points in ``base``, m; coloured by horizontal range (same scale as cameras).
        boxes_base: list of (8, 3) box corners in ``base`` (bottom face first).
        path_base: (K, 3) ego positions in ``base`` (the whole drive), m.
        radar: radar returns and radial velocity vectors in ``base`` (pink discs and arrows).
        size_px: panel side, pixels (square).
        half_range_m: metres from the ego to the panel edge.
        max_range_m: top of the colour scale, m.
        title: text drawn at the top-left.

    Returns:
        (size_px, size_px, 3) uint8 BGR.
    """
    img = np.zeros((size_px, size_px, 3), np.uint8)
    scale = size_px / (2.0 * half_range_m)
    c = size_px / 2.0

    def to_px(xy: np.ndarray) -> np.ndarray:
        # base x forward -> image up; base y left -> image left
        return np.stack([c - xy[:, 1] * scale, c - xy[:, 0] * scale], axis=1)

    for r_m in (10.0, 20.0, 30.0, 40.0):
        cv2.circle(img, (round(c), round(c)), round(r_m * scale), (60, 60, 60), 1, cv2.LINE_AA)
    if len(points_base):
        uv = np.rint(to_px(points_base[:, :2])).astype(np.int64)
        inside = (uv[:, 0] >= 0) & (uv[:, 0] < size_px) & (uv[:, 1] >= 0) & (uv[:, 1] < size_px)
        rng = np.hypot(points_base[:, 0], points_base[:, 1])
        img[uv[inside, 1], uv[inside, 0]] = colorize(rng[inside], 0.0, max_range_m)
    if len(path_base) > 1:
        pts = np.rint(to_px(path_base[:, :2]) * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(img, [pts], False, PATH_BGR, 1, cv2.LINE_AA, shift=4)
    for corners in boxes_base:
        foot = np.rint(to_px(corners[:4, :2]) * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(img, [foot], True, BOX_BGR, 2, cv2.LINE_AA, shift=4)
        front = np.rint(to_px(corners[[0, 1], :2].mean(axis=0, keepdims=True))[0]).astype(int)
        cv2.circle(img, (int(front[0]), int(front[1])), 2, BOX_BGR, -1)
    if radar is not None:
        draw_radar_bev(img, radar, to_px, scale)
    ego = np.array([[2.0, 0.0], [-1.0, 1.0], [-1.0, -1.0]])
    cv2.fillPoly(img, [np.rint(to_px(ego)).astype(np.int32)], EGO_BGR)
    text(img, title or "bird's-eye view", (8, 18))
    text(img, f"{half_range_m * 2:.0f} m across, rings 10 m", (8, size_px - 10), scale=0.4)
    return img


def sync_color(dt_ns: int | None) -> tuple[int, int, int]:
    """Colour of a sensor's Δt: green/amber/red by |Δt| (:data:`SYNC_OK_NS`, :data:`SYNC_WARN_NS`), grey missing."""
    if dt_ns is None:
        return GREY
    a = abs(int(dt_ns))
    return GREEN if a < SYNC_OK_NS else AMBER if a < SYNC_WARN_NS else RED


def frame_dts(frame: Any, sensors: list[str]) -> dict[str, int | None]:
    """Sensor name -> Δt (message − frame time, ns) of its matched message, None when missing."""
    views: dict[str, Any] = {}
    for attr in ("cameras", "lidar", "radar"):
        try:
            views.update(getattr(frame, attr))
        except (AttributeError, KeyError):
            continue
    out: dict[str, int | None] = {}
    for name in sensors:
        v = views.get(name)
        out[name] = int(v.dt_ns) if v is not None and frame.valid.get(name, False) else None
    return out


def sync_strip(dts: dict[str, int | None], width: int, label: str, height: int = 44) -> np.ndarray:
    """One cell per sensor: name, Δt in ms, background colour by quality; missing ones say so.

    Returns:
        (height, width, 3) uint8 BGR.
    """
    strip = np.full((height, width, 3), 20, np.uint8)
    text(strip, label, (6, height - 14), scale=0.45)
    x0 = 230
    n = max(1, len(dts))
    cell = max(1, (width - x0) // n)
    for i, (name, dt) in enumerate(dts.items()):
        x = x0 + i * cell
        cv2.rectangle(strip, (x + 2, 4), (x + cell - 2, height - 4), sync_color(dt), -1)
        val = "MISSING" if dt is None else f"{dt / 1e6:+.1f} ms"
        cv2.putText(strip, name[:18], (x + 6, 19), _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(strip, val, (x + 6, height - 10), _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return strip
