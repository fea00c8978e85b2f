"""Calibration check images: LiDAR points (coloured by range) and boxes drawn on every camera.

For a frame, each LiDAR's points (deskewed to the frame time, sensor frame) are
moved to the camera's own capture time through the ego trajectory, so a moving
rig does not smear the overlay:

    p_cam = T_cam_base · T_base_world(t_image) · T_world_base(t_frame) · T_base_lidar · p_lidar

then projected with the camera model. When the frame or the image time has no ego
pose, the points are drawn without that motion compensation and each image's title
says so; every image carries a colour bar of the range (m). Misalignment between edges in the image
and depth discontinuities in the points shows calibration or timing errors at a glance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from calibration import SE3, CalibrationError, Trajectory
from calibration.overlay import draw_box_edges, draw_colorbar, draw_points
from fusion.errors import StoreError


def _ego_trajectory(ds: Any) -> Trajectory | None:
    ego = ds.ego
    if len(ego.time_ns) < 2:
        return None
    return Trajectory(ego.time_ns, ego.translation_m, ego.rotation_xyzw)


def _pose(traj: Trajectory | None, t_ns: int) -> SE3 | None:
    if traj is None:
        return None
    try:
        return traj.at(int(t_ns))
    except CalibrationError:
        return None


def lidar_in_camera(
    ds: Any, frame: Any, cam_name: str, lidar_name: str, traj: Trajectory | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project one LiDAR of a frame into one camera at the camera's own capture time.

    Returns:
        (uv (N, 2) float64 pixels, valid (N,) bool, points_cam (N, 3) float64 m in the optical frame).
    """
    rig = ds.calibration
    sensor = rig.sensor(cam_name)
    if sensor.camera is None:
        raise StoreError(f"camera {cam_name!r} has no intrinsics in the store's rig; convert with --rig")
    traj = traj if traj is not None else _ego_trajectory(ds)
    cam = frame.cameras[cam_name]
    T_wb_frame = _pose(traj, frame.time_ns)
    T_wb_img = _pose(traj, cam.time_ns)
    motion = T_wb_img.inverse() @ T_wb_frame if T_wb_frame is not None and T_wb_img is not None else SE3.identity()
    T_cam_lidar = sensor.T_base_sensor.inverse() @ motion @ rig.sensor(lidar_name).T_base_sensor
    pts_cam = T_cam_lidar.apply(frame.lidar[lidar_name].xyz.astype(np.float64))
    uv, valid = sensor.camera.project(pts_cam)
    return uv, valid, pts_cam


def render_frame(ds: Any, index: int, *, max_range_m: float = 60.0, radar: bool = False,
                 traj: Trajectory | None = None) -> dict[str, np.ndarray]:
    """Overlay images for one frame, camera name -> BGR uint8 image.

    Args:
        radar: Also draw the frame's radar returns (rings, :mod:`fusion.export.preview_radar`).
        traj: The ego trajectory (None: built from ``ds.ego``).

    Raises:
        StoreError: the frame has no camera, or the rig has no intrinsics for it.
    """
    frame = ds[index]
    rig = ds.calibration
    traj = traj if traj is not None else _ego_trajectory(ds)
    out: dict[str, np.ndarray] = {}
    if not camera_names(ds):
        raise StoreError("this store has no camera; calib check draws LiDAR points on camera images")
    if not frame.cameras:
        raise StoreError(f"frame {index} has no camera image (valid: {frame.valid}); pick another --frame")
    boxes = frame.boxes  # read once per frame, not once per camera
    for cam_name, cam in frame.cameras.items():
        sensor = rig.sensor(cam_name)
        if sensor.camera is None:
            raise StoreError(f"camera {cam_name!r} has no intrinsics in the store's rig; convert with --rig")
        image = np.ascontiguousarray(cam.image)
        if image.ndim == 2:
            image = cv2.cvtColor(image.astype(np.uint8), cv2.COLOR_GRAY2BGR)
        for lidar_name in frame.lidar:
            uv, valid, pts_cam = lidar_in_camera(ds, frame, cam_name, lidar_name, traj)
            rng = np.linalg.norm(pts_cam, axis=1)
            image = draw_points(image, uv, rng, valid & (rng < max_range_m), 0.0, max_range_m)
        if radar and frame.radar:
            from fusion.export.preview_radar import draw_radar_camera, radar_points

            pts = radar_points(ds, frame, sensor.T_base_sensor.inverse(), int(cam.time_ns), traj)
            image = draw_radar_camera(np.ascontiguousarray(image), pts, sensor.camera)
        image = draw_colorbar(image, 0.0, max_range_m, "m")
        T_wb_img = _pose(traj, cam.time_ns)
        compensated = _pose(traj, frame.time_ns) is not None and T_wb_img is not None
        if boxes and T_wb_img is not None:
            T_cam_world = sensor.T_base_sensor.inverse() @ T_wb_img.inverse()
            corners = np.stack([T_cam_world.apply(b.corners()) for b in boxes])
            image = draw_box_edges(image, corners, sensor.camera, (0, 255, 0))
        label = f"{cam_name}  frame {index}  dt={cam.dt_ns / 1e6:+.1f} ms"
        cv2.putText(image, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
        if not compensated:
            cv2.putText(image, "NOT motion-compensated: no ego pose", (8, 46), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                        (0, 0, 255), 2, cv2.LINE_AA)
        out[cam_name] = image
    return out


def image_streams(ds: Any) -> list[str]:
    """Streams of kind ``image`` (LiDAR panoramas, depth images): not cameras, never projected."""
    return sorted(n for n, s in ds.sensors.items() if s.kind == "image")


def camera_names(ds: Any) -> list[str]:
    """The cameras this store holds (rig sensors of kind ``camera`` with a stream)."""
    rig = ds.calibration
    names = ds[0].valid if len(ds) else {}
    return [n for n in names if n in rig and rig.sensor(n).kind == "camera"]


def default_frame(ds: Any) -> int:
    """The first frame with an ego pose and a camera image (else the first with a camera, else 0).

    Raises:
        StoreError: the store has no camera.
    """
    cams = camera_names(ds)
    if not cams:
        images = image_streams(ds)
        also = f" (image streams {', '.join(images)} are not cameras: no intrinsics, not projected)" if images else ""
        raise StoreError(f"this store has no camera; calib check draws LiDAR points on camera images{also}")
    first_with_camera = None
    for i in range(len(ds)):
        fr = ds[i]
        if not any(fr.valid.get(c) for c in cams):
            continue
        if first_with_camera is None:
            first_with_camera = i
        if np.isfinite(fr.ego_pose).all():
            return i
    return first_with_camera if first_with_camera is not None else 0


def mosaic(images: dict[str, np.ndarray], width: int = 960) -> np.ndarray:
    """Stack images vertically, each resized to ``width`` pixels wide."""
    rows = []
    for img in images.values():
        scale = width / img.shape[1]
        rows.append(cv2.resize(img, (width, max(1, round(img.shape[0] * scale))), interpolation=cv2.INTER_AREA))
    return np.vstack(rows)


def write_check_png(ds: Any, index: int | None, path: str | Path) -> Path:
    """Render frame ``index`` (None: :func:`default_frame`) of a dataset and write the mosaic PNG."""
    if index is None:
        index = default_frame(ds)
    n = len(ds)
    if not -n <= index < n:
        raise StoreError(f"--frame {index} is out of range: the store has {n} frames")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    img = mosaic(render_frame(ds, index))
    if not cv2.imwrite(str(out), img):
        raise StoreError(f"cannot write {out} (check the folder is writable and the name ends in .png)")
    return out
