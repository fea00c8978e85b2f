"""Drawing helpers for calibration checks: projected points coloured by value, 3D box edges.

Images are ``(H, W, 3)`` uint8 BGR (OpenCV order); inputs are never modified.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibration.camera import CameraModel
from calibration.errors import CalibrationError

#: The 12 edges of a box given as 8 corners: 0-3 one face (in order), 4-7 the opposite face,
#: corner i+4 opposite corner i (the nuScenes devkit ``Box.corners()`` order).
BOX_EDGES: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 0),
    (4, 5), (5, 6), (6, 7), (7, 4),
    (0, 4), (1, 5), (2, 6), (3, 7),
)  # fmt: skip
_NEAR_M = 1e-3
_EDGE_SAMPLES = 32


def _check_image(image_bgr: NDArray[np.uint8]) -> None:
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise CalibrationError(f"overlay: image must be (H, W, 3) uint8 BGR, got {image_bgr.shape} {image_bgr.dtype}")


def colorize(values: ArrayLike, vmin: float, vmax: float, colormap: int = cv2.COLORMAP_JET) -> NDArray[np.uint8]:
    """BGR colours (N, 3) uint8 for values scaled linearly from [vmin, vmax] onto the colormap."""
    v = np.asarray(values, dtype=np.float64).ravel()
    span = vmax - vmin if vmax > vmin else 1.0
    idx = np.clip(np.rint((v - vmin) / span * 255.0), 0, 255).astype(np.uint8)
    colors: NDArray[np.uint8] = np.asarray(cv2.applyColorMap(idx.reshape(-1, 1), colormap), dtype=np.uint8)
    return colors.reshape(-1, 3)


def draw_points(
    image_bgr: NDArray[np.uint8],
    uv: ArrayLike,
    values: ArrayLike,
    valid: ArrayLike | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    radius_px: int = 1,
    colormap: int = cv2.COLORMAP_JET,
) -> NDArray[np.uint8]:
    """Draw pixels (N, 2) as filled discs coloured by ``values`` (N,) (e.g. range in metres).

    Args:
        image_bgr: (H, W, 3) uint8 BGR image (copied, not modified).
        uv: (N, 2) pixel coordinates (OpenCV convention, pixel centres at integers).
        values: (N,) values mapped onto the colormap.
        valid: (N,) bool, points to draw (default: all finite).
        vmin, vmax: colour range (default: min/max of the drawn values).
        radius_px: disc radius in pixels (0 = single pixel).
        colormap: an OpenCV colormap id.

    Returns:
        A new (H, W, 3) uint8 image. Farther-drawn points are painted in input order.
    """
    _check_image(image_bgr)
    out = image_bgr.copy()
    p = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    vals = np.asarray(values, dtype=np.float64).ravel()
    if vals.size != p.shape[0]:
        raise CalibrationError(f"draw_points: {p.shape[0]} points but {vals.size} values")
    mask = np.all(np.isfinite(p), axis=1) & np.isfinite(vals)
    if valid is not None:
        mask &= np.asarray(valid, dtype=bool).ravel()
    if not np.any(mask):
        return out
    p, vals = p[mask], vals[mask]
    lo = float(vals.min()) if vmin is None else float(vmin)
    hi = float(vals.max()) if vmax is None else float(vmax)
    colors = colorize(vals, lo, hi, colormap)
    u0, v0 = np.rint(p[:, 0]).astype(np.int64), np.rint(p[:, 1]).astype(np.int64)
    h, w = out.shape[:2]
    r = max(int(radius_px), 0)
    for du in range(-r, r + 1):
        for dv in range(-r, r + 1):
            if du * du + dv * dv > r * r:
                continue
            u, v = u0 + du, v0 + dv
            inside = (u >= 0) & (u < w) & (v >= 0) & (v < h)
            out[v[inside], u[inside]] = colors[inside]
    return out


def _clip_segment(a: NDArray[np.float64], b: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...] | None:
    """Clip the 3D segment a→b (camera optical frame) to z ≥ near; None when fully behind."""
    za, zb = a[2], b[2]
    if za < _NEAR_M and zb < _NEAR_M:
        return None
    if za < _NEAR_M:
        a = a + (b - a) * (_NEAR_M - za) / (zb - za)
    elif zb < _NEAR_M:
        b = b + (a - b) * (_NEAR_M - zb) / (za - zb)
    return a, b


def draw_box_edges(
    image_bgr: NDArray[np.uint8],
    corners_cam: ArrayLike,
    camera: CameraModel,
    color: tuple[int, int, int] = (0, 255, 0),
    thickness_px: int = 2,
) -> NDArray[np.uint8]:
    """Draw the 12 edges of M boxes given by corners in the camera optical frame.

    Each edge is clipped to the part in front of the camera, sampled and projected through
    the distortion model (so edges bend like the image), and drawn where the projection is
    valid (monotonic region); OpenCV clips at the image border.

    Args:
        image_bgr: (H, W, 3) uint8 BGR image (copied, not modified).
        corners_cam: (M, 8, 3) box corners in the optical frame, metres, order of :data:`BOX_EDGES`.
        camera: the camera model of the image.
        color: BGR colour.
        thickness_px: line thickness.
    """
    _check_image(image_bgr)
    out = image_bgr.copy()
    C = np.asarray(corners_cam, dtype=np.float64)
    if C.ndim == 2:
        C = C[None]
    if C.ndim != 3 or C.shape[1:] != (8, 3):
        raise CalibrationError(f"draw_box_edges: corners_cam must have shape (M, 8, 3), got {C.shape}")
    s = np.linspace(0.0, 1.0, _EDGE_SAMPLES)[:, None]
    for box in C:
        for i, j in BOX_EDGES:
            seg = _clip_segment(box[i], box[j])
            if seg is None:
                continue
            pts = seg[0] + s * (seg[1] - seg[0])
            uv, ok = camera.project(pts, require_in_image=False)
            # Draw each run of consecutive valid samples as one polyline.
            idx = np.flatnonzero(ok)
            if idx.size < 2:
                continue
            runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
            for run in runs:
                if run.size >= 2:
                    poly = np.rint(np.clip(uv[run], -1e6, 1e6) * 16.0).astype(np.int32).reshape(-1, 1, 2)
                    cv2.polylines(out, [poly], False, color, thickness_px, cv2.LINE_AA, shift=4)
    return out


def draw_colorbar(
    image_bgr: NDArray[np.uint8],
    vmin: float,
    vmax: float,
    unit: str = "m",
    colormap: int = cv2.COLORMAP_JET,
    width_px: int = 14,
    margin_px: int = 8,
) -> NDArray[np.uint8]:
    """Draw a vertical colour bar (``vmin`` at the bottom, ``vmax`` at the top) with labels at the right edge.

    Args:
        image_bgr: (H, W, 3) uint8 BGR image (copied, not modified).
        vmin, vmax: the value range of the colormap (as given to :func:`draw_points`).
        unit: unit appended to the labels.
        colormap: the same OpenCV colormap id as the points.
        width_px, margin_px: bar width and its distance from the image edges, pixels.

    Returns:
        A new (H, W, 3) uint8 image; the bar spans the middle half of the height.
    """
    _check_image(image_bgr)
    out = image_bgr.copy()
    h, w = out.shape[:2]
    top, bottom = h // 4, (3 * h) // 4
    if bottom - top < 2 or w < width_px + 2 * margin_px + 60:
        return out
    x1 = w - margin_px
    x0 = x1 - width_px
    n = bottom - top
    values = vmax - (vmax - vmin) * np.arange(n) / max(n - 1, 1)
    colors = colorize(values, vmin, vmax, colormap)
    out[top:bottom, x0:x1] = colors[:, None, :]
    cv2.rectangle(out, (x0 - 1, top - 1), (x1, bottom), (255, 255, 255), 1)
    for value, y in ((vmax, top + 4), ((vmin + vmax) / 2, (top + bottom) // 2 + 4), (vmin, bottom)):
        label = f"{value:g} {unit}"
        (tw, _), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
        cv2.putText(out, label, (x0 - 4 - tw, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out
