"""Compressed video frames (``foxglove_msgs/CompressedVideo``) in a camera stream.

The bitstream is stored as it came, one message per stream row (the compressed camera layout,
``data`` + ``offsets``, ``format`` = ``h264`` / ``h265`` / ``av1`` ...); the writer keeps a
**keyframe index** (stream attribute ``keyframes``: the rows that start a decodable picture: an
H.264 IDR slice, or any H.265 IRAP picture, found from the NAL unit types of the Annex B
stream). A row is decoded on read with PyAV by feeding the packets from the last keyframe at or
before it up to it and keeping the last picture. A row with no keyframe before it (the recording
starts mid-GOP, or the keyframe was lost) cannot be decoded: :class:`MissingKeyframeError` says
so — never a picture guessed from a wrong reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fusion.errors import StoreError

#: Formats stored as a video bitstream (``CompressedVideo.format``, lower case).
VIDEO_FORMATS = frozenset({"h264", "h265", "hevc", "vp9", "av1"})
_CODEC = {"h264": "h264", "h265": "hevc", "hevc": "hevc", "vp9": "vp9", "av1": "av1"}




def is_video(fmt: str) -> bool:
    """Whether ``fmt`` names a video bitstream format."""
    return fmt.lower() in VIDEO_FORMATS


def nal_types(data: np.ndarray, fmt: str) -> list[int]:
    """NAL unit types of an Annex B bitstream (start codes ``00 00 01`` / ``00 00 00 01``)."""
    b = np.ascontiguousarray(data, dtype=np.uint8)
    if b.size < 4:
        return []
    z = (b[:-3] == 0) & (b[1:-2] == 0) & (b[2:-1] == 1)
    starts = np.flatnonzero(z) + 3
    h265 = fmt.lower() in ("h265", "hevc")
    return [int((b[s] >> 1) & 0x3F) if h265 else int(b[s] & 0x1F) for s in starts if s < b.size]


def is_keyframe(data: np.ndarray, fmt: str) -> bool:
    """Whether one frame's bitstream starts a decodable picture (H.264 IDR, H.265 IRAP; VP9/AV1:
    assumed, their key flag is not parsed)."""
    f = fmt.lower()
    if f == "h264":
        return 5 in nal_types(data, f)
    if f in ("h265", "hevc"):
        return any(16 <= t <= 23 for t in nal_types(data, f))
    return True


def decode_frame(blobs: list[bytes], fmt: str, where: str) -> np.ndarray:
    """Decode frames ``blobs`` (a keyframe first) with PyAV; the last picture as BGR (H, W, 3) uint8.

    Raises:
        StoreError: PyAV is missing or the bitstream does not decode.
    """
    try:
        import av
    except ImportError:
        raise StoreError(f"{where}: decoding {fmt} video needs PyAV (pip install av)") from None
    ctx: Any = av.CodecContext.create(_CODEC.get(fmt.lower(), fmt.lower()), "r")
    last = None
    try:
        for blob in [*blobs, None]:
            packet = av.Packet(blob) if blob is not None else None
            for frame in ctx.decode(packet):
                last = frame
    except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
        raise StoreError(f"{where}: the {fmt} bitstream does not decode ({exc})") from None
    if last is None:
        raise StoreError(f"{where}: the {fmt} bitstream gave no picture")
    return np.asarray(last.to_ndarray(format="bgr24"))
