"""The typed pipeline ↔ store seam: a conversion into an in-memory sink equals the Zarr store it writes,
and every store writer owns its shard pool."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import zarr
from synthlog import make_log

from fusion.errors import StoreError
from fusion.kinds.lidar import add_lidar_stream
from fusion.pipeline.config import load_config
from fusion.pipeline.convert import convert
from fusion.store import StoreWriter
from fusion.store.memory import MemorySink

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("fmt", ["mcap", "bag"])
def test_conversion_into_memory_equals_the_store(tmp_path: Path, fmt: str) -> None:
    bags, _, _rig = make_log(tmp_path, formats=(fmt,), duration_s=1.5)
    cfg = load_config(REPO / "configs" / "synthetic.yaml")
    sink = MemorySink()
    mem = convert([bags[fmt]], "memory", cfg, sink=sink)
    disk = convert([bags[fmt]], str(tmp_path / "out.zarr"), cfg)
    assert sink.attrs["complete"] is True and mem.counts == disk.counts and mem.frames == disk.frames > 0
    root = zarr.open_group(str(tmp_path / "out.zarr"), mode="r")
    arrays = sink.arrays()
    on_disk = {name for name, node in root.members(max_depth=None) if isinstance(node, zarr.Array)} - {"report"}
    assert set(arrays) == on_disk
    for name, values in arrays.items():
        stored = np.asarray(root[name][...])
        assert values.dtype == stored.dtype, name
        np.testing.assert_array_equal(values, stored, err_msg=name)
    for name, group in sink.groups.items():
        assert group.attrs == dict(root[f"streams/{name}"].attrs), name
    assert sink.rig == dict(root["rig"].attrs)["rig"]


def test_writers_in_one_process_have_their_own_pools(tmp_path: Path) -> None:
    """A shard write that fails in one writer is raised by that writer only, never by another."""
    good = StoreWriter.create(tmp_path / "good.zarr")
    bad = StoreWriter.create(tmp_path / "bad.zarr")
    assert good.pool is not bad.pool
    xyz = np.ones((65536, 3), np.float32)
    lid_bad = add_lidar_stream(bad, "l", topic="/l", frame_id="l", fields={}, expected_messages=40,
                               expected_points=40 * 65536)

    def boom() -> None:
        raise OSError("disk full (injected)")

    bad.pool.submit(boom, 1)
    lid_good = add_lidar_stream(good, "l", topic="/l", frame_id="l", fields={}, expected_messages=40,
                                expected_points=40 * 65536)
    done = threading.Event()

    def write_good() -> None:
        for k in range(20):
            lid_good.append(k, k, k, k, xyz, np.zeros(65536, np.int32), {})
        good.finalize()
        done.set()

    t = threading.Thread(target=write_good)
    t.start()
    t.join(60)
    assert done.is_set()  # the failure in the other writer's pool did not reach this one
    with pytest.raises(OSError, match="injected"):
        lid_bad.append(0, 0, 0, 0, xyz, np.zeros(65536, np.int32), {})
        bad.finalize()
    bad.abort()
    with pytest.raises(StoreError, match="already finalized or aborted"):
        bad.write_report({})
