"""``fusion calib extract`` and sensor discovery/mapping against the generator's truth and real bags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import calibration as cal
from fusion.cli.calib import calib
from fusion.errors import ConfigError
from fusion.readers import open_bags
from fusion.readers.calib_source import collect_calibration
from fusion.readers.records import SensorKind
from fusion.readers.sensors import discover_sensors, effective_stamps, load_sensor_map, resolve_sensors
from fusion.testing.synth import Faults, SynthConfig, generate, load_truth

REPO = Path(__file__).resolve().parents[1]
SMALL = {"duration_s": 0.5, "lidar_beams": 8, "lidar_columns": 64, "image_width": 64, "image_height": 48}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Any:
    faults = Faults(corrupt_count=1, topics=("/camera/front/camera_info",))
    return generate(SynthConfig(**SMALL, faults=faults), tmp_path_factory.mktemp("s"), formats=("bag", "mcap"))


@pytest.mark.parametrize("fmt", ["bag", "mcap"])
def test_calib_extract_matches_truth(synth: Any, fmt: str, tmp_path: Path) -> None:
    truth = load_truth(synth.truth_path)
    out = tmp_path / "rig.yaml"
    res = CliRunner().invoke(calib, ["extract", str(synth.bags[fmt]), "-o", str(out), "--base-frame", "base_link"])
    assert res.exit_code == 0, res.output
    rig = cal.load_rig(out)
    for name in ("lidar_top", "camera_front", "camera_left", "radar_front"):
        np.testing.assert_allclose(rig.sensors[name].T_base_sensor.matrix, truth.T_base_sensor(name), atol=1e-12)
    imu = next(s for s in rig.sensors.values() if s.frame_id == truth.frame_id("imu"))
    np.testing.assert_allclose(imu.T_base_sensor.matrix, truth.T_base_sensor("imu"), atol=1e-12)
    for name in ("camera_front", "camera_left"):
        cam, want = rig.sensors[name].camera, truth.camera(name)
        np.testing.assert_array_equal(cam.K, want["K"])
        np.testing.assert_array_equal(cam.D, want["D"])
        assert (cam.width, cam.height) == (want["width"], want["height"])
    with open_bags(synth.bags[fmt]) as src:
        found = collect_calibration(src)
    assert found.camera_infos["camera_front_optical"]["topic"] == "/camera/front/image/compressed"
    # only the first CameraInfo per camera is read: a corrupt first one is skipped (and the next used)
    first_corrupt = [f for f in truth.faults() if f["kind"] == "corrupt" and f["index"] == 0]
    assert len(found.skipped) == len(first_corrupt)


def test_calib_extract_without_sources_fails_clearly(shared_data: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        calib, ["extract", str(shared_data / "real/nobleo_gps.bag"), "-o", str(tmp_path / "r.yaml")]
    )
    assert res.exit_code != 0 and isinstance(res.exception, ConfigError)
    assert "nobleo_gps.bag" in str(res.exception)


def test_discover_synthetic_rig(synth: Any) -> None:
    with open_bags(synth.bags["bag"]) as src:
        found = discover_sensors(src)
        assert set(found) == {"lidar_top", "camera_front", "camera_left", "radar_front", "imu", "ego"}
        assert found["radar_front"].kind is SensorKind.RADAR and found["lidar_top"].kind is SensorKind.LIDAR
        assert found["camera_front"].info_topic == "/camera/front/camera_info"
        assert found["camera_left"].info_topic == "/camera/left/camera_info"
        assert found["ego"].topic == "/odom"
        mapped = resolve_sensors(src, REPO / "configs/sensors/synthetic.yaml")
        assert set(mapped) == set(found)
        assert mapped["radar_front"].radar_fields.doppler == "doppler_mps"
        assert mapped["lidar_top"].time_convention == "ouster_t"
        opts = load_sensor_map(REPO / "configs/sensors/synthetic.yaml").decode_options()
        rec = src.decode(next(src.messages(["/radar/front/points"])), options=opts)
        assert set(rec.fields) == {"rcs"}


def test_rio_radar_map_and_trigger_stamps(shared_data: Path) -> None:
    with open_bags(shared_data / "real/rio_ti_mmwave_radar_imu.bag") as src:
        sensors = resolve_sensors(src, REPO / "configs/sensors/rio_radar.yaml")
        radar = sensors["radar"]
        assert radar.stamp_source == "topic:/sensor_platform/radar_right/trigger"
        trig = "/sensor_platform/radar_right/trigger"
        st = src.stamps([radar.topic, trig])
        stamps = effective_stamps(radar, st)
        trig_stamp, trig_rec = st[trig]
        rec = st[radar.topic][1]
        for i in (0, 100, 411):  # ground truth: the trigger recorded last before the radar scan
            j = int(np.flatnonzero(trig_rec <= rec[i]).max())
            assert stamps[i] == trig_stamp[j]
        assert (stamps > 0).all() and (np.diff(stamps) > 0).all()
        assert "/sensor_platform/baro" not in {s.topic for s in sensors.values()}


def test_sensor_map_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("sensors:\n  x:\n    topic: /a\n    colour: red\n")
    with pytest.raises(ConfigError, match=r"sensors\.x.*colour"):
        load_sensor_map(bad)
    bad.write_text("sensors:\n  x:\n    topic: /a\n    stamp_source: gps\n")
    with pytest.raises(ConfigError, match="stamp_source"):
        load_sensor_map(bad)
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_sensor_map(tmp_path / "missing.yaml")


def test_first_camera_info_corrupt_uses_the_next(tmp_path: Path) -> None:
    from test_readers_util import T0, header, mk, store_for, write_bag

    s = store_for("mcap")
    roi = mk(s, "sensor_msgs/msg/RegionOfInterest", x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    info = mk(s, "sensor_msgs/msg/CameraInfo", header=header(s, T0, "cam_optical"), height=48, width=64,
              distortion_model="plumb_bob", d=np.zeros(5), k=np.array([50.0, 0, 32, 0, 50, 24, 0, 0, 1]),
              r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0, roi=roi)  # fmt: skip
    good = bytes(s.serialize_cdr(info, "sensor_msgs/msg/CameraInfo"))
    msgs = [
        ("/cam/info", "sensor_msgs/msg/CameraInfo", T0, good[:30]),
        ("/cam/info", "sensor_msgs/msg/CameraInfo", T0 + 1, good),
    ]
    path = write_bag(tmp_path / "ci", "mcap", s, msgs, raw=True)
    with open_bags(path) as src:
        found = collect_calibration(src)
    assert len(found.skipped) == 1 and "/cam/info[0]" in found.skipped[0]
    assert found.camera_infos["cam_optical"]["k"] == [50.0, 0, 32, 0, 50, 24, 0, 0, 1]
