"""The pass-1 spool (fusion.pipeline.spool): exact round trip of decoded records (in memory, on disk and
both), clean give-up on its budget, and conversions with the spool in memory, on disk, without it and
after giving it up all equal."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import zarr
from synthlog import make_log

import fusion
from fusion.pipeline.config import ConvertConfig, StoreConfig
from fusion.pipeline.convert import convert
from fusion.pipeline.spool import IN_FLIGHT_BYTES, Spool
from fusion.readers.records import MessageMeta, PointCloud, RadarDetections
from fusion.readers.source import RawMessage
from fusion.testing.synth import Faults


def _raw(topic: str, index: int, nbytes: int = 100) -> RawMessage:
    return RawMessage(topic, index, 1_000 + index, "sensor_msgs/msg/PointCloud2", b"x" * nbytes, False, Path("b"))


def _cloud(n: int, index: int, with_time: bool = True) -> PointCloud:
    rng = np.random.default_rng(index)
    meta = MessageMeta("/lidar", index, 1_000 + index, 5_000 + index, "lidar")
    fields = {
        "intensity": rng.random(n, dtype=np.float32),
        "ring": rng.integers(0, 64, n).astype(np.uint16),
        "pair": rng.integers(0, 9, (n, 2)).astype(np.int8),  # a multi-count field
    }
    pt = (5_000 + np.arange(n, dtype=np.int64) * 7) if with_time else None
    xyz = rng.normal(size=(n, 3)).astype(np.float32)
    return PointCloud(meta, xyz, fields, pt, "ouster_t" if with_time else "none", height=2, width=n // 2)


def _radar(n: int, index: int) -> RadarDetections:
    rng = np.random.default_rng(100 + index)
    meta = MessageMeta("/radar", index, 2_000 + index, 6_000 + index, "radar")
    return RadarDetections(
        meta,
        rng.normal(size=(n, 3)).astype(np.float32),
        rng.normal(size=n).astype(np.float32),
        {"rcs": rng.normal(size=n).astype(np.float64)},
    )


def _same(a: object, b: object) -> None:
    assert type(a) is type(b)
    for name in a.__dataclass_fields__:  # type: ignore[attr-defined]
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape, name
            np.testing.assert_array_equal(x, y, err_msg=name)
            assert y.ctypes.data % 16 == 0 and y.flags.writeable, name
        elif isinstance(x, dict):
            assert x.keys() == y.keys(), name
            for k in x:
                assert x[k].dtype == y[k].dtype and x[k].shape == y[k].shape, k
                np.testing.assert_array_equal(x[k], y[k], err_msg=k)
                assert y[k].ctypes.data % 16 == 0, k
        else:
            assert x == y, name


def test_records_round_trip_exactly_in_order(tmp_path: Path) -> None:
    written: list[tuple[RawMessage, object, str]] = [
        (_raw("/lidar", 0, 321), _cloud(10, 0), ""),
        (_raw("/radar", 0), _radar(3, 0), ""),
        (_raw("/lidar", 1), None, "cannot deserialize: 4 bytes short"),
        (_raw("/lidar", 2), _cloud(7 * 2, 2, with_time=False), ""),
        (_raw("/lidar", 3), _cloud(0, 3), ""),  # an empty sweep
        (_raw("/radar", 1), _radar(5, 1), ""),
    ]
    with Spool(str(tmp_path)) as spool:
        for raw, rec, err in written:
            spool.add(raw, rec, err)  # type: ignore[arg-type]
        assert spool.records == len(written) and spool.topics == {"/lidar", "/radar"}
        spool.finish()  # the last write was in flight
        assert os.fstat(spool._fd).st_size == spool.nbytes
        assert list(tmp_path.iterdir()) == []  # the file has no name: nothing to leave behind
        got = list(spool.entries())
        assert len(got) == len(written)
        for e, (raw, rec, err) in zip(got, written, strict=True):
            assert (e.topic, e.index, e.record_time_ns, e.nbytes, e.error) == (
                raw.topic, raw.index, raw.record_time_ns, len(raw.data), err,
            )  # fmt: skip
            if rec is None:
                assert e.record is None
            else:
                _same(rec, e.record)
        # a second read gives the same (pass 2 may be restarted by a caller)
        assert [e.index for e in spool.entries()] == [e.index for e in got]
    assert spool._fd == -1 and list(tmp_path.iterdir()) == []


def test_memory_records_come_first_then_the_file_in_order(tmp_path: Path) -> None:
    written: list[tuple[RawMessage, object, str]] = [
        (_raw("/lidar", 0, 321), _cloud(10, 0), ""),  # 10 * (12 + 4 + 2 + 2 + 8) = 280 bytes
        (_raw("/radar", 0), _radar(3, 0), ""),  # 3 * (12 + 4 + 8) = 72 bytes
        (_raw("/lidar", 1), None, "cannot deserialize: 4 bytes short"),  # no bytes
        (_raw("/lidar", 2), _cloud(20, 2), ""),  # 560 bytes: passes the 900-byte budget, spills
        (_raw("/radar", 1), _radar(1, 1), ""),  # would fit, but the order must hold: the file
        (_raw("/lidar", 3), _cloud(4, 3), ""),
    ]
    with Spool(str(tmp_path), memory_bytes=IN_FLIGHT_BYTES + 900) as spool:  # 900 bytes for records
        for raw, rec, err in written:
            spool.add(raw, rec, err)  # type: ignore[arg-type]
        spool.finish()
        assert spool.records == 6 and spool.memory_nbytes == 280 + 72
        assert spool.nbytes == os.fstat(spool._fd).st_size > 0
        assert written[0][1] is spool._memory[0].record  # kept as decoded: no copy
        got = list(spool.entries())
        assert [(e.topic, e.index) for e in got] == [(r.topic, r.index) for r, _, _ in written]
        for e, (raw, rec, err) in zip(got, written, strict=True):
            assert (e.record_time_ns, e.nbytes, e.error) == (raw.record_time_ns, len(raw.data), err)
            if rec is None:
                assert e.record is None
            else:
                _same(rec, e.record)
        # memory records are handed out once (pass 2 releases them); the file's can be read again
        assert [e.index for e in spool.entries()] == [2, 1, 3]


def test_memory_keeps_no_larger_buffer_alive(tmp_path: Path) -> None:
    msg = np.arange(4000, dtype=np.float32)  # a decoded column that is a view of a larger buffer
    cloud = _cloud(10, 0)
    view = PointCloud(cloud.meta, msg[:30].reshape(10, 3), {"intensity": msg[100:110]}, cloud.point_time_ns, "ouster_t")
    with Spool(str(tmp_path), memory_bytes=IN_FLIGHT_BYTES + (1 << 20)) as spool:
        spool.add(_raw("/lidar", 0), view)
        spool.add(_raw("/lidar", 1), cloud)
        (a, b) = list(spool.entries())
    assert a.record is not None and b.record is not None
    assert a.record.xyz.base is None and a.record.fields["intensity"].base is None  # copies of 120 / 40 bytes
    _same(view, a.record)
    assert a.record.point_time_ns is cloud.point_time_ns  # an array that owns its bytes is kept as is
    assert b.record is cloud


def test_memory_budget_includes_the_writes_in_flight(tmp_path: Path) -> None:
    for budget, kept in [(0, 0), (IN_FLIGHT_BYTES, 0), (IN_FLIGHT_BYTES + 280, 280), (IN_FLIGHT_BYTES + 279, 0)]:
        with Spool(str(tmp_path), memory_bytes=budget) as spool:
            spool.add(_raw("/lidar", 0), _cloud(10, 0))  # 280 array bytes
            assert spool.memory_nbytes == kept and (spool.nbytes > 0) == (kept == 0), budget


def test_giving_up_drops_the_memory_records(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), max_bytes=3_000, memory_bytes=IN_FLIGHT_BYTES + 500)
    spool.add(_raw("/lidar", 0), _cloud(10, 0))  # memory
    spool.add(_raw("/lidar", 1), _cloud(200, 1))  # the file, over its 3 kB budget
    assert "budget" in spool.abandoned and not spool.active
    assert list(spool.entries()) == []
    spool.close()
    assert list(tmp_path.iterdir()) == []


def test_budget_gives_up_cleanly(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), max_bytes=3_000)
    spool.add(_raw("/lidar", 0), _cloud(20, 0))
    assert spool.active and spool.records == 1
    spool.add(_raw("/lidar", 1), _cloud(200, 1))  # would exceed 3 kB
    assert not spool.active
    assert "budget" in spool.abandoned
    assert spool._fd == -1 and list(tmp_path.iterdir()) == []
    spool.add(_raw("/lidar", 2), _cloud(2, 2))  # ignored once abandoned
    assert list(spool.entries()) == []
    spool.close()


def _arrays(store: Path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}

    def walk(g: zarr.Group, prefix: str) -> None:
        for name, arr in g.arrays():
            out[prefix + name] = arr[...]
        for name, sub in g.groups():
            walk(sub, prefix + name + "/")

    walk(zarr.open_group(str(store), mode="r"), "")
    return out


@pytest.mark.parametrize("fmt", ["mcap", "bag"])
def test_with_without_and_abandoned_spool_convert_identically(tmp_path: Path, fmt: str) -> None:
    faults = Faults(drop_rate=0.03, duplicate_count=2, zero_stamp_count=2, corrupt_count=3, gap=(0.9, 0.4))
    bags, _, rig = make_log(tmp_path, (fmt,), faults=faults, duration_s=2.5)
    spool_dir = tmp_path / "spool"
    stores = {}
    for label, store_cfg in {
        "spool": StoreConfig(spool_dir=str(spool_dir), spool_memory_mb=256),  # all in memory
        "disk": StoreConfig(spool_dir=str(spool_dir), spool_memory_mb=0),
        "both": StoreConfig(spool_dir=str(spool_dir), spool_memory_mb=IN_FLIGHT_BYTES / 2**20 + 0.8),  # 0.8 MiB kept
        "off": StoreConfig(spool=False),
        "abandoned": StoreConfig(spool_dir=str(spool_dir), spool_max_gb=2e-4, spool_memory_mb=0),  # gives up
    }.items():
        out = tmp_path / f"{label}.zarr"
        convert([bags[fmt]], str(out), ConvertConfig(rig=str(rig), store=store_cfg))
        stores[label] = out
        assert not spool_dir.exists() or not any(spool_dir.iterdir())  # the spool file is gone
    reports = {k: fusion.open(str(v)).report for k, v in stores.items()}
    used = {k: r["spool"] for k, r in reports.items()}
    assert used["spool"]["used"] and used["spool"]["records"] > 0 and used["spool"]["bytes"] == 0
    assert used["spool"]["memory_bytes"] > 1 << 20  # the whole log's LiDAR/radar (1.7 MB)
    assert used["disk"]["memory_bytes"] == 0 and used["disk"]["bytes"] > used["spool"]["memory_bytes"]
    assert 0 < used["both"]["memory_bytes"] <= 0.8 * (1 << 20) and used["both"]["bytes"] > 0
    assert used["spool"]["records"] == used["disk"]["records"] == used["both"]["records"]
    assert not reports["off"]["spool"]["used"]
    assert not reports["abandoned"]["spool"]["used"] and "budget" in reports["abandoned"]["spool"]["reason"]
    assert any("spool abandoned" in w for w in reports["abandoned"]["warnings"])
    ref = _arrays(stores["spool"])
    for label in ("disk", "both", "off", "abandoned"):
        other = _arrays(stores[label])
        assert other.keys() == ref.keys()
        for name in ref.keys() - {"report"}:  # the report differs in its config and spool sections
            np.testing.assert_array_equal(other[name], ref[name], err_msg=f"{label}: {name}")
        assert reports[label]["skipped"] == reports["spool"]["skipped"]
        assert reports[label]["topics"] == reports["spool"]["topics"]
    # the corrupt LiDAR/radar messages were reported from the spool with the decoder's reason
    corrupt = [s for s in reports["spool"]["skipped"] if s["reason"] == "decode_error"]
    assert corrupt and all(s["detail"] for s in corrupt)


def test_interrupted_conversion_removes_the_spool(tmp_path: Path) -> None:
    bags, _, rig = make_log(tmp_path, ("mcap",), duration_s=1.0)
    spool_dir = tmp_path / "spool"
    calls = 0

    def progress(done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 40:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        convert(
            [bags["mcap"]], str(tmp_path / "x.zarr"),
            ConvertConfig(rig=str(rig), store=StoreConfig(spool_dir=str(spool_dir))), progress=progress,
        )  # fmt: skip
    assert spool_dir.is_dir() and list(spool_dir.iterdir()) == []


def test_a_failing_write_gives_up_with_writes_in_flight(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path))
    for i in range(3):
        spool.add(_raw("/lidar", i), _cloud(50, i))
    spool.finish()
    assert spool.active and spool.records == 3
    ro = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(ro, spool._fd)  # every later write fails (EBADF), like a disk that went away
    finally:
        os.close(ro)
    for i in range(3, 8):  # several records handed to the writer thread before the failure is seen
        spool.add(_raw("/lidar", i), _cloud(50, i))
    spool.finish()
    assert not spool.active
    assert spool.abandoned.startswith(f"cannot write the spool file in {tmp_path}")
    assert list(spool.entries()) == []
    spool.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("store", "message"),
    [
        ({"spool_memory_mb": -1}, "store.spool_memory_mb: expected a number ≥ 0 and ≤ 1e7 (MiB), got -1"),
        ({"spool_memory_mb": "lots"}, "store.spool_memory_mb: expected a number ≥ 0 and ≤ 1e7 (MiB), got 'lots'"),
        ({"spool_memory_mb": True}, "store.spool_memory_mb: expected a number ≥ 0 and ≤ 1e7 (MiB), got true"),
        ({"spool_max_gb": 0}, "store.spool_max_gb: expected a number > 0 and ≤ 1e6 (GB) or null, got 0"),
        ({"spool_memory": 5}, "unknown key 'store.spool_memory'"),
    ],
)
def test_spool_config_errors_name_the_key(store: dict[str, object], message: str) -> None:
    from fusion.errors import ConfigError
    from fusion.pipeline.config import config_from_dict

    with pytest.raises(ConfigError, match=re.escape(f"run.yaml: {message}")):
        config_from_dict({"store": store}, "run.yaml")
    assert config_from_dict({"store": {"spool_memory_mb": 0}}).store.spool_memory_mb == 0
