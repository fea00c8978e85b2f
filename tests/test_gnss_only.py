"""A log whose only continuous stream is GNSS (the real nobleo GPS bag): the frame table names no IMU
stream, every frame reads, ``frame.imu`` is None — also for a store of the earlier release that named
the GNSS stream as the frames' ``imu_stream`` (reading it failed with a KeyError)."""

from __future__ import annotations

from pathlib import Path

import pytest
import zarr

import fusion
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.convert import convert

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def store(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gnss") / "nobleo.zarr"
    convert([shared_data / "real" / "nobleo_gps.bag"], str(out), ConvertConfig())
    return out


def _read_all(store: Path) -> int:
    ds = fusion.open(str(store))
    n = 0
    for f in ds.iter(prefetch=2):
        assert f.imu is None
        n += 1
    assert ds[0].load().imu is None
    return n


def test_gnss_only_store_names_no_imu_and_reads(store: Path) -> None:
    ds = fusion.open(str(store))
    assert ds.state.imu_stream is None
    assert {s.kind for s in ds.sensors.values()} == {"gnss"}
    assert _read_all(store) == len(ds) == 150  # 151 fixes; measured 150 frames


def test_store_of_the_earlier_release_reads(store: Path, tmp_path: Path) -> None:
    import shutil

    d = tmp_path / "old.zarr"
    shutil.copytree(store, d)
    frames = zarr.open_group(str(d / "frames"), mode="r+")
    frames.attrs["imu_stream"] = "gps"  # what the earlier release wrote for this log
    zarr.consolidate_metadata(str(d))
    assert fusion.open(str(d)).state.imu_stream == "gps"
    assert _read_all(d) == 150
