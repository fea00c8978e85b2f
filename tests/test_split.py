"""Split-by-time conversion of one log (``fusion convert --split``): the parts, joined, are the
single-process store — every array (shape, dtype, chunks, shards, values), every attribute
(the chunk manifests included) and every chunk file byte for byte; the report differs only in
its ``split`` record and ``spool`` (a split's parts read the bag instead of a spool), and in
the ego estimator's wall time (it differs between any two runs)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from daskcluster import running_scheduler
from hypothesis import given, settings
from hypothesis import strategies as st
from storecmp import assert_same_store, report_of
from synthlog import make_log

from fusion.errors import ConfigError
from fusion.pipeline import split as split_mod
from fusion.pipeline.config import load_config
from fusion.pipeline.convert import convert
from fusion.pipeline.split import SplitSpec, windows
from fusion.pipeline.streams import MessageTable

REPO = Path(__file__).resolve().parents[1]
FUSION = [sys.executable, "-m", "fusion"]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A 2 s generated log (LiDAR, two cameras, radar, IMU, odometry) and its single-process store."""
    base = tmp_path_factory.mktemp("split")
    bags, _, rig = make_log(base, ("mcap",))
    cfg = replace(load_config(None), rig=str(rig))
    single = base / "single.zarr"
    convert([bags["mcap"]], str(single), cfg)
    return bags["mcap"], rig, single


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if ".parts-" in p.name]


def test_three_parts_equal_the_single_process_store(log: tuple[Path, Path, Path], tmp_path: Path) -> None:
    bag, rig, single = log
    cfg = replace(load_config(None), rig=str(rig))
    lines: list[str] = []
    seen: list[tuple[int, int]] = []
    res = convert([bag], str(tmp_path / "split.zarr"), cfg, split=SplitSpec(parts=3), say=lines.append,
                  progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert_same_store(single, tmp_path / "split.zarr")
    assert seen[-1][0] == seen[-1][1] and seen[-4][0] < seen[-1][0]  # the parts' bytes count as they join
    rec = report_of(tmp_path / "split.zarr")["split"]
    assert rec["parts"] == 3 and len(lines) == 3 and lines[0].startswith("part 1/3")
    w = rec["windows_record_ns"]
    assert all(w[i][1] == w[i + 1][0] for i in range(2))  # contiguous windows
    pass2 = res.counts["lidar_top"] + res.counts["radar_front"]  # the cameras are the driver's (pass 1)
    assert sum(rec["messages"]) == pass2 == 46 and min(rec["messages"]) > 0
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(("above_s", "parts"), [(0.8, 3), (10.0, 1)])
def test_split_above_s(log: tuple[Path, Path, Path], tmp_path: Path, above_s: float, parts: int) -> None:
    """A 1.94 s log: above 0.8 s it is split in ceil(1.94 / 0.8) = 3 parts; below 10 s it is one part."""
    bag, rig, single = log
    cfg = replace(load_config(None), rig=str(rig))
    convert([bag], str(tmp_path / "s.zarr"), cfg, split=SplitSpec(above_s=above_s))
    assert report_of(tmp_path / "s.zarr")["split"]["parts"] == parts
    assert_same_store(single, tmp_path / "s.zarr")


def test_cli_split_on_a_local_dask_cluster(log: tuple[Path, Path, Path], tmp_path: Path) -> None:
    bag, rig, single = log
    out = tmp_path / "dask.zarr"
    res = subprocess.run([*FUSION, "convert", str(bag), "-o", str(out), "--rig", str(rig), "--split", "2",
                          "--dask", "local", "--workers", "2"], capture_output=True, text=True, env=ENV,
                         timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "part 1/2" in res.stderr and "part 2/2" in res.stderr
    assert_same_store(single, out)
    assert _leftovers(tmp_path) == []


def test_cli_split_serial_json(log: tuple[Path, Path, Path], tmp_path: Path) -> None:
    bag, rig, single = log
    out = tmp_path / "serial.zarr"
    res = subprocess.run([*FUSION, "convert", str(bag), "-o", str(out), "--rig", str(rig), "--split", "3", "--json"],
                         capture_output=True, text=True, env=ENV, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["frames"] == 20
    assert_same_store(single, out)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--split", "0"], "error: --split: expected a number of parts >= 1, got 0"),
        (["--split-above-s", "0"], "error: --split-above-s: expected seconds > 0, got 0.0"),
        (["--split", "2", "--split-above-s", "5"], "error: --split and --split-above-s: give one of them"),
        (["--dask", "local"], "--dask fans out over several logs or parts: use it with --each or --split"),
    ],
)
def test_cli_bad_split_options(log: tuple[Path, Path, Path], tmp_path: Path, args: list[str], says: str) -> None:
    bag, _, _ = log
    out = tmp_path / "bad.zarr"
    res = subprocess.run([*FUSION, "convert", str(bag), "-o", str(out), *args], capture_output=True, text=True,
                         env=ENV, timeout=120)  # fmt: skip
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], res.stderr
    assert not out.exists() and _leftovers(tmp_path) == []


