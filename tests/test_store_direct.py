"""Direct chunk reads (``fusion.store.direct``): a complete local store's shards read from their files.

Every chunk read directly (local folder, uncompressed zip) equals zarr's decoding of the same rows;
damage is still named (the chunk is read again through zarr's guarded path); incomplete stores read
through zarr.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synthlog import make_log

import fusion
from fusion.errors import StoreCorruptError
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.convert import convert
from fusion.store.guard import GuardedStore, grid_of

XYZ = "streams/lidar_top/xyz"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Path]:
    tmp = tmp_path_factory.mktemp("direct")
    bags, _, rig = make_log(tmp, ("mcap",), duration_s=2.0)
    return tmp, bags["mcap"], rig


@pytest.fixture(scope="module")
def store(made: tuple[Path, Any, Path]) -> Path:
    tmp, bag, rig = made
    out = tmp / "s.zarr"
    convert([bag], str(out), ConvertConfig(rig=str(rig)))
    return out


def _guarded(ds: Any) -> GuardedStore:
    store = ds.state.root.store_path.store
    assert isinstance(store, GuardedStore)
    return store


def _array(ds: Any, path: str) -> zarr.Array:
    arr = ds.state.root[path]
    assert isinstance(arr, zarr.Array)
    return arr


def _stream_arrays(store: Path) -> list[str]:
    root = zarr.open_group(str(store), mode="r")
    out = []
    for name, group in root["streams"].groups():
        out.extend(f"streams/{name}/{col}" for col, _ in group.arrays())
    return out


def test_every_stream_chunk_reads_directly_and_equals_zarr(store: Path) -> None:
    ds = fusion.open(str(store))
    guard = _guarded(ds)
    assert guard.direct is not None
    plain = zarr.open_group(str(store), mode="r")
    paths = _stream_arrays(store)
    assert len(paths) >= 20  # LiDAR, radar, cameras, IMU columns (measured 31)
    for path in paths:
        arr = _array(ds, path)
        guard.expect(arr)
        g = grid_of(arr)
        assert g is not None and g.rows > 0, path
        n = -(-g.rows // g.chunk_rows)
        got = guard.direct.read_chunks(arr, g, list(range(n)))
        assert sorted(got) == list(range(n)), path  # nothing fell back to zarr
        truth = np.asarray(plain[path][...])
        for c, value in got.items():
            lo, hi = g.chunk_rows_of(c)
            assert value.dtype == truth.dtype and np.array_equal(value[: hi - lo], truth[lo:hi]), (path, c)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=st.integers(0, 10**7), span=st.integers(1, 200_000))
def test_any_row_range_equals_zarr(store: Path, a: int, span: int) -> None:
    """Row ranges assembled from directly read (and cached) chunks equal zarr's slice."""
    from fusion.store.reading import read_many

    ds = fusion.open(str(store))
    arr = _array(ds, XYZ)
    n = int(arr.shape[0])
    a %= n
    b = min(n, a + span)
    (got,) = read_many([(arr, slice(a, b))])
    assert np.array_equal(got, zarr.open_array(str(store / XYZ), mode="r")[a:b])


def _inner_chunk(store: Path, path: str, shard: int = 0, chunk: int = 0) -> tuple[Path, int, int]:
    """File, offset and size (with its CRC) of one inner chunk of a shard."""
    f = store / path / "c" / str(shard) / "0"
    raw = f.read_bytes()
    arr = zarr.open_array(str(store / path), mode="r")
    per = int(arr.shards[0]) // int(arr.chunks[0])
    index = np.frombuffer(raw[len(raw) - 16 * per - 4: -4], "<u8").reshape(-1, 2)
    return f, int(index[chunk, 0]), int(index[chunk, 1])


def test_a_flipped_byte_is_named_not_decoded(store: Path, tmp_path: Path) -> None:
    d = tmp_path / "s.zarr"
    shutil.copytree(store, d)
    f, off, size = _inner_chunk(d, XYZ)
    raw = bytearray(f.read_bytes())
    raw[off + size // 2] ^= 0x5A
    f.write_bytes(bytes(raw))
    ds = fusion.open(str(d))
    arr = _array(ds, XYZ)
    g = grid_of(arr)
    assert g is not None
    guard = _guarded(ds)
    guard.expect(arr)  # registered (grid, manifest) as every read does first
    assert guard.direct is not None and guard.direct.read_chunks(arr, g, [0]) == {}  # left to zarr's path
    with pytest.raises(StoreCorruptError, match="lidar_top/xyz"):
        ds[0].load()


def test_a_value_rewritten_with_valid_checksums_is_refused(store: Path, tmp_path: Path) -> None:
    """zarr rewrites one value (a valid shard, valid CRCs): the direct path leaves the chunk to zarr's,
    whose manifest check names it."""
    d = tmp_path / "s.zarr"
    shutil.copytree(store, d)
    col = "streams/lidar_top/time_offset_ns"
    w = zarr.open_array(str(d / col), mode="r+")
    w[5] = int(w[5]) + 1000
    ds = fusion.open(str(d))
    arr = _array(ds, col)
    g = grid_of(arr)
    guard = _guarded(ds)
    guard.expect(arr)  # registered (grid, manifest) as every read does first
    with pytest.raises(StoreCorruptError, match="does not match the store's manifest"):
        assert g is not None and guard.direct is not None and guard.direct.read_chunks(arr, g, [0]) == {}
    with pytest.raises(StoreCorruptError, match="does not match the store's manifest"):
        ds[0].load()


def test_zip_reads_directly_and_incomplete_stores_through_zarr(made: tuple[Path, Any, Path], store: Path,
                                                     tmp_path: Path) -> None:
    _, bag, rig = made
    zipped = tmp_path / "s.zip"
    convert([bag], str(zipped), ConvertConfig(rig=str(rig)))
    dz = fusion.open(str(zipped))
    ds = fusion.open(str(store))
    assert _guarded(dz).direct is not None  # an uncompressed zip: members are byte runs of the file
    for path in _stream_arrays(store):  # every chunk read from the zip file equals zarr's decoding
        arr = _array(dz, path)
        _guarded(dz).expect(arr)
        g = grid_of(arr)
        assert g is not None
        n = -(-g.rows // g.chunk_rows)
        got = _guarded(dz).direct.read_chunks(arr, g, list(range(n)))  # type: ignore[union-attr]
        assert sorted(got) == list(range(n)), path
        truth = np.asarray(zarr.open_group(str(store), mode="r")[path][...])
        for c, value in got.items():
            lo, hi = g.chunk_rows_of(c)
            assert np.array_equal(value[: hi - lo], truth[lo:hi]), (path, c)
    assert np.array_equal(dz[3].load().lidar["lidar_top"].xyz, ds[3].load().lidar["lidar_top"].xyz)
    d = tmp_path / "inc.zarr"
    shutil.copytree(store, d)
    root = zarr.open_group(str(d), mode="r+")
    root.attrs["complete"] = False
    zarr.consolidate_metadata(str(d))
    di = fusion.open(str(d), allow_incomplete=True)
    arr = _array(di, XYZ)
    g = grid_of(arr)
    guard = _guarded(di)
    assert g is not None and guard.direct is not None and not guard.strict
    assert guard.direct.read_chunks(arr, g, [0]) == {}  # not strict: zarr's path (fill values for absent shards)
    assert np.array_equal(di[3].load().lidar["lidar_top"].xyz, ds[3].load().lidar["lidar_top"].xyz)
