"""Vendor radar messages mapped declaratively (sensor map ``detections:``), end to end.

Two made-up vendor types written with rosbags' writers — a Cartesian object list with a sensor
timestamp in µs (ARS408-like) and a polar target array with angles in degrees (Ainstein-like) —
are converted with a sensor map, validated and read back through the API: every detection's
position, radial velocity, RCS and the hardware time equal what was written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

import fusion
from fusion.errors import ConfigError
from fusion.pipeline.config import ConvertConfig, FramesConfig
from fusion.pipeline.convert import convert
from fusion.readers.sensors import load_sensor_map
from fusion.store.validate import validate_store
from fusion.sync.reference import FrameReference

OBJECT = "float32 dist_long\nfloat32 dist_lat\nfloat32 vrel_long\nfloat32 rcs\n"
OBJECT_LIST = "std_msgs/Header header\nuint64 timestamp_us\nuint32 cycle\nacme_radar/Object[] objects\n"
TARGET = "float32 range\nfloat32 azimuth\nfloat32 elevation\nfloat32 speed\nfloat32 snr\n"
TARGET_ARRAY = "std_msgs/Header header\nacme_radar/Target[] targets\n"
T0 = 1_700_000_000_000_000_000
N_MSG = 30
PERIOD = 50_000_000  # 20 Hz
FRONT = FramesConfig(reference=FrameReference("radar", sensor="radar_front"))


def _store(ros1: bool) -> object:
    store = get_typestore(Stores.ROS1_NOETIC if ros1 else Stores.ROS2_HUMBLE)
    for text, name in ((OBJECT, "acme_radar/msg/Object"), (OBJECT_LIST, "acme_radar/msg/ObjectList"),
                       (TARGET, "acme_radar/msg/Target"), (TARGET_ARRAY, "acme_radar/msg/TargetArray")):
        store.register(dict(get_types_from_msg(text, name)))
    return store


def _truth(i: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(i)
    n = 5 + i % 4
    return {"x": rng.uniform(1, 80, n).astype(np.float32), "y": rng.uniform(-20, 20, n).astype(np.float32),
            "v": rng.uniform(-15, 15, n).astype(np.float32), "rcs": rng.uniform(-10, 30, n).astype(np.float32),
            "r": rng.uniform(1, 80, n).astype(np.float32), "az": rng.uniform(-60, 60, n).astype(np.float32),
            "el": rng.uniform(-5, 5, n).astype(np.float32)}


def write_bag(folder: Path, ros1: bool) -> Path:
    store = _store(ros1)
    ts: object = store
    Header = store.types["std_msgs/msg/Header"]  # type: ignore[attr-defined]
    Time = store.types["builtin_interfaces/msg/Time"]  # type: ignore[attr-defined]
    Obj, ObjList = store.types["acme_radar/msg/Object"], store.types["acme_radar/msg/ObjectList"]  # type: ignore[attr-defined]
    Tgt, TgtArr = store.types["acme_radar/msg/Target"], store.types["acme_radar/msg/TargetArray"]  # type: ignore[attr-defined]

    def header(t: int, frame: str) -> object:
        stamp = Time(sec=t // 10**9, nanosec=t % 10**9)
        return Header(seq=0, stamp=stamp, frame_id=frame) if ros1 else Header(stamp=stamp, frame_id=frame)

    path = folder / ("acme.bag" if ros1 else "acme")
    if ros1:
        from rosbags.rosbag1 import Writer as Ros1Writer

        writer: object = Ros1Writer(path)
    else:
        from rosbags.rosbag2 import StoragePlugin, Writer

        writer = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP)
    with writer as w:  # type: ignore[attr-defined]
        c1 = w.add_connection("/radar_front/objects", "acme_radar/msg/ObjectList", typestore=ts)
        c2 = w.add_connection("/radar_rear/targets", "acme_radar/msg/TargetArray", typestore=ts)
        c3 = w.add_connection("/radar_side/clusters", "acme_radar/msg/ObjectList", typestore=ts)
        for i in range(N_MSG):
            t = T0 + i * PERIOD
            tr = _truth(i)
            objs = [Obj(dist_long=float(a), dist_lat=float(b), vrel_long=float(v), rcs=float(r))
                    for a, b, v, r in zip(tr["x"], tr["y"], tr["v"], tr["rcs"], strict=True)]
            # the header stamp is the driver's publication time (8 ms late); timestamp_us the sensor's
            m1 = ObjList(header=header(t + 8_000_000, "radar_front"), timestamp_us=t // 1000, cycle=i, objects=objs)
            tgts = [Tgt(range=float(r), azimuth=float(a), elevation=float(e), speed=float(v), snr=float(s))
                    for r, a, e, v, s in zip(tr["r"], tr["az"], tr["el"], tr["v"], tr["rcs"], strict=True)]
            m2 = TgtArr(header=header(t + 20_000_000, "radar_rear"), targets=tgts)
            ser = store.serialize_ros1 if ros1 else store.serialize_cdr  # type: ignore[attr-defined]
            w.write(c1, t + 10_000_000, ser(m1, "acme_radar/msg/ObjectList"))
            w.write(c2, t + 22_000_000, ser(m2, "acme_radar/msg/TargetArray"))
            if i % 3 == 0:  # the side radar: one scan in SPLIT messages of its parts, numbered by cycle
                for k, part in enumerate(_side_parts(i // 3)):
                    objs = [Obj(dist_long=float(a), dist_lat=float(b), vrel_long=0.0, rcs=0.0) for a, b in part]
                    m3 = ObjList(header=header(t + 30_000_000, "radar_side"), timestamp_us=(t + k * 1000) // 1000,
                                 cycle=i // 3, objects=objs)
                    w.write(c3, t + 31_000_000 + k * 1000, ser(m3, "acme_radar/msg/ObjectList"))
    return path


SPLIT = 3


def _side_parts(scan: int) -> list[list[tuple[float, float]]]:
    """The parts of side-radar scan ``scan`` (the last scan of the log has one part only)."""
    n = 1 if scan == N_MSG // 3 - 1 else SPLIT
    return [[(float(scan * 10 + k), float(j)) for j in range(k + 1)] for k in range(n)]


SENSORS = {
    "sensors": {
        "radar_front": {"topic": "/radar_front/objects", "kind": "radar",
                        "detections": {"array": "objects", "x": "dist_long", "y": "dist_lat",
                                       "radial_velocity": "vrel_long", "rcs": "rcs",
                                       "stamp": {"field": "timestamp_us", "unit": "us"}}},
        "radar_rear": {"topic": "/radar_rear/targets", "kind": "radar",
                       "detections": {"array": "targets", "range": "range", "azimuth": "azimuth",
                                      "elevation": "elevation", "angle_unit": "deg", "radial_velocity": "speed",
                                      "velocity_scale": -1, "extras": ["snr"]}},
        "radar_side": {"topic": "/radar_side/clusters", "kind": "radar",
                       "detections": {"array": "objects", "x": "dist_long", "y": "dist_lat",
                                      "stamp": {"field": "timestamp_us", "unit": "us"}, "scan_counter": "cycle"}},
    }
}


@pytest.mark.parametrize("ros1", [False, True], ids=["ros2-mcap", "ros1-bag"])
def test_vendor_radar_converts_with_a_sensor_map(tmp_path: Path, ros1: bool) -> None:
    bag = write_bag(tmp_path, ros1)
    smap = tmp_path / "sensors.yaml"
    smap.write_text(yaml.safe_dump(SENSORS))
    out = tmp_path / "s.zarr"
    result = convert([bag], str(out), ConvertConfig(sensors=str(smap), frames=FRONT))
    assert result.counts["radar_front"] == N_MSG and result.counts["radar_rear"] == N_MSG
    assert validate_store(str(out)).ok
    ds = fusion.open(str(out))
    front, rear = ds.stream("radar_front"), ds.stream("radar_rear")
    for i in range(N_MSG):
        tr = _truth(i)
        f = front[i]
        assert np.array_equal(f.xyz, np.stack([tr["x"], tr["y"], np.zeros_like(tr["x"])], axis=1))
        assert np.array_equal(f.radial_velocity_mps, tr["v"]) and np.array_equal(f["rcs"], tr["rcs"])
        r = rear[i]
        az, el = np.radians(tr["az"].astype(np.float64)), np.radians(tr["el"].astype(np.float64))
        expect = np.stack([tr["r"] * np.cos(el) * np.cos(az), tr["r"] * np.cos(el) * np.sin(az),
                           tr["r"] * np.sin(el)], axis=1)
        assert np.abs(r.xyz - expect).max() < 1e-5  # float32 of the float64 conversion (measured 3.8e-6 m)
        assert np.array_equal(r.radial_velocity_mps, -tr["v"]) and np.array_equal(r["snr"], tr["rcs"])
    # the front radar's time is its sensor timestamp (µs), not the 8 ms later header stamp
    assert np.array_equal(front.stamp_ns, T0 + np.arange(N_MSG) * PERIOD)
    assert np.array_equal(rear.stamp_ns, T0 + 20_000_000 + np.arange(N_MSG) * PERIOD)  # header stamps
    assert len(ds) == N_MSG  # frames around the front radar


@pytest.mark.parametrize("spool", [True, False], ids=["spool", "no-spool"])
def test_scans_split_over_messages_are_joined_by_their_counter(tmp_path: Path, spool: bool) -> None:
    """9 scans in 3 messages each, then a last scan in one message (a trailing row): 10 rows, each
    the concatenation of its parts, stamped with its first part's sensor time; every message stored
    (carried over into its scan), none skipped."""
    from fusion.pipeline.config import StoreConfig

    bag = write_bag(tmp_path, False)
    smap = tmp_path / "sensors.yaml"
    smap.write_text(yaml.safe_dump(SENSORS))
    out = tmp_path / "s.zarr"
    convert([bag], str(out), ConvertConfig(sensors=str(smap), frames=FRONT, store=StoreConfig(spool=spool)))
    assert validate_store(str(out)).ok
    ds = fusion.open(str(out))
    side = ds.stream("radar_side")
    scans = N_MSG // 3
    assert len(side) == scans
    for s in range(scans):
        expect = np.array([p for part in _side_parts(s) for p in part], dtype=np.float32)
        assert np.array_equal(side[s].xyz[:, :2], expect), s
    assert np.array_equal(side.stamp_ns, T0 + np.arange(scans) * 3 * PERIOD)
    topic = ds.report["topics"]["/radar_side/clusters"]
    assert topic["in_bag"] == (scans - 1) * SPLIT + 1 and not topic["skipped"], topic
    assert topic["carried_over"] == (scans - 1) * (SPLIT - 1) + 1 and topic["trailing_rows"] == 1, topic
    matched = [f.radar["radar_side"].message_index for f in ds if "radar_side" in f.radar]
    assert sorted(set(matched)) == list(range(scans))  # every joined scan is some frame's match


def test_bad_detections_blocks_are_one_config_error(tmp_path: Path) -> None:
    cases = {
        "needs kind: radar": {"topic": "/a", "kind": "lidar", "detections": {"array": "o", "x": "a", "y": "b"}},
        ".detections.y is required": {"topic": "/a", "kind": "radar", "detections": {"array": "o", "x": "a"}},
        "not both": {"topic": "/a", "kind": "radar",
                     "detections": {"array": "o", "x": "a", "y": "b", "range": "r", "azimuth": "z"}},
        "angle_unit must be rad or deg": {"topic": "/a", "kind": "radar",
                                          "detections": {"array": "o", "range": "r", "azimuth": "z",
                                                         "angle_unit": "grad"}},
        "stamp.unit must be one of": {"topic": "/a", "kind": "radar",
                                      "detections": {"array": "o", "x": "a", "y": "b",
                                                     "stamp": {"field": "t", "unit": "fortnight"}}},
        "unknown key(s) colour": {"topic": "/a", "kind": "radar",
                                  "detections": {"array": "o", "x": "a", "y": "b", "colour": "red"}},
        "velocity_scale: expected a finite non-zero number, got 0": {
            "topic": "/a", "kind": "radar", "detections": {"array": "o", "x": "a", "y": "b", "velocity_scale": 0}},
    }
    for i, (message, spec) in enumerate(cases.items()):
        p = tmp_path / f"s{i}.yaml"
        p.write_text(yaml.safe_dump({"sensors": {"r": spec}}))
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_sensor_map(p)


def test_a_mapped_field_the_message_lacks_is_named(tmp_path: Path) -> None:
    bag = write_bag(tmp_path, False)
    bad = {"sensors": {"radar_front": {"topic": "/radar_front/objects", "kind": "radar",
                                       "detections": {"array": "objects", "x": "dist_long", "y": "dist_lateral"}}}}
    smap = tmp_path / "bad.yaml"
    smap.write_text(yaml.safe_dump(bad))
    from fusion.errors import FusionError

    with pytest.raises(FusionError) as err:
        convert([bag], str(tmp_path / "b.zarr"), ConvertConfig(sensors=str(smap), frames=FRONT))
    assert "dist_lateral" in str(err.value)
