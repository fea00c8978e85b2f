"""Camera intrinsics and distortion: projection, unprojection, valid-pixel masks, rolling shutter.

Points are in the camera **optical** frame (z forward, x right, y down), metres. Pixel
coordinates follow OpenCV: ``(u, v)`` with the centre of the top-left pixel at (0, 0);
a pixel is inside the image when ``−0.5 ≤ u < width − 0.5`` and ``−0.5 ≤ v < height − 0.5``.

Distortion models (OpenCV semantics, coefficient order as in ROS CameraInfo ``D``):

- ``plumb_bob`` (alias ``radtan``): k1 k2 p1 p2 k3 — ``cv2.projectPoints`` with 5 coefficients.
- ``rational_polynomial``: k1 k2 p1 p2 k3 k4 k5 k6 — ``cv2.projectPoints`` with 8 coefficients.
- ``equidistant`` (alias ``fisheye``, Kannala–Brandt): k1 k2 k3 k4 — ``cv2.fisheye.projectPoints``.
- ``none``: pinhole, no coefficients.

A projected point is valid when it is in front of the camera (z > 0), inside the region
where the radial distortion is monotonic (``r ≤ r_max`` for the pinhole models on the
undistorted normalized radius, ``θ ≤ θ_max`` for equidistant) and inside the image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibration.errors import IntrinsicsError
from calibration.rotation import F64

DISTORTION_COUNTS: dict[str, int] = {"plumb_bob": 5, "rational_polynomial": 8, "equidistant": 4, "none": 0}
DISTORTION_ALIASES: dict[str, str] = {"radtan": "plumb_bob", "fisheye": "equidistant"}
_R_GRID_MAX = 20.0  # pinhole models: normalized radius searched for monotonicity (≈ 87°)
_NEWTON_ITERS = 60
_NEWTON_TOL = 1e-13


def canonical_distortion_model(name: str) -> str:
    """Map a model name (or alias) to a key of :data:`DISTORTION_COUNTS`; else raise ``IntrinsicsError``."""
    key = str(name).strip().lower()
    key = DISTORTION_ALIASES.get(key, key)
    if key not in DISTORTION_COUNTS:
        raise IntrinsicsError(
            f"distortion_model {name!r} is not supported; use one of "
            f"{sorted(DISTORTION_COUNTS)} (aliases {DISTORTION_ALIASES})"
        )
    return key


def _monotonic_limit(x: F64, f: F64, denominator_ok: NDArray[np.bool_]) -> float:
    """Largest grid value up to which ``f`` increases strictly (and the denominator stays positive)."""
    ok = (np.diff(f) > 0.0) & denominator_ok[1:]
    bad = np.flatnonzero(~ok)
    return float(x[-1] if bad.size == 0 else x[bad[0]])


@dataclass(frozen=True, eq=False)
class CameraModel:
    """Pinhole camera with OpenCV-compatible distortion.

    Attributes:
        width: image width, pixels.
        height: image height, pixels.
        K: (3, 3) intrinsic matrix ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` (pixels; no skew).
        distortion_model: ``plumb_bob`` | ``rational_polynomial`` | ``equidistant`` | ``none``.
        D: distortion coefficients, count fixed by the model (5, 8, 4, 0).
        rolling_shutter_line_ns: time between the exposures of consecutive rows (ns), or None
            for a global shutter. Row ``r`` is exposed at ``common_time_ns + r * line_ns``
            (the stamp, once on the common clock, is the exposure of row 0).
    """

    width: int
    height: int
    K: F64
    distortion_model: str = "none"
    D: F64 = field(default_factory=lambda: np.zeros(0))
    rolling_shutter_line_ns: float | None = None
    _limit: float = field(init=False, repr=False, compare=False, default=0.0)

    def __post_init__(self) -> None:
        model = canonical_distortion_model(self.distortion_model)
        if int(self.width) != self.width or int(self.height) != self.height or self.width <= 0 or self.height <= 0:
            raise IntrinsicsError(f"image size must be positive integers, got {self.width}x{self.height}")
        K = np.asarray(self.K, dtype=np.float64)
        if K.shape == (9,):
            K = K.reshape(3, 3)
        if K.shape != (3, 3) or not np.all(np.isfinite(K)):
            raise IntrinsicsError(f"K must be a finite 3x3 matrix (9 values row-major), got shape {K.shape}")
        fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
        if fx <= 0 or fy <= 0:
            raise IntrinsicsError(f"K: focal lengths must be > 0 pixels, got fx={fx}, fy={fy}")
        if K[0, 1] != 0 or K[1, 0] != 0 or not np.array_equal(K[2], [0.0, 0.0, 1.0]):
            raise IntrinsicsError(f"K must be [[fx,0,cx],[0,fy,cy],[0,0,1]] (no skew), got {K.tolist()}")
        if not (0.0 <= cx <= self.width and 0.0 <= cy <= self.height):
            raise IntrinsicsError(
                f"K: principal point ({cx}, {cy}) lies outside the {self.width}x{self.height} image; "
                "check the image size and that K is in pixels"
            )
        D = np.asarray(self.D, dtype=np.float64).ravel()
        if D.size != DISTORTION_COUNTS[model] or not np.all(np.isfinite(D)):
            raise IntrinsicsError(
                f"D: distortion_model {model!r} needs {DISTORTION_COUNTS[model]} finite coefficients "
                f"({self._coeff_names(model)}), got {D.size}: {D.tolist()}"
            )
        if self.rolling_shutter_line_ns is not None and not (self.rolling_shutter_line_ns >= 0):
            raise IntrinsicsError(f"rolling_shutter_line_ns must be ≥ 0 ns, got {self.rolling_shutter_line_ns}")
        K.flags.writeable = False
        D = D.copy()
        D.flags.writeable = False
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "D", D)
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))
        object.__setattr__(self, "distortion_model", model)
        object.__setattr__(self, "_limit", self._compute_limit())

    @staticmethod
    def _coeff_names(model: str) -> str:
        return {
            "plumb_bob": "k1 k2 p1 p2 k3",
            "rational_polynomial": "k1 k2 p1 p2 k3 k4 k5 k6",
            "equidistant": "k1 k2 k3 k4",
            "none": "none",
        }[model]

    # ------------------------------------------------------------------ distortion maps
    def _radial(self, r2: F64) -> tuple[F64, F64, F64]:
        """Pinhole models: radial factor N/Dn, its derivative wrt r², and the denominator."""
        d = np.zeros(8)
        d[: self.D.size] = self.D
        k1, k2, _, _, k3, k4, k5, k6 = d
        num = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        den = 1.0 + r2 * (k4 + r2 * (k5 + r2 * k6))
        dnum = k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2)
        dden = k4 + r2 * (2.0 * k5 + 3.0 * k6 * r2)
        return num / den, (dnum * den - num * dden) / (den * den), den

    def _theta_d(self, theta: F64) -> tuple[F64, F64]:
        """Equidistant: distorted angle and its derivative wrt θ."""
        k1, k2, k3, k4 = self.D
        t2 = theta * theta
        poly = 1.0 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4)))
        dpoly = 1.0 + t2 * (3.0 * k1 + t2 * (5.0 * k2 + t2 * (7.0 * k3 + t2 * 9.0 * k4)))
        return theta * poly, dpoly

    def _compute_limit(self) -> float:
        """``r_max`` (pinhole models) or ``θ_max`` (equidistant) of the monotonic region."""
        if self.distortion_model == "equidistant":
            theta = np.linspace(0.0, np.pi / 2.0, 20001)[:-1]
            td, _ = self._theta_d(theta)
            return _monotonic_limit(theta, td, np.ones(theta.size, dtype=bool))
        if self.distortion_model == "none":
            return float("inf")
        r = np.linspace(0.0, _R_GRID_MAX, 40001)
        rad, _, den = self._radial(r * r)
        return _monotonic_limit(r, r * rad, den > 0.0)

    @property
    def monotonic_limit(self) -> float:
        """``r_max`` on the undistorted normalized radius (pinhole models; inf for ``none``) or
        ``θ_max`` in radians from the optical axis (equidistant)."""
        return float(self._limit)

    # ------------------------------------------------------------------ projection
    def in_image(self, uv: ArrayLike) -> NDArray[np.bool_]:
        """(N,) True for pixel coordinates inside the image (``−0.5 ≤ u < width − 0.5``, same for v)."""
        p = np.asarray(uv, dtype=np.float64)
        u, v = p[:, 0], p[:, 1]
        return (u >= -0.5) & (u < self.width - 0.5) & (v >= -0.5) & (v < self.height - 0.5)

    def project(self, points_cam: ArrayLike, require_in_image: bool = True) -> tuple[F64, NDArray[np.bool_]]:
        """Project optical-frame points to pixels like ``cv2.projectPoints`` / ``cv2.fisheye.projectPoints``.

        Args:
            points_cam: (N, 3) points in the camera optical frame, metres.
            require_in_image: when False the mask ignores the image bounds (still requires
                z > 0 and the monotonic region).

        Returns:
            ``(uv (N, 2) float64 pixels, valid (N,) bool)``. Invalid points still get the
            OpenCV formula's value where it is defined (NaN where z = 0).
        """
        P = np.asarray(points_cam, dtype=np.float64)
        if P.ndim != 2 or P.shape[1] != 3:
            raise IntrinsicsError(f"project: points_cam must have shape (N, 3), got {P.shape}")
        X, Y, Z = P[:, 0], P[:, 1], P[:, 2]
        front = Z > 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            x, y = X / Z, Y / Z
            if self.distortion_model == "equidistant":
                rho = np.hypot(X, Y)
                theta = np.arctan2(rho, np.abs(Z))
                td, _ = self._theta_d(theta)
                r = np.hypot(x, y)
                scale = np.where(r > 1e-8, td / np.where(r > 1e-8, r, 1.0), 1.0)
                xd, yd = x * scale, y * scale
                inside = theta <= self._limit
            else:
                xd, yd, r2 = self._distort(x, y)
                inside = r2 <= self._limit**2
        uv = np.stack([self.K[0, 0] * xd + self.K[0, 2], self.K[1, 1] * yd + self.K[1, 2]], axis=1)
        valid = front & inside & np.all(np.isfinite(uv), axis=1)
        if require_in_image:
            valid &= self.in_image(uv)
        return uv, valid

    def _distort(self, x: F64, y: F64) -> tuple[F64, F64, F64]:
        r2 = x * x + y * y
        if self.distortion_model == "none":
            return x, y, r2
        rad, _, _ = self._radial(r2)
        p1, p2 = self.D[2], self.D[3]
        xy = x * y
        xd = x * rad + 2.0 * p1 * xy + p2 * (r2 + 2.0 * x * x)
        yd = y * rad + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * xy
        return xd, yd, r2

    # ------------------------------------------------------------------ unprojection
    def unproject(self, uv: ArrayLike) -> F64:
        """Unit rays (N, 3) in the optical frame for pixels (N, 2) (vectorized Newton inversion).

        Rows are NaN where the pixel lies outside the monotonic region (no unique ray).
        Pixels outside the image are unprojected too when the model allows it.
        """
        p = np.asarray(uv, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 2:
            raise IntrinsicsError(f"unproject: uv must have shape (N, 2), got {p.shape}")
        xd = (p[:, 0] - self.K[0, 2]) / self.K[0, 0]
        yd = (p[:, 1] - self.K[1, 2]) / self.K[1, 1]
        if self.distortion_model == "equidistant":
            return self._unproject_equidistant(xd, yd)
        if self.distortion_model == "none":
            x, y, ok = xd, yd, np.ones(xd.size, dtype=bool)
        else:
            x, y, ok = self._undistort_newton(xd, yd)
        rays = np.stack([x, y, np.ones_like(x)], axis=1)
        rays /= np.linalg.norm(rays, axis=1, keepdims=True)
        rays[~ok] = np.nan
        return rays

    def _undistort_newton(self, xd: F64, yd: F64) -> tuple[F64, F64, NDArray[np.bool_]]:
        p1, p2 = self.D[2], self.D[3]
        x, y = xd.copy(), yd.copy()
        for _ in range(_NEWTON_ITERS):
            r2 = x * x + y * y
            rad, drad, _ = self._radial(r2)
            xy = x * y
            fx = x * rad + 2.0 * p1 * xy + p2 * (r2 + 2.0 * x * x) - xd
            fy = y * rad + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * xy - yd
            j11 = rad + 2.0 * x * x * drad + 2.0 * p1 * y + 6.0 * p2 * x
            j12 = 2.0 * xy * drad + 2.0 * p1 * x + 2.0 * p2 * y
            j21 = 2.0 * xy * drad + 2.0 * p1 * x + 2.0 * p2 * y
            j22 = rad + 2.0 * y * y * drad + 6.0 * p1 * y + 2.0 * p2 * x
            det = j11 * j22 - j12 * j21
            with np.errstate(divide="ignore", invalid="ignore"):
                dx = (j22 * fx - j12 * fy) / det
                dy = (j11 * fy - j21 * fx) / det
            step_ok = np.isfinite(dx) & np.isfinite(dy)
            # Damp steps that would leave the monotonic region (keeps Newton on the right branch).
            x = np.where(step_ok, x - dx, x)
            y = np.where(step_ok, y - dy, y)
            lim = self._limit
            r = np.hypot(x, y)
            shrink = np.where(r > lim, lim / np.where(r > 0, r, 1.0), 1.0)
            x, y = x * shrink, y * shrink
            if np.all(np.abs(np.where(step_ok, dx, 0)) + np.abs(np.where(step_ok, dy, 0)) < _NEWTON_TOL):
                break
        exd, eyd, r2 = self._distort(x, y)
        ok = (np.hypot(exd - xd, eyd - yd) < 1e-10) & (r2 < self._limit**2)
        return x, y, ok

    def _unproject_equidistant(self, xd: F64, yd: F64) -> F64:
        td = np.hypot(xd, yd)
        lim = self._limit
        td_max, _ = self._theta_d(np.array([lim]))
        theta = np.minimum(td, lim)
        for _ in range(_NEWTON_ITERS):
            f, df = self._theta_d(theta)
            step = (f - td) / df
            theta = np.clip(theta - step, 0.0, lim)
            if np.all(np.abs(step) < _NEWTON_TOL):
                break
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(td > 1e-12, np.sin(theta) / np.where(td > 1e-12, td, 1.0), 1.0)
        rays = np.stack([xd * s, yd * s, np.cos(theta)], axis=1)
        rays[td >= td_max[0]] = np.nan
        return rays

    def valid_pixel_mask(self) -> NDArray[np.bool_]:
        """(height, width) bool: pixels whose ray is unique (inside the monotonic region)."""
        v, u = np.mgrid[0 : self.height, 0 : self.width]
        uv = np.stack([u.ravel(), v.ravel()], axis=1).astype(np.float64)
        return np.all(np.isfinite(self.unproject(uv)), axis=1).reshape(self.height, self.width)

    # ------------------------------------------------------------------ timing
    def row_time_offset_ns(self, rows: ArrayLike) -> NDArray[np.int64]:
        """Delay (int64 ns) of pixel rows after row 0: ``round(row * line_ns)``; 0 for a global shutter."""
        r = np.asarray(rows, dtype=np.float64)
        if self.rolling_shutter_line_ns is None:
            return np.zeros(r.shape, dtype=np.int64)
        return np.rint(r * self.rolling_shutter_line_ns).astype(np.int64)

    def row_exposure_time_ns(self, common_time_ns: int, rows: ArrayLike) -> NDArray[np.int64]:
        """Common-clock exposure time (int64 ns) of pixel rows, given the image's common time (row 0)."""
        return np.int64(common_time_ns) + self.row_time_offset_ns(rows)