def test_a_failed_part_leaves_nothing(log: tuple[Path, Path, Path], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A part that fails after writing its file: the error is the conversion's; no store, no part folder."""
    bag, rig, _ = log
    real = split_mod.run_part

    def failing(task: split_mod.PartTask, common: split_mod.PartCommon) -> split_mod.PartResult:
        out = real(task, common)
        if task.index == 1:
            raise ConfigError("part 2 failed on purpose")
        return out

    monkeypatch.setattr(split_mod, "run_part", failing)
    cfg = replace(load_config(None), rig=str(rig))
    with pytest.raises(ConfigError, match="on purpose"):
        convert([bag], str(tmp_path / "f.zarr"), cfg, split=SplitSpec(parts=3))
    assert not (tmp_path / "f.zarr").exists() and _leftovers(tmp_path) == []


def _table(topic: str, record_ns: list[int]) -> MessageTable:
    r = np.asarray(record_ns, np.int64)
    return MessageTable(topic, topic, "lidar", r, r)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 10**10), max_size=40), min_size=1, max_size=4), st.integers(1, 6))
def test_windows_partition_every_topic_in_order(records: list[list[int]], count: int) -> None:
    """Every topic index is owned by exactly one part, the parts' ranges follow each other (record
    times need not be monotonic: ownership follows the running maximum)."""
    tables = {f"t{i}": _table(f"/t{i}", r) for i, r in enumerate(records)}
    wins = windows(tables, count)
    assert len(wins) == (count if any(records) else 1)
    for tab in tables.values():
        ranges = [owned[tab.topic] for _, _, owned in wins]
        assert ranges[0][0] == 0 and ranges[-1][1] == len(tab.record_ns)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
        assert all(lo <= hi for lo, hi in ranges)


@pytest.mark.shared
@pytest.mark.parametrize("name", ["sick_rms1xxx_radar_lms1xx_lidar2d.bag", "rio_ti_mmwave_radar_imu.bag"])
def test_real_bag_split_equals_single(shared_data: Path, tmp_path: Path, name: str) -> None:
    """Real bags: LiDAR + radar + radar tracks with /tf (SICK, 1.9 s); a trigger-timed radar over 40 s (rio)."""
    bag = shared_data / "real" / name
    cfg = load_config(None)
    convert([bag], str(tmp_path / "single.zarr"), cfg)
    convert([bag], str(tmp_path / "split.zarr"), cfg, split=SplitSpec(parts=3))
    assert report_of(tmp_path / "split.zarr")["split"]["parts"] == 3
    assert_same_store(tmp_path / "single.zarr", tmp_path / "split.zarr")


