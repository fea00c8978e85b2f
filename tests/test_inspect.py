"""``fusion inspect`` and the readers against the synthetic generator's ground truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from fusion.cli.inspect import inspect as inspect_cmd
from fusion.errors import DecodeError
from fusion.readers import decode_image, open_bags
from fusion.readers.inspect import inspect_bags, is_fusion_store
from fusion.readers.records import CameraImage, PointCloud
from fusion.testing.synth import Faults, SynthConfig, generate, load_truth

FAULTS = Faults(zero_stamp_count=2, duplicate_count=1, out_of_order_count=1, corrupt_count=1, gap=(0.4, 0.2))
SMALL = {"duration_s": 1.0, "lidar_beams": 16, "lidar_columns": 256, "image_width": 160, "image_height": 120}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("synth")
    return generate(SynthConfig(**SMALL, faults=FAULTS), out, formats=("bag", "db3", "mcap"))


def expected_topic(table: Any) -> dict[str, Any]:
    """What inspect must report for one topic, computed from the generator's truth table."""
    order = np.argsort(table.index)
    stamp, rec = table.stamp_ns[order], table.record_time_ns[order]
    valid = stamp != 0
    lat = (rec[valid] - stamp[valid]) / 1e6
    t = stamp[valid]
    d = np.diff(t)
    return {
        "count": len(table),
        "zero": int((~valid).sum()),
        "non_monotonic": int((d < 0).sum()),
        "duplicated": int((d == 0).sum()),
        "median": float(np.median(lat)),
        "p99": float(np.percentile(lat, 99)),
        "first": int(t.min()),
        "last": int(t.max()),
    }


@pytest.mark.parametrize("fmt", ["bag", "db3", "mcap"])
def test_inspect_reports_injected_latency_and_faults(synth: Any, fmt: str) -> None:
    truth = load_truth(synth.truth_path)
    summary = inspect_bags(synth.bags[fmt])
    assert set(summary["topics"]) == set(truth.topics)
    for topic in truth.topics:
        got, want = summary["topics"][topic], expected_topic(truth.messages(topic))
        assert got["count"] == want["count"] == truth.counts()[topic], topic
        corrupt_unreadable = got["anomalies"]["corrupt"]  # stamps that need deserialization (TF) and fail
        assert got["anomalies"]["zero"] == want["zero"], topic
        assert got["first_stamp_ns"] == want["first"] and got["last_stamp_ns"] == want["last"], topic
        if corrupt_unreadable:
            continue  # the corrupt message's stamp is unknown: intervals around it differ from truth
        assert got["anomalies"]["non_monotonic"] == want["non_monotonic"], topic
        assert got["anomalies"]["duplicated"] == want["duplicated"], topic
        assert abs(got["latency_ms"]["median"] - want["median"]) <= 0.0005, topic
        assert abs(got["latency_ms"]["p99"] - want["p99"]) <= 0.0005, topic
    faults = {(f["topic"], f["kind"]) for f in truth.faults()}
    for topic in truth.topics:
        a = summary["topics"][topic]["anomalies"]
        if (topic, "zero_stamp") in faults:
            assert a["zero"] >= 1
        if (topic, "out_of_order") in faults:
            assert a["non_monotonic"] >= 1
        if (topic, "duplicate") in faults:
            assert a["duplicated"] >= 1
    imu = summary["topics"]["/imu/data"]
    assert imu["anomalies"]["gaps"] == 1 and 200.0 <= imu["anomalies"]["max_gap_ms"] <= 200.0 + 2 * imu["period_ms"]
    assert summary["topics"]["/lidar/points"]["lidar_time_convention"] == "ouster_t"
    assert summary["topics"]["/tf"]["anomalies"]["corrupt"] == sum(
        1 for f in truth.faults() if f["topic"] == "/tf" and f["kind"] == "corrupt"
    )


