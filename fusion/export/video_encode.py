"""Video encoders of ``fusion preview``: H.264 through PyAV, else MPEG-4 Part 2 through OpenCV.

:func:`open_encoder` picks the first encoder that works: PyAV's ``libx264`` (H.264 High, yuv420p,
MP4 with the index at the front — ``movflags=+faststart`` — so browsers play it inline and start
before the download ends), else OpenCV's ``mp4v`` with a one-line note. Frames are BGR uint8
``(H, W, 3)`` arrays of one fixed size, handed over one at a time (the encoder keeps only its
look-ahead window, so memory does not grow with the video's length).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from fusion.errors import ExportError

CODECS = ("auto", "h264", "mp4v")
#: x264 settings: constant quality 23 (its default), the "veryfast" preset (a preview, not an archive).
X264_OPTIONS = {"crf": "23", "preset": "veryfast"}
NO_H264_NOTE = "no H.264 encoder (PyAV with libx264) here: wrote MPEG-4 Part 2 (mp4v), which browsers may not play"


class Encoder(Protocol):
    """One open video file."""

    codec: str  #: what is written: "h264" or "mp4v"

    def write(self, bgr: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 BGR frame of the size given at open."""
        ...

    def close(self) -> None:
        """Flush and finish the file (idempotent)."""
        ...


def h264_available() -> bool:
    """Whether PyAV is installed with an H.264 encoder (``libx264``)."""
    try:
        import av

        av.codec.Codec("libx264", "w")
    except Exception:  # ImportError, or av's UnknownCodecError for a build without libx264
        return False
    return True


class _PyAVEncoder:
    codec = "h264"

    def __init__(self, path: Path, fps: float, size_wh: tuple[int, int]) -> None:
        import av

        self._container: Any = av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})
        rate = Fraction(fps).limit_denominator(1001)
        stream: Any = self._container.add_stream("libx264", rate=rate, options=dict(X264_OPTIONS))
        stream.width, stream.height = size_wh
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = 1 / rate
        self._stream = stream
        self._frame_type = av.VideoFrame
        self._closed = False

    def write(self, bgr: np.ndarray) -> None:
        frame = self._frame_type.from_ndarray(np.ascontiguousarray(bgr), format="bgr24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            for packet in self._stream.encode(None):  # drain the look-ahead
                self._container.mux(packet)
        finally:
            self._container.close()


class _OpenCVEncoder:
    codec = "mp4v"

    def __init__(self, path: Path, fps: float, size_wh: tuple[int, int]) -> None:
        import cv2

        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), float(fps), size_wh)
        if not self._writer.isOpened():
            raise ExportError(f"cannot open an MP4 writer for {path} (check the folder is writable and the name "
                              "ends in .mp4)")

    def write(self, bgr: np.ndarray) -> None:
        self._writer.write(bgr)

    def close(self) -> None:
        self._writer.release()


def open_encoder(path: Path, fps: float, size_wh: tuple[int, int], codec: str = "auto") -> tuple[Encoder, str | None]:
    """Open ``path`` for writing a video of ``size_wh`` (width, height, both even) at ``fps``.

    Args:
        codec: "auto" (H.264 when available, else mp4v with a note), "h264" (refuse without it), "mp4v".

    Returns:
        (encoder, note): the note says why the file is not H.264 when "auto" fell back, else None.

    Raises:
        ExportError: an unknown codec, "h264" without an H.264 encoder, or an output that cannot be opened.
    """
    if codec not in CODECS:
        raise ExportError(f"--codec {codec}: choose one of {', '.join(CODECS)}")
    if codec != "mp4v" and h264_available():
        return _PyAVEncoder(path, fps, size_wh), None
    if codec == "h264":
        raise ExportError("--codec h264: no H.264 encoder here (needs PyAV with libx264: pip install av); "
                          "use --codec auto or mp4v")
    return _OpenCVEncoder(path, fps, size_wh), NO_H264_NOTE if codec == "auto" else None
