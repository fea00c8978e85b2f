"""The ``packets:`` keys of the sensor map, and a Hesai packet bag converted through them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fusion
from fusion.errors import ConfigError
from fusion.lidar_packets.options import PacketOptions, packet_options
from fusion.readers.sensors import load_sensor_map

FUSION = [sys.executable, "-m", "fusion"]


def test_packet_options_parse(tmp_path: Path) -> None:
    assert packet_options(None, "x") == PacketOptions()
    o = packet_options({"vendor": "Hesai", "model": "xt32", "calibration": "cal/x.csv", "min_range_m": "0.05",
                        "cut_angle_deg": 90}, "m.yaml: sensors.l", tmp_path)
    assert o.vendor == "hesai" and o.model == "xt32" and o.calibration == str(tmp_path / "cal/x.csv")
    assert o.min_range_m == 0.05 and o.cut_angle_deg == 90.0 and o.max_range_m == 300.0
    for bad, needle in (({"vendr": "x"}, "unknown key"), ({"vendor": "sick"}, "packets.vendor"),
                        ({"return_mode": "second"}, "return_mode"), ({"min_range_m": "a"}, "must be a number"),
                        ({"min_range_m": 5, "max_range_m": 1}, "below max_range_m"), ("x", "mapping"),
                        ({"time_source": "gps"}, "time_source"), ({"metadata": "nope.json"}, "no such file")):
        with pytest.raises(ConfigError, match=needle):
            packet_options(bad, "m.yaml: sensors.l")


def test_sensor_map_packets_key(tmp_path: Path) -> None:
    p = tmp_path / "sensors.yaml"
    p.write_text("sensors:\n  lidar_top:\n    topic: /pandar_packets\n    kind: lidar\n"
                 "    packets: {model: PandarXT32, calibration: PandarXT32.csv}\n")
    spec = load_sensor_map(p).sensors["lidar_top"]
    assert spec.packets is not None and spec.packets.calibration == str(tmp_path / "PandarXT32.csv")
    assert spec.decode_options().packets == spec.packets


@pytest.mark.shared
@pytest.mark.slow
def test_hesai_bag_converts_through_the_sensor_map(shared_data: Path, tmp_path: Path) -> None:
    """XT32 packets → store: the last frame holds the reference scan's 63 021 points (measured)."""
    root = shared_data / "real" / "lidar_packets"
    bag = next((root / "hesai/xt32").glob("1*/"))
    shutil.copy(root / "calibration/hesai/PandarXT32.csv", tmp_path / "PandarXT32.csv")
    (tmp_path / "sensors.yaml").write_text(
        "sensors:\n  lidar_top:\n    topic: /pandar_packets\n    kind: lidar\n"
        "    packets: {calibration: PandarXT32.csv, min_range_m: 0.05, max_range_m: 120}\n")
    (tmp_path / "conv.yaml").write_text("sensors: sensors.yaml\n")
    store = tmp_path / "xt32.zarr"
    res = subprocess.run([*FUSION, "convert", str(bag), "-o", str(store), "--config", str(tmp_path / "conv.yaml")],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr
    assert subprocess.run([*FUSION, "validate", str(store)], capture_output=True, timeout=300).returncode == 0
    ds = fusion.open(str(store))
    # 4 messages + the 187-point sliver the log ends in, stored as one more row (measured)
    assert ds.stream("lidar_top").kind == "lidar" and len(ds.stream("lidar_top")) == 5
    assert len(ds.stream("lidar_top")[4]) == 187
    last = ds.stream("lidar_top")[3]
    assert last.xyz.shape == (63021, 3)
    t = last.time_ns
    assert 95e6 < t.max() - t.min() < 110e6  # one 10 Hz rotation of per-point times (measured 100.07 ms)
    rep = ds.report["lidar_packets"]["/pandar_packets"]
    assert rep["model"] == "PandarXT32" and rep["packets"] == 2000 and rep["bad_packets"] == 0
    assert rep["empty_returns"] == 25394  # masked and counted, never stored (measured)

    # without the spool, pass 2 reads the packets again: decoding restarts at message 0, same store
    (tmp_path / "conv2.yaml").write_text("sensors: sensors.yaml\nstore:\n  spool: false\n")
    store2 = tmp_path / "xt32_nospool.zarr"
    res = subprocess.run([*FUSION, "convert", str(bag), "-o", str(store2), "--config", str(tmp_path / "conv2.yaml")],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr
    ds2 = fusion.open(str(store2))
    assert len(ds2) == len(ds)
    for i in range(len(ds)):
        a, b = ds[i].lidar["lidar_top"], ds2[i].lidar["lidar_top"]
        assert np.array_equal(a.xyz, b.xyz) and np.array_equal(a.time_ns, b.time_ns)

    # without the calibration: one error line naming the key, exit 2
    bad = tmp_path / "bad.zarr"
    res = subprocess.run([*FUSION, "convert", str(bag), "-o", str(bad)], capture_output=True, text=True, timeout=900)
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "packets.calibration" in lines[0]


@pytest.mark.shared
def test_config_init_writes_the_packets_block(shared_data: Path, tmp_path: Path) -> None:
    """``fusion config init`` on a packet bag: vendor and model from the packets, calibration to fill in."""
    from fusion.pipeline.config_init import write_config

    bag = next((shared_data / "real/lidar_packets/hesai/xt32").glob("1*/"))
    write_config([bag], tmp_path / "fusion.yaml")
    spec = load_sensor_map(tmp_path / "fusion.sensors.yaml").sensors["hesai"]
    assert spec.kind == "lidar" and spec.packets is not None
    assert (spec.packets.vendor, spec.packets.model, spec.packets.calibration) == ("hesai", "PandarXT32", None)
    assert "set packets.calibration" in (tmp_path / "fusion.sensors.yaml").read_text()
