"""Two stores compared array for array: the identity check of conversions that must not change a store
(split by time vs one process, spool vs none)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import zarr

#: Report keys that record how a store was made, not what it holds (a split, the spool's use).
HOW_MADE = ("split", "spool")
#: Wall times in the report (differ between any two runs): (section, key).
WALL_TIMES = (("ego", "estimator_s"),)


def nodes(group: zarr.Group, path: str = "") -> dict[str, Any]:
    """Every group and array under ``group``, by path."""
    out: dict[str, Any] = {}
    for name, node in group.members():
        out[f"{path}/{name}"] = node
        if isinstance(node, zarr.Group):
            out.update(nodes(node, f"{path}/{name}"))
    return out


def report_of(store: Path) -> dict[str, Any]:
    """The store's conversion report."""
    return json.loads(bytes(zarr.open_group(str(store), mode="r")["report"][...]).decode())


def comparable(report: dict[str, Any], ignore: tuple[str, ...] = ()) -> dict[str, Any]:
    """The report without :data:`HOW_MADE`, ``ignore`` and :data:`WALL_TIMES`."""
    out = {k: v for k, v in report.items() if k not in HOW_MADE + ignore}
    for section, key in WALL_TIMES:
        if isinstance(out.get(section), dict):
            out[section] = {k: v for k, v in out[section].items() if k != key}
    return out


def assert_same_store(a: Path, b: Path, ignore: tuple[str, ...] = (), root_attrs: tuple[str, ...] = ()) -> None:
    """Every node, array and attribute equal; the report equal but for :data:`HOW_MADE` and ``ignore``; chunk
    files identical. ``root_attrs``: root attributes allowed to differ (``input_fingerprint`` when the
    configurations differ)."""
    ga, gb = zarr.open_group(str(a), mode="r"), zarr.open_group(str(b), mode="r")
    assert {k: v for k, v in ga.attrs.items() if k not in root_attrs} == \
        {k: v for k, v in gb.attrs.items() if k not in root_attrs}
    na, nb = nodes(ga), nodes(gb)
    assert sorted(na) == sorted(nb)
    for path, x in na.items():
        y = nb[path]
        assert type(x) is type(y), path
        if path == "/report":
            continue
        assert dict(x.attrs) == dict(y.attrs), path  # arrays: their chunk manifest (fusion_crc32c) too
        if isinstance(x, zarr.Array):
            assert (x.shape, x.dtype, x.chunks, x.shards) == (y.shape, y.dtype, y.chunks, y.shards), path
            u, v = x[...], y[...]
            assert np.array_equal(u, v, equal_nan=u.dtype.kind in "fc"), path
    assert comparable(report_of(a), ignore) == comparable(report_of(b), ignore)
    for f in a.rglob("*"):  # every chunk/shard object byte-identical (zarr.json: key order may differ)
        rel = f.relative_to(a)
        if f.is_file() and f.name != "zarr.json" and rel.parts[0] != "report":
            assert f.read_bytes() == (b / rel).read_bytes(), rel
