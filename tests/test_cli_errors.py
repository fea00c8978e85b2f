"""Every subcommand × the everyday mistakes: exit 2 and exactly one ``error:`` line, never a traceback.

The commands run in-process through ``fusion.cli.main.main`` (what the console script calls), so an
unexpected exception escapes as itself and fails the test. Unwritable outputs are real, not mocked:
CI runs as root (a 0o555 folder stops no write there), so the output is put *under a regular file*
(``NotADirectoryError``/``FileExistsError`` from the OS) or *onto an existing path*; a 0o555 folder
is added when the tests run as a normal user.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from synthlog import make_log

import fusion
from fusion.annotations.model import Cuboid
from fusion.annotations.openlabel_encode import encode_openlabel
from fusion.cli.main import main
from fusion.pipeline.config import ConvertConfig, FramesConfig
from fusion.pipeline.convert import convert
from fusion.sync import FrameReference

PY_WORDS = re.compile(r"overwrite=True|base_frame=|duration_s|write_frames|\{'|Errno|Traceback|\w+Error:")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small log, its rig, a converted store with annotations, a LiDAR-only store and a regular file."""
    tmp = tmp_path_factory.mktemp("cli_errors")
    bags, _, rig = make_log(tmp, ("mcap",), duration_s=1.0)
    store = tmp / "s.zarr"
    cfg = ConvertConfig(rig=str(rig), frames=FramesConfig(reference=FrameReference("lidar", sensor="lidar_top")))
    convert([bags["mcap"]], str(store), cfg)
    t = int(fusion.open(str(store))[3].time_ns)
    label = Cuboid.from_yaw(np.array([5.0, 0.0, 0.0]), np.array([4.0, 2.0, 1.5]), 0.0, "car", "obj0",
                            time_ns=t, frame="odom")
    labels = tmp / "labels.json"
    labels.write_text(json.dumps(encode_openlabel([label])))
    assert main(["annotate", "import", str(store), str(labels)]) is None
    no_cam = tmp / "nocam.zarr"
    convert([bags["mcap"]], str(no_cam), ConvertConfig(rig=str(rig), include_topics=("/lidar/points", "/odom")))
    afile = tmp / "afile"
    afile.write_text("not a folder")
    return {"bag": bags["mcap"], "rig": rig, "store": store, "labels": labels, "nocam": no_cam, "file": afile,
            "tmp": tmp}


