"""A deterministic sample store with every stream kind, for tests, benchmarks and demos.

:func:`make_sample` builds the inputs (random points, JPEG bytes via ``cv2.imencode``, raw
images, IMU, ego trajectory, frame table) from a seed; :func:`write_sample` writes them with
the public :class:`~fusion.store.writer.StoreWriter` API and returns them as ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fusion.store import geometry as geo

T0_NS = 1_700_000_000_000_000_000
FRAME_NS = 100_000_000


def _T(yaw: float, t: tuple[float, float, float]) -> np.ndarray:
    M = np.eye(4)
    c, s = np.cos(yaw), np.sin(yaw)
    M[:2, :2] = [[c, -s], [s, c]]
    M[:3, 3] = t
    return M


EXTRINSICS = {
    "lidar_top": _T(0.03, (1.2, 0.0, 1.9)),
    "lidar_rear": _T(np.pi, (-1.0, 0.0, 1.0)),
    "radar_front": _T(0.0, (3.6, 0.0, 0.5)),
}


@dataclass
class Sample:
    """Ground truth written by :func:`write_sample` (per-message lists keyed by stream name)."""

    frames_time_ns: np.ndarray
    ego_T_world_base: np.ndarray
    flags: np.ndarray
    imu_range: np.ndarray
    matches: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    imu: dict[str, np.ndarray] = field(default_factory=dict)
    ego: dict[str, np.ndarray] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    rig: dict[str, Any] = field(default_factory=dict)


def sample_rig() -> dict[str, Any]:
    """``calibration.Rig.to_dict()`` of the sample's LiDARs and radar (EXTRINSICS)."""
    import calibration as cal

    kinds = {"lidar_top": "lidar", "lidar_rear": "lidar", "radar_front": "radar"}
    sensors = {n: cal.Sensor(n, kinds[n], n, cal.SE3.from_matrix(M)) for n, M in EXTRINSICS.items()}
    return dict(cal.Rig(sensors, base_frame="base_link").to_dict())


