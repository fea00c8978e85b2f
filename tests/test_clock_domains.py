"""Clock domains (fusion/sync/domains.py, fusion/pipeline/clocks.py): findings against truth, offsets
estimated and applied by default for another domain, estimation on realistic publication timing,
the refusal rule, and the real bags (rio: IMU 3.92 d behind record time; husky: IMU 25 ms)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from synthlog import make_log

import fusion
from fusion.cli.main import cli
from fusion.pipeline.clocks import decide_offsets
from fusion.pipeline.config import ClockConfig, ConvertConfig, EgoConfig, FramesConfig, load_config
from fusion.pipeline.convert import convert
from fusion.pipeline.report import ReportBuilder
from fusion.readers.inspect import inspect_bags
from fusion.sync import FrameReference
from fusion.sync.domains import StreamClock, analyse_domains

REPO = Path(__file__).resolve().parents[1]
T0 = 1_700_000_000 * 10**9


def _stream(rng: np.random.Generator, true_ns: np.ndarray, offset_ns: int, lat=(2e6, 30e6)) -> StreamClock:
    """Stamps ``true − offset`` on the sensor clock, records ``true + latency`` on the record clock."""
    rec = true_ns + rng.uniform(*lat, true_ns.size).astype(np.int64)
    return StreamClock((true_ns - offset_ns).astype(np.int64), rec)  # i.i.d. latency (no FIFO queueing)


def test_domains_are_named_with_their_offsets() -> None:
    rng = np.random.default_rng(1)
    t = T0 + np.arange(0, 20 * 10**9, 10**7, dtype=np.int64)  # 100 Hz, 20 s
    streams = {
        "ref": _stream(rng, t, 0),
        "wall": _stream(rng, t, 3600 * 10**9 + 123_456_789),  # another wall clock, 1 h behind
        "uptime": _stream(rng, t, T0 - 5 * 86400 * 10**9),  # stamps ~5 days since epoch
        "sim": _stream(rng, t, T0 - 30 * 10**9),  # stamps ~30 s since epoch
        "near": _stream(rng, t, 25_000_000),  # 25 ms behind (like husky's IMU): the same domain, measured
        "zero": StreamClock(np.zeros(t.size, np.int64), t + 5_000_000),
    }
    out = analyse_domains(streams)
    assert {n: d.domain for n, d in out.items()} == {
        "ref": "common", "wall": "offset", "uptime": "uptime", "sim": "simulated", "near": "common", "zero": "zero",
    }  # fmt: skip
    truth = {"wall": 3600 * 10**9 + 123_456_789, "uptime": T0 - 5 * 86400 * 10**9, "sim": T0 - 30 * 10**9,
             "near": 25_000_000}  # fmt: skip
    for name, off in truth.items():
        f = out[name]
        assert f.relative_to == "ref"
        assert f.relative_ns is not None and f.uncertainty_ns is not None
        assert abs(f.relative_ns - off) < 600_000  # measured ≤ 0.2 ms (2000 samples, 28 ms latency spread)
        assert f.uncertainty_ns < 200_000  # measured ~40 µs
    assert out["zero"].relative_ns is None and "2000/2000" in out["zero"].detail
    assert not out["near"].other_domain and out["wall"].other_domain


def test_drift_is_named_on_a_long_log() -> None:
    rng = np.random.default_rng(2)
    t = T0 + np.arange(0, 120 * 10**9, 10**8, dtype=np.int64)  # 10 Hz, 120 s
    s = _stream(rng, t, 0)
    drifting = StreamClock((t + (t - T0) * 500 // 10**6).astype(np.int64), s.record_ns)  # runs 500 ppm fast
    out = analyse_domains({"ref": _stream(rng, t, 0), "d": drifting})
    assert out["d"].domain == "drift"
    assert out["d"].drift_ppm is not None and abs(out["d"].drift_ppm + 500) < 30  # measured −500 ± 5 ppm


def test_refused_when_uncertain_and_reported() -> None:
    rng = np.random.default_rng(3)
    t = T0 + np.arange(0, 2 * 10**9, 10**7, dtype=np.int64)
    few = T0 + np.arange(0, 2 * 10**9, 10**8, dtype=np.int64)  # 20 samples, 10 Hz
    clocks = {"ref": _stream(rng, t, 0), "cam": _stream(rng, few, 10**10, lat=(0, 1e9))}  # 1 s latency spread
    report = ReportBuilder()
    dec = decide_offsets(ClockConfig(), clocks, {}, "ref", report)
    assert dec["cam"].finding.domain == "offset" and not dec["cam"].applied and dec["cam"].offset_ns == 0
    assert "exceeds 0.25 of the period" in report.clock["cam"]["reason"]
    assert any("cam is not applied" in w for w in report.warnings)
    # Certain enough: applied by default.
    clocks["cam"] = _stream(rng, few, 10**10, lat=(2e6, 4e6))
    dec = decide_offsets(ClockConfig(), clocks, {}, "ref", ReportBuilder())
    assert dec["cam"].applied and abs(dec["cam"].offset_ns - 10**10) < 1_000_000  # measured 0.1 ms


def _imu_counts(store: Path) -> list[int]:
    return [0 if f.imu is None else len(f.imu.time_ns) for f in fusion.open(str(store))]


def test_imu_on_another_clock_is_estimated_and_applied_by_default(tmp_path: Path) -> None:
    off = 10**18  # the IMU's clock runs 1e9 s behind
    bags, _, _ = make_log(tmp_path / "a", clock_offsets_ns={"imu": off}, duration_s=6.0)
    plain, _, _ = make_log(tmp_path / "b", duration_s=6.0)
    summary = convert([bags["mcap"]], str(tmp_path / "a.zarr"), ConvertConfig()).sensors["imu_link"]
    assert summary["clock_domain"] == "uptime" and abs(summary["clock_offset_ns"] - off) < 1_000_000  # in the summary
    convert([plain["mcap"]], str(tmp_path / "b.zarr"), ConvertConfig())
    ds = fusion.open(str(tmp_path / "a.zarr"))
    entry = ds.report["clock"]["imu_link"]
    assert entry["domain"] == "uptime" and entry["applied"]
    assert abs(entry["offset_ns"] - off) < 1_000_000  # measured 0.59 ms (FIFO-sorted 200 Hz latency floor)
    counts = _imu_counts(tmp_path / "a.zarr")
    assert counts == _imu_counts(tmp_path / "b.zarr")  # the same samples as on one clock
    assert min(counts[1:]) >= 19  # frame 0 starts before the log (measured: 20 per 10 Hz frame)
    assert any("imu_link" in w and "applied offset" in w for w in ds.report["warnings"])


def test_ego_on_another_clock_is_applied_and_deskew_works(tmp_path: Path) -> None:
    off = 3600 * 10**9  # odometry (and /tf) one hour behind
    bags, _, _ = make_log(tmp_path, clock_offsets_ns={"odom": off}, duration_s=4.0)
    convert([bags["mcap"]], str(tmp_path / "o.zarr"), ConvertConfig(ego=EgoConfig(topic="/odom")))
    ds = fusion.open(str(tmp_path / "o.zarr"))
    applied = {n: e for n, e in ds.report["clock"].items() if e["applied"]}
    assert len(applied) == 1
    (entry,) = applied.values()
    assert abs(entry["offset_ns"] - off) < 1_000_000  # measured ≈ 0.2 ms
    flags = np.array([f.flags for f in ds])
    assert not (flags[1:-1] & 3).any()  # ego covers every inner frame and sweep: deskewed


@pytest.mark.parametrize("offset_ms", [5, -5, 23, -23, 40, -40])
def test_camera_offset_recovered_on_realistic_publication(tmp_path: Path, offset_ms: int) -> None:
    off = offset_ms * 1_000_000
    bags, truth, rig = make_log(
        tmp_path, clock_offsets_ns={"camera_front": off}, duration_s=6.0,
        lidar_publish="sweep_end", sensor_latency_ns=(("lidar_top", 8_000_000, 20_000_000),),
    )  # fmt: skip
    data = yaml.safe_load(rig.read_text())
    data["sensors"]["camera_front"]["time_offset_ns"] = 0  # the offset is unknown
    rig0 = tmp_path / "rig0.yaml"
    rig0.write_text(yaml.safe_dump(data))
    cfg = ConvertConfig(
        rig=str(rig0), frames=FramesConfig(reference=FrameReference("lidar", sensor="lidar_top")),
        ego=EgoConfig(topic="/odom"), clock=ClockConfig(estimate=("camera_front",), apply=True),
    )  # fmt: skip
    convert([bags["mcap"]], str(tmp_path / "c.zarr"), cfg)
    ds = fusion.open(str(tmp_path / "c.zarr"))
    entry = ds.report["clock"]["camera_front"]
    assert entry["applied"] and abs(entry["offset_ns"] - off) < 1_000_000  # measured 0.24 ms (every offset)
    assert entry["uncertainty_ns"] < 1_000_000  # measured 0.27 ms
    tab = truth.messages("/camera/front/image/compressed")
    written = tab.index >= 0
    true_t = np.empty(int(tab.index.max()) + 1, np.int64)
    true_t[tab.index[written]] = tab.true_time_ns[written]
    chosen = [(true_t[f.cameras["camera_front"].message_index], f.time_ns) for f in ds if "camera_front" in f.cameras]
    assert len(chosen) == len(ds) == 60
    for t, frame_t in chosen:
        assert t == true_t[np.argmin(np.abs(true_t - frame_t))]


def test_rio_imu_and_radar_clock_applied_and_imu_in_frames(shared_data: Path, tmp_path: Path) -> None:
    bag = shared_data / "real" / "rio_ti_mmwave_radar_imu.bag"
    summary = inspect_bags(bag)["clock_domains"]
    assert summary["/ti_mmwave/radar_scan_pcl"]["domain"] == "zero"
    imu = summary["/sensor_platform/imu"]
    assert imu["domain"] == "offset" and abs(imu["relative_ns"] / 86400e9 - 3.918) < 0.001  # measured 3.9181 d
    convert([bag], str(tmp_path / "rio.zarr"), load_config(REPO / "configs" / "real" / "rio_radar.yaml"))
    ds = fusion.open(str(tmp_path / "rio.zarr"))
    clock = ds.report["clock"]
    assert clock["imu"]["applied"] and clock["radar"]["applied"]
    assert clock["imu"]["offset_ns"] == clock["radar"]["offset_ns"]  # one offset for the platform clock
    counts = _imu_counts(tmp_path / "rio.zarr")
    assert len(counts) > 300 and min(counts[1:]) >= 15  # measured 402 frames, >= 20 samples each (205 Hz)


def test_husky_imu_sub_second_is_reported_not_applied(shared_data: Path) -> None:
    bag = shared_data / "real" / "husky_imu_odom_gps.bag"
    summary = inspect_bags(bag)["clock_domains"]
    imu = summary["/imu/data"]
    assert imu["domain"] == "common"
    assert abs(imu["relative_ns"] - 24_767_000) < 1_000_000  # measured 24.767 ms vs the odometry
    streams: dict[str, Any] = {}
    from fusion.readers.bag import open_bags

    with open_bags([bag]) as src:
        for topic, (s, r) in src.stamps(list(summary)).items():
            streams[topic] = StreamClock(np.asarray(s, np.int64), np.asarray(r, np.int64))
    report = ReportBuilder()
    dec = decide_offsets(ClockConfig(), streams, {}, None, report)
    assert not dec["/imu/data"].applied and dec["/imu/data"].offset_ns == 0
    assert report.clock["/imu/data"]["reason"].startswith("sub-second")
    dec = decide_offsets(ClockConfig(estimate=("/imu/data",), apply=True), streams, {}, None, ReportBuilder())
    assert dec["/imu/data"].applied and abs(dec["/imu/data"].offset_ns - 24_767_000) < 1_000_000


def test_inspect_text_names_other_domains(shared_data: Path) -> None:
    res = CliRunner().invoke(cli, ["inspect", str(shared_data / "real" / "rio_ti_mmwave_radar_imu.bag")])
    assert res.exit_code == 0, res.output
    assert "/sensor_platform/imu: offset: another clock: stamps -3.92 d from record time" in res.output
    assert "/ti_mmwave/radar_scan_pcl: zero" in res.output


def test_a_few_reordered_messages_do_not_pull_the_estimate() -> None:
    rng = np.random.default_rng(4)
    t = T0 + np.arange(0, 2 * 10**9, 10**8, dtype=np.int64)  # 20 messages, 10 Hz
    ref = _stream(rng, T0 + np.arange(0, 2 * 10**9, 10**7, dtype=np.int64), 0)
    s = _stream(rng, t, 7 * 10**9)
    rec = np.sort(s.record_ns)
    rec[[5, 6]], rec[[12, 13]] = rec[[6, 5]], rec[[13, 12]]  # two out-of-order pairs (a transport fault)
    out = analyse_domains({"ref": ref, "s": StreamClock(s.stamp_ns, rec)})
    assert out["s"].relative_ns is not None
    assert abs(out["s"].relative_ns - 7 * 10**9) < 10_000_000  # measured 2.7 ms (20 samples); ~−98 ms unfiltered


def test_too_few_samples_give_no_uncertainty_and_no_offset() -> None:
    rng = np.random.default_rng(5)
    ref = _stream(rng, T0 + np.arange(0, 10**9, 10**7, dtype=np.int64), 0)
    few = _stream(rng, T0 + np.arange(0, 4 * 10**8, 10**8, dtype=np.int64), 10**10)  # 4 samples
    report = ReportBuilder()
    dec = decide_offsets(ClockConfig(), {"ref": ref, "few": few}, {}, "ref", report)
    assert dec["few"].finding.uncertainty_ns is None and not dec["few"].applied
    assert "fewer than 5 samples" in report.clock["few"]["reason"]
