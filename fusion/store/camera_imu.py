"""Camera and IMU stream writers.

Compressed camera streams store every message's bytes in one ``data (B,) uint8`` blob with
``offsets (M+1,) int64`` plus a per-message ``format_code (M,) uint8`` indexing the group
attribute ``formats`` (list of format strings; ``format`` holds the single format when there
is only one). Raw camera streams store ``pixels (M, H, W[, C])`` with one image per chunk.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import zarr

from fusion.errors import StoreError
from fusion.store import layout as lay
from fusion.store.create import NodeBatch
from fusion.store.metadata import update_attributes
from fusion.store.streams import StreamWriter


class CameraWriter(StreamWriter):
    """``streams/<name>`` of a camera (compressed or raw)."""

    kind = "camera"

    def __init__(
        self,
        group: zarr.Group,
        name: str,
        *,
        compressed: bool,
        expected_messages: int,
        image_shape: tuple[int, ...] | None = None,
        dtype: Any = None,
        expected_bytes: int | None = None,
        batch: NodeBatch | None = None,
    ) -> None:
        super().__init__(group, name, expected_messages, ragged=compressed, batch=batch)
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
        update_attributes(self.group, {"image_shape": list(shape), "dtype": dtype.str})

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

    def _final_attrs(self) -> dict[str, Any]:
        return {"formats": self._formats, "format": self._formats[0] if len(self._formats) == 1 else None}


class ImuWriter(StreamWriter):
    """``streams/<name>`` of an IMU: float64 (K, 3) rates/accelerations, (K, 4) orientation x,y,z,w."""

    kind = "imu"

    def __init__(self, group: zarr.Group, name: str, *, expected_messages: int, batch: NodeBatch | None = None) -> None:
        super().__init__(group, name, expected_messages, ragged=False, batch=batch)
        self._add("angular_velocity_radps", "float64", (3,), lay.IMU, expected_messages)
        self._add("linear_acceleration_mps2", "float64", (3,), lay.IMU, expected_messages)
        self._add("orientation_xyzw", "float64", (4,), lay.IMU, expected_messages)

    def append_many(
        self,
        stamp_ns: np.ndarray,
        record_time_ns: np.ndarray,
        time_ns: np.ndarray,
        angular_velocity_radps: np.ndarray,
        linear_acceleration_mps2: np.ndarray,
        orientation_xyzw: np.ndarray,
    ) -> None:
        """Append K samples: times (K,) int64 ns; rates (K,3) rad/s; accelerations (K,3) m/s²; (K,4) xyzw."""
        t = np.asarray(time_ns, dtype=np.int64).reshape(-1)
        k = t.shape[0]
        cols = {
            "stamp_ns": (np.asarray(stamp_ns, dtype=np.int64).reshape(-1), ()),
            "record_time_ns": (np.asarray(record_time_ns, dtype=np.int64).reshape(-1), ()),
            "time_ns": (t, ()),
            "angular_velocity_radps": (np.asarray(angular_velocity_radps, dtype=np.float64), (3,)),
            "linear_acceleration_mps2": (np.asarray(linear_acceleration_mps2, dtype=np.float64), (3,)),
            "orientation_xyzw": (np.asarray(orientation_xyzw, dtype=np.float64), (4,)),
        }
        for col, (arr, inner) in cols.items():
            self._check_len(col, arr, k, inner)
        for col, (arr, _) in cols.items():
            self._cols[col].append(arr)
