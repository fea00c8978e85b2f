"""Write → read round trips of every stream kind through StoreWriter and fusion.open."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import zarr
from scipy.spatial.transform import Rotation, Slerp

import fusion
from fusion.errors import StoreError
from fusion.kinds.imu import add_imu_stream
from fusion.kinds.lidar import add_lidar_stream
from fusion.kinds.radar import add_radar_stream
from fusion.store import StoreWriter
from fusion.store.sample import EXTRINSICS, Sample, make_sample, write_sample
from fusion.store.sink import FrameTable


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Sample]:
    path = tmp_path_factory.mktemp("rt") / "drive.zarr"
    return path, write_sample(path)


def _pose(sample: Sample, t_ns: int) -> np.ndarray:
    """Independent T_world_base(t): scipy Slerp + numpy linear interpolation."""
    e = sample.ego
    ts = (e["time_ns"] - e["time_ns"][0]).astype(np.float64)  # relative: float64 is exact here
    q = float(t_ns - e["time_ns"][0])
    rot = Slerp(ts, Rotation.from_quat(e["rotation_xyzw"]))([q])
    M = np.eye(4)
    M[:3, :3] = rot.as_matrix()[0]
    M[:3, 3] = [np.interp(q, ts, e["translation_m"][:, k]) for k in range(3)]
    return M


def test_lidar_points_fields_and_offsets_exact(written: tuple[Path, Sample]) -> None:
    path, smp = written
    ds = fusion.open(str(path))
    for name in ("lidar_top", "lidar_rear"):
        msgs = smp.messages[name]
        idx = smp.matches[name][0]
        seen = 0
        for i, frame in enumerate(ds):
            if idx[i] < 0:
                assert name not in frame.lidar and frame.valid[name] is False
                continue
            m = msgs[idx[i]]
            lf = frame.lidar[name]
            assert len(lf) == m["xyz"].shape[0]
            np.testing.assert_array_equal(lf.column("xyz"), m["xyz"])
            np.testing.assert_array_equal(lf.time_ns, m["ref_time_ns"] + m["time_offset_ns"].astype(np.int64))
            assert lf.fields.keys() == {"intensity", "ring"}
            np.testing.assert_array_equal(lf["intensity"], m["fields"]["intensity"])
            np.testing.assert_array_equal(lf.fields["ring"], m["fields"]["ring"])
            assert lf.fields["ring"].dtype == np.uint16
            if name == "lidar_top":
                np.testing.assert_array_equal(lf.xyz_raw, m["xyz_raw"])
            else:
                assert lf.xyz_raw is None
            assert lf.message_time_ns == m["time_ns"] and lf.dt_ns == m["time_ns"] - frame.time_ns
            seen += 1
        assert seen == len(msgs)
    # Raw columns: offsets are the cumulative counts, the concatenation is exact.
    root = zarr.open_group(str(path), mode="r")
    msgs = smp.messages["lidar_top"]
    counts = np.array([m["xyz"].shape[0] for m in msgs])
    np.testing.assert_array_equal(root["streams/lidar_top/offsets"][:], np.concatenate([[0], np.cumsum(counts)]))
    np.testing.assert_array_equal(root["streams/lidar_top/xyz"][:], np.concatenate([m["xyz"] for m in msgs]))


def test_empty_scan_and_missing_sensor(written: tuple[Path, Sample]) -> None:
    path, _ = written
    ds = fusion.open(str(path))
    empty = ds[3].lidar["lidar_top"]
    assert len(empty) == 0 and empty.xyz.shape == (0, 3) and empty.time_ns.shape == (0,)
    assert empty.in_world().shape == (0, 3)
    assert "lidar_rear" not in ds[2].lidar and ds[2].valid["lidar_rear"] is False
    assert "cam_left" not in ds[4].cameras and ds[4].valid["cam_left"] is False
    assert ds[4].valid["cam_front"] is True


def test_lidar_motion_compensated_to_frame_time(written: tuple[Path, Sample]) -> None:
    path, smp = written
    ds = fusion.open(str(path))
    T_bl = EXTRINSICS["lidar_top"]
    checked = 0
    for i in (1, 5, 7):  # odd frames: ref_time = frame time + 20 ms
        frame = ds[i]
        m = smp.messages["lidar_top"][smp.matches["lidar_top"][0][i]]
        assert m["ref_time_ns"] - frame.time_ns == 20_000_000
        C = np.linalg.inv(_pose(smp, frame.time_ns) @ T_bl) @ (_pose(smp, m["ref_time_ns"]) @ T_bl)
        expected = m["xyz"].astype(np.float64) @ C[:3, :3].T + C[:3, 3]
        lf = frame.lidar["lidar_top"]
        assert lf.xyz.dtype == np.float32
        assert np.abs(lf.xyz - expected).max() < 2e-5  # float32 rounding of ~60 m coordinates
        # the correction is a real motion (≈ 5 m/s · 20 ms = 0.1 m), not a no-op
        assert np.abs(lf.xyz - m["xyz"]).max() > 0.09
        world = lf.in_world()
        np.testing.assert_allclose(world, expected @ (frame.ego_pose @ T_bl)[:3, :3].T + (frame.ego_pose @ T_bl)[:3, 3],
                                   atol=5e-5)
        np.testing.assert_allclose(lf.in_base(), expected @ T_bl[:3, :3].T + T_bl[:3, 3], atol=5e-5)
        checked += 1
    # even frame: stored points returned bit-exactly
    m0 = smp.messages["lidar_top"][smp.matches["lidar_top"][0][2]]
    np.testing.assert_array_equal(ds[2].lidar["lidar_top"].xyz, m0["xyz"])
    np.testing.assert_array_equal(ds[2].ego_pose, smp.ego_T_world_base[2])
    assert checked == 3


def test_radar_cameras_imu_exact(written: tuple[Path, Sample]) -> None:
    path, smp = written
    ds = fusion.open(str(path))
    for i, frame in enumerate(ds):
        r = smp.messages["radar_front"][smp.matches["radar_front"][0][i]]
        rf = frame.radar["radar_front"]
        np.testing.assert_array_equal(rf.radial_velocity_mps, r["radial_velocity_mps"])
        np.testing.assert_array_equal(rf.radial_velocity_comp_mps, r["radial_velocity_comp_mps"])
        np.testing.assert_array_equal(rf["rcs"], r["fields"]["rcs"])
        assert rf.time_ns.tolist() == [r["time_ns"]] * len(r["xyz"])
        if r["time_ns"] != frame.time_ns:  # compensated from the message time to the frame time
            assert not np.array_equal(rf.xyz, r["xyz"]) or len(r["xyz"]) == 0
        for cam in ("cam_front", "cam_left"):
            if smp.matches[cam][0][i] < 0:
                continue
            c = smp.messages[cam][smp.matches[cam][0][i]]
            cf = frame.cameras[cam]
            assert cf.data == c["data"] and cf.format == "jpeg" and cf.time_ns == c["time_ns"]
            np.testing.assert_array_equal(cf.image, cv2.imdecode(np.frombuffer(c["data"], np.uint8), cv2.IMREAD_COLOR))
            assert cf.dt_ns == c["time_ns"] - frame.time_ns
        raw = smp.messages["cam_raw"][smp.matches["cam_raw"][0][i]]
        np.testing.assert_array_equal(frame.cameras["cam_raw"].image, raw["image"])
        assert frame.cameras["cam_raw"].format == "bgr8"
        a, b = smp.imu_range[i]
        imu = frame.imu
        assert imu is not None and (imu.start, imu.stop) == (a, b)
        np.testing.assert_array_equal(imu.time_ns, smp.imu["time_ns"][a:b])
        np.testing.assert_array_equal(imu.angular_velocity_radps, smp.imu["angular_velocity_radps"][a:b])
        np.testing.assert_array_equal(imu.orientation_xyzw, smp.imu["orientation_xyzw"][a:b])
        assert frame.flags == smp.flags[i]


def test_dataset_api(written: tuple[Path, Sample]) -> None:
    path, smp = written
    ds = fusion.open(str(path))
    n = len(smp.frames_time_ns)
    assert len(ds) == n and [f.index for f in ds] == list(range(n))
    np.testing.assert_array_equal(ds.times_ns, smp.frames_time_ns)
    assert ds[-1].index == n - 1 and ds[-n].index == 0
    with pytest.raises(IndexError, match=f"frame index {n} out of range"):
        ds[n]
    view = ds[2:9:3]
    assert [f.index for f in view] == [2, 5, 8] and len(view) == 3
    assert view[-1].index == 8 and view[1:][0].index == 5
    assert ds.at(int(smp.frames_time_ns[4]) + 49_000_000).index == 4
    assert ds.at(int(smp.frames_time_ns[4]) + 51_000_000).index == 5
    assert ds.at(0).index == 0 and view.at(int(smp.frames_time_ns[6])).index == 5
    assert ds.sensors["lidar_rear"].count == 8 and ds.sensors["imu"].kind == "imu"
    assert ds.sensors["cam_front"].topic == "/cam_front"
    assert ds.report == smp.report
    assert ds.rig_dict == smp.rig and sorted(ds.calibration.sensors) == sorted(EXTRINSICS)
    for k, v in smp.ego.items():
        np.testing.assert_array_equal(getattr(ds.ego, k), v)
    assert ds.ego.attrs["source"] == "sample"
    assert ds.attrs["complete"] is True and ds.attrs["fusion_format"] == fusion.store.FORMAT_VERSION
    assert ds.attrs["time_unit"] == "ns" and ds.attrs["vehicle"] == "sample"
    assert ds[0].boxes == []


def test_identical_inputs_give_identical_arrays(tmp_path: Path) -> None:
    smp = make_sample(n_frames=6, points=300, seed=3)
    a, b = tmp_path / "a.zarr", tmp_path / "b.zarr"
    write_sample(a, smp)
    write_sample(b, smp)
    ga, gb = zarr.open_group(str(a), mode="r"), zarr.open_group(str(b), mode="r")
    names_a = sorted(p for p, _ in ga.arrays()) + sorted(f"{g}/{p}" for g, sub in ga.groups() for p, _ in _walk(sub))
    names_b = sorted(p for p, _ in gb.arrays()) + sorted(f"{g}/{p}" for g, sub in gb.groups() for p, _ in _walk(sub))
    assert names_a == names_b and len(names_a) > 40
    for name in names_a:
        np.testing.assert_array_equal(ga[name][...], gb[name][...], err_msg=name)


def _walk(group: zarr.Group) -> list[tuple[str, zarr.Array]]:
    out = [(k, a) for k, a in group.arrays()]
    for k, sub in group.groups():
        out += [(f"{k}/{p}", a) for p, a in _walk(sub)]
    return out


def test_writer_rejects_bad_input(tmp_path: Path) -> None:
    w = StoreWriter.create(tmp_path / "bad.zarr")
    lid = add_lidar_stream(w, "lid", topic="/l", frame_id="l", fields={"intensity": np.float32}, expected_messages=2,
                      expected_points=10, attrs={})
    with pytest.raises(StoreError, match=r"streams/lid: message 0: time_offset_ns has shape \(2,\), expected \(3,\)"):
        lid.append(1, 1, 1, 1, np.zeros((3, 3), np.float32), np.zeros(2, np.int32), {"intensity": np.zeros(3)})
    with pytest.raises(StoreError, match=r"missing \['intensity'\], extra \['i'\]"):
        lid.append(1, 1, 1, 1, np.zeros((3, 3), np.float32), np.zeros(3, np.int32), {"i": np.zeros(3)})
    assert lid.count == 0  # nothing half-appended
    with pytest.raises(StoreError, match="stream name 'lid': already used"):
        add_imu_stream(w, "lid", topic="/i", frame_id="i", expected_messages=1)
    with pytest.raises(StoreError, match="point field name 'xyz' is reserved"):
        add_radar_stream(w, "rad", topic="/r", frame_id="r", fields={"xyz": np.float32}, expected_messages=1,
                    expected_points=1)
    with pytest.raises(StoreError, match="frames/time_ns must be strictly increasing; frame 2"):
        w.write_frames(FrameTable(np.array([1, 2, 2]), np.tile(np.eye(4), (3, 1, 1)), np.zeros(3, np.uint32),
                                  np.zeros((3, 2), np.int64), {}))
    w.abort()
    with pytest.raises(StoreError, match="already finalized or aborted"):
        w.write_report({})


def test_ego_pose_extrapolates_only_briefly() -> None:
    from fusion.store.geometry import READER_MAX_EXTRAPOLATION_NS, ego_poses

    def ego_pose_at(e: dict[str, np.ndarray], t: int) -> np.ndarray:
        return ego_poses(e, [t], max_extrapolation_ns=READER_MAX_EXTRAPOLATION_NS)[0]

    smp = make_sample(n_frames=3, points=10)
    e = smp.ego
    t0 = int(e["time_ns"][0])
    np.testing.assert_allclose(ego_pose_at(e, t0 + 15_000_000), _pose(smp, t0 + 15_000_000), atol=1e-12)
    # 50 ms before the start: the first pose moved back by the constant twist (5 m/s, 0.2 rad/s yaw)
    before = ego_pose_at(e, t0 - 50_000_000)
    yaw = -0.2 * 0.05
    np.testing.assert_allclose(before[:3, 3], e["translation_m"][0] + [-0.25, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(before[:2, :2], [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]], atol=1e-12)
    with pytest.raises(StoreError, match=r"does not cover time .* \(nor within 100 ms of it\)"):
        ego_pose_at(e, t0 - 100_000_001)
    with pytest.raises(StoreError, match=r"\(nor within 0 ms of it\)"):  # no extrapolation unless asked for
        ego_poses(e, [t0 - 1], max_extrapolation_ns=0)
