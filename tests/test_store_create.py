"""Batched creation of groups and columns (fusion.store.create): the documents zarr writes, one
``create_hierarchy`` call, never an overwrite unless asked, replace semantics when asked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import zarr
from test_store_shards import CASES

from fusion.store import layout as lay
from fusion.store.create import WRITE_CONFIG, NodeBatch


def test_a_batch_writes_its_groups_and_columns_together(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "s.zarr", mode="w")
    batch = NodeBatch(root.store)
    streams = root.create_group("streams")
    g = batch.group(streams, "lidar_top", {"kind": "lidar", "count": 0})
    arr = batch.column(g, "xyz", dtype="float32", inner_shape=(3,), spec=lay.LIDAR_XYZ, expected_rows=10)
    assert g.path == "streams/lidar_top" and arr.path == "streams/lidar_top/xyz"
    assert not (tmp_path / "s.zarr" / "streams" / "lidar_top").exists()  # nothing before write()
    batch.write()
    batch.write()  # nothing pending: a no-op
    back = zarr.open_group(tmp_path / "s.zarr" / "streams" / "lidar_top", mode="r")
    assert back.attrs.asdict() == {"kind": "lidar", "count": 0}
    assert json.loads((tmp_path / "s.zarr/streams/lidar_top/zarr.json").read_text())["node_type"] == "group"
    assert back["xyz"].shape == (10, 3)
    g.attrs.update({"count": 7})  # the returned group is a live zarr group
    assert zarr.open_group(tmp_path / "s.zarr" / "streams" / "lidar_top").attrs["count"] == 7


def test_overwrite_replaces_a_group_with_everything_below_it(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "s.zarr", mode="w")
    old = root.create_group("frames", attributes={"count": 3})
    old.create_group("sensors").create_group("stale").create_array("index", shape=(3,), dtype="int64")
    keep = root.create_group("streams")  # a sibling: untouched
    keep.attrs.update({"x": 1})
    with pytest.raises(zarr.errors.ContainsGroupError):
        b = NodeBatch(root.store)
        b.group(root, "frames", {"count": 5})
        b.write()
    batch = NodeBatch(root.store, overwrite=True)
    frames = batch.group(root, "frames", {"count": 5})
    sensors = batch.group(frames, "sensors")
    batch.column(batch.group(sensors, "cam"), "valid", dtype="bool", inner_shape=(), spec=lay.FRAME,
                 expected_rows=5, fill_value=False)  # fmt: skip
    batch.write()
    back = zarr.open_group(tmp_path / "s.zarr", mode="r")
    assert back["frames"].attrs["count"] == 5
    assert sorted(back["frames/sensors"].group_keys()) == ["cam"]  # the stale sensor is gone
    assert back["frames/sensors/cam/valid"].shape == (5,)
    assert back["streams"].attrs["x"] == 1
    np.testing.assert_array_equal(back["frames/sensors/cam/valid"][:], np.zeros(5, bool))


@pytest.mark.parametrize(("name", "dtype", "inner", "spec"), CASES)
@pytest.mark.parametrize("fill", [0, -1, False, float("nan")])
def test_batched_columns_write_the_metadata_zarr_writes(
    tmp_path: Path, name: str, dtype: str, inner: tuple[int, ...], spec: lay.ColumnSpec, fill: object
) -> None:
    kind = np.dtype(dtype).kind
    if (fill != fill and kind in "iu") or (fill == -1 and kind == "u"):  # NaN / -1 where the dtype cannot hold it
        fill = 0  # a fill value the dtype can hold
    g = zarr.open_group(tmp_path / "s.zarr", mode="w")
    attrs = {"unit": "m", "k": [1, 2]}
    ref = g.create_array("ref", shape=(1234, *inner), dtype=dtype, chunks=(spec.chunk_rows, *inner),
                         shards=(spec.shard_rows, *inner), compressors=lay.compressors(spec.codec),
                         fill_value=fill, attributes=attrs, config=WRITE_CONFIG)  # fmt: skip
    batch = NodeBatch(g.store)
    sub = g.create_group("sub")
    ours = batch.column(sub, "ours", dtype=dtype, inner_shape=inner, spec=spec, expected_rows=1234,
                        fill_value=fill, attrs=attrs)  # fmt: skip
    assert not (tmp_path / "s.zarr" / "sub" / "ours" / "zarr.json").exists()  # nothing written before write()
    batch.write()
    doc = json.loads((tmp_path / "s.zarr" / "sub" / "ours" / "zarr.json").read_text())
    assert doc == json.loads((tmp_path / "s.zarr" / "ref" / "zarr.json").read_text())
    reopened = zarr.open_array(tmp_path / "s.zarr" / "sub" / "ours")
    if fill == fill:  # NaN fill values compare unequal (the documents above are equal)
        assert reopened.metadata == ref.metadata == ours.metadata
    assert ours.shape == (1234, *inner) and ours.path == "sub/ours"
    ours.resize((10, *inner))  # metadata operations work on the returned array
    assert zarr.open_array(tmp_path / "s.zarr" / "sub" / "ours").shape == (10, *inner)
    batch.column(sub, "ours", dtype=dtype, inner_shape=inner, spec=spec, expected_rows=1)
    with pytest.raises(zarr.errors.ContainsArrayError):
        batch.write()  # never overwrites a node
