"""Terminal output: tables that fit the terminal without breaking a word, whole tables in logs, ``--json`` for
every summary, ``inspect STORE`` with the report's warnings and skips, the ``--each`` final table and the
Ctrl-C message naming the incomplete store and the resume command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from synthlog import make_log

from fusion.cli.main import main
from fusion.cli.output import format_offset_ns
from fusion.cli.tables import MIN_ELIDED, Column, elide_middle, fit_table, fitted_widths
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.convert import convert
from fusion.testing.synth import Faults

REPO = Path(__file__).resolve().parents[1]


@given(st.text(min_size=0, max_size=80), st.integers(min_value=1, max_value=90))
def test_elide_middle_keeps_both_ends_and_the_width(text: str, width: int) -> None:
    out = elide_middle(text, width)
    if len(text) <= width:
        assert out == text
        return
    assert len(out) == width
    head, _, tail = out.partition("…")
    assert text.startswith(head) and text.endswith(tail)
    assert len(tail) >= len(head)  # the end (what tells topics apart) is favoured


@given(
    st.lists(st.text(alphabet="abc/_xyz", min_size=1, max_size=60), min_size=1, max_size=8),
    st.integers(min_value=60, max_value=200),
)
def test_fitted_widths_fit_when_the_floors_allow(names: list[str], width: int) -> None:
    columns = (Column("topic", elide=True), Column("count", right=True), Column("type name", elide=True))
    rows = [(n, str(i), n[::-1]) for i, n in enumerate(names)]
    widths = fitted_widths(columns, rows, width)
    budget = width - 3 * (len(columns) - 1) - 2
    floors = MIN_ELIDED * 2 + max(len("count"), *(len(r[1]) for r in rows))
    assert sum(widths) <= max(budget, floors)
    assert widths[1] >= max(len(r[1]) for r in rows)  # numbers are never cut


def _render(table: object, width: int, terminal: bool) -> list[str]:
    with open(os.devnull, "w") as sink:
        con = Console(width=width, force_terminal=terminal, color_system=None, record=True, file=sink)
        con.print(table)
        return con.export_text().splitlines()


def test_a_table_fits_80_columns_and_never_breaks_a_topic() -> None:
    topics = ["/sensor_platform/radar_right/trigger", "/camera/front_wide/image_rect_color/compressed",
              "/ouster/points", "/imu/data"]
    columns = (Column("topic", elide=True), Column("type", elide=True), Column("count", right=True),
               Column("latency p50 / p99 ms"), Column("anomalies", elide=True))
    rows = [(t, "sensor_msgs/CompressedImage", "12345", "0.28 / 0.40", "ok") for t in topics]
    con = Console(width=80, force_terminal=True)
    lines = _render(fit_table(columns, rows, con), 80, True)
    assert all(len(line) <= 80 for line in lines), lines
    body = lines[-len(topics):]
    for topic, line in zip(topics, body, strict=True):
        cell = line.split("│")[0].strip()
        head, sep, tail = cell.partition("…")
        assert cell == topic or (sep and topic.startswith(head) and topic.endswith(tail)), (topic, cell)
    assert len(lines) == len(topics) + 3  # one header line per wrapped header word at most, one row per topic


def test_a_table_in_a_log_is_whole() -> None:
    topics = ["/a/very/long/topic/name/that/would/never/fit/in/eighty/columns/image_raw"] * 2
    columns = (Column("topic", elide=True), Column("count", right=True))
    con = Console(width=40, force_terminal=False)  # not a terminal: no width limit
    lines = _render(fit_table(columns, [(t, "1") for t in topics], con), 200, False)
    assert sum(topics[0] in line for line in lines) == 2


def test_offsets_have_short_units() -> None:
    assert format_offset_ns(0) == "0.000 ms"
    assert format_offset_ns(-23_000_000) == "-23.000 ms"
    assert format_offset_ns(338_524_890_578_000) == "+338524.891 s"  # the rio bag's IMU: 3.92 d, to the ms
    assert format_offset_ns(-1_588_000_000 * 10**9) == "-18379.63 d"  # an uptime clock vs epoch
    assert format_offset_ns(12_500_000_000) == "+12.500 s"


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("terminal")
    bags, _, rig = make_log(tmp / "a", ("mcap",), duration_s=1.0, faults=Faults(corrupt_count=3))
    good, _, _ = make_log(tmp / "b", ("bag",), duration_s=1.0)
    store = tmp / "faulty.zarr"
    convert([bags["mcap"]], str(store), ConvertConfig(rig=str(rig)))
    return {"faulty_bag": bags["mcap"], "good_bag": good["bag"], "rig": rig, "store": store, "tmp": tmp}


def test_inspect_store_shows_warnings_and_skips(logs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(logs["store"])]) is None
    out = capsys.readouterr().out
    assert "fusion store format" in out and "complete" in out
    assert main(["inspect", str(logs["store"]), "--json"]) is None
    summary = json.loads(capsys.readouterr().out)
    assert summary["skipped_total"] == 18  # the generator corrupted 3 messages on each of the 6 topics
    skipped = summary["skipped_by_topic"]
    assert sum(sum(r.values()) for r in skipped.values()) == 18 and len(skipped) == 6
    for topic, reasons in skipped.items():  # every skipped topic and reason is in the text output
        assert topic in out
        for reason, n in reasons.items():
            assert f"{n} {reason}" in out
    for w in summary["warnings"][:10]:
        assert w in out
    assert "9.985738717464573" not in out and "None" not in out


def test_each_ends_with_a_table_of_every_log(logs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    empty = logs["tmp"] / "empty.bag"
    empty.write_bytes(b"")
    out_dir = logs["tmp"] / "each"
    with pytest.raises(SystemExit) as exc:
        main(["convert", str(logs["good_bag"]), str(empty), "--each", "-o", str(out_dir), "--rig", str(logs["rig"])])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    tail = captured.out[captured.out.index("1 of 2 log(s) converted"):]
    assert str(logs["good_bag"]) in tail and " ok " in tail
    assert str(empty) in tail and "failed: " in tail
    assert f"error: {empty}:" in captured.err  # the failure itself, with a colon


def test_synth_and_demo_print_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", "-o", str(tmp_path / "log"), "--duration", "0.5", "--format", "bag", "--json"]) is None
    out = json.loads(capsys.readouterr().out)
    assert set(out["bags"]) == {"bag"} and out["messages_per_bag"] == sum(out["counts"].values()) > 0
    assert main(["demo", "-o", str(tmp_path / "demo"), "--duration", "1", "--json"]) is None
    res = json.loads(capsys.readouterr().out)
    assert res["validate_problems"] == [] and res["convert"]["frames"] == 10
    assert res["accuracy"]["deskew_p99_mm"] < 6.0  # measured 1.9 mm


@pytest.mark.slow
def test_ctrl_c_names_the_store_and_how_to_resume(tmp_path: Path) -> None:
    bags, _, rig = make_log(tmp_path, ("bag",), duration_s=8.0)
    store = tmp_path / "s.zarr"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-m", "fusion", "convert", str(bags["bag"]), "-o", str(store), "--rig", str(rig)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (store / "zarr.json").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the conversion finished before Ctrl-C arrived")
    assert proc.returncode in (130, -signal.SIGINT), err
    assert "Traceback" not in err
    line = next(x for x in err.splitlines() if x.startswith("interrupted"))
    assert f"{store} is incomplete" in line and "--resume" in line
    resume = line.split("finish with: ")[1].split(" (or")[0].split()
    assert resume[:2] == ["fusion", "convert"]
    done = subprocess.run([sys.executable, "-m", "fusion", *resume[1:]], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert main(["validate", str(store)]) is None


@pytest.mark.shared
def test_calib_extract_prints_json(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bag = shared_data / "real" / "sick_rms1xxx_radar_lms1xx_lidar2d.bag"
    assert main(["calib", "extract", str(bag), "-o", str(tmp_path / "rig.yaml"), "--json"]) is None
    out = json.loads(capsys.readouterr().out)
    assert out["sensors"] == ["cloud", "radar"] and out["base_frame"] == "cloud" and out["constant_tf"] == 1


def test_annotate_import_prints_json(logs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    import fusion
    from fusion.annotations.model import Cuboid
    from fusion.annotations.openlabel_encode import encode_openlabel

    t = int(fusion.open(str(logs["store"]))[2].time_ns)
    box = Cuboid.from_yaw(np.array([5.0, 0.0, 0.0]), np.array([4.0, 2.0, 1.5]), 0.0, "car", "obj0", time_ns=t,
                          frame="odom")
    late = Cuboid.from_yaw(np.array([5.0, 0.0, 0.0]), np.array([4.0, 2.0, 1.5]), 0.0, "car", "obj1",
                           time_ns=t + 10**12, frame="odom")
    labels = logs["tmp"] / "labels.json"
    labels.write_text(json.dumps(encode_openlabel([box, late])))
    assert main(["annotate", "import", str(logs["store"]), str(labels), "--json"]) is None
    out = json.loads(capsys.readouterr().out)
    assert out["labels_decoded"] == 2 and out["keyframes"] == 1 and out["tracks"] == 1
    assert [i["kind"] for i in out["not_imported"]] == ["outside_time_range"]
