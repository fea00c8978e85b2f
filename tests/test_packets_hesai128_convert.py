"""Self-encoded Pandar128E3X, OT128 and AT128 ``PandarScan`` bags end to end: ``fusion convert`` +
``fusion validate`` + ``fusion.open`` (no recorded bag of these sensors is available)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hesai128_encode import (
    at128_dat,
    at128_packet,
    epoch,
    p128_calibration,
    p128_packet,
    write_angle_csv,
    write_scan_bag,
)
from storecmp import assert_same_store

import fusion
from fusion.store.validate import validate_store

pytestmark = pytest.mark.slow
FUSION = [sys.executable, "-m", "fusion"]
T0 = epoch(2025, 3, 1, 12, 0, 0)


def _p128_messages(start_cdeg: int = 9000) -> tuple[list, int]:
    """2.5 rotations at 10 Hz from ``start_cdeg`` (0.01°), 2° per block (90 packets per rotation), a 20 m
    sphere; 9 packets per message."""
    raw = np.full((2, 128), 5000, np.uint16)
    refl = np.full((2, 128), 80, np.uint8)
    pkts = []
    for p in range(225):
        az = [(start_cdeg + 400 * p) % 36000, (start_cdeg + 400 * p + 200) % 36000]
        usec = round(p * 100_000 / 90)
        t_ns = T0 * 10**9 + usec * 1000
        pkts.append((t_ns, p128_packet(az, raw, refl, secs=T0, usec=usec)))
    msgs = [(pkts[i][0] + 1_000_000, pkts[i:i + 9]) for i in range(0, len(pkts), 9)]
    return msgs, 225 * 256


def _at128_messages() -> tuple[list, int]:
    """4 mirror frames (10 Hz), blocks every 0.5° of motor over each frame's visible 15°–75°."""
    cal = at128_dat()
    raw = np.full((2, 128), 5000, np.uint16)
    refl = np.full((2, 128), 80, np.uint8)
    pkts = []
    for f in range(4):
        s = cal.frames()[f % 3][0]
        for i in range(60):
            a = [s + int((15 + i) * 25600), s + int((15.5 + i) * 25600)]
            usec = f * 100_000 + i * 500
            pkts.append((T0 * 10**9 + usec * 1000, at128_packet([x % (360 * 25600) for x in a], raw, refl,
                                                                  secs=T0, usec=usec)))
    msgs = [(pkts[i][0] + 1_000_000, pkts[i:i + 12]) for i in range(0, len(pkts), 12)]
    return msgs, 240 * 256


