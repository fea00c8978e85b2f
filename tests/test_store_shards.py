"""fusion's shard encoder: byte-identical to zarr's own sharding codec, read back by plain zarr."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from fusion.store import layout as lay
from fusion.store.buffers import ColumnBuffer
from fusion.store.create import create_column
from fusion.store.shards import shard_layout

CASES: list[tuple[str, str, tuple[int, ...], lay.ColumnSpec]] = [
    ("xyz", "float32", (3,), lay.LIDAR_XYZ),
    ("intensity", "float32", (), lay.LIDAR_FIELD),
    ("ring", "uint16", (), lay.LIDAR_FIELD),
    ("stamp_ns", "int64", (), lay.MESSAGE),
    ("data", "uint8", (), lay.BLOB),
    ("orientation_xyzw", "float64", (4,), lay.IMU),
    ("pixels", "uint8", (24, 32, 3), lay.raw_image_spec((24, 32, 3), np.dtype("uint8"))),
    ("radar", "float32", (3,), lay.RADAR_POINT),
]


def _rows(spec: lay.ColumnSpec) -> int:
    """Two full shards (one for the big LiDAR/blob shards), two more chunks and 7 rows."""
    full = 1 if spec.shard_rows >= 1 << 20 else 2
    return full * spec.shard_rows + 2 * spec.chunk_rows + 7


def _data(n: int, dtype: str, inner: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *inner)) * 50
    return np.round(x).astype(dtype) if np.dtype(dtype).kind in "iu" else x.astype(dtype)


def _shard_files(root: Path, name: str) -> dict[str, bytes]:
    files = sorted((root / name / "c").rglob("*"))
    return {p.relative_to(root / name).as_posix(): p.read_bytes() for p in files if p.is_file()}


@pytest.mark.parametrize(("name", "dtype", "inner", "spec"), CASES, ids=[c[0] for c in CASES])
def test_shards_are_byte_identical_to_zarr(tmp_path: Path, name: str, dtype: str, inner: tuple[int, ...],
                                           spec: lay.ColumnSpec) -> None:
    n = _rows(spec)
    data = _data(n, dtype, inner, seed=len(name))
    g = zarr.open_group(tmp_path / "s.zarr", mode="w")
    ref = create_column(g, "ref", dtype=dtype, inner_shape=inner, spec=spec, expected_rows=n)
    for s in range(0, n, spec.shard_rows):
        ref[s : s + spec.shard_rows] = data[s : s + spec.shard_rows]  # zarr's own path, shard by shard
    ours = create_column(g, "ours", dtype=dtype, inner_shape=inner, spec=spec, expected_rows=7)
    assert shard_layout(ours) is not None
    buf = ColumnBuffer(ours, name)
    # uneven appends: a chunk boundary is crossed inside an append, whole chunks arrive by reference
    cuts = sorted({0, 5, spec.chunk_rows + 3, 2 * spec.chunk_rows + 3, spec.shard_rows + 1, n})
    for a, b in itertools.pairwise(cuts):
        buf.append(data[a:b])
    assert buf.finalize() == n
    root = tmp_path / "s.zarr"
    theirs_files, ours_files = _shard_files(root, "ref"), _shard_files(root, "ours")
    assert list(ours_files) == list(theirs_files) and len(ours_files) == -(-n // spec.shard_rows)
    for key, blob in theirs_files.items():
        assert ours_files[key] == blob, key
    back = zarr.open_array(root / "ours", mode="r")
    assert back.shape == (n, *inner)
    np.testing.assert_array_equal(back[...], data)


def test_whole_chunks_are_kept_by_reference_until_written(tmp_path: Path) -> None:
    """Appending whole chunks copies nothing; the shard holds exactly the appended images."""
    spec = lay.raw_image_spec((24, 32, 3), np.dtype("uint8"))
    g = zarr.open_group(tmp_path / "s.zarr", mode="w")
    arr = create_column(g, "pixels", dtype="uint8", inner_shape=(24, 32, 3), spec=spec, expected_rows=1)
    buf = ColumnBuffer(arr, "pixels")
    images = [_data(1, "uint8", (24, 32, 3), seed=i) for i in range(spec.shard_rows + 3)]
    for img in images[:2]:
        buf.append(img)
    assert all(ch.base is img or ch is img for ch, img in zip(buf._chunks, images[:2], strict=True))
    for img in images[2:]:
        buf.append(img)
    buf.finalize()
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "s.zarr" / "pixels")[...], np.concatenate(images))


def test_layouts_we_do_not_encode_use_zarrs_path(tmp_path: Path) -> None:
    """A filter in the chain (or no sharding) is not reproduced: zarr writes it, same data back."""
    g = zarr.open_group(tmp_path / "s.zarr", mode="w")
    n = 3000
    data = _data(n, "int32", (), seed=3)
    arrays: dict[str, Any] = {
        "delta": g.create_array("delta", shape=(10,), dtype="int32", chunks=(256,), shards=(1024,),
                                filters=[zarr.codecs.numcodecs.Delta(dtype="int32")]),
        "unsharded": g.create_array("unsharded", shape=(10,), dtype="int32", chunks=(256,)),
        "big_endian": g.create_array("big_endian", shape=(10,), dtype=">i4", chunks=(256,), shards=(1024,)),
    }
    for name, arr in arrays.items():
        assert shard_layout(arr) is None, name
        buf = ColumnBuffer(arr, name)
        buf.append(data[:1500])
        buf.append(data[1500:])
        assert buf.finalize() == n
        np.testing.assert_array_equal(zarr.open_array(tmp_path / "s.zarr" / name)[...], data)


def test_a_failed_shard_write_is_raised_in_the_converting_thread(tmp_path: Path) -> None:
    spec = lay.MESSAGE
    g = zarr.open_group(tmp_path / "s.zarr", mode="w")
    arr = create_column(g, "stamp_ns", dtype="int64", inner_shape=(), spec=spec, expected_rows=1)
    buf = ColumnBuffer(arr, "stamp_ns")
    ro = zarr.open_array(tmp_path / "s.zarr" / "stamp_ns", mode="r")  # same array, read-only store
    buf._array = ro
    buf._layout = shard_layout(ro)
    buf.append(np.arange(spec.shard_rows + 5, dtype=np.int64))
    with pytest.raises(ValueError, match=r"read-only|read only"):
        buf.finalize()
    buf.pool.drain()


def test_a_sealed_column_writes_its_tail_once_and_takes_no_more_rows(tmp_path: Path) -> None:
    from fusion.errors import StoreError

    spec = lay.MESSAGE
    n = spec.shard_rows + 11
    data = _data(n, "int64", (), seed=5)
    g = zarr.open_group(tmp_path / "s.zarr", mode="w")
    arr = create_column(g, "t", dtype="int64", inner_shape=(), spec=spec, expected_rows=n)
    buf = ColumnBuffer(arr, "t")
    buf.append(data)
    buf.seal()  # the partial last shard goes to the pool now
    assert buf.shards_written == 2
    buf.seal()  # idempotent: nothing written twice
    assert buf.shards_written == 2
    with pytest.raises(StoreError, match="sealed"):
        buf.append(data[:1])
    buf.pool.drain()
    assert len(_shard_files(tmp_path / "s.zarr", "t")) == 2  # on disk before finalize
    assert buf.finalize() == n and buf.shards_written == 2
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "s.zarr" / "t")[...], data)


def test_the_pool_bounds_pending_bytes_and_runs_an_oversized_job_alone() -> None:
    import threading

    from fusion.store.buffers import ShardPool

    pool = ShardPool(workers=2, max_pending_bytes=100)
    gate = threading.Event()
    started: list[str] = []

    def job(name: str) -> Callable[[], None]:
        def run() -> None:
            started.append(name)
            gate.wait(10)

        return run

    pool.submit(job("a"), 60)
    pool.submit(job("b"), 40)  # 100 bytes pending: exactly the budget
    blocked = threading.Thread(target=pool.submit, args=(job("c"), 1))
    blocked.start()
    blocked.join(0.3)
    assert blocked.is_alive()  # waits for room: 101 > 100
    gate.set()
    blocked.join(10)
    assert not blocked.is_alive()
    pool.drain()
    gate.clear()
    pool.submit(job("big"), 1_000)  # over the budget but alone: runs
    gate.set()
    pool.drain()
    assert sorted(started) == ["a", "b", "big", "c"]
    assert pool._inflight == 0

