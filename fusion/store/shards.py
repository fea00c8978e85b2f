"""Whole-shard encoding: fusion's columns written as finished ``sharding_indexed`` objects.

zarr's own write path (``array[a:b] = data``) orchestrates every inner chunk through asyncio
and Python buffer classes while holding the GIL, and copies each shard several times; on this
project's 2-core benchmark it ran at a fraction of the codec speed. fusion only ever writes
whole shards of arrays whose layout it created itself, so it encodes them directly:

* each inner chunk is compressed with the *same* numcodecs compressor and configuration that
  zarr's ``BloscCodec``/``ZstdCodec`` use (numcodecs releases the GIL while compressing, so
  the encoding runs in parallel with the converting thread);
* the chunks are laid out in zarr's order with the shard index at the end
  (``(offset, nbytes)`` uint64 little-endian per chunk, missing chunks ``2**64 - 1``) followed
  by its CRC32C, exactly as zarr 3's ``ShardingCodec`` with its default index codecs does;
* the object is stored under the array's chunk key encoding. In a local directory store it is
  written straight to its file, atomically like zarr's ``LocalStore`` (temporary file, then
  rename) and with one ``writev`` of the compressed chunks and the index, so the GIL is released
  for the whole write. zarr's own ``store.set`` goes through its event-loop thread and an executor
  thread with the GIL held at every hop: measured here, those threads held the GIL 17 % of a
  conversion that the converting thread needed. Other stores (zip, S3, memory) get the joined
  object through ``store.set``.

The output is byte-identical to zarr's (``tests/test_store_shards.py`` compares them) and is read
by plain zarr. An array whose layout differs from the one described here gets ``None`` from
:func:`shard_layout`, and the caller falls back to zarr's write path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import google_crc32c
import numpy as np
import zarr
from numcodecs.abc import Codec
from numcodecs.blosc import Blosc
from numcodecs.zstd import Zstd
from zarr.buffer import default_buffer_prototype
from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec, ShardingCodec, ShardingCodecIndexLocation, ZstdCodec

from fusion.store._zarr_compat import sync
from fusion.store.localfs import local_root, write_file_atomic

#: Index entry of a chunk absent from its shard.
MISSING = np.uint64(2**64 - 1)


@dataclass(frozen=True)
class ShardLayout:
    """What is needed to encode and store whole shards of one array.

    Attributes:
        array: The target array (its store, path and chunk key encoding are used).
        chunk_rows: Rows per inner chunk along axis 0.
        shard_rows: Rows per shard along axis 0 (a multiple of ``chunk_rows``).
        inner_shape: Shape of one row.
        dtype: Native little-endian element dtype.
        fill_value: Pads the last inner chunk of a partial shard.
        compressor: numcodecs compressor of every inner chunk (``None``: stored raw).
        chunk_crc: Each encoded inner chunk is followed by its CRC32C (zarr's ``crc32c`` codec,
            format 1.1).
    """

    array: zarr.Array
    chunk_rows: int
    shard_rows: int
    inner_shape: tuple[int, ...]
    dtype: np.dtype[Any]
    fill_value: Any
    compressor: Codec | None
    chunk_crc: bool = False

    @property
    def chunks_per_shard(self) -> int:
        """Inner chunks in one shard."""
        return self.shard_rows // self.chunk_rows

    def key(self, shard: int) -> str:
        """Store key of shard number ``shard`` (along axis 0)."""
        chunk_key = self.array.metadata.encode_chunk_key((shard, *([0] * len(self.inner_shape))))
        path = self.array.store_path.path
        return f"{path}/{chunk_key}" if path else chunk_key

    def encode(self, chunks: Sequence[np.ndarray]) -> list[bytes | memoryview]:
        """Encode one shard from its inner chunks, in order, as the pieces of its object.

        Args:
            chunks: Up to ``chunks_per_shard`` arrays of shape ``(r, *inner_shape)``; every one but
                the last has ``r == chunk_rows``; the last is padded with the fill value.

        Returns:
            The encoded chunks, then the index and its CRC32C: joined, the shard object's bytes.
        """
        if not chunks or len(chunks) > self.chunks_per_shard:
            raise ValueError(f"a shard holds 1..{self.chunks_per_shard} chunks, got {len(chunks)}")
        index = np.full((self.chunks_per_shard, 2), MISSING, dtype="<u8")
        parts: list[bytes | memoryview] = []
        offset = 0
        for i, chunk in enumerate(chunks):
            data = np.ascontiguousarray(chunk, dtype=self.dtype)
            if data.shape[0] != self.chunk_rows:
                if i != len(chunks) - 1 or data.shape[0] > self.chunk_rows:
                    raise ValueError(f"chunk {i} has {data.shape[0]} rows, expected {self.chunk_rows}")
                padded = np.full((self.chunk_rows, *self.inner_shape), self.fill_value, dtype=self.dtype)
                padded[: data.shape[0]] = data
                data = padded
            if self.compressor is not None:
                encoded = self.compressor.encode(data)
            else:
                encoded = data.reshape(-1).view(np.uint8).data
            n = len(encoded)
            parts.append(encoded)
            if self.chunk_crc:
                parts.append(_crc(encoded))
                n += 4
            index[i] = (offset, n)
            offset += n
        index_bytes = index.tobytes()
        return [*parts, index_bytes, _crc(index_bytes)]

    def store(self, shard: int, parts: Sequence[bytes | memoryview]) -> None:
        """Write one shard object given as the parts :meth:`encode` returns.

        Blocking and safe from any thread. A local directory store gets the file written directly
        (see the module docstring), any other store the joined bytes through ``store.set``.
        """
        store = self.array.store_path.store
        root = local_root(store)
        if root is not None:
            write_file_atomic(root / self.key(shard), parts)
            return
        sync(store.set(self.key(shard), default_buffer_prototype().buffer.from_bytes(b"".join(parts))))


def _crc(data: bytes | memoryview) -> bytes:
    """CRC32C of ``data`` as zarr's ``crc32c`` codec appends it (uint32 little-endian)."""
    view = np.frombuffer(data, dtype=np.uint8)  # no copy (google_crc32c takes numpy, not memoryview)
    return np.uint32(google_crc32c.value(view)).astype("<u4").tobytes()


