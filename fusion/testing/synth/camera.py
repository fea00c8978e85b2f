"""Camera rendering by per-pixel ray casting (exact occlusion, plumb_bob distortion).

Each pixel's ray is the undistorted pixel (``cv2.undistortPointsIter``) in the
optical frame; per frame the rays are rotated into odom with the camera pose at
the stamp's true time (global shutter) and intersected with the ground (grey 1 m
checker with white lines every 10 m; sky above the horizon / beyond 300 m) and
the boxes (one flat colour per box, shaded per face). Boxes are only tested on
the pixels of their (enlarged) projected bounding rectangle, with a depth buffer,
so the image equals a full ray trace.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from fusion.testing.synth.trajectory import AnalyticTrajectory
from fusion.testing.synth.world import World, intersect_box

F64 = NDArray[np.float64]
SKY_BGR = np.array([235, 206, 135], dtype=np.uint8)
FACE_SHADE = np.array([0.80, 1.00, 0.70, 0.90, 0.60, 0.95])
GROUND_MAX_M = 300.0


def box_color_bgr(object_id: int) -> NDArray[np.uint8]:
    """Distinct saturated BGR colour of box ``object_id`` (golden-ratio hues)."""
    hue = int(((object_id * 0.618033988749895) % 1.0) * 180)
    hsv = np.array([[[hue, 220, 230]]], dtype=np.uint8)
    return np.asarray(cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0], dtype=np.uint8)


class CameraRenderer:
    """Renders one camera of the rig.

    Args:
        K: (3, 3) intrinsics, pixels; D: (5,) plumb_bob coefficients.
        width, height: image size, pixels.
        T_base_cam: (4, 4) optical frame -> base_link.
    """

    def __init__(self, K: F64, D: F64, width: int, height: int, T_base_cam: F64) -> None:
        self.K, self.D, self.width, self.height = K, D, width, height
        self.T_base_cam = T_base_cam
        u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
        uv = np.stack([u.ravel(), v.ravel()], axis=-1).reshape(-1, 1, 2)
        if np.any(D != 0):
            crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-12)
            xy = cv2.undistortPointsIter(uv, K, D, None, None, crit).reshape(-1, 2)
        else:
            xy = cv2.undistortPoints(uv, K, D).reshape(-1, 2)
        self.rays_cam = np.concatenate([xy, np.ones((xy.shape[0], 1))], axis=1)  # (HW, 3), z = 1
        self.colors = {}  # object id -> (6, 3) shaded face colours

    def _face_colors(self, object_id: int) -> NDArray[np.uint8]:
        if object_id not in self.colors:
            base = box_color_bgr(object_id).astype(np.float64)
            self.colors[object_id] = np.clip(FACE_SHADE[:, None] * base[None], 0, 255).astype(np.uint8)
        return self.colors[object_id]

    def _rect(self, T_cam_world: F64, center: F64, size: F64, yaw: float) -> tuple[int, int, int, int] | None:
        """Pixel rectangle (u0, v0, u1, v1) to test for a box, or None when out of view."""
        h = size / 2
        corners = np.array([[sx * h[0], sy * h[1], sz * h[2]] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        c, s = np.cos(yaw), np.sin(yaw)
        R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
        pc = (T_cam_world[:3, :3] @ (corners @ R.T + center).T).T + T_cam_world[:3, 3]
        if np.all(pc[:, 2] <= 0.05):
            return None
        if np.any(pc[:, 2] <= 0.05):
            return 0, 0, self.width, self.height
        uv = (pc[:, :2] / pc[:, 2:3]) * np.array([self.K[0, 0], self.K[1, 1]]) + self.K[:2, 2]
        mu, mv = 0.1 * self.width + 2, 0.1 * self.height + 2
        u0, v0 = int(max(np.floor(uv[:, 0].min() - mu), 0)), int(max(np.floor(uv[:, 1].min() - mv), 0))
        u1 = int(min(np.ceil(uv[:, 0].max() + mu), self.width))
        v1 = int(min(np.ceil(uv[:, 1].max() + mv), self.height))
        if u0 >= u1 or v0 >= v1:
            return None
        return u0, v0, u1, v1

    def render(self, traj: AnalyticTrajectory, world: World, true_time_ns: int) -> NDArray[np.uint8]:
        """(H, W, 3) uint8 BGR image of the world at ``true_time_ns``."""
        T_wc = traj.matrices([true_time_ns])[0] @ self.T_base_cam
        R, o = T_wc[:3, :3], T_wc[:3, 3]
        d = self.rays_cam @ R.T  # (HW, 3) world directions (optical z = 1 scaling)
        img = np.empty((self.height * self.width, 3), dtype=np.uint8)
        img[:] = SKY_BGR
        depth = np.full(d.shape[0], np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            tg = np.where(d[:, 2] < -1e-9, -o[2] / d[:, 2], np.inf)
        g = np.isfinite(tg) & (tg * np.linalg.norm(d, axis=1) < GROUND_MAX_M)
        p = o[None, :2] + tg[g, None] * d[g, :2]
        checker = (np.floor(p[:, 0]) + np.floor(p[:, 1])).astype(np.int64) % 2
        gray = np.where(checker == 0, 95, 120).astype(np.uint8)
        line = (np.abs(p[:, 0] - 10.0 * np.round(p[:, 0] / 10.0)) < 0.15) | (
            np.abs(p[:, 1] - 10.0 * np.round(p[:, 1] / 10.0)) < 0.15)
        gray[line] = 240
        img[g] = gray[:, None]
        depth[g] = tg[g]
        T_cw = np.linalg.inv(T_wc)
        centers = world.centers_at([true_time_ns])[0]
        for m in range(world.n_boxes):
            rect = self._rect(T_cw, centers[m], world.sizes[m], float(world.yaws[m]))
            if rect is None:
                continue
            u0, v0, u1, v1 = rect
            idx = (np.arange(v0, v1)[:, None] * self.width + np.arange(u0, u1)[None, :]).ravel()
            t, face = intersect_box(np.broadcast_to(o, (idx.size, 3)), d[idx], centers[m],
                                    world.sizes[m] / 2, float(world.yaws[m]))
            sel = t < depth[idx]
            hit = idx[sel]
            depth[hit] = t[sel]
            img[hit] = self._face_colors(m)[face[sel]]
        return img.reshape(self.height, self.width, 3)


def encode_jpeg(img: NDArray[np.uint8], quality: int) -> bytes:
    """JPEG bytes of a BGR image (cv2.imencode)."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV failure
        raise RuntimeError("cv2.imencode failed to encode a JPEG")
    return bytes(buf.tobytes())
