"""`validate_store` / `fusion validate` catch every injected corruption with a precise message."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import zarr
from click.testing import CliRunner

from fusion.cli.validate import validate
from fusion.store import FORMAT_VERSION, digests, validate_store
from fusion.store.sample import make_sample, write_sample


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("val") / "clean.zarr"
    write_sample(path, make_sample(n_frames=8, points=200))
    return path


def _copy(clean: Path, tmp_path: Path) -> tuple[Path, zarr.Group]:
    dst = tmp_path / "c.zarr"
    shutil.copytree(clean, dst)
    return dst, zarr.open_group(str(dst), mode="r+", use_consolidated=False)


def _reseal(g: zarr.Group) -> None:
    """Recompute the chunk manifests (format 1.2) as a buggy writer would have: what is left to find
    is the values' own inconsistency (without this, each rewrite is named as a manifest mismatch)."""
    digests.write(g, {})
    zarr.consolidate_metadata(g.store)


def test_clean_store_is_valid(clean: Path) -> None:
    result = validate_store(str(clean))
    assert result.problems == [] and result.ok
    assert {k: result.checked[k] for k in ("frames", "streams")} == {"frames": 8, "streams": 7}
    out = CliRunner().invoke(validate, [str(clean)])
    assert out.exit_code == 0 and out.output.startswith(f"ok: {clean} (8 frames, 7 streams, ")


def _bad_offsets(g: zarr.Group) -> str:
    off = g["streams/lidar_top/offsets"]
    o = off[:]
    off[5] = o[6] + 10
    return f"streams/lidar_top/offsets: not monotonic at message 5 (offsets[5]={o[6] + 10} > offsets[6]={o[6]}); 1"


def _offsets_end(g: zarr.Group) -> str:
    off = g["streams/radar_front/offsets"]
    last = int(off[-1])
    off[-1] = last + 3
    return (f"streams/radar_front/offsets[-1] = {last + 3} but streams/radar_front/"
            f"{{radial_velocity_comp_mps, radial_velocity_mps, rcs, xyz}} have {last} rows")


def _frame_times(g: zarr.Group) -> str:
    t = g["frames/time_ns"]
    v = t[:]
    t[3], t[4] = v[4], v[3]
    return f"frames/time_ns: not strictly increasing at frame 4 ({v[3]} after {v[4]}); 1 violation(s)"


def _index_range(g: zarr.Group) -> str:
    g["frames/sensors/cam_front/index"][2] = 999
    return "frames/sensors/cam_front/index[2] = 999 out of range [-1, 8) (1 bad frame(s))"


def _valid_flag(g: zarr.Group) -> str:
    g["frames/sensors/lidar_rear/valid"][2] = True  # frame 2 has no lidar_rear (index -1)
    return "frames/sensors/lidar_rear/valid[2] = True inconsistent with index -1 (1 frame(s))"


def _imu_range(g: zarr.Group) -> str:
    r = g["frames/imu_range"]
    n = g["streams/imu/time_ns"].shape[0]
    r[7] = [r[7][0], n + 4]
    return f"frames/imu_range[7] = [{int(r[7][0])}, {n + 4}] is not a range within [0, {n}] (IMU stream 'imu'); 1"


def _count_mismatch(g: zarr.Group) -> str:
    rep = json.loads(bytes(g["report"][:]).decode())
    rep["counts"]["cam_front"] = 99
    blob = np.frombuffer(json.dumps(rep).encode(), np.uint8)
    g.create_array("report", shape=blob.shape, dtype="uint8", overwrite=True)[:] = blob
    zarr.consolidate_metadata(g.store)  # the reader's copy of the metadata (else validate reports the stale copy)
    return "streams/cam_front: 8 messages stored but the report counts 99"


def _incomplete(g: zarr.Group) -> str:
    g.attrs["complete"] = False
    return "incomplete store: conversion was interrupted; run `fusion convert --resume ...` or delete it"


@pytest.mark.parametrize(
    "corrupt", [_bad_offsets, _offsets_end, _frame_times, _index_range, _valid_flag, _imu_range, _count_mismatch,
                _incomplete]
)
def test_each_corruption_is_reported_precisely(
    clean: Path, tmp_path: Path, corrupt: Callable[[zarr.Group], str]
) -> None:
    path, g = _copy(clean, tmp_path)
    expected = corrupt(g)
    _reseal(g)
    result = validate_store(str(path))
    assert len(result.problems) == 1, result.problems
    assert expected in result.problems[0], (expected, result.problems)
    out = CliRunner().invoke(validate, [str(path), "--json"])
    assert out.exit_code == 1
    doc = json.loads(out.output)
    assert doc["ok"] is False and doc["problems"] == result.problems


def test_all_problems_listed_at_once(clean: Path, tmp_path: Path) -> None:
    path, g = _copy(clean, tmp_path)
    expected = [f(g) for f in (_bad_offsets, _frame_times, _index_range)]
    _reseal(g)
    result = validate_store(str(path))
    assert len(result.problems) == 3
    for e in expected:
        assert any(e in p for p in result.problems), e
    out = CliRunner().invoke(validate, [str(path)])
    assert out.exit_code == 1 and "3 problem(s)" in out.output


def test_not_a_store(tmp_path: Path) -> None:
    result = validate_store(str(tmp_path / "missing.zarr"))
    assert result.problems == [f"no fusion store at {tmp_path / 'missing.zarr'}: "
                               f"{tmp_path / 'missing.zarr' / 'zarr.json'} does not exist"]


def test_inspect_store_summary(clean: Path) -> None:
    from fusion.store import inspect_store

    info = inspect_store(str(clean))
    assert info["complete"] is True and info["fusion_format"] == FORMAT_VERSION and info["frames"] == 8
    assert info["duration_s"] == pytest.approx(0.7, abs=1e-12)
    assert info["frame_rate_hz"] == pytest.approx(10.0, abs=1e-9)
    rear = info["sensors"]["lidar_rear"]
    assert rear["count"] == 6 and rear["matched_frames"] == 6 and rear["matched_fraction"] == 0.75
    assert rear["max_abs_dt_ms"] < 3.0
    assert info["sensors"]["imu"]["count"] == 85 and "matched_frames" not in info["sensors"]["imu"]
    assert info["report_counts"]["lidar_top"] == 8 and info["sync"] == {"max_abs_dt_ms": 3.0}
    json.dumps(info)  # JSON-able
