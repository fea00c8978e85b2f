"""Zip and S3 (a real local S3-compatible moto server) round trips; pickling and spawn workers."""

from __future__ import annotations

import multiprocessing as mp
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fusion
from fusion.errors import IncompleteStoreError, StoreError
from fusion.store import StoreWriter, inspect_store, validate_store
from fusion.store.sample import Sample, make_sample, write_sample


def _check_frames(ds: Any, smp: Sample) -> None:
    assert len(ds) == len(smp.frames_time_ns)
    np.testing.assert_array_equal(ds.times_ns, smp.frames_time_ns)
    for i in (0, 3, len(ds) - 1):
        f = ds[i]
        m = smp.messages["lidar_rear"]
        j = smp.matches["lidar_rear"][0][i]
        if j >= 0:
            np.testing.assert_array_equal(f.lidar["lidar_rear"].xyz, m[j]["xyz"])
        c = smp.messages["cam_front"][smp.matches["cam_front"][0][i]]
        assert f.cameras["cam_front"].data == c["data"]
        np.testing.assert_array_equal(f.cameras["cam_raw"].image,
                                      smp.messages["cam_raw"][smp.matches["cam_raw"][0][i]]["image"])
    assert ds.report == smp.report


# ---- zip ---------------------------------------------------------------------------------
def test_zip_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "drive.zip"
    smp = write_sample(path, make_sample(n_frames=6, points=300))
    assert path.is_file() and not (tmp_path / "drive.zip.partial").exists()
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert "zarr.json" in names and "streams/lidar_top/xyz/c/0/0" in names
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
    ds = fusion.open(str(path))
    _check_frames(ds, smp)
    assert validate_store(str(path)).problems == []
    assert inspect_store(str(path))["frames"] == 6


def test_interrupted_zip_is_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "cut.zip"
    write_sample(path, make_sample(n_frames=3, points=50), finalize=False)
    assert not path.exists() and (tmp_path / "cut.zip.partial" / "zarr.json").is_file()
    with pytest.raises(IncompleteStoreError, match="conversion was interrupted"):
        fusion.open(str(path))
    with pytest.raises(StoreError, match="--resume"):
        StoreWriter.create(path)
    write_sample(path, make_sample(n_frames=3, points=50), overwrite=True)
    assert path.is_file() and not (tmp_path / "cut.zip.partial").exists()
    assert len(fusion.open(str(path))) == 3


# ---- S3 ----------------------------------------------------------------------------------
def test_s3_round_trip_overwrite_and_incomplete(s3: dict[str, str]) -> None:
    import boto3

    url = "s3://fusion/drives/a.zarr"
    smp = write_sample(url, make_sample(n_frames=5, points=200), storage_options=s3)
    client = boto3.client("s3", endpoint_url=s3["endpoint_url"], aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    keys = {o["Key"] for o in client.list_objects_v2(Bucket="fusion", Prefix="drives/a.zarr/")["Contents"]}
    assert "drives/a.zarr/zarr.json" in keys and "drives/a.zarr/streams/lidar_top/xyz/c/0/0" in keys
    ds = fusion.open(url, **s3)
    _check_frames(ds, smp)
    assert validate_store(url, **s3).problems == []
    from click.testing import CliRunner

    from fusion.cli.validate import validate

    cli_opts = [a for k, v in s3.items() for a in ("-S", f"{k}={v}")]
    out = CliRunner().invoke(validate, [url, *cli_opts])
    assert out.exit_code == 0 and out.output.startswith(f"ok: {url} (5 frames, 7 streams, "), out.output
    # pickled dataset reopens from S3 in this process
    ds2 = pickle.loads(pickle.dumps(ds[1:4]))
    np.testing.assert_array_equal(ds2.times_ns, smp.frames_time_ns[1:4])
    with pytest.raises(StoreError, match="already exists"):
        StoreWriter.create(url, storage_options=s3)
    write_sample(url, make_sample(n_frames=3, points=100), overwrite=True, storage_options=s3, finalize=False)
    with pytest.raises(IncompleteStoreError):
        fusion.open(url, **s3)
    keys2 = {o["Key"] for o in client.list_objects_v2(Bucket="fusion", Prefix="drives/a.zarr/")["Contents"]}
    assert len(keys2) < len(keys) or keys2 != keys
    with pytest.raises(StoreError, match="no fusion store at s3://fusion/nothing"):
        fusion.open("s3://fusion/nothing", **s3)


# ---- pickling and worker processes -------------------------------------------------------
_INHERITED: Any = None


def _worker_inherited(i: int) -> tuple[int, int, bytes, float]:
    return _worker((_INHERITED, i))


def _worker(args: tuple[Any, int]) -> tuple[int, int, bytes, float]:
    ds, i = args
    f = ds[i]
    lid = f.lidar.get("lidar_top")
    return f.index, f.time_ns, f.cameras["cam_front"].data, float(lid.xyz.sum()) if lid is not None else 0.0


def test_pickle_is_small_and_lazy(tmp_path: Path) -> None:
    path = tmp_path / "p.zarr"
    write_sample(path, make_sample(n_frames=6, points=100))
    ds = fusion.open(str(path))
    blob = pickle.dumps(ds[1:5])
    assert len(blob) < 1000
    view = pickle.loads(blob)
    assert view._state is None  # nothing opened until used
    assert [f.index for f in view] == [1, 2, 3, 4]


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_workers_read_frames(tmp_path: Path, method: str) -> None:
    path = tmp_path / "w.zarr"
    smp = write_sample(path, make_sample(n_frames=6, points=400))
    ds = fusion.open(str(path))
    _ = ds[0].lidar["lidar_top"].xyz  # the parent has used its zarr state before the workers start
    ctx = mp.get_context(method)
    with ctx.Pool(2) as pool:
        got = pool.map(_worker, [(ds, i) for i in range(len(ds))])
    if method == "fork":  # also a Dataset inherited through fork (not pickled), as DataLoader does
        global _INHERITED
        _INHERITED = ds
        with ctx.Pool(2) as pool:
            assert pool.map(_worker_inherited, range(len(ds))) == got
    for i, (index, t, data, s) in enumerate(got):
        assert index == i and t == smp.frames_time_ns[i]
        assert data == smp.messages["cam_front"][smp.matches["cam_front"][0][i]]["data"]
        assert s == float(ds[i].lidar["lidar_top"].xyz.sum())
