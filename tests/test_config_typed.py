"""The conversion config is parsed once into typed frozen records; every bad value is ONE ConfigError.

The error names the key path, the value and what is expected; it never ends in a TypeError.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from synthlog import make_log

from fusion.errors import ConfigError
from fusion.pipeline.config import (
    SECTIONS,
    ClockConfig,
    ConvertConfig,
    EgoConfig,
    FramesConfig,
    StoreConfig,
    config_from_dict,
    load_config,
)
from fusion.sync.reference import FrameReference

REPO = Path(__file__).resolve().parents[1]
HUGE = "9" * 400  # an integer literal far beyond any float

# (YAML text, key path named in the error, text the error must contain)
BAD: list[tuple[str, str, str]] = [
    # numbers: wrong type, non-finite, out of range, huge, booleans, lists, mappings
    ("frames: {max_gap_ms: a hundred}", "frames.max_gap_ms",
     "expected a number > 0 and ≤ 1e9 (milliseconds), got 'a hundred'"),
    ("frames: {max_gap_ms: '100'}", "frames.max_gap_ms", "got '100' (a string"),
    ("frames: {max_gap_ms: 1e3}", "frames.max_gap_ms", "got '1e3' (a string"),  # YAML 1.1: a string
    ("frames: {max_gap_ms: .nan}", "frames.max_gap_ms", "got nan"),
    ("frames: {max_gap_ms: .inf}", "frames.max_gap_ms", "got inf"),
    ("frames: {max_gap_ms: -.inf}", "frames.max_gap_ms", "got -inf"),
    ("frames: {max_gap_ms: 1.0e+308}", "frames.max_gap_ms", "got 1e+308"),
    (f"frames: {{max_gap_ms: {HUGE}}}", "frames.max_gap_ms", "got an integer of 400 digits"),
    (f"frames: {{max_gap_ms: -{HUGE}}}", "frames.max_gap_ms", "got an integer of 400 digits"),
    ("frames: {max_gap_ms: 0}", "frames.max_gap_ms", "got 0"),
    ("frames: {max_gap_ms: true}", "frames.max_gap_ms", "got true"),
    ("frames: {max_gap_ms: [100]}", "frames.max_gap_ms", "got a list [100]"),
    ("frames: {max_gap_ms: {ms: 100}}", "frames.max_gap_ms", "got a mapping {ms: 100}"),
    ("frames: {max_gap_ms: null}", "frames.max_gap_ms", "got null"),
    ("frames: {age_penalty: -0.1}", "frames.age_penalty", "≥ 0 and ≤ 1e6"),
    ("frames: {age_penalty: 1.0e+308}", "frames.age_penalty", "got 1e+308"),
    ("frames: {age_penalty: false}", "frames.age_penalty", "got false"),
    ("frames: {lidar_azimuth_start_deg: 720}", "frames.lidar_azimuth_start_deg", "≥ -360 and ≤ 360 (degrees)"),
    ("frames: {lidar_azimuth_start_deg: .nan}", "frames.lidar_azimuth_start_deg", "got nan"),
    ("frames: {tolerance_ms: {camera_front: -1}}", "frames.tolerance_ms.camera_front", "got -1"),
    ("frames: {tolerance_ms: {camera_front: .inf}}", "frames.tolerance_ms.camera_front", "got inf"),
    ("frames: {tolerance_ms: {camera_front: '40'}}", "frames.tolerance_ms.camera_front", "got '40'"),
    ("frames: {tolerance_ms: 40}", "frames.tolerance_ms", "a mapping of sensor -> milliseconds, got 40"),
    ("frames: {tolerance_ms: {7: 40}}", "frames.tolerance_ms", "names are strings"),
    ("store: {spool_memory_mb: 1.0e+308}", "store.spool_memory_mb", "≥ 0 and ≤ 1e7 (MiB), got 1e+308"),
    (f"store: {{spool_memory_mb: {HUGE}}}", "store.spool_memory_mb", "got an integer of 400 digits"),
    ("store: {spool_max_gb: -1}", "store.spool_max_gb", "> 0 and ≤ 1e6 (GB) or null, got -1"),
    ("store: {spool_max_gb: [1]}", "store.spool_max_gb", "got a list [1]"),
    # booleans: only YAML booleans
    ("clock: {apply: maybe}", "clock.apply", "expected true or false, got 'maybe'"),
    ("clock: {apply: 1}", "clock.apply", "expected true or false, got 1"),
    ("clock: {apply: 'true'}", "clock.apply", "expected true or false, got 'true'"),
    ("frames: {unique: null}", "frames.unique", "got null"),
    ("store: {spool: 0.0}", "store.spool", "got 0.0"),
    ("store: {keep_raw_points: [true]}", "store.keep_raw_points", "got a list [true]"),
    # closed choices (Literal types)
    ("frames: {policy: fastest}", "frames.policy", "expected one of 'nearest', 'approximate_time', got 'fastest'"),
    ("frames: {policy: [nearest]}", "frames.policy", "got a list [nearest]"),
    ("frames: {reference_time: 5}", "frames.reference_time", "got 5"),
    ("frames: {lidar_direction: CW}", "frames.lidar_direction", "expected one of 'ccw', 'cw', got 'CW'"),
    ("deskew: true", "deskew", "expected one of 'off', 'frame', 'sweep_end', got true"),
    ("deskew: {mode: frame}", "deskew", "got a mapping"),
    # frame references
    ("frames: {reference: lidar}", "frames.reference", "got 'lidar'"),
    ("frames: {reference: 'lidar:'}", "frames.reference", "got 'lidar:'"),
    ("frames: {reference: 'gps:x'}", "frames.reference", "got 'gps:x'"),
    ("frames: {reference: 'rate:0'}", "frames.reference", "a number of Hz ≥ 0.001 and ≤ 1e6, got 'rate:0'"),
    ("frames: {reference: 'rate:1e-300'}", "frames.reference", "≥ 0.001 and ≤ 1e6, got 'rate:1e-300'"),
    ("frames: {reference: 'rate:nan'}", "frames.reference", "got 'rate:nan'"),
    ("frames: {reference: 'rate:1e400'}", "frames.reference", "got 'rate:1e400'"),
    ("frames: {reference: 'rate:ten'}", "frames.reference", "got 'rate:ten'"),
    ("frames: {reference: {lidar: top}}", "frames.reference", "got a mapping"),
    ("frames: {reference: 10}", "frames.reference", "'rate:<hz>', got 10"),
    # strings and lists of names
    ("sensors: 5", "sensors", "expected a non-empty string or null, got 5"),
    ("rig: [a.yaml]", "rig", "got a list [a.yaml]"),
    ("rig: ''", "rig", "got ''"),
    ("ego: {topic: 5}", "ego.topic", "got 5"),
    ("ego: {base_frame: null}", "ego.base_frame", "expected a non-empty string, got null"),
    ("ego: {world_frame: {a: b}}", "ego.world_frame", "got a mapping"),
    ("store: {spool_dir: 3}", "store.spool_dir", "got 3"),
    ("include_topics: /odom", "include_topics", "expected a list of names, got '/odom'"),
    ("msg_dirs: {a: 1}", "msg_dirs", "got a mapping"),
    ("clock: {estimate: [camera_left, 3]}", "clock.estimate[1]", "expected a non-empty string, got 3"),
    ("frames: {beam_crossing: camera_left}", "frames.beam_crossing", "got 'camera_left'"),
    ("frames: {beam_crossing: [[camera_left]]}", "frames.beam_crossing[0]", "got a list"),
    # sections and unknown keys (named, with the known ones)
    ("frames: 5", "frames", "expected a mapping of keys, got 5"),
    ("store: [spool]", "store", "expected a mapping of keys, got a list"),
    ("framez: {}", "unknown key 'framez'", "(known: clock, deskew, ego, exclude_topics, frames"),
    ("source_path: x.yaml", "unknown key 'source_path'", "known: clock"),
    ("frames: {referenc: 'lidar:lidar_top'}", "unknown key 'frames.referenc'", "known: age_penalty"),
    ("store: {spool_memory: 5}", "unknown key 'store.spool_memory'", "spool_memory_mb"),
    ("ego: {3: x}", "unknown key 'ego.3'", "known: base_frame"),
    ('"a\\nb": 1', "unknown key 'a\\nb'", "known: clock"),  # a line break in a key stays on one line
    ('frames: {tolerance_ms: {"cam\\n": -1}}', "frames.tolerance_ms.cam\\n", "got -1"),
    # keys that only make sense together
    ("frames: {reference: 'rate:10', beam_crossing: [camera_left]}", "frames.beam_crossing",
     "needs frames.reference: lidar:<name>"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "key", "needle"), BAD, ids=[b[0][:60] for b in BAD])
def test_a_bad_value_is_one_error_naming_the_key(tmp_path: Path, text: str, key: str, needle: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message and len(message) < 400, message
    assert message.startswith(f"{path}: {key}"), message
    assert needle in message, message
    # the same mapping given in code gives the same error
    with pytest.raises(ConfigError) as again:
        config_from_dict(yaml.safe_load(text), where=str(path))
    assert str(again.value) == message


@pytest.mark.parametrize(
    ("text", "check"),
    [
        ("frames: {max_gap_ms: 1.0e+9}", lambda c: c.frames.max_gap_ms == 1e9),
        ("frames: {max_gap_ms: 100}", lambda c: c.frames.max_gap_ms == 100 and type(c.frames.max_gap_ms) is int),
        ("frames: {tolerance_ms: {cam: 40}}", lambda c: dict(c.frames.tolerance_ms) == {"cam": 40.0}),
        ("frames: {tolerance_ms: null, beam_crossing: null}", lambda c: c.frames == type(c.frames)()),
        ("frames: {reference: 'rate:1000000'}", lambda c: c.frames.reference == FrameReference("rate", rate_hz=1e6)),
        ("frames: {reference: 'radar:radar_front'}", lambda c: c.frames.reference.kind == "radar"),
        ("frames: {lidar_azimuth_start_deg: -360, lidar_direction: cw}", lambda c: c.frames.lidar_direction == "cw"),
        ("store: {spool_memory_mb: 0, spool_max_gb: null}", lambda c: c.store.spool_memory_mb == 0),
        ("clock: {apply: yes}", lambda c: c.clock.apply is True),  # a YAML 1.1 boolean
        ("frames:\nstore:\n", lambda c: c == ConvertConfig(source_path=c.source_path)),  # empty sections
        ("", lambda c: c == ConvertConfig(source_path=c.source_path)),
    ],
)
def test_edge_values_are_accepted(tmp_path: Path, text: str, check: Any) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(text + "\n")
    assert check(load_config(path))


def test_every_record_field_has_exactly_one_reader() -> None:
    for cls, readers in SECTIONS.items():
        assert set(readers) == {f.name for f in fields(cls)}, cls.__name__


CONVERT_CONFIGS = sorted(REPO.glob("configs/*.yaml")) + sorted(REPO.glob("configs/real/*.yaml"))


def test_every_conversion_config_in_the_repository_is_covered() -> None:
    # configs/rigs and configs/sensors hold rig and sensor-mapping files (other schemas)
    others = {p for p in REPO.glob("configs/**/*.yaml") if p.parent.name not in ("rigs", "sensors")}
    assert others == set(CONVERT_CONFIGS) and len(CONVERT_CONFIGS) >= 2


@pytest.mark.parametrize("path", CONVERT_CONFIGS, ids=lambda p: p.name)
def test_parse_to_dict_parse_is_identity(path: Path) -> None:
    cfg = load_config(path)
    data = cfg.to_dict()
    assert ConvertConfig.from_dict(data) == cfg
    through_json = json.loads(json.dumps(data))  # as the store report keeps it (tuples become lists)
    again = ConvertConfig.from_dict(through_json)
    assert again == cfg and again.to_dict() == data


def test_to_dict_is_the_report_form() -> None:
    """The dict written into the store report (and hashed for --resume) keeps its exact form."""
    cfg = load_config(REPO / "configs" / "synthetic.yaml")
    assert cfg.to_dict() == {
        "sensors": "sensors/synthetic.yaml",
        "rig": "rigs/synthetic.yaml",
        "frames": {"reference": "lidar:lidar_top", "reference_time": "sweep_start", "policy": "nearest",
                   "tolerance_ms": {}, "unique": True, "max_gap_ms": 100, "age_penalty": 0.1, "beam_crossing": (),
                   "lidar_azimuth_start_deg": 0.0, "lidar_direction": "ccw"},
        "ego": {"topic": "/odom", "world_frame": None, "base_frame": "base_link", "source": "auto",
                "wheel_yaw_rate_sigma": None, "rate_hz": 50.0},
        "deskew": "frame",
        "clock": {"estimate": (), "apply": False, "auto_apply": True, "domain_threshold_s": 1.0,
                  "max_uncertainty_fraction": 0.25},
        "store": {"keep_raw_points": False, "spool": True, "spool_dir": None, "spool_max_gb": None,
                  "spool_memory_mb": 32.0},
        "include_topics": (), "exclude_topics": (), "msg_dirs": (),
        "source_path": str(REPO / "configs" / "synthetic.yaml"),
    }  # fmt: skip
    assert load_config(REPO / "configs" / "real" / "rio_radar.yaml").to_dict()["frames"]["reference"] == "rate:10"


@pytest.mark.parametrize("text", ["lidar:lidar_top", "camera:front", "radar:r", "rate:10", "rate:2.5", "rate:0.001"])
def test_frame_reference_text_round_trip(text: str) -> None:
    ref = FrameReference.parse(text)
    assert str(ref) == text and FrameReference.parse(str(ref)) == ref


# --- property: whatever YAML gives, the parse returns a config or raises ConfigError ---------------------------

_KEYS = sorted({name for readers in SECTIONS.values() for name in readers} | {"x", "", "frames.x"})
_WORDS = ["lidar:lidar_top", "camera:cam", "radar:r", "rate:10", "rate:-1", "rate:nan", "nearest", "approximate_time",
          "sweep_end", "header", "off", "frame", "cw", "ccw", "true", "1e3", "", "a:b:c"]  # fmt: skip
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(_WORDS)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS) | _SCALARS, inner, max_size=3),
    max_leaves=8,
)


def _section(cls: type) -> st.SearchStrategy[dict[Any, Any]]:
    keys = st.sampled_from(sorted(SECTIONS[cls])) | st.sampled_from(["bogus", "max_gap"])
    return st.dictionaries(keys, _VALUES, max_size=6)


_TOP = st.fixed_dictionaries(
    {},
    optional={
        "frames": _section(FramesConfig) | _VALUES,
        "ego": _section(EgoConfig) | _VALUES,
        "clock": _section(ClockConfig) | _VALUES,
        "store": _section(StoreConfig) | _VALUES,
        "deskew": _VALUES,
        "sensors": _VALUES,
        "include_topics": _VALUES,
    },
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_TOP, _VALUES))
@example({"\n": None})  # found by this test: the key was printed with its line break
def test_random_mappings_give_a_config_or_one_config_error(data: Any) -> None:
    try:
        cfg = config_from_dict(data, "h.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("h.yaml: ") and "\n" not in str(exc)
        return
    assert ConvertConfig.from_dict(cfg.to_dict()) == cfg


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_random_yaml_text_gives_a_config_or_one_config_error(tmp_path_factory: pytest.TempPathFactory,
                                                           text: str) -> None:  # fmt: skip
    path = tmp_path_factory.mktemp("h", numbered=True) / "c.yaml"
    path.write_text(text, encoding="utf-8")
    with contextlib.suppress(ConfigError):
        load_config(path)


# --- through the CLI --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    bags, _, _ = make_log(tmp_path_factory.mktemp("cfgcli"), ("mcap",), duration_s=1.0)
    return bags["mcap"]


@pytest.mark.parametrize(
    ("text", "args", "needle"),
    [
        ("frames: {max_gap_ms: a hundred}\n", [], "frames.max_gap_ms: expected a number > 0"),
        ("clock: {apply: maybe}\n", [], "clock.apply: expected true or false, got 'maybe'"),
        ("store: {spool_memory_mb: .nan}\n", [], "store.spool_memory_mb: expected a number ≥ 0"),
        (
            "frames: {reference: 'lidar:lidar_top', beam_crossing: [camera_left]}\n",
            ["--reference", "rate:10"],
            "command line: frames.beam_crossing needs frames.reference: lidar:<name>",
        ),
        ("", ["--reference", "rate:0"], "--reference: expected 'rate:<hz>' with a number of Hz ≥ 0.001"),
        ("", ["--reference", "camera:lidar_top"], "'camera:lidar_top' names a lidar sensor"),
    ],
)
def test_cli_bad_config_is_one_error_line(bag: Path, tmp_path: Path, text: str, args: list[str], needle: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    cmd = [sys.executable, "-m", "fusion", "convert", str(bag), "-o", str(tmp_path / "o.zarr"), "--config", str(cfg)]
    res = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=600)
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert needle in lines[0], lines[0]