def test_raw_packet_log_is_not_split(tmp_path: Path) -> None:
    """Raw LiDAR packets (a self-encoded Pandar128 bag): a sweep is assembled across messages, so the
    log converts in one piece (said in the report and by ``say``) and the store is the usual one."""
    from hesai128_encode import epoch, p128_calibration, p128_packet, write_angle_csv, write_scan_bag

    t0 = epoch(2025, 3, 1, 12, 0, 0)

    raw, refl = np.full((2, 128), 5000, np.uint16), np.full((2, 128), 80, np.uint8)
    pkts = []
    for p in range(225):  # 2.5 rotations at 10 Hz, 2° per block
        az = [(9000 + 400 * p) % 36000, (9000 + 400 * p + 200) % 36000]
        usec = round(p * 100_000 / 90)
        pkts.append((t0 * 10**9 + usec * 1000, p128_packet(az, raw, refl, secs=t0, usec=usec)))
    bag = write_scan_bag(tmp_path / "bag", [(pkts[i][0] + 1_000_000, pkts[i:i + 9]) for i in range(0, 225, 9)])
    cal = write_angle_csv(tmp_path / "Pandar128.csv", *p128_calibration())
    (tmp_path / "sensors.yaml").write_text(f"sensors:\n  top:\n    topic: /pandar_packets\n    kind: lidar\n"
                                           f"    packets: {{calibration: {cal.name}}}\n")
    (tmp_path / "conv.yaml").write_text("sensors: sensors.yaml\n")
    cfg = load_config(tmp_path / "conv.yaml")
    convert([bag], str(tmp_path / "single.zarr"), cfg)
    lines: list[str] = []
    convert([bag], str(tmp_path / "split.zarr"), cfg, split=SplitSpec(parts=2), say=lines.append)
    rec = report_of(tmp_path / "split.zarr")["split"]
    assert rec["parts"] == 1 and rec["reason"].startswith("/pandar_packets (raw LiDAR packets")
    assert lines == [f"not split: {rec['reason']}"]
    assert_same_store(tmp_path / "single.zarr", tmp_path / "split.zarr")


