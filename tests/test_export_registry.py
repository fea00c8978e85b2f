"""The exporter registry and what every format shares: `fusion export --help` lists the formats,
each format's options come from its exporter, memory does not grow with the number of frames,
nuScenes' category mapping (and its refusal of an unmapped label)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
from exportcheck import run_export
from hypothesis import given
from hypothesis import strategies as st

import fusion
from fusion.errors import ExportError
from fusion.export.common import Selection, parse_frames
from fusion.export.formats import EXPORTERS, get_exporter


def test_registry_and_help() -> None:
    res = run_export("--help")
    assert res.returncode == 0
    for name in ("points", *EXPORTERS):
        assert f"  {name} " in res.stdout
    for name in EXPORTERS:
        exporter = get_exporter(name)
        assert exporter.name == name
        text = run_export(name, "--help").stdout
        assert "--frames" in text and "--sensors" in text and f"fusion export {name} " in text  # an example
        for spec in exporter.options:
            assert (spec.cli or "--" + spec.name.replace("_", "-")) in text


def test_parse_frames() -> None:
    assert parse_frames("1:", 20) == range(1, 20)
    assert parse_frames(":5", 20) == range(0, 5)
    assert parse_frames("-3:", 20) == range(17, 20)
    assert parse_frames("0:20:5", 20) == range(0, 20, 5)
    assert parse_frames(None, 4) == range(4)


@given(st.integers(1, 50), st.one_of(st.none(), st.integers(-60, 60)), st.one_of(st.none(), st.integers(-60, 60)))
def test_parse_frames_is_python_slicing(n: int, a: int | None, b: int | None) -> None:
    text = f"{'' if a is None else a}:{'' if b is None else b}"
    expect = range(n)[a:b]
    if len(expect):
        assert parse_frames(text, n) == expect
    else:
        with pytest.raises(ExportError, match="selects no frame"):
            parse_frames(text, n)


@pytest.mark.slow
def test_overwrite_and_output_file(annotated_store: Path, tmp_path: Path) -> None:
    afile = tmp_path / "f.txt"
    afile.write_text("x")
    res = run_export("kitti", str(annotated_store), "-o", str(afile), "--frames", "1:3")
    assert res.returncode == 2 and "error:" in res.stderr and afile.read_text() == "x"
    out = tmp_path / "k"
    (out / "old").mkdir(parents=True)
    res = run_export("kitti", str(annotated_store), "-o", str(out), "--frames", "1:3")
    assert res.returncode == 2 and "--overwrite" in res.stderr and (out / "old").exists()
    res = run_export("kitti", str(annotated_store), "-o", str(out), "--frames", "1:3", "--overwrite")
    assert res.returncode == 0, res.stderr
    assert not (out / "old").exists() and len(list(out.glob("*/*_sync/oxts/data/*.txt"))) == 2


def peak_bytes(store: Path, out: Path, name: str, frames: range) -> int:
    ds = fusion.open(str(store))
    exporter = get_exporter(name)
    tracemalloc.start()
    try:
        exporter.export(ds, out, Selection(frames), lambda n: None)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_memory_does_not_grow_with_frames(annotated_store: Path, tmp_path: Path, name: str) -> None:
    peak_bytes(annotated_store, tmp_path / "warm", name, range(1, 3))  # imports, caches
    few = peak_bytes(annotated_store, tmp_path / "few", name, range(1, 4))
    many = peak_bytes(annotated_store, tmp_path / "many", name, range(1, 20))
    # 6x the frames; the peak is one frame's data plus small per-frame records
    # measured: kitti 2.89 MB / 2.89 MB, nuscenes 3.17 / 3.17, package 2.89 / 2.89 (3 / 19 frames)
    assert many < 1.5 * few + 200_000, (few, many)


@pytest.mark.slow
def test_nuscenes_category_map(annotated_store: Path, tmp_path: Path) -> None:
    cats = tmp_path / "cats.yaml"
    cats.write_text("car: vehicle.car\nstatic: movable_object.barrier\n")
    out = tmp_path / "nus"
    res = run_export("nuscenes", str(annotated_store), "-o", str(out), "--frames", "1:6", "--category-map", str(cats))
    assert res.returncode == 0, res.stderr
    names = sorted(c["name"] for c in json.loads((out / "v1.0-fusion" / "category.json").read_text()))
    assert names == ["movable_object.barrier", "vehicle.car"]
    cats.write_text("car: vehicle.car\n")
    res = run_export("nuscenes", str(annotated_store), "-o", str(tmp_path / "n2"), "--frames", "1:6",
                     "--category-map", str(cats))
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert res.returncode == 2 and len(lines) == 1 and "static" in lines[0], res.stderr
    assert not (tmp_path / "n2").exists()
