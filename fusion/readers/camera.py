"""Camera images: ``sensor_msgs/Image`` (raw pixels) and ``CompressedImage`` (original bytes).

Raw images are decoded into their native layout (``encoding`` says which:
``rgb8`` stays RGB, a Bayer image stays the (H, W) mosaic, YUV 4:2:2 is (H, W, 2),
NV21 is (H*3/2, W), NV24 is (H*3, W)), honouring ``step`` padding and
``is_bigendian``. :func:`to_bgr8` converts any of them to (H, W, 3) uint8 BGR
for display. Compressed images keep their bytes; :func:`decode_image` decodes lazily.
"""

from __future__ import annotations

import re
import struct
from typing import Any

import cv2
import numpy as np

from fusion.errors import DecodeError, UnsupportedEncodingError
from fusion.readers.records import CameraImage, MessageMeta

# encoding -> (numpy base dtype, channels, rows factor num/den, cols factor)
_LAYOUT: dict[str, tuple[str, int]] = {
    "rgb8": ("u1", 3), "bgr8": ("u1", 3), "rgba8": ("u1", 4), "bgra8": ("u1", 4),
    "rgb16": ("u2", 3), "bgr16": ("u2", 3), "rgba16": ("u2", 4), "bgra16": ("u2", 4),
    "mono8": ("u1", 1), "mono16": ("u2", 1),
    "bayer_rggb8": ("u1", 1), "bayer_bggr8": ("u1", 1), "bayer_gbrg8": ("u1", 1), "bayer_grbg8": ("u1", 1),
    "bayer_rggb16": ("u2", 1), "bayer_bggr16": ("u2", 1), "bayer_gbrg16": ("u2", 1), "bayer_grbg16": ("u2", 1),
    "uyvy": ("u1", 2), "yuv422": ("u1", 2), "yuyv": ("u1", 2), "yuv422_yuy2": ("u1", 2),
}  # fmt: skip
_CV_TYPE = re.compile(r"^(8|16|32|64)([USF])C(\d+)$")
_CV_BASE = {("8", "U"): "u1", ("8", "S"): "i1", ("16", "U"): "u2", ("16", "S"): "i2",
            ("32", "S"): "i4", ("32", "F"): "f4", ("64", "F"): "f8"}  # fmt: skip

# ROS bayer pattern -> OpenCV code (OpenCV names the pattern of the 2nd row/col, as cv_bridge maps it)
_BAYER = {
    "rggb": cv2.COLOR_BayerBG2BGR,
    "bggr": cv2.COLOR_BayerRG2BGR,
    "gbrg": cv2.COLOR_BayerGR2BGR,
    "grbg": cv2.COLOR_BayerGB2BGR,
}
_TO_BGR = {
    "rgb": cv2.COLOR_RGB2BGR, "rgba": cv2.COLOR_RGBA2BGR, "bgra": cv2.COLOR_BGRA2BGR,
    "uyvy": cv2.COLOR_YUV2BGR_UYVY, "yuv422": cv2.COLOR_YUV2BGR_UYVY,
    "yuyv": cv2.COLOR_YUV2BGR_YUYV, "yuv422_yuy2": cv2.COLOR_YUV2BGR_YUYV,
}  # fmt: skip


def _layout(encoding: str) -> tuple[str, int, int, int]:
    """(base dtype, channels, rows multiplier x2, bytes-per-row factor) for an encoding."""
    enc = encoding.lower()
    if enc in _LAYOUT:
        base, ch = _LAYOUT[enc]
        return base, ch, 2, 1
    if enc == "nv21":
        return "u1", 1, 3, 1  # Y (H rows) + interleaved VU (H/2 rows)
    if enc == "nv24":
        return "u1", 1, 6, 1  # Y (H rows) + interleaved UV full resolution (2H rows of W)
    if m := _CV_TYPE.match(encoding.upper()):
        cv_base = _CV_BASE.get((m.group(1), m.group(2)))
        if cv_base is not None:
            return cv_base, int(m.group(3)), 2, 1
    raise UnsupportedEncodingError(f"image encoding {encoding!r} is not supported")


def image_pixels(msg: Any) -> np.ndarray:
    """Pixels of a ``sensor_msgs/Image`` as a native-endian contiguous array (see module doc for shapes).

    Raises:
        UnsupportedEncodingError: Unknown encoding.
        DecodeError: ``data`` shorter than ``step * height`` or ``step`` too small.
    """
    base, ch, rows2, _ = _layout(str(msg.encoding))
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    dt = np.dtype((">" if msg.is_bigendian else "<") + base)
    rows = h * rows2 // 2
    row_bytes = w * ch * dt.itemsize
    data = np.asarray(msg.data, dtype=np.uint8)
    if step < row_bytes:
        raise DecodeError(f"image step {step} < width {w} x {ch} channel(s) x {dt.itemsize} bytes")
    if data.size < rows * step:
        raise DecodeError(f"image data has {data.size} bytes, needs {rows * step} ({rows} rows x step {step})")
    grid = data[: rows * step].reshape(rows, step)[:, :row_bytes]
    px = np.ascontiguousarray(grid).view(dt).reshape((rows, w, ch) if ch > 1 else (rows, w))
    return px.astype(dt.newbyteorder("="), copy=False) if dt.byteorder == ">" else px


