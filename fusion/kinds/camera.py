"""Stream kind ``camera``: ``sensor_msgs/Image`` and ``sensor_msgs/CompressedImage``.

- Decode: compressed bytes as received (never re-encoded), raw pixels in the encoding's own
  layout (:mod:`fusion.readers.camera`).
- Pass 1: stamps; the payload is written at once (:mod:`fusion.pipeline.early`: it needs nothing
  from the plan), unless the stream is timed by a trigger topic.
- Pass 2: only streams pass 1 could not write (trigger-timed, or aligned by record time).
- Store: compressed: ``data (B,) uint8`` + ``offsets``; raw: ``pixels (M, H, W[, C])``, one image per
  chunk; both ``format_code (M,) uint8`` indexing the ``formats`` attribute.
- Read: :class:`CameraFrame` (``frame.cameras[name]``).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from fusion.errors import DecodeError, StoreError
from fusion.kinds.base import KindBase, Role, StreamWriterLike, TopicScanner
from fusion.readers.records import CameraImage
from fusion.store import layout as lay
from fusion.store.frame import MessageView
from fusion.store.sink import Attrs, FrameSink, StreamGroup, StreamHeader
from fusion.store.streams import StreamWriter

if TYPE_CHECKING:
    from fusion.pipeline.execute import WriteContext
    from fusion.pipeline.scan import ScanContext
    from fusion.pipeline.sensors import SelectedSensor
    from fusion.pipeline.streams import MessageTable
    from fusion.readers.records import MessageMeta, Record
    from fusion.readers.source import DecodeOptions, RawMessage
    from fusion.store.state import StoreState, StreamState


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

    def _final_attrs(self) -> dict[str, object]:
        return {"formats": self._formats, "format": self._formats[0] if len(self._formats) == 1 else None}


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
            return np.asarray(self.stream.array("pixels")[self.message_index])
        import cv2

        fmt = self.format.lower()
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


def check_compressed_image(data: np.ndarray, fmt: str) -> str:
    """Cheap container check of compressed image bytes (no decode); '' when plausible.

    JPEG must start with the SOI marker (FF D8 FF) and hold the EOI marker (FF D9) near its end;
    PNG must start with its 8-byte signature. A truncated or garbled payload is caught here;
    damage inside the entropy-coded data is only found by decoding.
    """
    b = np.ascontiguousarray(data, dtype=np.uint8)
    f = fmt.lower()
    if len(b) == 0:
        return "empty compressed image"
    if "png" in f:
        return "" if b[:8].tobytes() == b"\x89PNG\r\n\x1a\n" else "not a PNG (bad signature)"
    if "jpeg" in f or "jpg" in f or f in ("", "bgr8", "rgb8", "mono8"):
        if b[:3].tobytes() != b"\xff\xd8\xff":
            return "not a JPEG (no SOI marker)"
        if b"\xff\xd9" not in b[-64:].tobytes():
            return "truncated JPEG (no EOI marker at the end)"
    return ""


def camera_payload(rec: CameraImage) -> np.ndarray:
    """What a camera stream stores of one image; raises DecodeError for an invalid payload."""
    if rec.compressed:
        problem = check_compressed_image(rec.data, rec.encoding)
        if problem:
            raise DecodeError(problem, topic=rec.meta.topic, index=rec.meta.index)
    return rec.data


def add_camera_stream(sink: FrameSink, name: str, *, topic: str, frame_id: str, compressed: bool,
                      expected_messages: int, image_shape: tuple[int, ...] | None = None,
                      dtype: npt.DTypeLike | None = None, attrs: Attrs | None = None,
                      expected_bytes: int | None = None, T_base_sensor: Any = None) -> CameraWriter:
    """Create camera stream ``name`` on ``sink`` (compressed blob, or raw ``image_shape``/``dtype`` pixels)."""
    T = None if T_base_sensor is None else np.asarray(getattr(T_base_sensor, "matrix", T_base_sensor), np.float64)
    header = StreamHeader(name, KIND.name, topic, frame_id, {**dict(attrs or {}), "compressed": compressed}, T)
    return sink.add_stream(header, lambda g: CameraWriter(g, compressed=compressed, expected_messages=expected_messages,
                                                          image_shape=image_shape, dtype=dtype,
                                                          expected_bytes=expected_bytes))


class _Scanner:
    """Pass 1 of a camera topic: stamps, and the payload when the stream is written early."""

    def __init__(self, ctx: ScanContext, topic: str) -> None:
        self.ctx = ctx
        self.clocks = ctx.clocks[topic]
        self.early = ctx.early if ctx.early is not None and topic in ctx.early.topics else None

    def message(self, raw: RawMessage) -> None:
        stamp = self.ctx.extractor.stamp(raw)
        self.clocks.add(stamp, raw.record_time_ns)
        if self.early is not None:
            self.early.add(raw, stamp)


class CameraKind(KindBase):
    """The ``camera`` stream kind (see module docstring)."""

    name = "camera"
    role = Role.FRAME
    msgtypes = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
    records = (CameraImage,)
    message_columns = ("format_code",)
    message_arrays = ("pixels",)
    frame_attr = "cameras"
    reference_priority = 1
    early = True
    wants_intrinsics = True

    def decode(self, msg: Any, meta: MessageMeta, options: DecodeOptions) -> Record:
        from fusion.readers import camera

        if hasattr(msg, "format"):
            return camera.decode_compressed(msg, meta)
        return camera.decode_raw_image(msg, meta)

    def scanner(self, ctx: ScanContext, topic: str, sensor: SelectedSensor | None) -> TopicScanner:
        return _Scanner(ctx, topic)

    def open_early(self, sink: FrameSink, sensor: SelectedSensor) -> CameraWriter:
        """The stream pass 1 writes payloads into (times follow once the plan is known)."""
        return add_camera_stream(sink, sensor.name, topic=sensor.topic, frame_id=sensor.frame_id,
                                 compressed=sensor.compressed, expected_messages=1024,
                                 attrs={"msgtype": sensor.msgtype})

    def early_payload(self, record: Record) -> tuple[np.ndarray, str]:
        """What pass 1 stores of a message: its bytes (compressed) or pixels (raw), and its format."""
        if not isinstance(record, CameraImage):
            raise DecodeError(f"decoded as {type(record).__name__}, expected {self.name}")
        return camera_payload(record), record.encoding

    def open_stream(self, sink: FrameSink, sensor: SelectedSensor, table: MessageTable,
                    ctx: WriteContext) -> StreamWriterLike:
        attrs = {"msgtype": sensor.msgtype, "stamp_source": table.stamp_source, "time_offset_ns": table.offset_ns}
        return add_camera_stream(sink, sensor.name, topic=table.topic, frame_id=sensor.frame_id,
                                 compressed=sensor.compressed, expected_messages=len(table.stamp_ns), attrs=attrs)

    def write(self, ctx: WriteContext, name: str, writer: StreamWriterLike, record: Record, common_ns: int) -> None:
        if not isinstance(record, CameraImage) or not isinstance(writer, CameraWriter):
            raise DecodeError(f"decoded as {type(record).__name__}, expected {self.name}")
        writer.append(record.meta.stamp_ns, record.meta.record_time_ns, common_ns, camera_payload(record),
                      format=record.encoding)

    def view(self, state: StoreState, stream: StreamState, message: int, frame_time_ns: int, dt_ns: int,
             frame_pose: Any) -> CameraFrame:
        return CameraFrame(state, stream, message, frame_time_ns, dt_ns, frame_pose)

    def validate(self, stream: StreamState) -> list[str]:
        """Raw streams: one image per message; every format code names a stored format."""
        problems = []
        if "pixels" in stream.columns:
            n = int(stream.array("pixels").shape[0])
            if n != stream.count:
                problems.append(f"streams/{stream.name}/pixels: {n} images, expected {stream.count}")
        code = stream.message_columns.get("format_code")
        formats = stream.attrs.get("formats") or []
        if code is not None and code.size and formats and int(code.max()) >= len(formats):
            problems.append(f"streams/{stream.name}/format_code: code {int(code.max())} but only "
                            f"{len(formats)} format(s) stored")
        return problems


KIND = CameraKind()
__all__ = ["KIND", "CameraFrame", "CameraWriter", "add_camera_stream"]
