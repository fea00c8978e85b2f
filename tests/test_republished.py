"""Scans re-published in bursts of one header stamp, frozen stamps, and PointCloud2 track lists.

The real SICK RMS1xxx bag publishes each 10 Hz radar scan as a burst of messages with the scan's
header stamp, message k holding the first k targets and zeros after them; its tracks come the same
way as a PointCloud2 with ``vx, vy, vz, objLen, objId``. fusion keeps the last message of each burst
(the complete scan) on the header stamps, skips the others as ``republished``, and stores the tracks
as ``radar_tracks``. A stream whose stamps the sensor does not update is still aligned by record time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rosbags.typesys.store import Typestore

import fusion
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.convert import convert
from fusion.store import validate_store
from fusion.sync.stamps import republished
from fusion.testing.kinds import NS, T0, header, typestore, write_mcap

SICK = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "sick_rms1xxx_radar_lms1xx_lidar2d.bag"
MS = 1_000_000


def _bursts(sizes: list[int], period_ns: int, gap_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Stamps, record times and empty rows of bursts (burst i: ``sizes[i]`` messages, stamp ``T0 + i *
    period``, recorded ``gap_ns`` apart from 1 ms after the stamp; message k of n has n - 1 - k rows at
    0, a scan being filled) and the indices re-published later."""
    stamps, records, empty, pre = [], [], [], []
    for i, n in enumerate(sizes):
        for k in range(n):
            if k < n - 1:
                pre.append(len(stamps))
            stamps.append(T0 + i * period_ns)
            records.append(T0 + i * period_ns + MS + k * gap_ns)
            empty.append(n - 1 - k)
    return np.array(stamps, np.int64), np.array(records, np.int64), np.array(empty, np.int64), pre


@given(sizes=st.lists(st.integers(1, 9), min_size=3, max_size=40), gap_us=st.integers(1, 4000))
@settings(max_examples=200, deadline=None)
def test_bursts_found_exactly(sizes: list[int], gap_us: int) -> None:
    """Bursts shorter than half the scan period, each scan being filled: every message but each
    burst's last is re-published."""
    stamps, records, empty, pre = _bursts(sizes, 100 * MS, gap_us * 1000)
    assert republished(stamps, records, empty).tolist() == (pre if any(n > 1 for n in sizes) else [])


def test_not_bursts() -> None:
    """A frozen stamp (bursts as long as the stamp spacing), a repeat that is not the message before,
    decreasing burst stamps, too few bursts, a scan split into parts (no empty rows: keeping the last
    part would drop the others) and unknown content are no bursts."""
    stamps, records, empty, _ = _bursts([4] * 10, 100 * MS, 20 * MS)  # 4 messages over 60 ms of a 100 ms scan
    assert republished(stamps, records, empty).size == 0
    s = np.array([1, 2, 1, 3, 4], np.int64) * 100 * MS + T0
    assert republished(s, s + MS, np.zeros(5, np.int64)).size == 0
    stamps, records, empty, _ = _bursts([2] * 6, 100 * MS, MS)
    assert republished(stamps[::-1].copy(), records, empty[::-1].copy()).size == 0
    stamps, records, empty, _ = _bursts([3, 3], 100 * MS, MS)
    assert republished(stamps, records, empty).size == 0
    stamps, records, empty, pre = _bursts([4] * 5, 100 * MS, MS)
    assert republished(stamps, records, np.zeros_like(empty)).size == 0  # parts of a split scan
    assert republished(stamps, records, None).size == 0
    unknown = empty.copy()
    unknown[3] = -1  # a burst's last message not decoded
    assert republished(stamps, records, unknown).size == 0
    assert republished(stamps, records, empty).tolist() == pre
    stamps, records, empty, pre = _bursts([1, 3, 1, 2], 100 * MS, MS)  # zero stamps in between are their own
    stamps[0] = 0
    assert republished(stamps, records, empty).tolist() == pre


