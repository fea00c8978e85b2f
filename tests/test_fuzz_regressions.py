"""Regressions found by tools/fuzz.py (issue 22): each defect with a small generated input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fusion
from fusion.errors import AnnotationError
from fusion.pipeline.config import load_config
from fusion.pipeline.convert import convert
from fusion.testing.synth import SynthConfig, generate

SMALL = SynthConfig(duration_s=0.5, lidar_beams=8, lidar_columns=64, image_width=32, image_height=24)


@pytest.fixture(scope="module")
def small_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fuzzreg")
    return Path(generate(SMALL, out, formats=("bag",)).bags["bag"])


def test_damage_mid_bag_accounts_every_message(small_bag: Path, tmp_path: Path) -> None:
    """A zeroed 4 KiB range mid-file stops both passes at the damage; the streams read in pass 1
    only (IMU, odometry) lost their unread messages from the report (found: in_bag 100, stored 43,
    skipped 0). Now the rest is one ``bag_truncated`` range per topic."""
    b = bytearray(small_bag.read_bytes())
    o = len(b) // 2
    b[o:o + 4096] = bytes(4096)
    bag = tmp_path / "damaged.bag"
    bag.write_bytes(bytes(b))
    convert([bag], str(tmp_path / "d.zarr"), load_config(None))
    topics = fusion.open(str(tmp_path / "d.zarr")).report["topics"]
    for topic, t in topics.items():
        assert t["stored"] + sum(t["skipped"].values()) == t["in_bag"], (topic, t)
    imu = topics["/imu/data"]
    assert 20 <= imu["stored"] <= 80 and imu["skipped"]["bag_truncated"] >= 20, imu  # measured: 43 + 57


@pytest.mark.parametrize(("data", "says"), [
    (b'{"openlabel": {"metadata": {"schema_version": "1.0.0", "name": "\xff"}}}', "not UTF-8 text (byte 6"),
    (b'{"openlabel": {"n": ' + b"9" * 6000 + b"}}", "unreadable number"),
    (b'{"openlabel": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
])
def test_unreadable_openlabel_is_one_annotation_error(tmp_path: Path, data: bytes, says: str) -> None:
    """Invalid UTF-8 (was UnicodeDecodeError), a 6000-digit integer (was ValueError from the
    int-conversion limit) and 100 000 nested arrays (was RecursionError) in an OpenLABEL file."""
    from fusion.annotations.openlabel import OpenLabelCodec

    path = tmp_path / "labels.json"
    path.write_bytes(data)
    with pytest.raises(AnnotationError) as err:
        OpenLabelCodec().decode(path)
    assert str(path) in str(err.value) and says in str(err.value) and "\n" not in str(err.value)


def test_unreadable_nuscenes_table_is_one_annotation_error(tmp_path: Path) -> None:
    from fusion.annotations.nuscenes import _load

    (tmp_path / "sample_annotation.json").write_bytes(json.dumps([{"a": 1}]).encode() + b"\xc3")
    with pytest.raises(AnnotationError, match=r"sample_annotation\.json: not UTF-8"):
        _load(tmp_path, "sample_annotation.json")


@pytest.mark.parametrize(("path", "value", "key"), [
    (("camera_front", "camera", "cx"), "abc", "camera.cx"),
    (("camera_front", "camera", "fx"), {}, "camera.fx"),
    (("camera_front", "camera", "width"), 1e308, "camera.width"),
    (("lidar_top", "T_base_sensor", "translation_m"), [0, 0, "\x00"], "translation_m"),
    (("imu", "time_offset_ns"), 2**63, "time_offset_ns"),
])
def test_hostile_rig_values_are_one_rig_file_error(tmp_path: Path, path: tuple[str, ...], value: object,
                                                   key: str) -> None:
    """Found by the fuzzer: ValueError ('\\x00' translation), OverflowError (time offset 2**63 reached
    the int64 stamp arithmetic), and non-numeric intrinsics got as far as numpy."""
    import yaml

    import calibration as cal

    doc = yaml.safe_load((Path(__file__).parents[1] / "configs/rigs/synthetic.yaml").read_text())
    node = doc["sensors"]
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    rig = tmp_path / "rig.yaml"
    rig.write_text(yaml.safe_dump(doc))
    with pytest.raises(cal.RigFileError) as err:
        cal.load_rig(rig)
    msg = str(err.value)
    assert str(rig) in msg and repr(path[0]) in msg and key in msg and "\n" not in msg, msg


def test_one_odometry_pose_before_the_damage_is_skipped_not_stored(small_bag: Path, tmp_path: Path) -> None:
    """A bag cut right after its first /odom message: the trajectory is empty (one pose), but the
    report counted the pose as stored, so ``fusion validate`` found "0 ego poses stored but the
    report counts 1". Now it is skipped as ``too_few_poses``."""
    from fusion.readers import open_bags
    from fusion.store.validate import validate_store

    data = small_bag.read_bytes()
    with open_bags(small_bag) as src:
        second = next(bytes(m.data) for m in src.messages(["/odom"]) if m.index == 1)
    bag = tmp_path / "cut.bag"
    bag.write_bytes(data[: data.find(second) - 1])
    store = str(tmp_path / "cut.zarr")
    convert([bag], store, load_config(None))
    odom = fusion.open(store).report["topics"]["/odom"]
    assert odom["stored"] == 0 and odom["skipped"].get("too_few_poses") == 1, odom
    assert odom["stored"] + sum(odom["skipped"].values()) == odom["in_bag"]
    problems = validate_store(store).problems  # left: the ego sensor stored nothing (true, and said)
    assert not [p for p in problems if "report counts" in p], problems


