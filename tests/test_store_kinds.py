"""Stream-kind details: mixed image formats, raw cameras, radar compensation, writer lifecycle."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import fusion
from fusion.errors import IncompleteStoreError, StoreError
from fusion.kinds.camera import add_camera_stream
from fusion.kinds.imu import add_imu_stream
from fusion.store import StoreWriter, validate_store
from fusion.store.sample import EXTRINSICS, make_sample, write_sample
from fusion.store.sink import FrameTable, SensorMatches

T0 = 1_700_000_000_000_000_000


def _frames(w: StoreWriter, n: int, sensors: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    t = T0 + 100_000_000 * np.arange(n, dtype=np.int64)
    w.write_frames(FrameTable(t, np.tile(np.eye(4), (n, 1, 1)), np.zeros(n, np.uint32), np.zeros((n, 2), np.int64),
                              {k: SensorMatches(*m) for k, m in sensors.items()}))


def test_mixed_formats_png_depth_and_raw_camera(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 255, (20, 30, 3), dtype=np.uint8) for _ in range(3)]
    depth = rng.integers(0, 60000, (20, 30), dtype=np.uint16)
    blobs = [cv2.imencode(".jpg", imgs[0])[1].tobytes(), cv2.imencode(".png", imgs[1])[1].tobytes(),
             b"\x00" * 12 + cv2.imencode(".png", depth)[1].tobytes()]
    formats = ["jpeg", "png", "16UC1; compressedDepth png"]
    path = tmp_path / "c.zarr"
    with StoreWriter.create(path) as w:
        cam = add_camera_stream(w, "cam", topic="/c", frame_id="c", compressed=True, expected_messages=1)
        raw = add_camera_stream(w, "raw", topic="/r", frame_id="r", compressed=False, expected_messages=1)
        for k in range(3):
            t = T0 + 100_000_000 * k
            cam.append(t, t, t, blobs[k], format=formats[k])
            raw.append(t, t, t, imgs[k], format="bgr8")
        with pytest.raises(StoreError, match=r"streams/raw: message 3: image \(20, 31, 3\) uint8 differs"):
            raw.append(t, t, t, np.zeros((20, 31, 3), np.uint8))
        idx = (np.arange(3), np.zeros(3, np.int64), np.ones(3, bool))
        _frames(w, 3, {"cam": idx, "raw": idx})
    ds = fusion.open(str(path))
    assert ds.state.streams["cam"].attrs["formats"] == formats and ds.state.streams["cam"].attrs["format"] is None
    assert ds.state.streams["raw"].attrs["format"] == "bgr8"
    assert [f.cameras["cam"].format for f in ds] == formats
    assert [f.cameras["cam"].data for f in ds] == blobs
    np.testing.assert_array_equal(ds[1].cameras["cam"].image, imgs[1])  # PNG is lossless
    np.testing.assert_array_equal(ds[2].cameras["cam"].image, depth)  # 12-byte header skipped, uint16 kept
    for k in range(3):
        np.testing.assert_array_equal(ds[k].cameras["raw"].image, imgs[k])
        assert ds[k].cameras["raw"].data == imgs[k].tobytes()
    assert validate_store(str(path)).problems == []


def test_undecodable_image_names_stream_and_message(tmp_path: Path) -> None:
    path = tmp_path / "u.zarr"
    with StoreWriter.create(path) as w:
        add_camera_stream(w, "cam", topic="/c", frame_id="c", compressed=True, expected_messages=1).append(
            T0, T0, T0, b"not a jpeg", format="jpeg")
        _frames(w, 1, {"cam": (np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1, bool))})
    cf = fusion.open(str(path))[0].cameras["cam"]
    assert cf.data == b"not a jpeg"
    with pytest.raises(StoreError, match=r"streams/cam\[0\]: cannot decode 10 bytes of format 'jpeg'"):
        _ = cf.image


def test_radar_compensated_to_frame_time_exactly(tmp_path: Path) -> None:
    smp = make_sample(n_frames=4, points=50)
    path = tmp_path / "r.zarr"
    write_sample(path, smp)
    ds = fusion.open(str(path))
    from fusion.store.geometry import READER_MAX_EXTRAPOLATION_NS, ego_poses

    def ego_pose_at(e: dict[str, np.ndarray], t: int) -> np.ndarray:
        return ego_poses(e, [t], max_extrapolation_ns=READER_MAX_EXTRAPOLATION_NS)[0]

    T = EXTRINSICS["radar_front"]
    for i, f in enumerate(ds):
        m = smp.messages["radar_front"][smp.matches["radar_front"][0][i]]
        C = np.linalg.inv(ego_pose_at(smp.ego, f.time_ns) @ T) @ (ego_pose_at(smp.ego, m["time_ns"]) @ T)
        expected = (m["xyz"].astype(np.float64) @ C[:3, :3].T + C[:3, 3]).astype(np.float32)
        rf = f.radar["radar_front"]
        np.testing.assert_array_equal(rf.xyz, expected)
        assert rf.ref_time_ns == m["time_ns"] != f.time_ns


def test_context_manager_aborts_on_error(tmp_path: Path) -> None:
    path = tmp_path / "e.zarr"
    with pytest.raises(RuntimeError, match="boom"), StoreWriter.create(path) as w:
        add_imu_stream(w, "imu", topic="/i", frame_id="i", expected_messages=1)
        raise RuntimeError("boom")
    with pytest.raises(IncompleteStoreError):
        fusion.open(str(path))


def test_boxes_written_after_conversion_are_visible(tmp_path: Path) -> None:
    """annotations/ added after finalize (not in the consolidated metadata) is read by Frame.boxes."""
    store_io = pytest.importorskip("fusion.annotations.store_io")
    from fusion.annotations.model import Cuboid

    path = tmp_path / "b.zarr"
    smp = write_sample(path, make_sample(n_frames=3, points=20))
    assert fusion.open(str(path))[1].boxes == []
    import zarr

    box = Cuboid(center_m=np.array([1.0, 2.0, 0.5]), size_lwh_m=np.array([4.0, 2.0, 1.5]),
                 rotation_xyzw=np.array([0.0, 0.0, 0.0, 1.0]), label="car", track_id="t1",
                 frame="world", time_ns=int(smp.frames_time_ns[1]))
    root = zarr.open_group(str(path), mode="r+", use_consolidated=False)
    store_io.write_annotations(root, [[], [box], []], smp.frames_time_ns, [box])
    boxes = fusion.open(str(path))[1].boxes
    assert len(boxes) == 1 and boxes[0].label == "car" and boxes[0].track_id == "t1"
    np.testing.assert_array_equal(boxes[0].center_m, [1.0, 2.0, 0.5])
    assert fusion.open(str(path))[0].boxes == []