def _cloud(store: Typestore, stamp: int, frame: str, names: tuple[str, ...], rows: np.ndarray) -> Any:
    dt = np.dtype({"names": list(names), "formats": ["f4"] * len(names)})
    pts = np.zeros(len(rows), dtype=dt)
    for j, name in enumerate(names):
        pts[name] = rows[:, j]
    pf = store.types["sensor_msgs/msg/PointField"]
    fields = [pf(name=nm, offset=4 * i, datatype=7, count=1) for i, nm in enumerate(names)]
    return store.types["sensor_msgs/msg/PointCloud2"](
        header=header(store, stamp, frame), height=1, width=len(rows), fields=fields, is_bigendian=False,
        point_step=dt.itemsize, row_step=dt.itemsize * len(rows), data=np.frombuffer(pts.tobytes(), np.uint8),
        is_dense=True)


RADAR = ("x", "y", "z", "vrad", "amplitude")
TRACKS = ("x", "y", "z", "vx", "vy", "vz", "objLen", "objId")


@pytest.fixture(scope="module")
def burst_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """2 s: a 20 Hz LiDAR; a 10 Hz radar re-publishing each scan as it fills it (burst of 5 within
    0.4 ms); 10 Hz tracks the same way (burst of 3); a radar whose stamp changes once a second."""
    store = typestore()
    rng = np.random.default_rng(3)
    msgs: list[tuple[str, str, int, Any]] = []
    truth: dict[str, Any] = {"radar": [], "tracks": []}
    for k in range(40):
        t = T0 + k * 50 * MS
        msgs.append(("/lidar", "sensor_msgs/msg/PointCloud2", t + 5 * MS,
                     _cloud(store, t, "lidar", ("x", "y", "z"), rng.normal(size=(100, 3)) * 10)))
    for s in range(20):
        t = T0 + s * 100 * MS + 3 * MS
        scan = np.column_stack([rng.uniform(1, 50, (5, 3)), rng.uniform(-5, 5, 5), rng.uniform(1, 40, 5)])
        truth["radar"].append((t, scan))
        for k in range(5):  # message k: the first k+1 targets, zeros after them
            part = np.zeros_like(scan)
            part[: k + 1] = scan[: k + 1]
            msgs.append(("/radar/targets", "sensor_msgs/msg/PointCloud2", t + MS + k * 80_000,
                         _cloud(store, t, "radar", RADAR, part)))
        tracks = np.column_stack([rng.uniform(1, 50, (3, 3)), rng.uniform(-5, 5, (3, 3)), [0.5, 1.0, 2.0],
                                  [7, 12, -3]])
        truth["tracks"].append((t, tracks))
        for k in range(3):
            part = np.zeros_like(tracks)
            part[: k + 1] = tracks[: k + 1]
            msgs.append(("/radar/tracks", "sensor_msgs/msg/PointCloud2", t + MS + k * 80_000,
                         _cloud(store, t, "radar", TRACKS, part)))
        for k in range(3):  # a scan split into 3 parts of 4 targets with one stamp: not a scan being filled
            part = np.column_stack([rng.uniform(1, 50, (4, 3)), rng.uniform(-5, 5, 4), rng.uniform(1, 40, 4)])
            msgs.append(("/radar/parts", "sensor_msgs/msg/PointCloud2", t + 2 * MS + k * 80_000,
                         _cloud(store, t, "radar3", RADAR, part)))
    for k in range(40):  # a stamp the sensor updates once a second
        t = T0 + k * 50 * MS + 7 * MS
        msgs.append(("/radar/frozen", "sensor_msgs/msg/PointCloud2", t + MS,
                     _cloud(store, T0 + (k // 20) * NS, "radar2", RADAR, rng.uniform(1, 9, (4, 5)))))
    bag = write_mcap(tmp_path_factory.mktemp("bursts") / "log", store, sorted(msgs, key=lambda m: m[2]))
    return bag, truth


def test_bursts_and_tracks_end_to_end(burst_log: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    bag, truth = burst_log
    res = convert([bag], str(tmp_path / "out.zarr"), ConvertConfig())
    assert validate_store(str(tmp_path / "out.zarr")).ok  # republished messages are no loss
    ds = fusion.open(str(tmp_path / "out.zarr"))
    by_topic = {info.topic: (name, info.kind) for name, info in ds.sensors.items()}
    (radar, k1), (tracks, k2), (frozen, k3) = (by_topic[t] for t in ("/radar/targets", "/radar/tracks",
                                                                      "/radar/frozen"))
    assert (k1, k2, k3) == ("radar", "radar_tracks", "radar")
    r = ds.stream(radar)
    assert len(r) == 20 and r.stamp_ns.tolist() == [t for t, _ in truth["radar"]]  # on the header stamps
    for i, (_, scan) in enumerate(truth["radar"]):
        np.testing.assert_array_equal(r[i].xyz, scan[:, :3].astype(np.float32))  # the complete scan
    tr = ds.stream(tracks)
    assert len(tr) == 20
    for i, (_, want) in enumerate(truth["tracks"]):
        np.testing.assert_array_equal(tr[i].position_m, want[:, :3].astype(np.float32))
        np.testing.assert_array_equal(tr[i].velocity_mps, want[:, 3:6].astype(np.float32))
        np.testing.assert_array_equal(tr[i].size_m[:, 0], want[:, 6].astype(np.float32))
        assert np.isnan(tr[i].size_m[:, 1:]).all()
        assert tr[i].uuid == [int(v).to_bytes(8, "little", signed=True).hex() + "0" * 16 for v in want[:, 7]]
    topics = ds.report["topics"]
    assert topics["/radar/targets"]["skipped"] == {"republished": 80}
    assert topics["/radar/tracks"]["skipped"] == {"republished": 40}
    assert res.counts[radar] == 20 and res.counts[tracks] == 20
    assert ds.stream(frozen).attrs["stamp_source"] == "record" and len(ds.stream(frozen)) == 40
    assert ds.report["clock"][frozen]["domain"] == "frozen"
    assert "repeat" in ds.report["clock"][frozen]["detail"]
    assert any("bursts of one header stamp" in w and "/radar/targets" in w for w in ds.report["warnings"])
    parts = by_topic["/radar/parts"][0]  # split scans keep every part: nothing dropped (by record time)
    assert len(ds.stream(parts)) == 60 and not topics["/radar/parts"]["skipped"]
    assert ds.stream(parts).attrs["stamp_source"] == "record"


def test_bursts_without_the_spool_the_same_store(burst_log: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """Without the spool pass 1 decodes the radar scans and track lists for their empty rows too."""
    from dataclasses import replace

    from storecmp import assert_same_store

    bag, _ = burst_log
    cfg = ConvertConfig()
    convert([bag], str(tmp_path / "spool.zarr"), cfg)
    convert([bag], str(tmp_path / "nospool.zarr"), replace(cfg, store=replace(cfg.store, spool=False)))
    assert_same_store(tmp_path / "spool.zarr", tmp_path / "nospool.zarr", ignore=("config",),
                      root_attrs=("input_fingerprint",))


@pytest.mark.skipif(not SICK.exists(), reason="../shared/data not beside the repository")
def test_real_sick_bag(tmp_path: Path) -> None:
    """The real SICK bag: 18 complete radar scans and 18 track lists of 6 tracks on their header stamps."""
    convert([SICK], str(tmp_path / "sick.zarr"), ConvertConfig())
    assert validate_store(str(tmp_path / "sick.zarr")).ok
    ds = fusion.open(str(tmp_path / "sick.zarr"))
    radar = ds.stream("radar")
    assert len(radar) == 18 and radar.attrs["stamp_source"] == "header"
    assert np.all(np.diff(radar.stamp_ns) > 90 * MS)  # one scan per 100 ms
    for i in range(len(radar)):  # the complete scans: no zero-filled target (each burst's earlier messages had them)
        assert np.all(np.abs(radar[i].xyz).sum(axis=1) > 0)
    tracks = ds.stream("radar_cloud_radar_track")
    assert tracks.kind == "radar_tracks" and len(tracks) == 18
    assert tracks[0].uuid[:2] == ["3400000000000000" + "0" * 16, "4400000000000000" + "0" * 16]  # objId 52, 68
    np.testing.assert_allclose(tracks[0].position_m[:, 0], [4.784, 1.728, 6.272, 2.88, 8.64, 9.616], atol=1e-3)
    skipped = {t: v["skipped"] for t, v in ds.report["topics"].items() if v.get("skipped")}
    assert skipped == {"/cloud_radar_rawtarget": {"republished": 121}, "/cloud_radar_track": {"republished": 90}}
    frames_with_radar = sum(1 for f in ds if "radar" in f.radar)
    assert frames_with_radar == 18  # every scan in a frame (was 0: aligned by record time, 35 ms off the LiDAR)


@pytest.mark.skipif(not SICK.exists(), reason="../shared/data not beside the repository")
def test_warnings_name_what_the_log_has(tmp_path: Path) -> None:
    """No trajectory: the warning names the costs for the sensors the log has and LiDAR odometry when
    it has a LiDAR; a camera-only log's says nothing of LiDAR or radar. An IMU in the base frame
    itself has the identity extrinsic exactly: no warning, ``base frame`` in the summary."""
    data = SICK.parent
    res = convert([SICK], str(tmp_path / "sick.zarr"), ConvertConfig())
    (w,) = [w for w in res.warnings if w.startswith("no usable ego trajectory")]
    assert "LiDAR is not deskewed" in w and "radar Doppler" in w and "ego.source: lidar" in w
    res = convert([data / "fiducials_camera_jpeg.bag"], str(tmp_path / "cam.zarr"), ConvertConfig())
    (w,) = [w for w in res.warnings if w.startswith("no usable ego trajectory")]
    assert "LiDAR" not in w and "radar" not in w and "flagged" in w
    res = convert([data / "rio_ti_mmwave_radar_imu.bag"], str(tmp_path / "rio.zarr"), ConvertConfig())
    assert res.sensors["base"]["kind"] == "imu" and res.sensors["base"]["extrinsic"] == "base frame"
    assert not [w for w in res.warnings if w.startswith("sensor base ")]


@pytest.mark.skipif(not SICK.exists(), reason="../shared/data not beside the repository")
def test_inspect_counts_each_burst_once() -> None:
    """``fusion inspect``: the bursts' topics at the scan rate (10 Hz, not 81 Hz) with the bursts counted."""
    from fusion.readers.inspect import inspect_bags

    topics = inspect_bags(SICK)["topics"]
    raw, tracks = topics["/cloud_radar_rawtarget"], topics["/cloud_radar_track"]
    assert raw["anomalies"]["bursts"] == 121 and tracks["anomalies"]["bursts"] == 90
    assert raw["rate_hz"] == pytest.approx(10.0, abs=0.05) and tracks["rate_hz"] == pytest.approx(10.0, abs=0.05)
    assert raw["anomalies"]["gaps"] == 0 and raw["anomalies"]["duplicated"] == 0
    assert topics["/cloud"]["anomalies"]["bursts"] == 0 and topics["/cloud"]["rate_hz"] > 49


def test_inspect_timing_without_header_stamps_and_around_a_zero_stamp() -> None:
    """The burst-aware timing keeps the plain cases: a topic timed by record time has its 100 ms period,
    and a zero stamp between two messages widens their allowed gap instead of making one."""
    from fusion.readers.inspect import stamp_stats

    rec = T0 + np.arange(10, dtype=np.int64) * 100 * MS
    st = stamp_stats(np.zeros(10, np.int64), rec, has_header=False)
    assert st["time_source"] == "record" and st["period_ms"] == pytest.approx(100.0) and st["jitter_ms"] == 0
    stamps = rec - MS
    stamps[4] = 0  # one stamp missing: 200 ms between messages 3 and 5 is no gap
    st = stamp_stats(stamps, rec, has_header=True)
    assert st["period_ms"] == pytest.approx(100.0) and st["anomalies"]["gaps"] == 0 and st["anomalies"]["zero"] == 1
