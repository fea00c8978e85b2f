"""Bounded fuzzing in CI: damaged bags and hostile documents only ever raise fusion's own errors.

Byte mutations (bit flips, overwritten runs, truncation, duplicated and zeroed ranges) of one
small generated bag per format are opened with ``open_bags``, every message is read and
decoded: only :class:`FusionError` subclasses may escape. The rig, config and OpenLABEL
parsers get hypothesis-generated hostile values: only ``RigFileError``/``CalibrationError``,
``ConfigError`` and ``AnnotationError`` may escape. ``tools/fuzz.py`` is the long-running
version (CLI in a subprocess, hang and crash detection).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import calibration as cal
from calibration.errors import CalibrationError
from fusion.errors import AnnotationError, ConfigError, FusionError
from fusion.readers import open_bags
from fusion.testing.synth import SynthConfig, generate

REPO = Path(__file__).resolve().parents[1]
SMALL = SynthConfig(duration_s=0.3, lidar_beams=8, lidar_columns=64, image_width=32, image_height=24)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("fuzzseed")
    return {k: Path(p) for k, p in generate(SMALL, out, formats=("bag", "db3", "mcap")).bags.items()}


def bag_file(path: Path) -> Path:
    return path if path.is_file() else next(p for p in path.iterdir() if p.suffix in (".db3", ".mcap"))


mutation = st.tuples(
    st.sampled_from(["bitflip", "overwrite", "truncate", "duplicate", "zero", "token"]),
    st.floats(0.0, 1.0), st.integers(1, 600), st.integers(0, 255), st.floats(0.0, 1.0),
)


TOKENS = [b"fields", b"float64", b"uint32", b"uint8[] data", b"Header header", b"string", b"time stamp",
          b"geometry_msgs/", b"sensor_msgs/msg/", b"MSG: "]


def apply(data: bytes, muts: list[tuple[str, float, int, int, float]]) -> bytes:
    b = bytearray(data)
    for kind, where, length, value, other in muts:
        if not b:
            break
        o = min(int(where * len(b)), len(b) - 1)
        if kind == "bitflip":
            b[o] ^= 1 << (value % 8)
        elif kind == "overwrite":
            b[o:o + length] = bytes([value]) * len(b[o:o + length])
        elif kind == "zero":
            b[o:o + length] = bytes(len(b[o:o + length]))
        elif kind == "token":  # damage the bag's own message definitions / schema text
            tok = TOKENS[value % len(TOKENS)]
            hits = [m.start() for m in re.finditer(re.escape(tok), b)][:200]
            if hits:
                h = hits[int(other * (len(hits) - 1))]
                b[h + length % len(tok)] = (value * 7 + 1) % 256
        elif kind == "truncate":
            del b[o:]
        else:
            at = min(int(other * len(b)), len(b))
            b[at:at] = b[o:o + length]
    return bytes(b)


def read_everything(path: Path) -> int:
    """Open, read and decode every message; a FusionError per message is what conversion skips."""
    n = 0
    with open_bags(path) as src:
        assert isinstance(src.topics, dict)  # kind detection deserializes a first message per topic
        for raw in src.messages():
            with contextlib.suppress(FusionError):
                src.decode(raw)
            n += 1
    return n


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["bag", "db3", "mcap"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(muts=st.lists(mutation, min_size=1, max_size=3))
def test_mutated_bags_raise_only_fusion_errors(seeds: dict[str, Path], tmp_path: Path, fmt: str,
                                               muts: list[tuple[str, float, int, int, float]]) -> None:
    src = seeds[fmt]
    case = tmp_path / "case"
    shutil.rmtree(case, ignore_errors=True)
    case.mkdir()
    dst = case / src.name
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy(src, dst)
    target = bag_file(dst)
    target.write_bytes(apply(target.read_bytes(), muts))
    try:
        read_everything(dst)
    except FusionError as exc:
        assert "\n" not in str(exc).strip() or len(str(exc)) < 2000, str(exc)


# ------------------------------------------------------------------------------------- documents
HOSTILE = st.one_of(
    st.text(max_size=8), st.integers(-(2**80), 2**80), st.floats(allow_nan=True, allow_infinity=True),
    st.none(), st.booleans(), st.just({}), st.just([]), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.just([[[[[[1]]]]]]),
)


def paths_of(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    for k, v in items:
        out.append((*prefix, k))
        out.extend(paths_of(v, (*prefix, k)))
    return out


def replaced(doc: Any, pick: int, value: Any) -> Any:
    doc = json.loads(json.dumps(doc))
    paths = paths_of(doc)
    path = paths[pick % len(paths)]
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return doc


RIG = yaml.safe_load((REPO / "configs/rigs/synthetic.yaml").read_text())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.integers(0, 10**6), value=HOSTILE)
def test_hostile_rig_values_raise_rig_file_error(tmp_path: Path, pick: int, value: Any) -> None:
    path = tmp_path / "rig.yaml"
    path.write_text(yaml.safe_dump(replaced(RIG, pick, value)))
    try:
        cal.load_rig(path)
    except CalibrationError as exc:
        assert "rig.yaml" in str(exc), str(exc)


CONFIG = yaml.safe_load((REPO / "configs/synthetic.yaml").read_text())
SENSORS = yaml.safe_load((REPO / "configs/sensors/synthetic.yaml").read_text())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["config", "sensors"]), pick=st.integers(0, 10**6), value=HOSTILE)
def test_hostile_config_values_raise_config_error(tmp_path: Path, which: str, pick: int, value: Any) -> None:
    from fusion.pipeline.config import load_config

    sensors = tmp_path / "sensors.yaml"
    cfg = dict(CONFIG, sensors=str(sensors), rig=str(REPO / "configs/rigs/synthetic.yaml"))
    sdoc = SENSORS
    if which == "config":
        cfg = replaced(cfg, pick, value)
    else:
        sdoc = replaced(SENSORS, pick, value)
    sensors.write_text(yaml.safe_dump(sdoc))
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with contextlib.suppress(ConfigError, CalibrationError):
        load_config(path)


def openlabel_doc() -> dict[str, Any]:
    import numpy as np

    from fusion.annotations.model import Cuboid
    from fusion.annotations.openlabel_encode import encode_openlabel

    boxes = [Cuboid(np.array([5.0 + f, 1.0, 0.5]), np.array([4.0, 2.0, 1.5]), np.array([0, 0, 0, 1.0]),
                    "car", "t1", frame="world", time_ns=1_000_000_000 + f * 100_000_000) for f in range(3)]
    return encode_openlabel(boxes)


OPENLABEL = openlabel_doc()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.integers(0, 10**6), value=HOSTILE, damage=st.sampled_from(["none", "utf8", "digits", "deep"]))
def test_hostile_openlabel_raises_annotation_error(tmp_path: Path, pick: int, value: Any, damage: str) -> None:
    from fusion.annotations.openlabel import OpenLabelCodec

    text = json.dumps(replaced(OPENLABEL, pick, value))
    path = tmp_path / "labels.json"
    if damage == "utf8":
        raw = text.encode()
        path.write_bytes(raw[: pick % len(raw)] + b"\xff" + raw[pick % len(raw):])
    elif damage == "digits":
        path.write_text(text.replace('"val": [', '"val": [' + "9" * 6000 + ", ", 1))
    elif damage == "deep":
        path.write_text('{"openlabel": ' + "[" * 100_000 + "]" * 100_000 + "}")
    else:
        path.write_text(text)
    try:
        OpenLabelCodec().decode(path)
    except AnnotationError as exc:
        assert "labels.json" in str(exc) or "openlabel" in str(exc), str(exc)
