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

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from fusion.errors import DecodeError
from fusion.kinds.base import KindBase, Role, StreamWriterLike, TopicScanner
from fusion.kinds.camera_store import CameraFrame, CameraWriter
from fusion.readers.records import CameraImage
from fusion.store.sink import Attrs, FrameSink, StreamHeader

if TYPE_CHECKING:
    from fusion.pipeline.execute import WriteContext
    from fusion.pipeline.scan import ScanContext
    from fusion.pipeline.sensors import SelectedSensor
    from fusion.pipeline.streams import MessageTable
    from fusion.readers.records import MessageMeta, Record
    from fusion.readers.source import DecodeOptions, RawMessage
    from fusion.store.state import StoreState, StreamState


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
    if "compresseddepth" in f:  # image_transport's compressedDepth: a 12-byte header, then the PNG
        if len(b) <= 12:
            return "compressedDepth image without data after its 12-byte header"
        b = b[12:]
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
    msgtypes: tuple[str, ...] = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage",
                                 "foxglove_msgs/msg/CompressedVideo")
    records = (CameraImage,)
    message_columns = ("format_code",)
    message_arrays = ("pixels",)
    frame_attr: str | None = "cameras"
    reference_priority: int | None = 1
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