def test_damaged_pointcloud2_definition_in_the_bag_is_a_decode_error(small_bag: Path, tmp_path: Path) -> None:
    """One flipped bit turned ``fields`` into ``fkelds`` in the bag's own PointCloud2 definition:
    kind detection raised AttributeError. Now the topic opens and each message is a DecodeError."""
    from fusion.errors import DecodeError
    from fusion.readers import open_bags

    data = small_bag.read_bytes()
    assert data.count(b"PointField[] fields") >= 1
    bag = tmp_path / "typo.bag"
    bag.write_bytes(data.replace(b"PointField[] fields", b"PointField[] fkelds"))
    with open_bags(bag) as src:
        assert "/lidar/points" in src.topics
        raw = next(m for m in src.messages(["/lidar/points"]))
        with pytest.raises(DecodeError, match="fields"):
            src.decode(raw)


def test_deeply_nested_config_value_is_one_config_error(tmp_path: Path) -> None:
    """``frames.max_gap_ms`` nested 330 lists deep: the error message's YAML rendering of the
    value raised RecursionError."""
    from fusion.errors import ConfigError

    path = tmp_path / "config.yaml"
    path.write_text('{"frames": {"max_gap_ms": ' + "[" * 330 + "1" + "]" * 330 + "}}")
    with pytest.raises(ConfigError, match=r"frames\.max_gap_ms: .*nested too deeply") as err:
        load_config(path)
    assert "\n" not in str(err.value)


@pytest.mark.shared
def test_ros1_record_header_missing_a_field_is_damage(shared_data: Path, tmp_path: Path) -> None:
    """Three bit flips in nobleo_gps.bag (one turns a message record's ``conn`` field into ``bonn``,
    one damages the index so the sequential scanner reads the file): KeyError 'conn' escaped the
    scanner. Now the record is damage: every message before it is read, then TruncatedBagError."""
    from fusion.errors import TruncatedBagError
    from fusion.readers import open_bags

    b = bytearray((shared_data / "real" / "nobleo_gps.bag").read_bytes())
    for offset, value in ((21097, 64), (29776, 98), (36519, 236)):  # found by tools/fuzz.py --seed 2
        b[offset] = value
    bag = tmp_path / "flipped.bag"
    bag.write_bytes(bytes(b))
    n = 0
    try:
        with open_bags(bag) as src:
            for _ in src.messages():
                n += 1
    except TruncatedBagError as exc:
        assert str(bag) in str(exc)
    assert n > 0


@pytest.mark.parametrize(("path", "value", "says"), [
    (("radar_fields", "extras"), 0, "radar_fields.extras: expected a list of names, got 0"),  # fuzz seed 4
    (("radar_fields", "extras"), [1, 2], "radar_fields.extras[0]: expected a non-empty string, got 1"),
    (("radar_fields", "doppler_scale"), "fast", "doppler_scale: expected a finite non-zero number, got 'fast'"),
    (("radar_fields", "doppler_scale"), float("nan"), "doppler_scale: expected a finite non-zero number, got nan"),
    (("radar_fields", "doppler"), ["v"],
     "radar_fields.doppler: expected a non-empty string of at most 1000 characters, got a list [v]"),
    (("topic",), 7, "topic: expected a non-empty string of at most 1000 characters, got 7"),
    (("topics",), "/radar", "topics: expected a list of names, got '/radar'"),
    (("frame_id",), {"a": 1}, "frame_id: expected a non-empty string of at most 1000 characters, got a mapping {a: 1}"),
    (("info_topic",), True, "info_topic: expected a non-empty string of at most 1000 characters, got true"),
    (("child_frame",), "x" * 1001, "child_frame: expected a non-empty string of at most 1000 characters, got 'xxx"),
])
def test_hostile_sensor_map_values_are_one_config_error(tmp_path: Path, path: tuple[str, ...], value: object,
                                                        says: str) -> None:
    """A sensor map value of the wrong type (tools/fuzz.py seed 4: ``radar_fields.extras: 0`` gave
    ``TypeError: 'int' object is not iterable``)."""
    import yaml

    from fusion.errors import ConfigError
    from fusion.readers.sensors import load_sensor_map

    spec: dict[str, object] = {"topic": "/radar", "kind": "radar"}
    node = spec
    for key in path[:-1]:
        node = node.setdefault(key, {})  # type: ignore[assignment]
    node[path[-1]] = value
    if path == ("topics",):
        del spec["topic"]
    p = tmp_path / "sensors.yaml"
    p.write_text(yaml.safe_dump({"sensors": {"radar_front": spec}}, allow_unicode=True))
    with pytest.raises(ConfigError, match=None) as err:
        load_sensor_map(p)
    assert says in str(err.value) and str(p) in str(err.value) and "\n" not in str(err.value), str(err.value)