def _numcodecs_compressor(codec: Any) -> Codec | bool | None:
    """numcodecs equivalent of a zarr bytes-to-bytes codec (False when not one we reproduce)."""
    if isinstance(codec, BloscCodec):
        shuffle = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}[codec.shuffle.value]
        return Blosc.from_config(
            {
                "cname": codec.cname.value,
                "clevel": codec.clevel,
                "shuffle": shuffle,
                "blocksize": codec.blocksize,
                "typesize": codec.typesize,
            }
        )
    if isinstance(codec, ZstdCodec):
        return Zstd.from_config({"level": codec.level, "checksum": codec.checksum})
    return False


def shard_layout(array: zarr.Array) -> ShardLayout | None:
    """The :class:`ShardLayout` of a fusion column, or ``None`` when it is not one we encode.

    Encoded: a single ``sharding_indexed`` codec, sharded and chunked along axis 0 only, inner
    codecs ``bytes`` (little-endian) plus at most one Blosc/Zstd compressor, index codecs
    ``bytes`` (little-endian) + ``crc32c`` at the end, and a native little-endian dtype. Inner
    codecs may end with ``crc32c`` (every fusion 1.1 column does).
    """
    meta = array.metadata
    codecs: tuple[Any, ...] = tuple(getattr(meta, "codecs", ()))
    if len(codecs) != 1 or not isinstance(codecs[0], ShardingCodec):
        return None
    sharding = codecs[0]
    shard_shape = tuple(int(s) for s in array.shards or ())
    chunk_shape = tuple(int(s) for s in sharding.chunk_shape)
    inner = tuple(int(s) for s in array.shape[1:])
    if shard_shape[1:] != inner or chunk_shape[1:] != inner or shard_shape[0] % chunk_shape[0]:
        return None
    index_ok = (
        sharding.index_location == ShardingCodecIndexLocation.end
        and len(sharding.index_codecs) == 2
        and isinstance(sharding.index_codecs[0], BytesCodec)
        and sharding.index_codecs[0].endian is not None
        and sharding.index_codecs[0].endian.value == "little"
        and isinstance(sharding.index_codecs[1], Crc32cCodec)
    )
    inner_codecs = tuple(sharding.codecs)
    chunk_crc = bool(inner_codecs) and isinstance(inner_codecs[-1], Crc32cCodec)
    if chunk_crc:
        inner_codecs = inner_codecs[:-1]
    if not index_ok or not inner_codecs or not isinstance(inner_codecs[0], BytesCodec) or len(inner_codecs) > 2:
        return None
    native = array.dtype.to_native_dtype() if hasattr(array.dtype, "to_native_dtype") else array.dtype
    dtype = np.dtype(native)
    if dtype.itemsize > 1 and (inner_codecs[0].endian is None or inner_codecs[0].endian.value != "little"):
        return None
    if dtype.byteorder == ">" or dtype.hasobject:
        return None
    compressor = _numcodecs_compressor(inner_codecs[1]) if len(inner_codecs) == 2 else None
    if compressor is False:
        return None
    return ShardLayout(
        array=array,
        chunk_rows=chunk_shape[0],
        shard_rows=shard_shape[0],
        inner_shape=inner,
        dtype=dtype,
        fill_value=np.asarray(array.fill_value, dtype=dtype) if array.fill_value is not None else 0,
        compressor=compressor,  # type: ignore[arg-type]
        chunk_crc=chunk_crc,
    )
