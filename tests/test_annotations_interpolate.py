"""Time alignment: 2 Hz keyframes → 10 Hz frames against analytic constant-velocity truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from calibration.rotation import quat_xyzw_from_yaw, quat_xyzw_to_matrix, slerp_xyzw
from fusion.annotations.interpolate import interpolate_to_frames, interpolate_track
from fusion.annotations.model import Cuboid

T0 = 1_700_000_000_000_000_000
SEC = 1_000_000_000


def truth_box(track: int, t_ns: int) -> Cuboid:
    """Constant-velocity track with constant yaw rate (both exact under linear + slerp)."""
    dt = (t_ns - T0) / SEC
    p0 = np.array([5.0 * track, -3.0, 0.8])
    v = np.array([8.0 + track, 1.5 - track, 0.0])
    yaw = -2.9 + 0.4 * dt if track == 0 else 0.3 * track - 0.2 * dt  # track 0 crosses ±π
    return Cuboid.from_yaw(p0 + v * dt, [4.2, 1.9, 1.6], yaw, "car", f"t{track}", time_ns=t_ns, frame="world")


def angle_between(qa: np.ndarray, qb: np.ndarray) -> float:
    """Angle (deg) of the relative rotation; atan2 form, exact near 0 (acos floors at ~1.2e-6 deg)."""
    d = quat_xyzw_to_matrix(qa).T @ quat_xyzw_to_matrix(qb)
    axis = np.array([d[2, 1] - d[1, 2], d[0, 2] - d[2, 0], d[1, 0] - d[0, 1]])
    return math.degrees(math.atan2(float(np.linalg.norm(axis)) / 2, (np.trace(d) - 1) / 2))


def test_2hz_keyframes_to_10hz_frames_match_truth() -> None:
    key_times = [T0 + k * SEC // 2 for k in range(9)]  # 0 … 4 s
    keyframes = [truth_box(track, t) for track in range(3) for t in key_times]
    frame_times = np.array([T0 + 30_000_000 + f * SEC // 10 for f in range(45)], dtype=np.int64)  # offset 30 ms
    frames = interpolate_to_frames(keyframes, frame_times)
    worst_pos, worst_deg = 0.0, 0.0
    for f, boxes in enumerate(frames):
        inside = frame_times[f] <= key_times[-1]
        assert len(boxes) == (3 if inside else 0)  # no extrapolation by default
        for box in boxes:
            ref = truth_box(int(box.track_id[1:]), int(frame_times[f]))
            worst_pos = max(worst_pos, float(np.max(np.abs(box.center_m - ref.center_m))))
            worst_deg = max(worst_deg, angle_between(box.rotation_xyzw, ref.rotation_xyzw))
            assert np.max(np.abs(box.size_lwh_m - ref.size_lwh_m)) <= 1e-12
            assert box.source == "interpolated" and box.time_ns == frame_times[f]
            v_ref = np.array([8.0 + int(box.track_id[1:]), 1.5 - int(box.track_id[1:]), 0.0])
            assert np.max(np.abs(box.velocity_mps - v_ref)) <= 1e-12  # measured 0
    assert worst_pos <= 0.05 and worst_deg <= 0.5  # the requirement
    assert worst_pos <= 3e-14 and worst_deg <= 7e-14  # exact here: measured 7.1e-15 m, 2.4e-14 deg


def test_keyframe_times_stay_labelled_and_untouched() -> None:
    key_times = [T0, T0 + SEC // 2, T0 + SEC]
    keys = [truth_box(1, t).with_(score=0.5 + 0.1 * i) for i, t in enumerate(key_times)]
    frame_times = np.arange(T0, T0 + SEC + 1, SEC // 10, dtype=np.int64)
    out = interpolate_track(keys, frame_times)
    assert [b.source for b in out] == ["labelled"] + ["interpolated"] * 4 + ["labelled"] + ["interpolated"] * 4 + [
        "labelled"]
    assert out[5] is keys[1]
    assert out[3].score == 0.5 and out[7].score == 0.6  # attributes from the keyframe at or before


def test_extrapolation_limit() -> None:
    keys = [truth_box(0, T0), truth_box(0, T0 + SEC // 2)]
    frame_times = np.array([T0 - 100_000_000, T0 - 50_000_000, T0 + SEC // 2 + 50_000_000,
                            T0 + SEC // 2 + 60_000_001], dtype=np.int64)
    assert interpolate_track(keys, frame_times) == [None] * 4
    out = interpolate_track(keys, frame_times, max_extrapolation_ns=60_000_000)
    assert out[0] is None and out[3] is None
    for i in (1, 2):
        box = out[i]
        assert box is not None
        ref = truth_box(0, int(frame_times[i]))
        assert np.max(np.abs(box.center_m - ref.center_m)) <= 1e-12  # measured 0
        assert angle_between(box.rotation_xyzw, ref.rotation_xyzw) <= 1e-14  # measured 2.0e-15 deg


def test_single_keyframe_track_is_held_only_within_limit() -> None:
    key = truth_box(2, T0)
    out = interpolate_track([key], np.array([T0 - 20, T0, T0 + 20, T0 + 21]), max_extrapolation_ns=20)
    assert out[1] is key
    assert out[0] is not None and out[2] is not None and out[3] is None
    assert np.array_equal(out[0].center_m, key.center_m) and out[0].source == "interpolated"


def test_slerp_hemisphere_check() -> None:
    q0 = quat_xyzw_from_yaw(0.2)
    q1 = -quat_xyzw_from_yaw(0.6)  # same rotation, opposite hemisphere
    a = Cuboid(np.zeros(3), np.ones(3), q0, "car", "x", time_ns=0)
    b = Cuboid(np.zeros(3), np.ones(3), q1, "car", "x", time_ns=100)
    mid = interpolate_track([a, b], np.array([50]))[0]
    assert mid is not None and abs(mid.yaw_rad - 0.4) <= 1e-12
    assert np.allclose(slerp_xyzw(q0, q1, 0.5), quat_xyzw_from_yaw(0.4), atol=1e-12)


def test_bad_tracks_raise() -> None:
    a = truth_box(0, T0)
    with pytest.raises(ValueError, match="same time"):
        interpolate_track([a, a], np.array([T0]))
    with pytest.raises(ValueError, match="different frames"):
        interpolate_track([a, truth_box(0, T0 + 1).with_(frame="base_link")], np.array([T0]))


def test_against_synthetic_generator_truth(tmp_path_factory: pytest.TempPathFactory) -> None:
    """2 Hz keyframes from the generator's ``truth.boxes_at`` → its 10 Hz truth, 5 cm / 0.5°."""
    synth = pytest.importorskip("fusion.testing.synth")
    out = synth.generate(synth.SynthConfig(duration_s=0.5, lidar_beams=8, lidar_columns=64),
                         tmp_path_factory.mktemp("synth") / "log")
    truth = synth.load_truth(out.truth_path)
    t0 = int(truth.lidar_scan(0).start_ns)
    key_times = np.array([t0 + k * SEC // 2 for k in range(9)], dtype=np.int64)  # beyond the log: boxes are analytic
    frame_times = np.array([t0 + 37_000_000 + f * SEC // 10 for f in range(40)], dtype=np.int64)

    def boxes(times: np.ndarray) -> list[Cuboid]:
        b = truth.boxes_at(times)
        return [Cuboid.from_yaw(b.centers[i, m], b.sizes[m], b.yaws[m], "obj", str(int(b.ids[m])), time_ns=int(t))
                for i, t in enumerate(times) for m in range(b.ids.size)]

    frames = interpolate_to_frames(boxes(key_times), frame_times)
    ref = {(b.track_id, b.time_ns): b for b in boxes(frame_times)}
    n_moving = 0
    for f_boxes in frames:
        for b in f_boxes:
            r = ref[(b.track_id, b.time_ns)]
            # the requirement is 5 cm / 0.5°; the generator's boxes move at constant velocity and yaw rate
            assert np.max(np.abs(b.center_m - r.center_m)) <= 5e-14  # measured 1.4e-14 m
            assert angle_between(b.rotation_xyzw, r.rotation_xyzw) <= 4e-14  # measured 1.3e-14 deg
            n_moving += int(not truth.boxes_at([b.time_ns]).is_static[int(b.track_id)])
    n_frames_inside = int(np.sum(frame_times <= key_times[-1]))
    assert sum(len(f) for f in frames) == truth.boxes_at([t0]).ids.size * n_frames_inside
    assert n_moving > 0