def decode_raw_image(msg: Any, meta: MessageMeta) -> CameraImage:
    """``sensor_msgs/Image`` → :class:`CameraImage` with pixels in the native layout."""
    return CameraImage(meta, str(msg.encoding), False, image_pixels(msg), int(msg.width), int(msg.height))


def decode_compressed(msg: Any, meta: MessageMeta) -> CameraImage:
    """``sensor_msgs/CompressedImage`` → :class:`CameraImage` keeping the original bytes."""
    data = np.array(msg.data, dtype=np.uint8, copy=True)
    if data.size == 0:
        raise DecodeError("CompressedImage has no data")
    return CameraImage(meta, str(msg.format), True, data)


def decode_image(record: CameraImage) -> np.ndarray:
    """Decode a compressed image: BGR (H, W, 3) uint8 for colour, (H, W) for mono/depth.

    ``compressedDepth`` images skip their 12-byte header (int32 format, float32
    depthParam[2]); ``32FC1`` depth is reconstructed as ``A / (v - B)`` (NaN where v == 0).
    Raw records are returned as is.

    Raises:
        DecodeError: The bytes do not decode.
    """
    if not record.compressed:
        return record.data
    where: dict[str, Any] = {"topic": record.meta.topic, "index": record.meta.index}
    fmt = record.encoding.lower()
    buf = record.data
    depth = "compresseddepth" in fmt
    if depth:
        if buf.size < 12:
            raise DecodeError("compressedDepth image shorter than its 12-byte header", **where)
        _fmt, a, b = struct.unpack_from("<iff", buf.tobytes()[:12])
        buf = buf[12:]
        if "rvl" in fmt:
            raise UnsupportedEncodingError("compressedDepth RVL is not supported (only png)", **where)
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DecodeError(
            f"cannot decode {record.encoding!r} image ({buf.size} bytes, record time {record.meta.record_time_ns} ns)",
            **where,
        )
    if depth and fmt.startswith("32fc1"):
        v = img.astype(np.float32)
        with np.errstate(divide="ignore"):
            out = np.where(v == 0, np.float32(np.nan), np.float32(a) / (v - np.float32(b)))
        return out.astype(np.float32)
    return img


def _to_u8(img: np.ndarray, scale_to_range: bool) -> np.ndarray:
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16 and not scale_to_range:
        return (img >> 8).astype(np.uint8)
    f = np.nan_to_num(img.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(f.min()), float(f.max())
    return np.zeros(f.shape, np.uint8) if hi <= lo else ((f - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def _nv24_to_bgr(img: np.ndarray) -> np.ndarray:
    """NV24 (Y plane + full-resolution interleaved UV) → BGR, BT.601 limited range like OpenCV's NV21."""
    h = img.shape[0] // 3
    y = (img[:h].astype(np.float32) - 16.0) * 1.164
    uv = img[h:].reshape(h, -1, 2).astype(np.float32) - 128.0
    u, v = uv[..., 0], uv[..., 1]
    bgr = np.dstack([y + 2.018 * u, y - 0.813 * v - 0.391 * u, y + 1.596 * v])
    return np.clip(np.rint(bgr), 0, 255).astype(np.uint8)


def to_bgr8(record: CameraImage) -> np.ndarray:
    """Any image record → (H, W, 3) uint8 BGR for display.

    Raises:
        UnsupportedEncodingError: Encoding without a conversion.
    """
    img = decode_image(record) if record.compressed else record.data
    enc = record.encoding.lower()
    if record.compressed:
        img = _to_u8(img, scale_to_range=img.dtype != np.uint16 or "depth" in enc)
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img[..., :3].copy()
    if enc.startswith("bayer_"):
        code = _BAYER[enc[6:10]]
        return _to_u8(cv2.cvtColor(img, code), scale_to_range=False)
    if enc == "nv21":
        return cv2.cvtColor(img, cv2.COLOR_YUV2BGR_NV21)
    if enc == "nv24":
        return _nv24_to_bgr(img)
    if enc in _TO_BGR:
        return cv2.cvtColor(img, _TO_BGR[enc])
    prefix = enc.rstrip("0123456789")
    if prefix == "bgr":
        return _to_u8(img, scale_to_range=False).copy()
    if prefix in _TO_BGR:
        return cv2.cvtColor(_to_u8(img, scale_to_range=False), _TO_BGR[prefix])
    if img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 1):
        mono = _to_u8(img.reshape(img.shape[0], img.shape[1]), scale_to_range=enc != "mono16")
        return cv2.cvtColor(mono, cv2.COLOR_GRAY2BGR)
    if img.ndim == 3 and img.shape[2] in (3, 4):
        return _to_u8(img[..., :3], scale_to_range=True).copy()
    raise UnsupportedEncodingError(f"no BGR conversion for encoding {record.encoding!r}")
