"""``radar_msgs/RadarTracks`` stored as a ``radar_tracks`` stream, end to end through the CLI.

A log of a radar (RadarScan) with its tracker's output on the same frame, plus a camera, is written
with rosbags' writer; ``fusion convert`` + ``fusion validate`` run as a user would, once with the
spool in memory, once with every spooled message on disk and once without a spool (pass 2 reads
the bag again). Every stored track equals the written one, frames show the nearest track message,
``fusion inspect`` names the topic.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_kinds_conformance import radar_tracks

import fusion
from fusion.testing.kinds import NS, T0, header, typestore, write_mcap

M = 20


def _log(tmp: Path) -> tuple[Path, list[Any]]:
    store = typestore()
    T = store.types
    msgs: list[tuple[str, str, int, Any]] = []
    written = []
    for k in range(M):
        stamp = T0 + k * NS // 10 + 7_000_000  # tracks 7 ms after each 10 Hz tick
        tr = radar_tracks(store, stamp, "radar", k)
        written.append(tr)
        msgs.append(("/radar/tracks", "radar_msgs/msg/RadarTracks", stamp + 2_000_000, tr))
        ret = T["radar_msgs/msg/RadarReturn"](range=10.0 + k, azimuth=0.1, elevation=0.0, doppler_velocity=1.0,
                                              amplitude=3.0)
        scan_stamp = T0 + k * NS // 10 + 1_000_000
        msgs.append(("/radar/scan", "radar_msgs/msg/RadarScan", scan_stamp + 1_000_000,
                     T["radar_msgs/msg/RadarScan"](header=header(store, scan_stamp, "radar"), returns=[ret])))
    msgs.sort(key=lambda m: m[2])
    return write_mcap(tmp / "log", store, msgs), written


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fusion", *args], capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(Path(__file__).parent.parent), "PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    return _log(tmp_path_factory.mktemp("tracks"))


@pytest.mark.parametrize("store_cfg", ["spool: true", "spool: true\n  spool_memory_mb: 0", "spool: false"])
def test_convert_validate_read(log: tuple[Path, list[Any]], tmp_path: Path, store_cfg: str) -> None:
    bag, written = log
    cfg = tmp_path / "fusion.yaml"
    cfg.write_text(f"frames:\n  reference: radar:radar\nstore:\n  {store_cfg}\n")
    out = tmp_path / "out.zarr"
    r = _cli("convert", str(bag), "-o", str(out), "--config", str(cfg), "--json")
    assert r.returncode == 0, r.stderr
    v = _cli("validate", str(out))
    assert v.returncode == 0, v.stdout + v.stderr
    ds = fusion.open(str(out))
    names = {n: s.kind for n, s in ds.sensors.items()}
    assert names == {"radar": "radar", "radar_radar_tracks": "radar_tracks"}, names
    report = json.loads(r.stdout)
    stream = ds.stream("radar_radar_tracks")
    assert len(stream) == M
    n_tracks = [len(t.tracks) for t in written]
    assert sum(n_tracks) == 48 and n_tracks[5] == 0  # 1 + k % 4 tracks, none in message 5
    for i, msg in enumerate(written):
        view = stream[i]
        assert len(view) == n_tracks[i]
        assert view.uuid == [bytes(t.uuid.uuid).hex() for t in msg.tracks]
        want = np.array([[t.position.x, t.position.y, t.position.z] for t in msg.tracks], np.float32).reshape(-1, 3)
        np.testing.assert_array_equal(view.position_m, want)
        np.testing.assert_array_equal(view["velocity_covariance_m2ps2"],
                                      np.array([t.velocity_covariance for t in msg.tracks], np.float32).reshape(-1, 6))
    assert report["skipped"] == 0, report
    # frames at the scans (1 ms after the tick): the tracks 6 ms later are matched, dt = +6 ms
    assert len(ds) == M
    for f in ds:
        tv = f.radar_tracks["radar_radar_tracks"]
        assert tv.message_index == f.index
        assert tv.dt_ns == 6_000_000
        assert f.views("radar_tracks")["radar_radar_tracks"].message_index == f.index


def test_inspect_names_tracks(log: tuple[Path, list[Any]]) -> None:
    r = _cli("inspect", str(log[0]), "--json")
    assert r.returncode == 0, r.stderr
    topics = json.loads(r.stdout)["topics"]
    assert topics["/radar/tracks"]["kind"] == "radar_tracks"
    assert topics["/radar/tracks"]["count"] == M
