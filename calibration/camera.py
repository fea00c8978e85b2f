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

from calibration import distortion as dist
from calibration.errors import IntrinsicsError
from calibration.rotation import F64

DISTORTION_COUNTS: dict[str, int] = {"plumb_bob": 5, "rational_polynomial": 8, "equidistant": 4, "none": 0}
DISTORTION_ALIASES: dict[str, str] = {"radtan": "plumb_bob", "fisheye": "equidistant"}


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

    def __eq__(self, other: object) -> bool:
        """Exact equality of size, K, model, D and line time."""
        if not isinstance(other, CameraModel):
            return NotImplemented
        return (
            self.width == other.width
            and self.height == other.height
            and np.array_equal(self.K, other.K)
            and self.distortion_model == other.distortion_model
            and np.array_equal(self.D, other.D)
            and self.rolling_shutter_line_ns == other.rolling_shutter_line_ns
        )

    __hash__ = None  # type: ignore[assignment]

    @staticmethod
    def _coeff_names(model: str) -> str:
        return {
            "plumb_bob": "k1 k2 p1 p2 k3",
            "rational_polynomial": "k1 k2 p1 p2 k3 k4 k5 k6",
            "equidistant": "k1 k2 k3 k4",
            "none": "none",
        }[model]

    def _compute_limit(self) -> float:
        """``r_max`` (pinhole models) or ``θ_max`` (equidistant) of the monotonic region."""
        return dist.monotonic_limit(self.distortion_model, self.D)

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
                td, _ = dist.theta_d(self.D, theta)
                r = np.hypot(x, y)
                scale = np.where(r > 1e-8, td / np.where(r > 1e-8, r, 1.0), 1.0)
                xd, yd = x * scale, y * scale
                inside = theta <= self._limit
            else:
                xd, yd, r2 = dist.distort_pinhole(self.D, x, y)
                inside = r2 <= self._limit**2
        uv = np.stack([self.K[0, 0] * xd + self.K[0, 2], self.K[1, 1] * yd + self.K[1, 2]], axis=1)
        valid = front & inside & np.all(np.isfinite(uv), axis=1)
        if require_in_image:
            valid &= self.in_image(uv)
        return uv, valid

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
            return dist.unproject_equidistant(self.D, xd, yd, self._limit)
        if self.distortion_model == "none":
            x, y, ok = xd, yd, np.ones(xd.size, dtype=bool)
        else:
            x, y, ok = dist.undistort_pinhole(self.D, xd, yd, self._limit)
        rays = np.stack([x, y, np.ones_like(x)], axis=1)
        rays /= np.linalg.norm(rays, axis=1, keepdims=True)
        rays[~ok] = np.nan
        return rays

    def valid_pixel_mask(self) -> NDArray[np.bool_]:
        """(height, width) bool: pixels whose ray is unique (inside the monotonic region).

        Computed in blocks of rows so memory stays bounded for large images.
        """
        mask = np.empty((self.height, self.width), dtype=bool)
        u = np.arange(self.width, dtype=np.float64)
        rows_per_block = max(1, 262_144 // self.width)
        for r0 in range(0, self.height, rows_per_block):
            rows = np.arange(r0, min(r0 + rows_per_block, self.height), dtype=np.float64)
            uv = np.stack(np.broadcast_arrays(u[None, :], rows[:, None]), axis=-1).reshape(-1, 2)
            mask[r0 : r0 + rows.size] = np.all(np.isfinite(self.unproject(uv)), axis=1).reshape(rows.size, -1)
        return mask

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
