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


def distort_plumb_bob(x: F64, y: F64, D: F64) -> tuple[F64, F64]:
    """Normalized undistorted (x, y) -> distorted, OpenCV plumb_bob (k1 k2 p1 p2 k3)."""
    k1, k2, p1, p2, k3 = D
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2 * r2 + k3 * r2**3
    return (x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x),
            y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y)


def undistort_plumb_bob(xd: F64, yd: F64, D: F64, iterations: int = 30) -> F64:
    """(N, 2) undistorted normalized coordinates of distorted ``xd``, ``yd`` (fixed-point iteration;
    residual < 1e-12 for the rig's mild distortion)."""
    x, y = xd.copy(), yd.copy()
    if np.any(D != 0):
        for _ in range(iterations):
            dx, dy = distort_plumb_bob(x, y, D)
            x, y = x + (xd - dx), y + (yd - dy)
    return np.stack([x, y], axis=-1)


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
        xd = (u.ravel() - K[0, 2]) / K[0, 0]
        yd = (v.ravel() - K[1, 2]) / K[1, 1]
        xy = undistort_plumb_bob(xd, yd, D)
        self.rays_cam = np.concatenate([xy, np.ones((xy.shape[0], 1))], axis=1)  # (HW, 3), z = 1
        self.rays_cam32 = self.rays_cam.astype(np.float32)
        self.rx32, self.ry32 = xy[:, 0].astype(np.float32), xy[:, 1].astype(np.float32)
        self.ray_norm32 = np.sqrt(self.rx32**2 + self.ry32**2 + 1).astype(np.float32)
        self.colors: dict[int, NDArray[np.uint8]] = {}  # object id -> (6, 3) shaded face colours
        s = np.linspace(-1.0, 1.0, 9)
        edges = []
        for axis in range(3):
            for a in (-1.0, 1.0):
                for b in (-1.0, 1.0):
                    e = np.empty((s.size, 3))
                    e[:, axis] = s
                    e[:, (axis + 1) % 3], e[:, (axis + 2) % 3] = a, b
                    edges.append(e)
        self.unit_edges = np.concatenate(edges)  # (108, 3) points on the edges of [-1, 1]^3

    def _face_colors(self, object_id: int) -> NDArray[np.uint8]:
        if object_id not in self.colors:
            base = box_color_bgr(object_id).astype(np.float64)
            self.colors[object_id] = np.clip(FACE_SHADE[:, None] * base[None], 0, 255).astype(np.uint8)
        return self.colors[object_id]

    def _rect(self, T_cam_world: F64, center: F64, size: F64, yaw: float) -> tuple[int, int, int, int] | None:
        """Pixel rectangle (u0, v0, u1, v1) holding the box's image (distortion included), or None."""
        c, s = np.cos(yaw), np.sin(yaw)
        R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
        pw = (self.unit_edges * (size / 2)) @ R.T + center
        pc = pw @ T_cam_world[:3, :3].T + T_cam_world[:3, 3]
        near = 0.05
        front = pc[:, 2] > near
        if not np.any(front):
            return None
        if not np.all(front):  # clip the edges at the near plane z = 0.05 m
            e = pc.reshape(12, -1, 3)
            a, b = e[:, :-1].reshape(-1, 3), e[:, 1:].reshape(-1, 3)
            cross = (a[:, 2] - near) * (b[:, 2] - near) < 0
            a, b = a[cross], b[cross]
            t = (near - a[:, 2]) / (b[:, 2] - a[:, 2])
            pc = np.concatenate([pc[front], a + t[:, None] * (b - a)])
        x, y = distort_plumb_bob(pc[:, 0] / pc[:, 2], pc[:, 1] / pc[:, 2], self.D)
        u = x * self.K[0, 0] + self.K[0, 2]
        v = y * self.K[1, 1] + self.K[1, 2]
        u0, v0 = int(max(np.floor(u.min()) - 2, 0)), int(max(np.floor(v.min()) - 2, 0))
        u1, v1 = int(min(np.ceil(u.max()) + 3, self.width)), int(min(np.ceil(v.max()) + 3, self.height))
        if u0 >= u1 or v0 >= v1:
            return None
        return u0, v0, u1, v1

    def _ground(self, R: F64, o: F64) -> tuple[NDArray[np.uint8], F64]:
        """Ground/sky colours (HW, 3) and ray parameter depth (HW,) (inf for sky), float32 maths."""
        R32 = R.astype(np.float32)
        rx, ry = self.rx32, self.ry32
        dz = rx * R32[2, 0]
        dz += ry * R32[2, 1]
        dz += R32[2, 2]
        sky = dz > -1e-6
        dz[sky] = -1.0
        tg = np.divide(np.float32(-o[2]), dz)
        sky |= tg * self.ray_norm32 > GROUND_MAX_M
        tg[sky] = 0.0
        gray = np.empty(tg.shape, dtype=np.uint8)
        gray[:] = 95
        cell = np.zeros(tg.shape, dtype=np.int64)
        for row, origin in ((0, o[0]), (1, o[1])):
            p = rx * R32[row, 0]
            p += ry * R32[row, 1]
            p += R32[row, 2]
            p *= tg
            p += np.float32(origin)
            cell += np.floor(p).astype(np.int64)
            p *= np.float32(0.1)
            p -= np.round(p)
            gray[np.abs(p) < 0.015] = 240
        gray[((cell & 1) == 1) & (gray != 240)] = 120
        img = np.empty((tg.size, 3), dtype=np.uint8)
        img[:] = gray[:, None]
        img[sky] = SKY_BGR
        depth = tg.astype(np.float64)
        depth[sky] = np.inf
        return img, depth

    def render(self, traj: AnalyticTrajectory, world: World, true_time_ns: int) -> NDArray[np.uint8]:
        """(H, W, 3) uint8 BGR image of the world at ``true_time_ns``."""
        T_wc = traj.matrices([true_time_ns])[0] @ self.T_base_cam
        R, o = T_wc[:3, :3], T_wc[:3, 3]
        img, depth = self._ground(R, o)
        T_cw = np.linalg.inv(T_wc)
        centers = world.centers_at([true_time_ns])[0]
        for m in range(world.n_boxes):
            rect = self._rect(T_cw, centers[m], world.sizes[m], float(world.yaws[m]))
            if rect is None:
                continue
            u0, v0, u1, v1 = rect
            idx = (np.arange(v0, v1)[:, None] * self.width + np.arange(u0, u1)[None, :]).ravel()
            d = self.rays_cam32[idx] @ np.ascontiguousarray(R.T, dtype=np.float32)  # float32 is enough here
            t, face = intersect_box(o, d, centers[m], world.sizes[m] / 2, float(world.yaws[m]))
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
