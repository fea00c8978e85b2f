"""fusion.store.metadata: the documents written straight to a local store equal the ones zarr writes
(zarr's own calls on a twin store, local or in memory), with zarr's semantics for existing nodes,
missing parents, attribute updates, resizes and consolidation; and shard files written directly."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from zarr.storage import LocalStore, MemoryStore

from fusion.store import layout as lay
from fusion.store._zarr_compat import GroupMetadata
from fusion.store.buffers import ColumnBuffer
from fusion.store.create import NodeBatch
from fusion.store.localfs import local_root, write_file_atomic
from fusion.store.metadata import consolidate, set_length, update_attributes, write_nodes


def _docs(store: Any) -> dict[str, Any]:
    """Every zarr.json of a store, parsed: path -> document."""
    if isinstance(store, LocalStore):
        root = Path(store.root)
        rel = (p.parent.relative_to(root).as_posix() for p in root.rglob("zarr.json"))
        return {("" if r == "." else r): json.loads((root / r / "zarr.json").read_bytes()) for r in rel}
    return {
        k[: -len("/zarr.json")] if "/" in k else "": json.loads(v.to_bytes())
        for k, v in store._store_dict.items()
        if k.endswith("zarr.json")
    }


def _tree(store: Any) -> None:
    """A batch with a group, columns of several kinds and a missing parent (``streams``)."""
    root = zarr.open_group(store, mode="w", attributes={"a": 1})
    batch = NodeBatch(root.store)
    g = batch.group(root, "streams/cam", {"kind": "camera", "count": 0})  # streams/ itself is missing
    batch.column(g, "stamp_ns", dtype="int64", inner_shape=(), spec=lay.MESSAGE, expected_rows=7)
    batch.column(g, "xyz", dtype="float32", inner_shape=(3,), spec=lay.LIDAR_XYZ, expected_rows=9, fill_value=-1)
    batch.column(g, "valid", dtype="bool", inner_shape=(), spec=lay.FRAME, expected_rows=3, fill_value=False)
    batch.write()


def test_local_documents_equal_zarrs(tmp_path: Path) -> None:
    local, memory = LocalStore(tmp_path / "s.zarr"), MemoryStore()
    assert local_root(local) == tmp_path / "s.zarr" and local_root(memory) is None
    assert local_root(LocalStore(tmp_path / "s.zarr", read_only=True)) is None
    for store in (local, memory):
        _tree(store)
    ours, theirs = _docs(local), _docs(memory)
    assert sorted(ours) == sorted(theirs) == ["", "streams", "streams/cam", "streams/cam/stamp_ns",
                                              "streams/cam/valid", "streams/cam/xyz"]  # fmt: skip
    assert ours == theirs
    assert not list((tmp_path / "s.zarr").rglob("*.partial"))


@pytest.mark.parametrize("kind", ["local", "memory"])
def test_existing_nodes_and_array_parents(tmp_path: Path, kind: str) -> None:
    store = LocalStore(tmp_path / "s.zarr") if kind == "local" else MemoryStore()
    _tree(store)
    root = zarr.open_group(store, mode="r+")
    cam = root["streams/cam"]
    g = GroupMetadata(attributes={"new": True}, zarr_format=3)
    with pytest.raises(zarr.errors.ContainsGroupError):
        write_nodes(store, {"streams/cam": g})
    with pytest.raises(zarr.errors.ContainsArrayError):
        write_nodes(store, {"streams/cam/xyz": g})
    with pytest.raises(zarr.errors.ContainsArrayError):  # a parent that is an array
        write_nodes(store, {"streams/cam/xyz/below": g})
    if kind == "local":  # zarr 3.1.6 with overwrite=True writes the group inside the array; fusion refuses
        with pytest.raises(zarr.errors.ContainsArrayError):  # and changes nothing else of the batch either
            write_nodes(store, {"streams/new": g, "streams/cam/xyz/below": g}, overwrite=True)
        assert "new" not in zarr.open_group(store, mode="r")["streams"]
        assert sorted(zarr.open_group(store, mode="r")["streams/cam"].keys()) == ["stamp_ns", "valid", "xyz"]
    write_nodes(store, {"streams/other": g, "streams/other/xyz/below": g}, overwrite=True)  # parents created
    assert isinstance(zarr.open_group(store, mode="r")["streams/other/xyz"], zarr.Group)
    # replaced with everything below it: the array xyz goes with it, so a group may now stand below its path
    write_nodes(store, {"streams/cam": g, "streams/cam/xyz/below": g}, overwrite=True)
    back = zarr.open_group(store, mode="r")
    assert back["streams/cam"].attrs.asdict() == {"new": True}
    assert list(back["streams/cam"].keys()) == ["xyz"] and list(back["streams/cam/xyz"].keys()) == ["below"]
    assert back.attrs["a"] == 1 and isinstance(cam, zarr.Group)


@pytest.mark.parametrize("kind", ["local", "memory"])
def test_attributes_and_length_like_zarr(tmp_path: Path, kind: str) -> None:
    ours = LocalStore(tmp_path / "ours.zarr") if kind == "local" else MemoryStore()
    theirs = LocalStore(tmp_path / "theirs.zarr")
    for store in (ours, theirs):
        _tree(store)
    a = zarr.open_group(ours, mode="r+")
    b = zarr.open_group(theirs, mode="r+")
    update_attributes(a["streams/cam"], {"count": 5, "formats": ["jpeg"]})
    b["streams/cam"].attrs.update({"count": 5, "formats": ["jpeg"]})
    assert a["streams/cam"].attrs.asdict() == {"kind": "camera", "count": 5, "formats": ["jpeg"]}
    arr = a["streams/cam/xyz"]
    update_attributes(arr, {"unit": "m"})
    assert arr.attrs["unit"] == "m"  # the object in memory too
    b["streams/cam/xyz"].attrs.update({"unit": "m"})
    arr = set_length(arr, 4)
    b["streams/cam/xyz"].resize((4, 3))
    assert arr.shape == (4, 3)
    arr[:] = np.arange(12, dtype=np.float32).reshape(4, 3)  # the returned array is usable
    np.testing.assert_array_equal(zarr.open_array(ours, path="streams/cam/xyz")[:], np.arange(12).reshape(4, 3))
    assert _docs(ours) == _docs(theirs)


def test_consolidate_equals_zarrs(tmp_path: Path) -> None:
    ours = tmp_path / "ours.zarr"
    _tree(LocalStore(ours))
    g = zarr.open_group(ours, mode="r+")
    g.create_group("frames")  # an empty child group
    (ours / "not_a_node").mkdir()  # a folder without a document: not a member
    report = g.create_array("report", shape=(5,), dtype="uint8", chunks=(5,))
    report[:] = np.arange(5, dtype=np.uint8)
    theirs = tmp_path / "theirs.zarr"
    shutil.copytree(ours, theirs)
    consolidate(LocalStore(ours), {"complete": True})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(str(theirs))
    zarr.open_group(str(theirs), mode="r+").attrs.update({"complete": True})
    doc_ours, doc_theirs = (json.loads((p / "zarr.json").read_bytes()) for p in (ours, theirs))
    assert doc_ours == doc_theirs
    assert doc_ours["attributes"] == {"a": 1, "complete": True}
    assert "not_a_node" not in doc_ours["consolidated_metadata"]["metadata"]
    back = zarr.open_group(str(ours), mode="r", use_consolidated=True)
    np.testing.assert_array_equal(back["report"][:], np.arange(5))


def test_consolidate_through_zarr_elsewhere() -> None:
    store = MemoryStore()
    _tree(store)
    consolidate(store, {"complete": True})
    back = zarr.open_group(store, mode="r", use_consolidated=True)
    assert back.attrs["complete"] is True and back.metadata.consolidated_metadata is not None
    assert "streams/cam/xyz" in back.metadata.consolidated_metadata.flattened_metadata


def test_shards_in_memory_equal_shards_on_disk(tmp_path: Path) -> None:
    """The same column through the direct file write and through zarr's store.set."""
    data = np.random.default_rng(3).normal(size=(lay.LIDAR_XYZ.shard_rows + 100, 3)).astype(np.float32)
    blobs = []
    for store in (LocalStore(tmp_path / "s.zarr"), MemoryStore()):
        g = zarr.open_group(store, mode="w")
        batch = NodeBatch(store)
        arr = batch.column(g, "xyz", dtype="float32", inner_shape=(3,), spec=lay.LIDAR_XYZ, expected_rows=1)
        batch.write()
        buf = ColumnBuffer(arr, "xyz")
        buf.append(data)
        assert buf.finalize() == len(data)
        np.testing.assert_array_equal(zarr.open_array(store, path="xyz", mode="r")[:], data)
        blobs.append(_shards(store))
    assert blobs[0] == blobs[1] and len(blobs[0]) == 2


def _shards(store: Any) -> dict[str, bytes]:
    if isinstance(store, LocalStore):
        root = Path(store.root)
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in (root / "xyz" / "c").rglob("*") if p.is_file()}
    return {k: v.to_bytes() for k, v in store._store_dict.items() if k.startswith("xyz/c/")}


def test_write_file_atomic(tmp_path: Path) -> None:
    parts = [bytes([i % 256]) * (i % 7) for i in range(3000)]  # more parts than one writev takes
    parts += [memoryview(np.arange(10, dtype=np.float64)).cast("B"), b""]
    path = tmp_path / "a" / "b" / "obj"
    write_file_atomic(path, parts)
    assert path.read_bytes() == b"".join(bytes(p) for p in parts)
    write_file_atomic(path, [b"again"])  # replaces
    assert path.read_bytes() == b"again"
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "x").write_bytes(b"")
    with pytest.raises(OSError):
        write_file_atomic(tmp_path / "dir", [b"not over a folder"])
    assert sorted(os.listdir(tmp_path)) == ["a", "dir"]  # no temporary file left behind
    assert not list(tmp_path.rglob("*.partial"))
