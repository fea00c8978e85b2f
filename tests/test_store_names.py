"""Names from the input or the config never escape into store paths: frame ids, topics and point-field
names are escaped (the original kept as an attribute), user-chosen sensor names are refused with one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rosbags.rosbag1 import Writer
from rosbags.typesys import Stores, get_typestore

import fusion
from fusion.cli.main import main
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.convert import convert
from fusion.store.names import MAX_NAME, check_name, safe_name, unsafe_reason

HOSTILE = ["..", ".", "../../etc", "zarr.json", "a/b", "__meta", "x" * 300, "ü ñ", "c", "", "a\nb"]


@given(st.text(max_size=400))
def test_safe_name_is_always_safe_and_keeps_safe_names(text: str) -> None:
    out = safe_name(text)
    assert unsafe_reason(out) is None
    assert len(out) <= MAX_NAME
    if unsafe_reason(text) is None:
        assert out == text


def test_long_names_that_differ_at_the_end_stay_different() -> None:
    a, b = "x" * 200 + "a", "x" * 200 + "b"
    assert safe_name(a) != safe_name(b)


@pytest.mark.parametrize("name", HOSTILE)
def test_user_names_are_refused_with_the_reason(name: str) -> None:
    with pytest.raises(fusion.FusionError, match="cannot name a stream in the store"):
        check_name(name, "sensor name")


def _cloud_bag(path: Path, frame_id: str, field: str, n_msgs: int = 5) -> Path:
    ts = get_typestore(Stores.ROS1_NOETIC)
    pc2 = ts.types["sensor_msgs/msg/PointCloud2"]
    pf = ts.types["sensor_msgs/msg/PointField"]
    header_t = ts.types["std_msgs/msg/Header"]
    time_t = ts.types["builtin_interfaces/msg/Time"]
    names = ["x", "y", "z", field]
    fields = [pf(name=n, offset=4 * i, datatype=7, count=1) for i, n in enumerate(names)]
    rng = np.random.default_rng(0)
    with Writer(path) as w:
        conn = w.add_connection("/points", pc2.__msgtype__, typestore=ts)
        for k in range(n_msgs):
            pts = rng.uniform(1, 20, size=(100, 4)).astype(np.float32)
            t_ns = 1_700_000_000_000_000_000 + k * 100_000_000
            msg = pc2(header=header_t(seq=k, stamp=time_t(sec=t_ns // 10**9, nanosec=t_ns % 10**9), frame_id=frame_id),
                      height=1, width=100, fields=fields, is_bigendian=False, point_step=16, row_step=1600,
                      data=pts.view(np.uint8).reshape(-1), is_dense=True)
            w.write(conn, t_ns, ts.serialize_ros1(msg, pc2.__msgtype__))
    return path


@pytest.mark.parametrize("frame_id", ["..", "zarr.json", "../../outside", "x" * 300])
def test_hostile_frame_ids_and_field_names_stay_inside_the_store(tmp_path: Path, frame_id: str) -> None:
    bag = _cloud_bag(tmp_path / "h.bag", frame_id, "../evil")
    store = tmp_path / "out" / "s.zarr"
    convert([bag], str(store), ConvertConfig())
    ds = fusion.open(str(store))
    (name,) = ds.sensors
    assert unsafe_reason(name) is None
    assert ds.stream(name).attrs["frame_id"] == frame_id  # the original is kept
    frame = ds[0]
    assert frame.lidar[name].xyz.shape == (100, 3)
    inside = {p.resolve() for p in tmp_path.rglob("*")}
    assert all(str(p).startswith(str((tmp_path / "out").resolve())) or p.parent == tmp_path.resolve()
               or p == (tmp_path / "out").resolve() for p in inside)
    assert not (tmp_path / "outside").exists() and not (tmp_path / "evil").exists()


def test_a_bad_sensor_name_in_the_sensor_map_is_one_error_line(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    bag = _cloud_bag(tmp_path / "h.bag", "lidar", "intensity")
    smap = tmp_path / "sensors.yaml"
    smap.write_text("sensors:\n  '..':\n    topic: /points\n    kind: lidar\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"sensors: {smap}\n")
    with pytest.raises(SystemExit) as exc:
        main(["convert", str(bag), "-o", str(tmp_path / "s.zarr"), "--config", str(cfg)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "'..'" in err[0] and "rename it" in err[0]
    assert not (tmp_path / "s.zarr").exists()
