"""Defaults for every kind of log, nothing stored is a failure, and the per-sensor summary.

Generated MCAP logs (rosbags' writer): radar only; IMU + IMU + GNSS only (no frame sensor);
a LiDAR that never decodes; a LiDAR of which most messages do not decode. Then the real bags
in ../shared/data/real that have no LiDAR or camera convert with no config and validate.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rosbags.typesys.store import Typestore

import fusion
from fusion.errors import NothingStoredError
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.convert import convert
from fusion.store import validate_store
from fusion.testing.kinds import NS, T0, header, typestore, write_mcap

RNG = np.random.default_rng(7)


def _cloud(store: Typestore, stamp: int, frame: str, names: tuple[str, ...], n: int, corrupt: bool = False) -> Any:
    """A PointCloud2 of ``n`` float32 points; ``corrupt``: its data is 4 bytes short of width * point_step."""
    dt = np.dtype({"names": list(names), "formats": ["f4"] * len(names)})
    pts = np.zeros(n, dtype=dt)
    for name in names:
        pts[name] = RNG.normal(size=n).astype(np.float32) * 10
    data = np.frombuffer(pts.tobytes(), np.uint8)
    pf = store.types["sensor_msgs/msg/PointField"]
    fields = [pf(name=nm, offset=4 * i, datatype=7, count=1) for i, nm in enumerate(names)]
    return store.types["sensor_msgs/msg/PointCloud2"](
        header=header(store, stamp, frame), height=1, width=n, fields=fields, is_bigendian=False,
        point_step=dt.itemsize, row_step=dt.itemsize * n, data=data[:-4] if corrupt else data, is_dense=True)


def _imu(store: Typestore, stamp: int, frame: str, k: int) -> Any:
    v3, q = store.types["geometry_msgs/msg/Vector3"], store.types["geometry_msgs/msg/Quaternion"]
    return store.types["sensor_msgs/msg/Imu"](
        header=header(store, stamp, frame), orientation=q(x=0.0, y=0.0, z=0.0, w=1.0),
        orientation_covariance=np.zeros(9), angular_velocity=v3(x=0.01 * k, y=0.0, z=0.0),
        angular_velocity_covariance=np.zeros(9), linear_acceleration=v3(x=0.0, y=0.0, z=9.81),
        linear_acceleration_covariance=np.zeros(9))


def _fix(store: Typestore, stamp: int, frame: str, k: int) -> Any:
    status = store.types["sensor_msgs/msg/NavSatStatus"](status=0, service=1)
    return store.types["sensor_msgs/msg/NavSatFix"](
        header=header(store, stamp, frame), status=status, latitude=52.0 + 1e-6 * k, longitude=5.0,
        altitude=3.0, position_covariance=np.diag([1.0, 1.0, 4.0]).reshape(-1), position_covariance_type=2)


def _stamp(k: int, hz: float, lag_ms: float = 3.0) -> tuple[int, int]:
    """(stamp, record time) of message k of a ``hz`` stream: stamped on the tick, recorded ``lag_ms`` later."""
    stamp = T0 + round(k * NS / hz)
    return stamp, stamp + round(lag_ms * 1e6)


def _fusion(*args: str) -> subprocess.CompletedProcess[str]:
    """``fusion ARGS`` in a subprocess (the CLI's error handling and exit status as a user sees them)."""
    return subprocess.run([sys.executable, "-m", "fusion", *args], capture_output=True, text=True, timeout=600)


def _write(tmp: Path, msgs: list[tuple[str, str, int, Any]]) -> Path:
    return write_mcap(tmp / "log", typestore(), sorted(msgs, key=lambda m: m[2]))


def test_radar_only_log_frames_from_the_radar(tmp_path: Path) -> None:
    store = typestore()
    msgs = [("/radar/points", "sensor_msgs/msg/PointCloud2", _stamp(k, 15)[1],
             _cloud(store, _stamp(k, 15)[0], "radar", ("x", "y", "z", "doppler"), 10 + k)) for k in range(30)]
    res = convert([_write(tmp_path, msgs)], str(tmp_path / "out.zarr"), ConvertConfig())
    assert res.frames == 30  # one frame per radar message
    assert res.reference.startswith("radar:radar (the first radar")
    assert res.sensors["radar"]["stored"] == 30 and res.sensors["radar"]["extrinsic"] == "identity"
    assert validate_store(tmp_path / "out.zarr").ok


@pytest.fixture(scope="module")
def continuous_only(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two IMUs (200 Hz, 50 Hz) and a 5 Hz GNSS over 2 s, no frame sensor, converted with no config."""
    tmp = tmp_path_factory.mktemp("continuous_only")
    store = typestore()
    msgs = [("/imu/data", "sensor_msgs/msg/Imu", _stamp(k, 200)[1], _imu(store, _stamp(k, 200)[0], "imu", k))
            for k in range(400)]
    msgs += [("/imu2/data", "sensor_msgs/msg/Imu", _stamp(k, 50)[1] + 1, _imu(store, _stamp(k, 50)[0], "imu2", k))
             for k in range(100)]
    msgs += [("/gps/fix", "sensor_msgs/msg/NavSatFix", _stamp(k, 5)[1] + 2, _fix(store, _stamp(k, 5)[0], "gps", k))
             for k in range(10)]
    res = convert([_write(tmp, msgs)], str(tmp / "out.zarr"), ConvertConfig())
    return {"result": res, "ds": fusion.open(str(tmp / "out.zarr")), "valid": validate_store(tmp / "out.zarr")}


def test_continuous_only_log_frames_at_the_fastest_rate_capped(continuous_only: dict[str, Any]) -> None:
    res, ds = continuous_only["result"], continuous_only["ds"]
    assert continuous_only["valid"].ok, continuous_only["valid"].problems
    assert res.reference.startswith("rate:100 (no LiDAR, camera or radar")
    assert "(imu, 200.0 Hz) (capped)" in res.reference
    # span: the intersection of the three streams, [T0, T0 + 1.8 s] (the GNSS ends first): 181 frames at 10 ms
    assert res.frames == 181
    t = ds.state.times_ns
    assert int(t[0]) == T0 and int(t[-1]) == T0 + 18 * NS // 10


def test_every_continuous_stream_is_stored(continuous_only: dict[str, Any]) -> None:
    res, ds = continuous_only["result"], continuous_only["ds"]
    assert res.counts == {"imu": 400, "imu2": 100, "gps": 10}
    assert ds.state.imu_stream == "imu"  # frames slice the first IMU
    frame = ds[50]
    assert len(frame.imu) == 2  # 200 Hz samples in a 10 ms frame
    imu2 = ds.stream("imu2").rows()
    np.testing.assert_array_equal(imu2["angular_velocity_radps"][:, 0], 0.01 * np.arange(100))
    gps = ds.stream("gps").rows()
    np.testing.assert_array_equal(gps["latitude_deg"], 52.0 + 1e-6 * np.arange(10))
    assert gps["position_covariance_m2"].shape == (10, 3, 3)
    np.testing.assert_array_equal(ds.stream("gps").stamp_ns, [_stamp(k, 5)[0] for k in range(10)])
    assert ds.sensors["gps"].kind == "gnss"


def _lidar_log(tmp: Path, corrupt: set[int], n: int = 20) -> Path:
    store = typestore()
    msgs = [("/lidar/points", "sensor_msgs/msg/PointCloud2", _stamp(k, 10)[1],
             _cloud(store, _stamp(k, 10)[0], "lidar", ("x", "y", "z", "intensity"), 50, corrupt=k in corrupt))
            for k in range(n)]
    msgs += [("/imu/data", "sensor_msgs/msg/Imu", _stamp(k, 100)[1], _imu(store, _stamp(k, 100)[0], "imu", k))
             for k in range(10 * n)]
    return _write(tmp, msgs)


def test_a_sensor_that_stores_nothing_fails_the_conversion(tmp_path: Path) -> None:
    bag = _lidar_log(tmp_path, corrupt=set(range(20)))
    with pytest.raises(NothingStoredError, match=r"sensor lidar \(/lidar/points\): 0 of 20 message\(s\) stored; "
                       r"main reason: 20 decode_error"):
        convert([bag], str(tmp_path / "out.zarr"), ConvertConfig())
    assert not (tmp_path / "out.zarr").exists()  # nothing left behind that could look valid
    assert not validate_store(tmp_path / "out.zarr").ok


def test_nothing_stored_through_the_cli_is_one_error_line(tmp_path: Path) -> None:
    bag = _lidar_log(tmp_path, corrupt=set(range(20)))
    out = tmp_path / "out.zarr"
    r = _fusion("convert", str(bag), "-o", str(out))
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "sensor lidar (/lidar/points)" in errors[0] and "decode_error" in errors[0]
    assert "Traceback" not in r.stderr
    assert not out.exists()  # a failed conversion leaves no store behind
    assert _fusion("validate", str(out)).returncode == 2
    # excluded on purpose: the IMU alone converts, frames at its rate
    r = _fusion("convert", str(bag), "-o", str(out), "--overwrite", "--exclude-topic", "/lidar/points", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["counts"] == {"imu": 200} and d["reference"].startswith("rate:100")
    assert d["sensors"]["imu"] == {"kind": "imu", "topics": ["/imu/data"], "stamp_source": "header",
                                   "clock_offset_ns": 0, "clock_domain": "common", "extrinsic": "identity",
                                   "stored": 200, "skipped": 0, "main_skip_reason": None}
    assert _fusion("validate", str(out)).returncode == 0


def test_validate_reports_a_topic_mostly_skipped(tmp_path: Path) -> None:
    bag = _lidar_log(tmp_path, corrupt=set(range(0, 20)) - {3, 9, 15, 17, 18, 19})  # 14 of 20 corrupt
    res = convert([bag], str(tmp_path / "out.zarr"), ConvertConfig())
    assert res.sensors["lidar"]["stored"] == 6 and res.sensors["lidar"]["main_skip_reason"] == "decode_error"
    v = validate_store(tmp_path / "out.zarr")
    assert v.problems == ["sensor lidar (/lidar/points): 14 of 20 message(s) skipped (70 % > 50 %); "
                          "main reason: decode_error (14)"]
    assert validate_store(tmp_path / "out.zarr", max_skipped_share=0.75).ok
    r = _fusion("validate", str(tmp_path / "out.zarr"), "--max-skipped-share", "0.75")
    assert r.returncode == 0, r.stderr
    r = _fusion("validate", str(tmp_path / "out.zarr"))
    assert r.returncode == 1 and "14 of 20 message(s) skipped" in r.stderr
    assert _fusion("validate", str(tmp_path / "out.zarr"), "--max-skipped-share", "1.5").returncode == 2


# ---- real bags with no LiDAR or camera: no config ------------------------------------------------
@pytest.mark.shared
def test_real_gnss_only_bag_converts_and_validates(shared_data: Path, tmp_path: Path) -> None:
    res = convert([shared_data / "real" / "nobleo_gps.bag"], str(tmp_path / "out.zarr"), ConvertConfig())
    assert validate_store(tmp_path / "out.zarr").ok
    assert res.counts == {"gps": 151}
    assert res.reference.startswith("rate:10 (no LiDAR, camera or radar")  # the fix rate, 10 Hz
    rows = fusion.open(str(tmp_path / "out.zarr")).stream("gps").rows()
    from rosbags.highlevel import AnyReader

    with AnyReader([shared_data / "real" / "nobleo_gps.bag"]) as reader:  # read independently of fusion
        fixes = [reader.deserialize(raw, c.msgtype) for c, _, raw in reader.messages()
                 if c.msgtype == "sensor_msgs/msg/NavSatFix"]
    order = np.argsort([f.header.stamp.sec * NS + f.header.stamp.nanosec for f in fixes], kind="stable")
    np.testing.assert_array_equal(rows["latitude_deg"], [fixes[i].latitude for i in order])  # ≈ 39.951° N
    np.testing.assert_array_equal(rows["longitude_deg"], [fixes[i].longitude for i in order])  # ≈ -75.190°
    np.testing.assert_array_equal(rows["altitude_m"], [fixes[i].altitude for i in order])
    np.testing.assert_array_equal(rows["position_covariance_m2"],
                                  [np.reshape(fixes[i].position_covariance, (3, 3)) for i in order])


@pytest.mark.shared
def test_real_imu_odometry_gnss_bag_converts_and_validates(shared_data: Path, tmp_path: Path) -> None:
    res = convert([shared_data / "real" / "husky_imu_odom_gps.bag"], str(tmp_path / "out.zarr"), ConvertConfig())
    assert validate_store(tmp_path / "out.zarr").ok
    assert res.counts == {"imu": 11865, "gps": 989, "ego": 3952}
    assert res.reference.startswith("rate:30 (no LiDAR, camera or radar")
    assert {n: s["kind"] for n, s in res.sensors.items()} == {"imu": "imu", "gps": "gnss"}


@pytest.mark.shared
def test_real_radar_imu_bag_with_zero_stamps_converts_with_no_config(shared_data: Path, tmp_path: Path) -> None:
    res = convert([shared_data / "real" / "rio_ti_mmwave_radar_imu.bag"], str(tmp_path / "out.zarr"),
                  ConvertConfig())
    assert validate_store(tmp_path / "out.zarr").ok
    radar = res.sensors["ti_mmwave_radar_scan_pcl"]
    assert radar["stamp_source"] == "record" and radar["stored"] == 412  # every header stamp is 0
    assert res.frames == 412 and res.reference.startswith("radar:ti_mmwave_radar_scan_pcl")