def _jpeg(img: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return bytes(buf.tobytes())


def make_sample(n_frames: int = 12, points: int = 1024, image_hw: tuple[int, int] = (48, 64),
                seed: int = 7, ref_offset_ns: int = 20_000_000) -> Sample:
    """Build the inputs of a sample store (see module docstring).

    Frame ``i`` is at ``T0_NS + i*FRAME_NS``. ``lidar_top`` has a scan every frame whose
    ``ref_time_ns`` is the frame time for even frames and ``frame + ref_offset_ns`` for odd
    ones; frame 3 has an empty scan (0 points). ``lidar_rear`` misses every third frame.
    """
    rng = np.random.default_rng(seed)
    ft = T0_NS + FRAME_NS * np.arange(n_frames, dtype=np.int64)
    # Ego: 100 Hz from 0.2 s before the first frame to 0.2 s after the last, curving at 5 m/s.
    et = np.arange(ft[0] - 200_000_000, ft[-1] + 200_000_001, 10_000_000, dtype=np.int64)
    s = (et - et[0]) / 1e9
    yaw = 0.2 * s
    ego = {
        "time_ns": et,
        "translation_m": np.stack([5 * s, 0.5 * s**2, 0.01 * s], -1),
        "rotation_xyzw": np.stack([np.zeros_like(s), np.zeros_like(s), np.sin(yaw / 2), np.cos(yaw / 2)], -1),
        "linear_velocity_mps": np.tile([5.0, 0.0, 0.0], (s.size, 1)),
        "angular_velocity_radps": np.tile([0.0, 0.0, 0.2], (s.size, 1)),
    }
    poses = geo.ego_poses(ego, ft, max_extrapolation_ns=0)
    msgs: dict[str, list[dict[str, Any]]] = {k: [] for k in ("lidar_top", "lidar_rear", "radar_front",
                                                               "cam_front", "cam_left", "cam_raw")}
    matches: dict[str, tuple[list[int], list[int], list[bool]]] = {k: ([], [], []) for k in msgs}
    for i, t_np in enumerate(ft):
        t = int(t_np)
        for name in msgs:
            missing = (name == "lidar_rear" and i % 3 == 2) or (name == "cam_left" and i == 4)
            if missing:
                matches[name][0].append(-1)
                matches[name][1].append(0)
                matches[name][2].append(False)
                continue
            jitter = int(rng.integers(-3_000_000, 3_000_000))  # ns
            mt = t + jitter
            m: dict[str, Any] = {"stamp_ns": mt - 1000, "record_time_ns": mt + 5_000_000, "time_ns": mt}
            if name.startswith("lidar"):
                n = 0 if (name == "lidar_top" and i == 3) else int(rng.integers(points // 2, points + 1))
                m["ref_time_ns"] = t + (ref_offset_ns if (i % 2 and name == "lidar_top") else 0)
                m["xyz"] = rng.normal(0, 20, (n, 3)).astype(np.float32)
                m["xyz_raw"] = (m["xyz"] + rng.normal(0, 0.01, (n, 3))).astype(np.float32)
                m["time_offset_ns"] = rng.integers(-50_000_000, 50_000_000, n).astype(np.int32)
                m["fields"] = {"intensity": rng.random(n).astype(np.float32),
                               "ring": rng.integers(0, 64, n).astype(np.uint16)}
            elif name.startswith("radar"):
                n = int(rng.integers(0, 60))
                m["xyz"] = rng.normal(0, 30, (n, 3)).astype(np.float32)
                m["radial_velocity_mps"] = rng.normal(0, 5, n).astype(np.float32)
                m["radial_velocity_comp_mps"] = rng.normal(0, 5, n).astype(np.float32)
                m["fields"] = {"rcs": rng.normal(0, 10, n).astype(np.float32)}
            else:
                h, w = image_hw
                img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
                img[: h // 2] = img[: h // 2] // 8  # some structure for the codecs
                m["image"] = img
                m["data"] = img if name == "cam_raw" else _jpeg(img)
                m["format"] = "bgr8" if name == "cam_raw" else "jpeg"
            matches[name][0].append(len(msgs[name]))
            matches[name][1].append(mt - t)
            matches[name][2].append(True)
            msgs[name].append(m)
    k = n_frames * 10 + 5
    it = np.sort(ft[0] - 100_000_000 + rng.choice(n_frames * FRAME_NS + 100_000_000, k, replace=False)).astype(np.int64)
    imu = {"stamp_ns": it - 7, "record_time_ns": it + 1_000_000, "time_ns": it,
           "angular_velocity_radps": rng.normal(0, 0.1, (k, 3)), "linear_acceleration_mps2": rng.normal(0, 1, (k, 3)),
           "orientation_xyzw": np.tile([0.0, 0.0, 0.0, 1.0], (k, 1))}
    bounds = np.searchsorted(it, ft, side="right")
    imu_range = np.stack([np.concatenate([[0], bounds[:-1]]), bounds], -1).astype(np.int64)
    flags = np.zeros(n_frames, np.uint32)
    flags[min(5, n_frames - 1)] = 1
    m_arr = {k2: (np.array(a, np.int64), np.array(b, np.int64), np.array(c, bool)) for k2, (a, b, c) in matches.items()}
    counts = {k2: len(v) for k2, v in msgs.items()} | {"imu": k}
    report = {"counts": counts, "skipped": [{"topic": "/x", "index": j, "reason": "decode"} for j in range(50)],
              "sync": {"max_abs_dt_ms": 3.0}}
    rig = sample_rig()
    return Sample(ft, poses, flags, imu_range, m_arr, msgs, imu, ego, report, rig)


def write_sample(url: Any, sample: Sample | None = None, *, overwrite: bool = False,
                 storage_options: dict[str, Any] | None = None, finalize: bool = True,
                 fingerprint: str = "sample") -> Sample:
    """Write ``sample`` (default :func:`make_sample`) to ``url``; ``finalize=False`` aborts instead."""
    from fusion.kinds.camera import add_camera_stream
    from fusion.kinds.imu import add_imu_stream
    from fusion.kinds.lidar import add_lidar_stream
    from fusion.kinds.radar import add_radar_stream
    from fusion.store.sink import EgoColumns, FrameTable, RootAttrs, SensorMatches
    from fusion.store.writer import StoreWriter

    smp = sample or make_sample()
    w = StoreWriter.create(url, overwrite=overwrite, input_fingerprint=fingerprint, storage_options=storage_options)
    w.set_root_attrs(RootAttrs(base_frame="base_link", world_frame="odom", extra={"vehicle": "sample"}))
    w.write_rig(smp.rig)
    writers: dict[str, Any] = {}
    for name, ms in smp.messages.items():
        common: dict[str, Any] = {"topic": f"/{name}", "frame_id": name, "expected_messages": max(len(ms) - 2, 0),
                  "attrs": {"msgtype": "test", "time_convention": "stamp"}}
        if name.startswith("lidar"):
            writers[name] = add_lidar_stream(w, name, fields={"intensity": np.float32, "ring": np.uint16},
                                        expected_points=100, with_xyz_raw=name == "lidar_top" or None,
                                        T_base_sensor=None if name == "lidar_top" else EXTRINSICS[name],
                                        **common)
        elif name.startswith("radar"):
            writers[name] = add_radar_stream(w, name, fields={"rcs": np.float32}, expected_points=100,
                                        T_base_sensor=EXTRINSICS[name], **common)
        elif name == "cam_raw":
            writers[name] = add_camera_stream(w, name, compressed=False, **common)  # shape from the first image
        else:
            writers[name] = add_camera_stream(w, name, compressed=True, **common)
    imu_w = add_imu_stream(w, "imu", topic="/imu", frame_id="imu", expected_messages=10, attrs={})
    order = sorted(((m["time_ns"], name, j) for name, ms in smp.messages.items() for j, m in enumerate(ms)))
    for _, name, j in order:
        m = smp.messages[name][j]
        t3 = (m["stamp_ns"], m["record_time_ns"], m["time_ns"])
        if name.startswith("lidar"):
            writers[name].append(*t3, m["ref_time_ns"], m["xyz"], m["time_offset_ns"], m["fields"],
                                 xyz_raw=m["xyz_raw"] if name == "lidar_top" else None)
        elif name.startswith("radar"):
            writers[name].append(*t3, m["xyz"], m["radial_velocity_mps"], m["radial_velocity_comp_mps"], m["fields"])
        else:
            writers[name].append(*t3, m["data"], format=m["format"])
    half = smp.imu["time_ns"].size // 2
    for sl in (slice(0, half), slice(half, None)):
        imu_w.append_many(*(smp.imu[c][sl] for c in ("stamp_ns", "record_time_ns", "time_ns",
                                                      "angular_velocity_radps", "linear_acceleration_mps2",
                                                      "orientation_xyzw")))
    w.write_ego(EgoColumns(**smp.ego, attrs={"parent": "odom", "child": "base_link", "source": "sample"}))
    w.write_frames(FrameTable(smp.frames_time_ns, smp.ego_T_world_base, smp.flags, smp.imu_range,
                              {k: SensorMatches(*m) for k, m in smp.matches.items()}))
    w.write_report(smp.report)
    if finalize:
        w.finalize()
    else:
        w.abort()
    return smp