def test_each_with_split(log: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """``--each --split-above-s``: every log longer than S is split; each store equals its single conversion;
    a failing log is one error line and the others still convert (exit 2)."""
    bag, rig, single = log
    other = tmp_path / "copy" / bag.name
    other.parent.mkdir()
    shutil.copytree(bag, other)
    empty = tmp_path / "empty.mcap"
    empty.write_bytes(b"")
    out = tmp_path / "stores"
    res = subprocess.run([*FUSION, "convert", str(bag), str(empty), str(other), "--each", "-o", str(out), "--rig",
                          str(rig), "--split-above-s", "1"], capture_output=True, text=True, env=ENV,
                         timeout=300)  # fmt: skip
    assert res.returncode == 2  # the empty log fails with its one error line; the others convert
    errors = [line for line in res.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and str(empty) in errors[0], res.stderr
    assert "2 of 3 log(s) converted" in res.stdout
    stores = sorted(out.iterdir())
    assert len(stores) == 2 and res.stderr.count("part 2/2") == 2
    for store in stores:
        assert report_of(store)["split"]["parts"] == 2
        assert_same_store(single, store, ignore=("inputs",))  # the copy's report names its own path


def test_local_cluster_leaves_no_process(log: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """``--split --dask local`` in its own process group: afterwards no worker, forkserver or tracker remains."""
    from test_dask_each import run_group

    bag, rig, single = log
    out = tmp_path / "d.zarr"
    code, _, err = run_group(["convert", str(bag), "-o", str(out), "--rig", str(rig), "--split", "3", "--dask",
                              "local", "--workers", "2"])  # fmt: skip
    assert code == 0, err
    assert_same_store(single, out)


@pytest.mark.slow
def test_ctrl_c_keeps_the_store_for_resume_and_no_part_files(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the process group) while the parts run — seen by their folder appearing —:
    every process stops, the incomplete store is kept with no part folder, and ``--resume --split``
    finishes it into the single-process store."""
    import signal

    from test_dask_each import _cluster_processes, _group, run_group

    bags, _, rig = make_log(tmp_path / "long", ("mcap",), duration_s=8.0, lidar_beams=64, lidar_columns=1024)
    bag = bags["mcap"]
    out = tmp_path / "c.zarr"
    args = ["convert", str(bag), "-o", str(out), "--rig", str(rig), "--split", "4", "--dask", "local", "--workers",
            "2"]  # fmt: skip
    proc = subprocess.Popen([*FUSION, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while not _leftovers(tmp_path) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    deadline = time.monotonic() + 15
    while _group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _group(proc.pid) == [] and _cluster_processes(proc.pid) == []
    assert proc.returncode != 0 and "interrupted:" in err and "--resume" in err, err
    assert out.exists() and _leftovers(tmp_path) == []
    code, _, err = run_group([*args, "--resume"])
    assert code == 0, err
    single = tmp_path / "single.zarr"
    convert([bag], str(single), replace(load_config(None), rig=str(rig)))
    assert_same_store(single, out)


@pytest.mark.slow
def test_parts_on_a_running_scheduler(log: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """``--split 2 --dask tcp://…``: the parts run on a scheduler's workers (sharing this file system)."""
    bag, rig, single = log
    with running_scheduler(tmp_path, ENV) as cluster:
        out = tmp_path / "tcp.zarr"
        cmd = [*FUSION, "convert", str(bag), "-o", str(out), "--rig", str(rig), "--split", "2",
               "--dask", cluster.address]
        res = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)
        assert res.returncode == 0, res.stderr
        assert "part 2/2" in res.stderr
        assert_same_store(single, out)
        assert cluster.alive()  # the cluster outlives it


def test_camera_written_again_in_pass_2_is_split_too(tmp_path: Path) -> None:
    """A camera whose header stamps are mostly 0 is aligned by record time: its pass-1 write is dropped
    and pass 2 writes it, here in 3 parts — with two corrupt JPEGs (skipped, in the report) — equal
    to the single-process store."""
    from test_early_cameras import PERIOD, T0, write_camera_bag

    stamps = [0] * 30
    stamps[2] = T0 + 2 * PERIOD
    write_camera_bag(tmp_path / "bag", stamps, corrupt={5, 21})
    cfg = load_config(None)
    convert([tmp_path / "bag"], str(tmp_path / "single.zarr"), cfg)
    convert([tmp_path / "bag"], str(tmp_path / "split.zarr"), cfg, split=SplitSpec(parts=3))
    rep = report_of(tmp_path / "split.zarr")
    assert rep["split"]["parts"] == 3 and sum(rep["split"]["messages"]) == 28  # 30 − 2 corrupt, all in parts
    assert [s["index"] for s in rep["skipped"]] == [5, 21]
    assert_same_store(tmp_path / "single.zarr", tmp_path / "split.zarr")


def _from_start_equals_filtered(bag: Path) -> int:
    """``messages_from(topics, t)`` = the messages recorded at or after ``t`` (same topics, times, bytes)."""
    from fusion.readers import open_bags

    with open_bags([bag]) as src:
        topics = sorted(src.topics)
        every = [(m.topic, m.record_time_ns, bytes(m.data)) for m in src.messages(topics)]
        times = sorted({t for _, t, _ in every})
        start = times[len(times) // 2]
        got = [(m.topic, m.record_time_ns, bytes(m.data)) for m in src.messages_from(topics, start)]
    want = [m for m in every if m[1] >= start]
    assert sorted(got) == sorted(want) and [g[1] for g in got] == sorted(g[1] for g in got)
    return len(got)


def test_reading_from_a_window_start(log: tuple[Path, Path, Path]) -> None:
    assert _from_start_equals_filtered(log[0]) > 100  # MCAP (rosbag2)


@pytest.mark.shared
def test_reading_from_a_window_start_ros1(shared_data: Path) -> None:
    assert _from_start_equals_filtered(shared_data / "real" / "sick_rms1xxx_radar_lms1xx_lidar2d.bag") > 100


def test_a_log_with_nothing_for_pass_2_is_not_split(tmp_path: Path) -> None:
    """Only a camera (written in pass 1): there is nothing to split; said, and the store is the usual one."""
    from test_early_cameras import PERIOD, T0, write_camera_bag

    write_camera_bag(tmp_path / "bag", [T0 + i * PERIOD for i in range(10)])
    cfg = load_config(None)
    convert([tmp_path / "bag"], str(tmp_path / "single.zarr"), cfg)
    lines: list[str] = []
    convert([tmp_path / "bag"], str(tmp_path / "split.zarr"), cfg, split=SplitSpec(parts=3), say=lines.append)
    reason = "no stream is left for pass 2 (cameras are written in pass 1)"
    assert report_of(tmp_path / "split.zarr")["split"] == {"parts": 1, "reason": reason}
    assert lines == [f"not split: {reason}"]
    assert_same_store(tmp_path / "single.zarr", tmp_path / "split.zarr")


def test_a_log_of_two_bag_files(log: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """One log recorded as two rosbag2 files (cut at 0.9 s): split in 3 parts (a window crosses the
    files) it equals its single-process store."""
    from rosbags.highlevel import AnyReader
    from rosbags.rosbag2 import StoragePlugin, Writer

    bag, rig, _ = log
    halves = [tmp_path / "first", tmp_path / "second"]
    with AnyReader([bag]) as reader:
        cut = reader.start_time + 900_000_000
        writers = [Writer(h, version=8, storage_plugin=StoragePlugin.MCAP) for h in halves]
        for w in writers:
            w.open()
        conns = [{c.id: w.add_connection(c.topic, c.msgtype, msgdef=c.msgdef.data, rihs01=c.digest)
                  for c in reader.connections} for w in writers]  # fmt: skip
        for c, t, data in reader.messages():
            i = int(t >= cut)
            writers[i].write(conns[i][c.id], t, data)
        for w in writers:
            w.close()
    cfg = replace(load_config(None), rig=str(rig))
    res = convert(halves, str(tmp_path / "single.zarr"), cfg)
    assert res.counts["lidar_top"] == 20 and res.counts["radar_front"] == 26 and res.frames == 20  # the whole log
    convert(halves, str(tmp_path / "split.zarr"), cfg, split=SplitSpec(parts=3))
    assert report_of(tmp_path / "split.zarr")["split"]["parts"] == 3
    assert_same_store(tmp_path / "single.zarr", tmp_path / "split.zarr")


def test_a_damaged_bag_is_not_split(log: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """An MCAP cut at 60 %: pass 2 stops at the damage, so the log converts in one piece; the arrays are
    the single conversion's (the report adds pass 2's own "bag truncated" warning: it read the bag,
    not a spool)."""
    bag, rig, _ = log
    cut = tmp_path / "cut"
    shutil.copytree(bag, cut)
    (mcap,) = cut.glob("*.mcap")
    mcap.write_bytes(mcap.read_bytes()[: mcap.stat().st_size * 6 // 10])
    cfg = replace(load_config(None), rig=str(rig))
    res = convert([cut], str(tmp_path / "single.zarr"), cfg)
    assert 0 < res.counts["lidar_top"] < 20  # 12 measured: the part before the damage
    lines: list[str] = []
    convert([cut], str(tmp_path / "split.zarr"), cfg, split=SplitSpec(parts=3), say=lines.append)
    assert lines == ["not split: the bag is damaged"]
    assert report_of(tmp_path / "split.zarr")["split"] == {"parts": 1, "reason": "the bag is damaged"}
    extra = set(report_of(tmp_path / "split.zarr")["warnings"]) - set(report_of(tmp_path / "single.zarr")["warnings"])
    assert len(extra) == 1 and next(iter(extra)).startswith("bag truncated:")
    assert_same_store(tmp_path / "single.zarr", tmp_path / "split.zarr", ignore=("warnings",))


def test_call_log_records_what_pass_2_does_and_replays_it(tmp_path: Path) -> None:
    """The part's camera writer (the real class on columns that keep nothing): calls made while the stream
    opens are not recorded, a call made by another method (``append`` → ``append_payload``) is not
    recorded twice, a call that raises leaves no trace; replayed on a MemorySink's writer it gives the
    columns of the same calls made directly."""
    from fusion.errors import StoreError
    from fusion.kinds.camera import add_camera_stream
    from fusion.pipeline.parts import CallLog, RecordingSink, read_calls, replay
    from fusion.store.memory import MemorySink

    blobs = [np.frombuffer(bytes([i]) * (i + 3), np.uint8) for i in range(5)]

    def open_cam(sink: Any) -> Any:
        w = add_camera_stream(sink, "cam", topic="/cam", frame_id="cam", compressed=True, expected_messages=4)
        w.update_attrs({"opened": True})  # what a kind may do while opening: the driver does it too
        return w

    with open(tmp_path / "calls", "wb") as fh:
        sink = RecordingSink(CallLog(fh))
        w = open_cam(sink)
        sink.start()
        for i, blob in enumerate(blobs):
            w.append(i, i + 1, i + 2, blob, format="jpeg")
        with pytest.raises(StoreError):
            w.append(9, 9, 9, np.zeros(3, np.float32), format="jpeg")  # not uint8: refused, not recorded
    with open(tmp_path / "calls", "rb") as fh:
        calls = list(read_calls(fh))
    assert [c[:2] for c in calls] == [("cam", "append")] * 5
    direct, replayed = MemorySink(), MemorySink()
    wd = open_cam(direct)
    for i, blob in enumerate(blobs):
        wd.append(i, i + 1, i + 2, blob, format="jpeg")
    wr = open_cam(replayed)
    with open(tmp_path / "calls", "rb") as fh:
        assert replay(fh, {"cam": wr}) == 5
    wd.finalize()
    wr.finalize()
    a, b = direct.arrays(), replayed.arrays()
    assert sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)
    assert len(a["streams/cam/offsets"]) == 6