def test_stamps_and_decode_match_truth(synth: Any) -> None:
    """Every message decodes with the truth's stamp and record time, except the corrupt ones (DecodeError)."""
    truth = load_truth(synth.truth_path)
    for fmt, path in synth.bags.items():
        with open_bags(path) as src:
            stamps = src.stamps(list(src.topics))
            tables = {t: truth.messages(t) for t in truth.topics}
            for raw in src.messages():
                table = tables[raw.topic]
                row = int(np.flatnonzero(table.index == raw.index)[0])
                assert raw.record_time_ns == table.record_time_ns[row], (fmt, raw.topic)
                corrupt = table.fault[row] == "corrupt"
                if raw.topic != "/tf" or not corrupt:
                    assert stamps[raw.topic][0][raw.index] == table.stamp_ns[row], (fmt, raw.topic, raw.index)
                try:
                    rec = src.decode(raw)
                    if isinstance(rec, CameraImage) and rec.compressed:
                        decode_image(rec)
                except DecodeError as exc:
                    assert corrupt, (fmt, raw.topic, raw.index, str(exc))
                    assert exc.topic == raw.topic and exc.index == raw.index
                    continue
                assert not corrupt, (fmt, raw.topic, raw.index)
                assert rec.meta.stamp_ns == table.stamp_ns[row]


@pytest.mark.parametrize(("convention", "tol_ns"), [("ouster_t", 0), ("velodyne_time", 8), ("hesai_timestamp", 240)])
def test_lidar_point_times_match_truth(tmp_path: Path, convention: str, tol_ns: int) -> None:
    """Per-point absolute time on the header clock = stamp + (true point time - true stamp time).

    Tolerances are the float precision of each convention's field: exact for uint32 ns,
    one float32 ulp at 0.1 s (7.5 ns) for Velodyne, one float64 ulp at 1.7e9 s (238 ns) for Hesai.
    """
    out = generate(SynthConfig(**SMALL, lidar_time_convention=convention), tmp_path, formats=("bag",))
    truth = load_truth(out.truth_path)
    table = truth.messages("/lidar/points")
    with open_bags(out.bags["bag"]) as src:
        for raw in src.messages(["/lidar/points"]):
            pc = src.decode(raw)
            assert isinstance(pc, PointCloud) and pc.time_convention == convention
            scan = truth.lidar_scan(int(table.seq[np.flatnonzero(table.index == raw.index)[0]]))
            want = scan.stamp_ns + (scan.time_ns - scan.stamp_true_ns)
            assert pc.point_time_ns is not None and pc.point_time_ns.shape == want.shape
            assert int(np.abs(pc.point_time_ns - want).max()) <= tol_ns
            np.testing.assert_array_equal(pc.xyz, scan.xyz_lidar)


def test_cli_text_json_and_errors(synth: Any, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(inspect_cmd, [str(synth.bags["mcap"])])
    assert res.exit_code == 0, res.output
    assert "/lidar/points" in res.output and "point time: ouster_t" in res.output
    res = runner.invoke(inspect_cmd, [str(synth.bags["bag"]), "--json"])
    assert res.exit_code == 0
    data = json.loads(res.output)
    assert data["topics"]["/imu/data"]["count"] == load_truth(synth.truth_path).counts()["/imu/data"]
    from fusion.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["inspect", str(tmp_path / "nope.bag")])
    assert exit_info.value.code == 2


def test_fusion_store_detection(tmp_path: Path) -> None:
    store = tmp_path / "s.zarr"
    store.mkdir()
    (store / "zarr.json").write_text(
        json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {"fusion_format": "1"}})
    )
    assert is_fusion_store(store)
    plain = tmp_path / "plain.zarr"
    plain.mkdir()
    (plain / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}}))
    assert not is_fusion_store(plain) and not is_fusion_store(tmp_path / "missing")


def test_inspect_a_fusion_store(synth: Any, tmp_path: Path) -> None:
    """A converted store is summarised through fusion.store.inspect_store (text and JSON)."""
    from fusion.cli.main import main

    store = tmp_path / "drive.zarr"
    main(["convert", str(synth.bags["mcap"]), "-o", str(store)])
    assert is_fusion_store(store)
    res = CliRunner().invoke(inspect_cmd, [str(store), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["complete"] is True and "lidar_top" in data["sensors"]
    res = CliRunner().invoke(inspect_cmd, [str(store)])
    assert res.exit_code == 0 and "fusion store format 1.2, complete" in res.output