@pytest.mark.parametrize("model", ["Pandar128E3X", "AT128", "OT128"])
def test_self_encoded_bag_converts(model: str, tmp_path: Path) -> None:
    if model == "AT128":
        msgs, n_points = _at128_messages()
        cal = tmp_path / "AT128.dat"
        cal.write_bytes(at128_dat().to_bytes())
        rotations = 4
    else:
        msgs, n_points = _p128_messages()
        cal = write_angle_csv(tmp_path / "Pandar128.csv", *p128_calibration())
        rotations = 3  # 2.5 rotations from 90°: 3/4, one full, 3/4
    bag = write_scan_bag(tmp_path / "bag", msgs)
    from fusion.readers.inspect import inspect_bags

    (topic,) = inspect_bags(bag)["topics"].values()  # the model from the packets' header
    assert topic["kind"] == "lidar" and topic["packets"]["model"] == ("Pandar128E3X" if model == "OT128" else model)
    assert topic["packets"]["return_mode"] == "strongest"
    assert (".dat" in topic["packets"]["reads_as"]) == (model == "AT128")
    named = ", model: OT128" if model == "OT128" else ""  # an OT128 sends the E3X's packets: named in the map
    (tmp_path / "sensors.yaml").write_text(f"sensors:\n  top:\n    topic: /pandar_packets\n    kind: lidar\n"
                                           f"    packets: {{calibration: {cal.name}{named}}}\n")
    (tmp_path / "conv.yaml").write_text("sensors: sensors.yaml\n")
    store = tmp_path / "out.zarr"
    res = subprocess.run([*FUSION, "convert", str(bag), "-o", str(store), "--config", str(tmp_path / "conv.yaml"),
                          "--json"], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr
    val = subprocess.run([*FUSION, "validate", str(store)], capture_output=True, text=True, timeout=300)
    assert val.returncode == 0, val.stdout + val.stderr
    assert validate_store(str(store)).ok
    ds = fusion.open(str(store))
    assert ds.report["lidar_packets"]["/pandar_packets"]["model"] == ("Pandar128E4X" if model == "OT128" else model)
    s = ds.stream("top")
    assert s.kind == "lidar" and len(s) == rotations
    pts = [ds.stream("top")[i] for i in range(len(s))]
    total = sum(len(p.xyz) for p in pts)
    assert total == n_points  # every encoded return stored once
    for p in pts:
        r = np.linalg.norm(p.xyz, axis=1)
        np.testing.assert_allclose(r, 20.0, atol=1e-4)  # the 20 m sphere
        assert np.all(np.diff(np.sort(p.time_ns)) >= 0) and np.ptp(p.time_ns) < 110_000_000


def test_log_starting_at_the_cut_angle_loses_nothing(tmp_path: Path) -> None:
    """Packets from exactly the cut angle (0°): the first sweep is a sliver (the channels whose azimuth
    correction puts them just before the cut) whose first point shares the first full sweep's time. It
    is stored but makes no frame; the full sweep is not taken for a duplicate (it was skipped as
    ``duplicate_stamp`` before: ≈ 23 000 points lost)."""
    msgs, n_points = _p128_messages(start_cdeg=0)
    cal = write_angle_csv(tmp_path / "Pandar128.csv", *p128_calibration())
    bag = write_scan_bag(tmp_path / "bag", msgs)
    (tmp_path / "sensors.yaml").write_text(f"sensors:\n  top:\n    topic: /pandar_packets\n    kind: lidar\n"
                                           f"    packets: {{calibration: {cal.name}}}\n")
    (tmp_path / "conv.yaml").write_text("sensors: sensors.yaml\n")
    store = tmp_path / "out.zarr"
    res = subprocess.run([*FUSION, "convert", str(bag), "-o", str(store), "--config", str(tmp_path / "conv.yaml")],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr
    ds = fusion.open(str(store))
    topic = ds.report["topics"]["/pandar_packets"]
    assert not topic["skipped"], topic
    s = ds.stream("top")
    assert sum(len(s[i].xyz) for i in range(len(s))) == n_points  # every encoded return stored once
    spans = [np.ptp(s[i].time_ns) for i in range(len(s))]
    assert spans[0] < 0.5 * np.median(spans)  # the sliver
    assert len(s) == 4 and len(ds) == 2  # sliver, two full rotations, the last half: the full ones are frames


def test_without_spool_the_same_store(tmp_path: Path) -> None:
    """``store.spool: false`` (pass 1 reads the packets for the plan, pass 2 decodes them again): the same
    store as with the spool. A sweep's stamp is its first point's time — it was the header stamp of
    the message that completed the sweep without the spool (second sweep 170 ms vs 74.39 ms)."""
    msgs, _ = _p128_messages()
    cal = write_angle_csv(tmp_path / "Pandar128.csv", *p128_calibration())
    bag = write_scan_bag(tmp_path / "bag", msgs)
    (tmp_path / "sensors.yaml").write_text(f"sensors:\n  top:\n    topic: /pandar_packets\n    kind: lidar\n"
                                           f"    packets: {{calibration: {cal.name}}}\n")
    for spool in ("true", "false"):
        (tmp_path / f"{spool}.yaml").write_text(f"sensors: sensors.yaml\nstore:\n  spool: {spool}\n")
        res = subprocess.run([*FUSION, "convert", str(bag), "-o", str(tmp_path / f"{spool}.zarr"), "--config",
                              str(tmp_path / f"{spool}.yaml")], capture_output=True, text=True, timeout=900)
        assert res.returncode == 0, res.stderr
    assert_same_store(tmp_path / "true.zarr", tmp_path / "false.zarr", ignore=("config",),
                      root_attrs=("input_fingerprint",))  # the configurations differ: only there
    s = fusion.open(str(tmp_path / "false.zarr")).stream("top")
    stamps = s.time_ns
    firsts = [int(s[i].time_ns.min()) for i in range(len(s))]
    assert list(stamps) == firsts
