"""Frame planning: reference times, matches, exclusions, IMU ranges, gap flags, quality."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fusion.errors import ConfigError, SyncError
from fusion.sync import (
    FLAG_EGO_GAP_SWEEP,
    FLAG_EGO_GAP_TIME,
    FLAG_IMU_GAP,
    FrameReference,
    FrameSpec,
    StreamTimes,
    beam_crossing_fraction,
    plan_frames,
)

MS = 1_000_000
ref = FrameReference.parse
T0 = 1_700_000_000_000_000_000


def lidar_stream(n=50, header_at_end=True):
    start = T0 + np.arange(n, dtype=np.int64) * 100 * MS
    end = start + 99 * MS
    return StreamTimes(common_ns=end if header_at_end else start, kind="lidar", sweep_start_ns=start,
                       sweep_end_ns=end)  # fmt: skip


def test_lidar_reference_sweep_start_and_camera_matching():
    lid = lidar_stream()
    cam = StreamTimes(common_ns=T0 + np.arange(150, dtype=np.int64) * 33 * MS + 3 * MS, kind="camera")
    ego = T0 - 50 * MS + np.arange(0, 300, dtype=np.int64) * 20 * MS
    imu = T0 - 50 * MS + np.arange(0, 6000, dtype=np.int64) * MS
    plan = plan_frames(FrameSpec(ref("lidar:top")), {"top": lid, "cam": cam}, ego, imu)
    np.testing.assert_array_equal(plan.time_ns, lid.sweep_start_ns)
    np.testing.assert_array_equal(plan.reference_index, np.arange(50))
    m = plan.sensors["cam"]
    assert m.tolerance_ns == 16_500_000 and m.valid.all()
    # truly nearest camera message (brute force)
    best = np.argmin(np.abs(cam.common_ns[None, :] - plan.time_ns[:, None]), axis=1)
    np.testing.assert_array_equal(m.index, best)
    np.testing.assert_array_equal(m.dt_ns, cam.common_ns[best] - plan.time_ns)
    # IMU ranges: samples in (prev frame, this frame]
    r = plan.imu_range
    assert r is not None
    for f in (1, 7, 49):
        sel = imu[r[f, 0] : r[f, 1]]
        assert sel.min() > plan.time_ns[f - 1] and sel.max() <= plan.time_ns[f] and sel.size == 100
    assert r[0, 1] - r[0, 0] == 51  # frame 0: (t0 − 100 ms, t0], IMU starts at t0 − 50 ms
    assert not plan.flags.any()
    q = plan.quality()
    json.dumps(q)
    assert q["sensors"]["cam"]["missing"] == 0
    assert q["sensors"]["cam"]["abs_dt_ns"]["max"] == int(np.abs(m.dt_ns).max())


def test_reference_time_end_and_header():
    lid = lidar_stream(header_at_end=False)
    ego = T0 + np.arange(-10, 300, dtype=np.int64) * 20 * MS
    p_end = plan_frames(FrameSpec(ref("lidar:top"), reference_time="sweep_end"), {"top": lid}, ego)
    np.testing.assert_array_equal(p_end.time_ns, lid.sweep_end_ns)
    p_hdr = plan_frames(FrameSpec(ref("lidar:top"), reference_time="header"), {"top": lid}, ego)
    np.testing.assert_array_equal(p_hdr.time_ns, lid.common_ns)
    with pytest.raises(ConfigError, match="no sweep_end_ns"):
        plan_frames(FrameSpec(ref("lidar:top"), reference_time="sweep_end"),
                    {"top": StreamTimes(lid.common_ns, "lidar")}, ego)  # fmt: skip


def test_duplicate_zero_and_unsorted_reference_stamps():
    t = T0 + np.array([0, 100, 100, 300, 200, 0, 400], dtype=np.int64) * MS
    raw = t.copy()
    raw[5] = 0
    cam = StreamTimes(common_ns=t, kind="camera", stamp_ns=raw)
    ego = T0 + np.arange(-5, 30, dtype=np.int64) * 20 * MS
    plan = plan_frames(FrameSpec(ref("camera:cam")), {"cam": cam}, ego)
    assert plan.reference_index.tolist() == [0, 1, 4, 3, 6]
    assert np.all(np.diff(plan.time_ns) > 0)
    assert plan.excluded_reference["zero_stamp"].tolist() == [5]
    assert plan.excluded_reference["duplicate_stamp"].tolist() == [2]


def test_ego_gap_flags_time_and_sweep():
    lid = lidar_stream(n=10)
    ego = T0 - 20 * MS + np.arange(0, 80, dtype=np.int64) * 20 * MS
    ego = ego[(ego < T0 + 420 * MS) | (ego > T0 + 560 * MS)]  # gap of 160 ms covering frame 5's start
    ego = ego[ego < T0 + 950 * MS]  # ends inside frame 9's sweep
    imu = T0 + np.arange(0, 800, dtype=np.int64) * MS  # ends at 0.8 s
    plan = plan_frames(FrameSpec(ref("lidar:top")), {"top": lid}, ego, imu)
    f = plan.flags
    assert f[5] & FLAG_EGO_GAP_TIME and f[5] & FLAG_EGO_GAP_SWEEP
    assert not f[5 - 1] & FLAG_EGO_GAP_TIME and f[4] & FLAG_EGO_GAP_SWEEP  # sweep 4 runs into the gap
    assert f[9] & FLAG_EGO_GAP_SWEEP and not f[9] & FLAG_EGO_GAP_TIME
    assert [i for i in range(10) if f[i] & FLAG_IMU_GAP] == [8, 9]
    assert [i for i in range(10) if f[i] & (FLAG_EGO_GAP_TIME | FLAG_EGO_GAP_SWEEP)] == [4, 5, 9]
    assert plan.quality()["flag_counts"] == {"ego_gap_time": 1, "ego_gap_sweep": 3, "imu_gap": 2}


def test_unique_matching_and_missing_sensor_reported():
    lid = lidar_stream(n=20)
    radar = StreamTimes(common_ns=T0 + np.array([0, 5, 300, 1500], dtype=np.int64) * MS, kind="radar")
    ego = T0 + np.arange(-5, 200, dtype=np.int64) * 20 * MS
    plan = plan_frames(FrameSpec(ref("lidar:top"), tolerances_ns={"radar": 20 * MS}), {"top": lid, "radar": radar}, ego)
    m = plan.sensors["radar"]
    assert m.index[:4].tolist() == [0, -1, -1, 2] and m.index[15] == 3
    q = plan.quality()["sensors"]["radar"]
    assert q["matched"] == 3 and q["missing"] == 17 and 1 in q["missing_frames"]


def test_camera_beam_crossing_target():
    lid = lidar_stream(n=10)
    # camera looking left (+y of lidar): optical z = lidar +y → quarter of a CCW sweep from +x
    T = np.eye(4)
    T[:3, :3] = np.array([[0.0, 0, 0], [0, 0, 1], [0, -1, 0]]) + np.array([[-1.0, 0, 0], [0, 0, 0], [0, 0, 0]])
    f = beam_crossing_fraction(T)
    assert f == pytest.approx(0.25)
    cam = StreamTimes(common_ns=lid.sweep_start_ns + round(0.25 * 99 * MS) + 1000, kind="camera")
    ego = T0 + np.arange(-5, 100, dtype=np.int64) * 20 * MS
    plan = plan_frames(FrameSpec(ref("lidar:top"), sweep_fraction={"cam": f}), {"top": lid, "cam": cam}, ego)
    assert plan.sensors["cam"].dt_ns.tolist() == [1000] * 10


def test_rate_reference_and_approximate_time_policy():
    lid = lidar_stream(n=20)
    cam = StreamTimes(common_ns=T0 + np.arange(60, dtype=np.int64) * 33 * MS + 7 * MS, kind="camera")
    ego = T0 + np.arange(-5, 200, dtype=np.int64) * 20 * MS
    plan = plan_frames(FrameSpec(ref("rate:5")), {"top": lid, "cam": cam}, ego)
    assert np.all(np.diff(plan.time_ns) == 200 * MS) and (plan.reference_index == -1).all()
    assert plan.time_ns[0] == max(lid.common_ns[0], cam.common_ns[0])
    ap = plan_frames(FrameSpec(ref("lidar:top"), policy="approximate_time"), {"top": lid, "cam": cam}, ego)
    nn = plan_frames(FrameSpec(ref("lidar:top")), {"top": lid, "cam": cam}, ego)
    # every published set pairs the lidar sweep with its nearest camera frame here
    common = np.isin(nn.reference_index, ap.reference_index)
    assert ap.n_frames >= 18
    np.testing.assert_array_equal(ap.sensors["cam"].index, nn.sensors["cam"].index[common])
    with pytest.raises(ConfigError):
        plan_frames(FrameSpec(ref("rate:5"), policy="approximate_time"), {"top": lid, "cam": cam}, ego)


def test_approximate_time_arrival_order_uses_record_times():
    S = 1_000_000_000
    ego = T0 + np.arange(-1, 200) * S // 2
    spec1 = FrameSpec(ref("lidar:top"), policy="approximate_time", reference_time="header", queue_size=1)
    lid_t, cam_t = T0 + np.array([0, 10, 20, 30]) * S, T0 + np.array([4, 9, 14, 19, 24, 29]) * S
    # camera messages arrive 8 s late: with queue size 1 a live node never completes a set
    live = {"top": StreamTimes(lid_t, "lidar", record_ns=lid_t + S), "cam": StreamTimes(cam_t, "camera",
            record_ns=cam_t + 8 * S)}  # fmt: skip
    assert plan_frames(spec1, live, ego).n_frames == 0
    ideal = {"top": StreamTimes(lid_t, "lidar"), "cam": StreamTimes(cam_t, "camera")}  # stamp order
    p = plan_frames(spec1, ideal, ego)
    assert (p.time_ns - T0).tolist() == [10 * S, 20 * S] and p.sensors["cam"].dt_ns.tolist() == [-S, -S]
    spec = FrameSpec(ref("lidar:top"), policy="approximate_time", reference_time="header")
    # a reference message in no set is listed
    lid2 = StreamTimes(common_ns=T0 + np.array([0, 3, 50]) * S, kind="lidar", record_ns=T0 + np.array([0, 4, 50]) * S)
    cam2 = StreamTimes(common_ns=T0 + np.array([1, 3, 60]) * S, kind="camera", record_ns=T0 + np.array([1, 3, 60]) * S)
    plan2 = plan_frames(spec, {"top": lid2, "cam": cam2}, ego)
    assert plan2.excluded_reference["unmatched"].tolist() == [2]


def test_spec_validation():
    # text is checked once, where it is parsed: the error names the key and the value
    for text in ("lidar", "rate:-1", "rate:nan", "rate:inf", "gps:x", "lidar:", 5):
        with pytest.raises(ConfigError, match=r"^frames\.reference: expected .*, got "):
            ref(text)
    assert (ref("rate:5").kind, ref("rate:5").rate_hz, ref("radar:r").sensor) == ("rate", 5.0, "r")
    # a FrameSpec built in code with values the config layer would refuse is a programming error
    bads = [dict(reference="lidar:a"), dict(reference=ref("lidar:a"), reference_time="middle"),
            dict(reference=ref("lidar:a"), policy="exact"), dict(reference=ref("lidar:a"), max_gap_ns=0)]  # fmt: skip
    for bad in bads:
        with pytest.raises(ValueError, match="invalid FrameSpec"):
            FrameSpec(**bad)
    with pytest.raises(SyncError, match="no stream"):
        plan_frames(FrameSpec(ref("lidar:missing")), {}, np.array([0]))
