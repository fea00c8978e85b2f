"""The camera kind's store side: :class:`CameraWriter` (columns) and :class:`CameraFrame` (reader view).

Compressed streams store every message's bytes in one ``data (B,) uint8`` blob with ``offsets (M+1,)
int64`` plus a per-message ``format_code (M,) uint8`` indexing the group attribute ``formats`` (list of
format strings; ``format`` holds the single format when there is only one). Raw streams store
``pixels (M, H, W[, C])`` with one image per chunk.
"""

from __future__ import annotations

from functools import cached_property
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from fusion.errors import MissingKeyframeError, StoreError
from fusion.kinds.video import decode_frame, is_keyframe, is_video
from fusion.store import layout as lay
from fusion.store.frame import MessageView
from fusion.store.sink import StreamGroup
from fusion.store.streams import StreamWriter


class CameraWriter(StreamWriter):
    """``streams/<name>`` of a camera (compressed or raw)."""

    def __init__(
        self,
        group: StreamGroup,
        *,
        compressed: bool,
        expected_messages: int,
        image_shape: tuple[int, ...] | None = None,
        dtype: npt.DTypeLike | None = None,
        expected_bytes: int | None = None,
    ) -> None:
        super().__init__(group, expected_messages, ragged=compressed)
        self.compressed = compressed
        self._formats: list[str] = []
        self._keyframes: list[int] = []  # video streams: rows that start a decodable picture
        self._video = False
        self._add("format_code", "uint8", (), lay.MESSAGE, expected_messages)
        if compressed:
            self._add("data", "uint8", (), lay.BLOB, expected_bytes or expected_messages * 200_000)
            self._shape: tuple[int, ...] = ()
        else:
            self._expected = expected_messages
            self._shape = ()
            self._dtype: np.dtype[Any] | None = None
            if image_shape is not None and dtype is not None:
                self._create_pixels(tuple(int(s) for s in image_shape), np.dtype(dtype))

    def _create_pixels(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        self._shape, self._dtype = shape, dtype
        self._add("pixels", dtype, shape, lay.raw_image_spec(shape, dtype), self._expected)
        self.create()  # the stream's pending columns with it: pixels may come with the first image
        self.group.update_attrs({"image_shape": list(shape), "dtype": dtype.str})

    def _code(self, fmt: str | None) -> int:
        text = fmt or ""
        if text not in self._formats:
            if len(self._formats) >= 255:
                raise StoreError(f"streams/{self.name}: more than 255 distinct image formats")
            self._formats.append(text)
        return self._formats.index(text)

    def append(
        self,
        stamp_ns: int,
        record_time_ns: int,
        time_ns: int,
        data: bytes | np.ndarray,
        format: str | None = None,
    ) -> None:
        """Append one image.

        Args:
            stamp_ns: Header stamp, ns.
            record_time_ns: Bag record time, ns.
            time_ns: Common-clock time, ns.
            data: Compressed bytes (compressed stream) or an (H, W[, C]) array (raw stream).
            format: ``CompressedImage.format`` (e.g. ``"jpeg"``) or raw encoding (e.g. ``"bgr8"``).
        """
        self.append_payload(data, format)
        self._times(stamp_ns=stamp_ns, record_time_ns=record_time_ns, time_ns=time_ns)

    def append_payload(self, data: bytes | np.ndarray, format: str | None = None) -> None:
        """Append one image without its times (given later, all at once, by :meth:`set_times`).

        The conversion writes camera payloads while it still collects the clocks (pass 1);
        the common-clock times are known only once every stamp has been seen. ``data`` is kept
        by reference until its shard is written: do not modify it afterwards.
        """
        if self.compressed:
            if isinstance(data, bytes | bytearray | memoryview):
                blob = np.frombuffer(data, dtype=np.uint8)
            else:
                blob = np.asarray(data)
                if blob.dtype != np.uint8:
                    raise StoreError(
                        f"streams/{self.name}: message {self.payloads}: compressed data must be uint8 bytes"
                    )
                blob = blob.reshape(-1)
            code = self._code(format)
            if format is not None and is_video(format):  # the keyframe index (fusion.kinds.video)
                self._video = True
                if is_keyframe(blob, format):
                    self._keyframes.append(self.payloads)
            self._cols["data"].append(blob)
            self._ragged(blob.shape[0])
        else:
            img = np.asarray(data)
            if self._dtype is None:
                if img.ndim not in (2, 3):
                    raise StoreError(f"streams/{self.name}: a raw image must be (H, W[, C]), got {img.shape}")
                self._create_pixels(tuple(int(s) for s in img.shape), img.dtype)
            if img.shape != self._shape or img.dtype != self._dtype:
                raise StoreError(
                    f"streams/{self.name}: message {self.payloads}: image {img.shape} {img.dtype} differs from "
                    f"the stream's {self._shape} {self._dtype} (a raw stream keeps one image size and dtype)"
                )
            code = self._code(format)
            self._cols["pixels"].append(img[None])
        self._cols["format_code"].append(np.array([code], dtype=np.uint8))

    @property
    def payloads(self) -> int:
        """Images appended so far (with or without their times)."""
        return self._cols["format_code"].count

    def set_times(self, stamp_ns: np.ndarray, record_time_ns: np.ndarray, time_ns: np.ndarray) -> None:
        """Times of every image appended with :meth:`append_payload`, in order: (M,) int64 ns each."""
        cols = {"stamp_ns": stamp_ns, "record_time_ns": record_time_ns, "time_ns": time_ns}
        for col, value in cols.items():
            arr = np.asarray(value, dtype=np.int64).reshape(-1)
            if arr.shape[0] != self.payloads - self._cols[col].count:
                raise StoreError(
                    f"streams/{self.name}: {arr.shape[0]} {col} values for "
                    f"{self.payloads - self._cols[col].count} images without times"
                )
            self._cols[col].append(arr)

    def finalize(self) -> int:
        """Flush, trim and record ``formats`` / ``format`` in the group attrs."""
        if self.payloads != self._cols["time_ns"].count:
            raise StoreError(
                f"streams/{self.name}: {self.payloads} images but {self._cols['time_ns'].count} times "
                "(set_times was not called for every append_payload)"
            )
        return super().finalize()

    @property
    def rows_without_keyframe(self) -> int:
        """Video streams: rows before the first keyframe (they cannot be decoded)."""
        if not self._video:
            return 0
        return self._keyframes[0] if self._keyframes else self.payloads

    def _final_attrs(self) -> dict[str, object]:
        video = ({"keyframes": self._keyframes, "rows_without_keyframe": self.rows_without_keyframe}
                 if self._video else {})
        return {"formats": self._formats, "format": self._formats[0] if len(self._formats) == 1 else None, **video}


class CameraFrame(MessageView):
    """An image matched to a frame: ``.time_ns``, ``.dt_ns``, ``.data``, ``.format``, ``.image``."""

    @property
    def time_ns(self) -> int:
        """Common-clock time of the image, ns (``dt_ns`` = this − frame time)."""
        return self.message_time_ns

    @property
    def format(self) -> str:
        """Format string (``CompressedImage.format`` or raw encoding)."""
        formats = self.stream.attrs.get("formats") or [""]
        code = self.stream.message_columns.get("format_code")
        return str(formats[int(code[self.message_index])] if code is not None else formats[0])

    @property
    def compressed(self) -> bool:
        """True for a compressed (blob) stream."""
        return self.stream.offsets is not None

    @cached_property
    def data(self) -> bytes:
        """The stored bytes: compressed image bytes as received (raw: the pixel buffer)."""
        if self.compressed:
            return self.column("data").tobytes()
        return np.ascontiguousarray(self.image).tobytes()

    @cached_property
    def image(self) -> np.ndarray:
        """Decoded image: JPEG/PNG → BGR uint8 (H, W, 3) (depth PNG: uint16 (H, W)); raw as stored."""
        if not self.compressed:
            return self.column("pixels")[0]  # rows (message, message + 1); prefetched by load()
        import cv2

        fmt = self.format.lower()
        if is_video(fmt):
            return self._video_frame(fmt)
        raw = np.frombuffer(self.data, dtype=np.uint8)
        flag = cv2.IMREAD_COLOR
        if "compresseddepth" in fmt:
            raw, flag = raw[12:], cv2.IMREAD_UNCHANGED
        elif fmt.startswith(("mono16", "16u")):
            flag = cv2.IMREAD_UNCHANGED
        img = cv2.imdecode(raw, flag)
        if img is None:
            raise StoreError(
                f"streams/{self.name}[{self.message_index}]: cannot decode {len(self.data)} bytes of format "
                f"{self.format!r}; use .data for the raw bytes"
            )
        return np.asarray(img)

    @property
    def keyframe_row(self) -> int | None:
        """Video streams: the last keyframe row at or before this one (None: there is none)."""
        keys = np.asarray(self.stream.attrs.get("keyframes") or [], dtype=np.int64)
        before = keys[keys <= self.message_index]
        return int(before[-1]) if before.size else None

    def _video_frame(self, fmt: str) -> np.ndarray:
        """Decode this row of a video stream from the last keyframe at or before it (PyAV), BGR uint8."""
        where = f"streams/{self.name}[{self.message_index}]"
        k = self.keyframe_row
        if k is None:
            raise MissingKeyframeError(
                f"{where}: no keyframe at or before this {fmt} frame (the recording starts mid-GOP or the keyframe "
                "was lost): it cannot be decoded; .data has its bytes"
            )
        off = self.stream.offsets
        assert off is not None
        blob = np.asarray(self.stream.array("data")[int(off[k]) : int(off[self.message_index + 1])])
        bounds = np.asarray(off[k : self.message_index + 2], dtype=np.int64) - int(off[k])
        return decode_frame([blob[a:b].tobytes() for a, b in pairwise(bounds.tolist())], fmt, where)

