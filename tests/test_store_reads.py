"""Reads for training: the chunk cache (a sequential scan decodes each chunk once) and ``ds.iter``.

Every value read through the cache equals the uncached read (``FUSION_READ_CACHE_MB=0``) of the
same store, whatever the budget; the prefetching iterator yields the same frames in order with
their data already read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from synthlog import make_log

import fusion
from fusion.errors import StoreError
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.convert import convert
from fusion.store.chunkcache import ChunkCache, assemble, row_range


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("reads")
    bags, _, rig = make_log(tmp, ("mcap",), duration_s=3.0)
    out = tmp / "s.zarr"
    convert([bags["mcap"]], str(out), ConvertConfig(rig=str(rig)))
    return out


def _values(frames: Any) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for f in frames:
        for name, lid in f.lidar.items():
            out[f"{f.index}/{name}/xyz"] = lid.xyz
            for k, v in lid.fields.items():
                out[f"{f.index}/{name}/{k}"] = v
        for name, rad in f.radar.items():
            out[f"{f.index}/{name}/xyz"] = rad.xyz
        for name, cam in f.cameras.items():
            out[f"{f.index}/{name}"] = np.frombuffer(cam.data, np.uint8) if cam.compressed else cam.image
        if f.imu is not None:
            out[f"{f.index}/imu"] = f.imu.angular_velocity_radps
    return out


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def uncached(store: Path) -> dict[str, np.ndarray]:
    mp = pytest.MonkeyPatch()
    mp.setenv("FUSION_READ_CACHE_MB", "0")
    try:
        return _values(fusion.open(str(store)))
    finally:
        mp.undo()


@pytest.mark.parametrize("budget_mb", ["256", "0.05"])
def test_cached_reads_equal_uncached(store: Path, uncached: dict[str, np.ndarray], budget_mb: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSION_READ_CACHE_MB", budget_mb)  # 0.05 MB: chunks evicted all the time
    ds = fusion.open(str(store))
    _same(_values(ds), uncached)
    _same(_values(ds[i] for i in np.random.default_rng(0).permutation(len(ds))), uncached)


def test_sequential_scan_decodes_each_chunk_once(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Frame after frame, no inner chunk of any array is fetched (decoded) twice, and the cache
    holds only chunks a read used in part."""
    import fusion.store.reading as guard

    fetched: list[tuple[str, int]] = []
    by_zarr: list[tuple[str, int]] = []
    real, real_runs = guard._read_direct, guard._runs

    def spy(fetch: Any) -> Any:  # every chunk a read lacks passes here (then direct, else zarr)
        fetched.extend(fetch)
        return real(fetch)

    def spy_runs(fetch: Any) -> Any:
        by_zarr.extend(fetch)
        return real_runs(fetch)

    monkeypatch.setattr(guard, "_read_direct", spy)
    monkeypatch.setattr(guard, "_runs", spy_runs)
    ds = fusion.open(str(store))
    cache = ds.state.root.store_path.store.cache
    assert isinstance(cache, ChunkCache)
    _values(ds)
    assert len(fetched) == len(set(fetched)) > 0
    xyz = ds.state.streams["lidar_top"].array("xyz")
    chunks = -(-int(xyz.shape[0]) // int(xyz.chunks[0]))
    assert sum(1 for path, _ in fetched if path.endswith("lidar_top/xyz")) == chunks
    assert cache.nbytes <= cache.budget
    assert by_zarr == []  # a complete local store: every chunk read from its file (fusion.store.direct)


def test_returned_arrays_are_private_copies(store: Path) -> None:
    ds = fusion.open(str(store))
    a = ds[0].lidar["lidar_top"].column("xyz")
    a[:] = 0  # writable, and the cache is untouched
    assert not np.all(ds[0].lidar["lidar_top"].column("xyz") == 0)


def test_iter_prefetches_the_same_frames_in_order(store: Path, uncached: dict[str, np.ndarray]) -> None:
    ds = fusion.open(str(store))
    frames = list(ds.iter(prefetch=3, workers=2))
    assert [f.index for f in frames] == list(range(len(ds)))
    assert all("_cols" in v.__dict__ for f in frames for v in f.lidar.values())  # read before yielded
    _same(_values(frames), uncached)
    assert [f.index for f in ds[5:9].iter(prefetch=8)] == [5, 6, 7, 8]
    with pytest.raises(ValueError, match="prefetch and workers"):
        next(ds.iter(prefetch=0))


def test_bad_budget_is_one_error(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSION_READ_CACHE_MB", "lots")
    with pytest.raises(StoreError, match="FUSION_READ_CACHE_MB='lots' is not a number"):
        fusion.open(str(store))


@given(st.lists(st.integers(1, 9), min_size=1, max_size=6), st.data())
def test_assemble_equals_slicing(chunk_lengths: list[int], data: st.DataObject) -> None:
    whole = np.arange(sum(chunk_lengths) * 2, dtype=np.int32).reshape(-1, 2)
    bounds = np.cumsum([0, *chunk_lengths])
    chunks = [whole[bounds[i]:bounds[i + 1]] for i in range(len(chunk_lengths))]
    a = data.draw(st.integers(0, len(whole) - 1))
    b = data.draw(st.integers(a + 1, len(whole)))
    first = int(np.searchsorted(bounds, a, side="right") - 1)
    last = int(np.searchsorted(bounds, b - 1, side="right") - 1)
    out = assemble(chunks[first:last + 1], int(bounds[first]), a, b)
    assert np.array_equal(out, whole[a:b]) and out.flags.writeable


def test_row_range() -> None:
    assert row_range(slice(2, 5), 10) == (2, 5)
    assert row_range((slice(2, 5), slice(None)), 10) == (2, 5)
    assert row_range(slice(-3, None), 10) == (7, 10)
    for sel in (3, slice(0, 10, 2), (slice(0, 2), 1), Ellipsis, slice(4, 4), [1, 2]):
        assert row_range(sel, 10) is None


def test_cache_budget_evicts_least_recently_used() -> None:
    c = ChunkCache(budget_bytes=100)
    for i in range(3):
        c.put(("a", i), np.zeros(40, np.uint8))
    assert c.get(("a", 0)) is None and c.get(("a", 2)) is not None and c.nbytes == 80
    c.put(("a", 9), np.zeros(101, np.uint8))  # larger than the budget: not kept
    assert c.get(("a", 9)) is None


def test_frame_load_is_one_batched_request(store: Path, uncached: dict[str, np.ndarray],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """``Frame.load`` reads every sensor's columns and the IMU samples in at most one event-loop round
    trip (the guard's ``sync``), then the views answer from memory with the same values."""
    import fusion.store.reading as guard

    ds = fusion.open(str(store))
    _values([ds[0]])  # arrays opened, rig parsed
    calls = []
    real = guard.sync
    monkeypatch.setattr(guard, "sync", lambda coro: calls.append(1) or real(coro))
    frames = [ds[i].load() for i in (3, 17)]
    assert len(calls) <= 2  # at most one zarr round trip per frame (here none: fusion.store.direct reads the files)
    calls.clear()
    got = _values(frames)
    assert calls == []  # everything was read by load()
    for k, v in got.items():
        assert np.array_equal(v, uncached[k]), k