def fails(capsys: pytest.CaptureFixture[str], args: list[str], *must: str) -> str:
    """Run ``fusion ARGS``; assert exit 2 and one ``error:`` line naming each of ``must``; return it."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert exc.value.code == 2, (args, err)
    assert len([ln for ln in lines if ln.startswith("error: ")]) == 1 and lines[-1].startswith("error: "), err
    msg = lines[-1]
    assert "\n" not in msg and not PY_WORDS.search(msg), msg
    for word in must:
        assert word in msg, (word, msg)
    return msg


# ---- outputs that cannot be written: under a regular file --------------------------------------

UNDER_FILE: dict[str, Callable[[dict[str, Path]], list[str]]] = {
    "convert": lambda e: ["convert", e["bag"], "-o", e["file"] / "x.zarr", "--rig", e["rig"]],
    "convert --each": lambda e: ["convert", e["bag"], "--each", "-o", e["file"] / "stores"],
    "demo": lambda e: ["demo", "-o", e["file"] / "demo", "--duration", "1"],
    "synth": lambda e: ["synth", "-o", e["file"] / "log", "--duration", "1"],
    "calib extract": lambda e: ["calib", "extract", e["bag"], "-o", e["file"] / "rig.yaml"],
    "calib check": lambda e: ["calib", "check", e["store"], "-o", e["file"] / "c.png"],
    "annotate export": lambda e: ["annotate", "export", e["store"], "-o", e["file"] / "l.json"],
    "export points": lambda e: ["export", "points", e["store"], "--frame", "3", "-o", e["file"] / "p.pcd"],
    "export package": lambda e: ["export", "package", e["store"], "--in", "ego", "-o", e["file"] / "pkg"],
    "export kitti": lambda e: ["export", "kitti", e["store"], "--frames", "3:5", "-o", e["file"] / "kitti"],
    "export nuscenes": lambda e: ["export", "nuscenes", e["store"], "--frames", "3:5", "-o", e["file"] / "nus"],
    "preview": lambda e: ["preview", e["store"], "--frames", "3:5", "-o", e["file"] / "p.mp4"],
}


@pytest.mark.parametrize("case", sorted(UNDER_FILE))
def test_output_under_a_file_is_one_error_line(env: dict[str, Path], capsys: pytest.CaptureFixture[str],
                                               case: str) -> None:
    fails(capsys, UNDER_FILE[case](env), str(env["file"]))


def test_convert_each_output_under_a_file_leaves_nothing(env: dict[str, Path],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    fails(capsys, UNDER_FILE["convert --each"](env), "not a folder")
    assert env["file"].read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0o555 folder")
def test_read_only_folder_is_one_error_line(env: dict[str, Path], capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:  # pragma: no cover - CI runs as root
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        fails(capsys, ["convert", env["bag"], "-o", ro / "x.zarr"], str(ro / "x.zarr"))
        fails(capsys, ["synth", "-o", ro / "log", "--duration", "1"], str(ro))
        fails(capsys, ["export", "points", env["store"], "--frame", "3", "-o", ro / "p.pcd"], str(ro))
    finally:
        ro.chmod(0o755)


def test_annotate_import_into_a_read_only_store(env: dict[str, Path], capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    """A .zip store is read-only by design: one line naming it and what to do."""
    from fusion.store.sample import write_sample

    store = tmp_path / "s.zip"
    write_sample(str(store))
    fails(capsys, ["annotate", "import", store, env["labels"]], str(store), "read-only")


# ---- outputs that exist -------------------------------------------------------------------------

def test_existing_outputs_are_refused_naming_the_flag(env: dict[str, Path], capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    fails(capsys, ["convert", env["bag"], "-o", env["store"]], str(env["store"]), "--overwrite")
    pcd = tmp_path / "p.pcd"
    pcd.write_text("keep me")
    fails(capsys, ["export", "points", env["store"], "--frame", "3", "-o", pcd], str(pcd), "--overwrite")
    assert pcd.read_text() == "keep me"
    log = tmp_path / "log"
    assert main(["synth", "-o", str(log), "--duration", "0.5", "--format", "mcap", "--lidar-beams", "8",
                 "--lidar-columns", "64", "--width", "64", "--height", "48"]) is None
    fails(capsys, ["synth", "-o", log, "--duration", "0.5", "--format", "mcap"], "exists", "--overwrite")
    fails(capsys, ["convert", env["bag"], "-o", env["file"]], str(env["file"]), "is a file")


# ---- bad indices and values -----------------------------------------------------------------------

def test_bad_indices_and_values(env: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    s, out = env["store"], tmp_path / "o"
    fails(capsys, ["export", "points", s, "--frame", "999", "-o", out / "p.pcd"], "--frame 999", "out of range")
    fails(capsys, ["export", "points", s, "--frame", "3", "-o", out / "p.txt"], ".pcd or .ply")
    fails(capsys, ["export", "points", s, "--lidar", "nope", "-o", out / "p.pcd"], "--lidar", "'nope'")
    fails(capsys, ["export", "points", s, "--in", "moon", "-o", out / "p.pcd"], "--in")
    fails(capsys, ["calib", "check", s, "--frame", "999", "-o", out / "c.png"], "--frame 999")
    fails(capsys, ["calib", "check", env["nocam"], "-o", out / "c.png"], "this store has no camera")
    fails(capsys, ["demo", "--duration", "0", "-o", out / "d"], "--duration")
    fails(capsys, ["demo", "--duration", "abc"], "--duration")
    fails(capsys, ["synth", "-o", out / "l", "--duration", "-1"], "--duration")
    fails(capsys, ["synth", "-o", out / "l", "--speed", "0"], "--speed")
    fails(capsys, ["synth", "-o", out / "l", "--drop-rate", "2"], "--drop-rate")
    fails(capsys, ["convert", env["bag"], "-o", out / "x.zarr", "--reference", "lidar:nope"], "'nope'")
    fails(capsys, ["convert", env["bag"], "-o", out / "x.zarr", "--deskew", "sideways"], "--deskew")
    fails(capsys, ["convert", env["bag"], "-o", out / "x.zarr", "-S", "novalue"], "--storage-option")
    fails(capsys, ["convert", env["bag"], "-o", out / "x.zarr", "--rig", tmp_path / "none.yaml"], "none.yaml")
    fails(capsys, ["calib", "extract", tmp_path / "none.bag", "-o", out / "r.yaml"], "none.bag")
    fails(capsys, ["annotate", "export", tmp_path / "none.zarr", "-o", out / "l.json"], "none.zarr")
    fails(capsys, ["annotate", "import", s, tmp_path / "none.json"], "none.json")
    fails(capsys, ["inspect", tmp_path / "none.bag"], "none.bag")
    fails(capsys, ["validate", tmp_path / "missing.zarr"], "missing.zarr")
    fails(capsys, ["nosuchcommand"], "nosuchcommand")
    assert not out.exists()  # no failed command left a folder behind


def test_inline_sensors_mapping_in_the_config_names_the_key(env: dict[str, Path], capsys: pytest.CaptureFixture[str],
                                                            tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sensors:\n  lidar_top: /lidar/points\n")
    fails(capsys, ["convert", env["bag"], "-o", tmp_path / "x.zarr", "--config", cfg], str(cfg), "sensors")
    assert not (tmp_path / "x.zarr").exists()


def test_messages_name_flags_not_python_words(capsys: pytest.CaptureFixture[str]) -> None:
    """`fusion calib --help` lists only the subcommands that exist; help and messages use CLI words."""
    capsys.readouterr()
    assert main(["calib", "--help"]) in (0, None)
    out = capsys.readouterr().out
    listed = re.findall(r"^  (\w+)  ", out, flags=re.M)
    assert sorted(listed) == ["check", "extract"], out
    assert "convert" not in out.split("Commands:")[0].lower() and "validate" not in out.lower()


def test_wrong_serialization_format_names_it_without_python_syntax(capsys: pytest.CaptureFixture[str]) -> None:
    bag = Path(__file__).resolve().parents[1] / "../shared/data/edge/ros2/wrong_serialization_format_mcap"
    if not bag.exists():
        pytest.skip("shared edge data not available")
    fails(capsys, ["inspect", bag], "'wrong_format'", "cdr")


# ---- nothing half-written -------------------------------------------------------------------------

def test_failed_conversion_leaves_no_store_and_the_next_one_works(env: dict[str, Path],
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    """A planning error after the store was created (beam_crossing names a camera the rig lacks)."""
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("frames:\n  reference: lidar:lidar_top\n  beam_crossing: [camera_nope]\n")
    out = tmp_path / "x.zarr"
    fails(capsys, ["convert", env["bag"], "-o", out, "--rig", env["rig"], "--config", cfg], "beam_crossing")
    assert not out.exists()
    capsys.readouterr()
    assert main(["convert", str(env["bag"]), "-o", str(out), "--rig", str(env["rig"]), "--json"]) is None
    assert json.loads(capsys.readouterr().out)["frames"] == len(fusion.open(str(out)))


def test_interrupted_conversion_keeps_its_store_for_resume(env: dict[str, Path], tmp_path: Path) -> None:
    """Only an interruption leaves an incomplete store (for --resume); the progress callback interrupts."""
    out = tmp_path / "i.zarr"

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        convert([env["bag"]], str(out), ConvertConfig(rig=str(env["rig"])), progress=stop)
    assert (out / "zarr.json").is_file()
    assert json.loads((out / "zarr.json").read_text())["attributes"]["complete"] is False


def test_demo_reruns_into_the_same_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's first command works twice: the rerun replaces the demo's own output."""
    out = tmp_path / "demo"
    keep = out / "notes.txt"
    out.mkdir()
    keep.write_text("mine")
    for _ in range(2):
        capsys.readouterr()
        assert main(["demo", "-o", str(out), "--duration", "1"]) is None
        assert "fusion validate: OK" in capsys.readouterr().out
    assert fusion.open(str(out / "demo.zarr")) is not None and keep.read_text() == "mine"


@pytest.mark.parametrize("text", ["frames:\n  reference: [a\n  b: {\n", "a: " + "[" * 3000 + "]" * 3000 + "\n",
                                  "a: " + "9" * 5000 + "\n"])
def test_yaml_errors_are_one_line(env: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                  text: str) -> None:
    """A broken, too deeply nested or too large YAML document: one line naming the file (and the position)."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    err = fails(capsys, ["convert", env["bag"], "-o", tmp_path / "x.zarr", "--config", bad], str(bad), "YAML")
    if text.startswith("frames"):
        assert "line 3, column 4" in err
    fails(capsys, ["convert", env["bag"], "-o", tmp_path / "x.zarr", "--rig", bad], str(bad), "YAML")
