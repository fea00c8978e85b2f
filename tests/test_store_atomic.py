"""Atomic completion: interrupted writes are detected; overwrite redoes cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import fusion
from fusion.errors import FormatVersionError, IncompleteStoreError, StoreError
from fusion.kinds.imu import add_imu_stream
from fusion.store import StoreWriter, validate_store
from fusion.store.dataset import store_status
from fusion.store.sample import make_sample, write_sample

CHILD = """
import sys
import numpy as np
from fusion.store import StoreWriter
from fusion.kinds.lidar import add_lidar_stream
w = StoreWriter.create(sys.argv[1], input_fingerprint="killed")
lid = add_lidar_stream(w, "lid", topic="/l", frame_id="l", fields={}, expected_messages=100,
                  expected_points=100 * 65536, attrs={})
xyz = np.ones((65536, 3), np.float32)
toff = np.zeros(65536, np.int32)
i = 0
while True:  # until SIGKILL
    lid.append(i, i, i, i, xyz, toff, {})
    i += 1
"""


def _assert_incomplete(path: Path) -> None:
    msg = r"incomplete store: conversion was interrupted; run `fusion convert --resume \.\.\.` or delete it"
    with pytest.raises(IncompleteStoreError, match=msg):
        fusion.open(str(path))
    result = validate_store(str(path))
    assert not result.ok
    assert any("incomplete store: conversion was interrupted" in p for p in result.problems)
    with pytest.raises(StoreError, match=r"incomplete fusion store .* run `fusion convert --resume \.\.\.` or pass"):
        StoreWriter.create(path)


def test_abandoned_writer_is_incomplete_and_overwrite_redoes(tmp_path: Path) -> None:
    path = tmp_path / "a.zarr"
    smp = make_sample(n_frames=5, points=200)
    write_sample(path, smp, finalize=False)  # everything written except finalize
    _assert_incomplete(path)
    ds = fusion.open(str(path), allow_incomplete=True)  # readable on request
    assert ds.attrs["complete"] is False
    status = store_status(str(path))
    assert (status.exists, status.complete, status.input_fingerprint) == (True, False, "sample")
    write_sample(path, smp, overwrite=True, fingerprint="redo")
    assert validate_store(str(path)).problems == []
    ds = fusion.open(str(path))
    assert len(ds) == 5 and ds.attrs["input_fingerprint"] == "redo"
    with pytest.raises(StoreError, match=r"a fusion store already exists at .*pass --overwrite"):
        StoreWriter.create(path)


def test_writer_dropped_without_finalize(tmp_path: Path) -> None:
    path = tmp_path / "d.zarr"
    w = StoreWriter.create(path)
    add_imu_stream(w, "imu", topic="/i", frame_id="i", expected_messages=3).append_many(
        np.arange(3), np.arange(3), np.arange(3), np.zeros((3, 3)), np.zeros((3, 3)), np.tile([0, 0, 0, 1.0], (3, 1)))
    del w
    _assert_incomplete(path)


def test_sigkill_mid_write_then_redo(tmp_path: Path) -> None:
    path = tmp_path / "k.zarr"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stderr=subprocess.PIPE)
    shard = path / "streams" / "lid" / "xyz" / "c" / "0" / "0"
    deadline = time.monotonic() + 120
    while not shard.exists():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "child never flushed a shard"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    _assert_incomplete(path)
    status = store_status(str(path))
    assert status.input_fingerprint == "killed" and not status.complete
    write_sample(path, make_sample(n_frames=4, points=100), overwrite=True)
    assert validate_store(str(path)).problems == []
    assert not (path / "streams" / "lid").exists()  # old content removed
    assert len(fusion.open(str(path))) == 4


def test_refuses_to_delete_a_non_store_directory(tmp_path: Path) -> None:
    d = tmp_path / "photos"
    d.mkdir()
    (d / "keep.txt").write_text("x")
    with pytest.raises(StoreError, match="not a fusion store"):
        StoreWriter.create(d, overwrite=True)
    assert (d / "keep.txt").exists()
    with pytest.raises(StoreError, match=r"keep\.txt is a file, not a store directory"):
        StoreWriter.create(d / "keep.txt", overwrite=True)
    # file:// URLs are local paths
    write_sample(f"file://{tmp_path / 'u.zarr'}", make_sample(n_frames=2, points=10))
    assert len(fusion.open(f"file://{tmp_path / 'u.zarr'}")) == 2


def test_missing_store_and_wrong_format(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no fusion store at .*nope.zarr"):
        fusion.open(str(tmp_path / "nope.zarr"))
    assert store_status(str(tmp_path / "nope.zarr")).exists is False
    path = tmp_path / "v.zarr"
    write_sample(path, make_sample(n_frames=3, points=50))
    import zarr

    zarr.open_group(str(path), mode="r+").attrs["fusion_format"] = "2.0"
    with pytest.raises(FormatVersionError, match=r"fusion_format '2.0' is not supported by this fusion \(reads 1.x\)"):
        fusion.open(str(path))
    assert validate_store(str(path)).problems[0].endswith("upgrade fusion or reconvert the bags")
