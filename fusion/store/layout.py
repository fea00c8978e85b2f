"""Names, chunk/shard sizes and codecs of the fusion Zarr v3 layout (see ``docs/FORMAT.md``).

Every size here was chosen by measurement with ``tools/bench_store.py``; the numbers and the
reasoning are recorded in ``docs/FORMAT.md``. Sizes are in *rows* along axis 0 (a row is one
point, one message, one IMU sample, one byte of a blob or one frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from zarr.codecs import BloscCodec, Crc32cCodec, ZstdCodec

#: Written to the root attribute ``fusion_format``; readers accept the same major version.
FORMAT_VERSION = "1.2"
SUPPORTED_MAJOR = 1

# ---- group / array names -------------------------------------------------------------------
FRAMES = "frames"
STREAMS = "streams"
EGO = "ego"
RIG = "rig"
REPORT = "report"
ANNOTATIONS = "annotations"

TIME_COLUMNS = ("stamp_ns", "record_time_ns", "time_ns")

#: Point-column names a LiDAR/radar ``fields`` dict may not use (they are written by fusion).
RESERVED_POINT_NAMES = frozenset(
    {
        "xyz",
        "xyz_raw",
        "time_offset_ns",
        "offsets",
        "radial_velocity_mps",
        "radial_velocity_comp_mps",
        "ref_time_ns",
        *TIME_COLUMNS,
    }
)

#: Frame flag bits (``frames/flags``) are defined in ``fusion.frame_flags``.

Codec = Literal["zstd_shuffle", "zstd_bitshuffle", "lz4_shuffle", "lz4_bitshuffle", "zstd", "zstd_fast", "none"]


@dataclass(frozen=True)
class ColumnSpec:
    """How one column is chunked, sharded and compressed.

    Attributes:
        chunk_rows: Rows per inner chunk (the unit of a random read).
        shard_rows: Rows per shard (the unit of a write and one object/file); a multiple of
            ``chunk_rows``.
        codec: Compressor name, see :func:`compressors`.
    """

    chunk_rows: int
    shard_rows: int
    codec: Codec

    def __post_init__(self) -> None:
        if self.chunk_rows <= 0 or self.shard_rows % self.chunk_rows:
            raise ValueError(f"shard_rows {self.shard_rows} must be a multiple of chunk_rows {self.chunk_rows}")


# LiDAR: one chunk ≈ one 64×1024 scan, 16 scans per shard (xyz buffer 12 MiB).
# xyz: lz4 with byte shuffle, 1.5x faster than bitshuffle at an equal or better ratio on real
# Luminar sweeps and on the generator's (tools/bench_codecs.py, docs/FORMAT.md).
LIDAR_XYZ = ColumnSpec(65_536, 1_048_576, "lz4_shuffle")
LIDAR_FIELD = ColumnSpec(65_536, 1_048_576, "zstd_bitshuffle")
# Radar: a few hundred returns per message.
RADAR_POINT = ColumnSpec(16_384, 262_144, "zstd_bitshuffle")
# Per-message columns (times, offsets, format codes).
MESSAGE = ColumnSpec(1_024, 16_384, "zstd_shuffle")
# Compressed images: a byte blob. JPEG/PNG do not compress further, but zstd stores them at the
# same speed as "none" and, unlike "none", does not pad the last 1 MiB chunk.
BLOB = ColumnSpec(1 << 20, 32 << 20, "zstd")
# IMU and ego columns (float64 rows).
IMU = ColumnSpec(8_192, 131_072, "zstd_shuffle")
# Frame table.
FRAME = ColumnSpec(4_096, 65_536, "zstd_shuffle")
# Raw image shards hold about this many bytes (one image per chunk).
RAW_IMAGE_SHARD_BYTES = 32 << 20
# zstd level 1: 343 MB/s vs 215 MB/s for level 3 on 1280x720 bgr8 frames, same ratio (measured here).
RAW_IMAGE_CODEC: Codec = "zstd_fast"


#: Blosc codecs: (compressor, level, shuffle). Point fields use zstd level 1 with bitshuffle:
#: on real Luminar sweeps (``tools/bench_codecs.py``) level 1 encodes time offsets 2.4x and
#: intensity 1.9x faster than level 3 for a 6 % / 0 % lower ratio (docs/FORMAT.md).
_BLOSC: dict[str, tuple[str, int, str]] = {
    "zstd_shuffle": ("zstd", 3, "shuffle"),
    "zstd_bitshuffle": ("zstd", 1, "bitshuffle"),
    "lz4_shuffle": ("lz4", 5, "shuffle"),
    "lz4_bitshuffle": ("lz4", 5, "bitshuffle"),
}


def compressors(codec: Codec) -> Any:
    """The zarr ``compressors=`` argument for a codec name: the compressor, then a CRC32C.

    Every inner chunk carries the CRC32C of its compressed bytes (format 1.1): a flipped bit in
    a chunk is a checksum error on read, never silently different values (neither Blosc nor
    Zstd as configured here checks its payload). ``"none"`` stores the raw bytes plus the CRC.
    """
    if codec == "none":
        return (Crc32cCodec(),)
    if codec == "zstd":
        return (ZstdCodec(level=3), Crc32cCodec())
    if codec == "zstd_fast":
        return (ZstdCodec(level=1), Crc32cCodec())
    cname, clevel, shuffle = _BLOSC[codec]
    return (BloscCodec(cname=cname, clevel=clevel, shuffle=shuffle), Crc32cCodec())  # type: ignore[arg-type]


def raw_image_spec(image_shape: tuple[int, ...], dtype: np.dtype[Any]) -> ColumnSpec:
    """Spec for raw ``pixels``: one image per chunk, ~``RAW_IMAGE_SHARD_BYTES`` per shard."""
    image_bytes = int(np.prod(image_shape)) * np.dtype(dtype).itemsize
    per_shard = max(1, RAW_IMAGE_SHARD_BYTES // max(image_bytes, 1))
    return ColumnSpec(1, per_shard, RAW_IMAGE_CODEC)


# ---- annotations/ (written and read by fusion.annotations.store_io; docs/ANNOTATIONS.md) ------
# ``annotations/`` holds time_ns (F,) and offsets (F+1,) int64 (the boxes of frame f are rows
# offsets[f]:offsets[f+1]) and the per-box columns below; ``annotations/keyframes/`` holds the
# original labels: time_ns (K,) and the same columns.

#: Attribute ``format_version`` of ``annotations/``.
ANNOTATIONS_FORMAT_VERSION = "1.0"
#: The group of the original labels, below ``annotations/``.
ANNOTATION_KEYFRAMES = "keyframes"
#: Rows per chunk of every annotation array (a shorter array is one chunk); not sharded.
ANNOTATION_CHUNK_ROWS = 65_536
#: Per-box column -> (dtype, shape of one row). Missing values: NaN (velocity, score), -1 (point
#: counts, vocabulary codes). ``rotation_xyzw`` is a quaternion x, y, z, w.
ANNOTATION_COLUMNS: dict[str, tuple[str, tuple[int, ...]]] = {
    "center_m": ("float64", (3,)),
    "size_lwh_m": ("float64", (3,)),
    "rotation_xyzw": ("float64", (4,)),
    "velocity_mps": ("float64", (3,)),
    "label_code": ("int32", ()),
    "track_code": ("int32", ()),
    "attributes_code": ("int32", ()),
    "visibility_code": ("int32", ()),
    "score": ("float64", ()),
    "num_lidar_points": ("int32", ()),
    "num_radar_points": ("int32", ()),
    "source": ("uint8", ()),
}
#: Vocabulary-coded column -> its key in the group's ``vocabularies`` attribute (code = list index).
ANNOTATION_VOCABULARIES: dict[str, str] = {
    "label_code": "labels",
    "track_code": "tracks",
    "attributes_code": "attributes",
    "visibility_code": "visibility",
}


def stream_path(name: str) -> str:
    """Group path of sensor stream ``name``."""
    return f"{STREAMS}/{name}"


def frame_sensor_path(name: str) -> str:
    """Group path of the per-frame match table of sensor ``name``."""
    return f"{FRAMES}/sensors/{name}"
