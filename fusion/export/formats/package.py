"""``fusion export package``: an annotation-vendor package (layout in docs/EXPORT.md).

Per frame ``frames/NNNNNN/``: ``points.pcd`` (binary PCD: x y z intensity float32, ``t_ns`` int32 =
point time − frame time), one image per camera (original bytes; raw images encoded once as PNG),
``frame.json`` (frame time ns, ego pose, files, per-camera times) and ``calibration.json``
(intrinsics with the distortion model, extrinsics as position + quaternion **x, y, z, w**).
Whole sequence: ``manifest.json`` and ``segments_sequence.json`` (the shape of a Segments.ai
point-cloud sequence sample). Every JSON file follows ``fusion/export/schema/package.schema.json``.

Coordinate frame of the points (``--in``): ``sensor`` (the LiDAR's), ``ego`` (base_link at the
frame time) or ``world`` — the world frame *relative to the first exported frame's ego pose*, so
coordinates stay small: float32 has a 24-bit mantissa, 1 mm steps up to ~8 km but 0.5 m steps at
the 5e6 m of a UTM northing; the absolute origin is kept in float64 in the manifest.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from calibration.se3 import invert_transform
from fusion.errors import ExportError
from fusion.export.common import (
    ExportResult,
    OptionSpec,
    Selection,
    ego_poses_at,
    has_pose,
    image_file,
    pose_record,
    require_poses,
    write_json,
)
from fusion.export.formats import Progress
from fusion.export.pcd import write_points
from fusion.export.points import frame_cloud

FRAMES = ("world", "ego", "sensor")
#: fusion distortion model -> Segments.ai's model and coefficient names (segments.typing's Distortion)
_SEGMENTS_DISTORTION = {"plumb_bob": ("brown-conrady", ("k1", "k2", "p1", "p2", "k3")),
                        "rational_polynomial": ("brown-conrady", ("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6")),
                        "equidistant": ("fisheye", ("k1", "k2", "k3", "k4"))}


def package_schema() -> dict[str, Any]:
    """The JSON Schema of the package (manifest at the root; ``$defs``: frame, calibration, segments)."""
    text = resources.files("fusion.export").joinpath("schema/package.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def _camera_intrinsics(cam: Any) -> dict[str, Any]:
    return {"width": int(cam.width), "height": int(cam.height), "K": np.asarray(cam.K, float).tolist(),
            "distortion_model": str(cam.distortion_model), "distortion": np.asarray(cam.D, float).ravel().tolist()}


def _segments_image(name: str, url: str, col: int, T_cloud_cam: np.ndarray, cam: Any) -> dict[str, Any]:
    p = pose_record(T_cloud_cam)
    qx, qy, qz, qw = p["orientation_xyzw"]
    img: dict[str, Any] = {
        "name": name, "url": url, "row": 0, "col": col,
        "intrinsics": {"intrinsic_matrix": np.asarray(cam.K, float).tolist()},
        "extrinsics": {"translation": dict(zip("xyz", p["position"], strict=True)),
                       "rotation": {"qx": qx, "qy": qy, "qz": qz, "qw": qw}},
        "camera_convention": "OpenCV",
    }
    model = _SEGMENTS_DISTORTION.get(str(cam.distortion_model))
    D = np.asarray(cam.D, float).ravel()
    if model is not None and len(D) >= len(model[1]):
        img["distortion"] = {"model": model[0], "coefficients": dict(zip(model[1], D.tolist(), strict=False))}
    return img


class PackageExporter:
    """:class:`~fusion.export.formats.Exporter` of the annotation-vendor package."""

    name = "package"
    options = (OptionSpec("in_frame", "Coordinate frame of the points: world (relative to the first exported "
                          "frame's pose), ego (base_link) or sensor (one LiDAR).", "world", FRAMES, cli="--in"),)

    def export(self, ds: Any, out: Path, selection: Selection, progress: Progress, *, in_frame: str = "world",
               **_: Any) -> ExportResult:
        """Write the package (see the module docstring)."""
        if in_frame not in FRAMES:
            raise ExportError(f"--in must be one of {', '.join(FRAMES)}, got {in_frame!r}")
        lidars, cams = selection.pick(ds, "lidar"), selection.pick(ds, "camera")
        if not lidars:
            raise ExportError("the package needs a LiDAR: the store (or --sensors) has none")
        if in_frame == "sensor" and len(lidars) != 1:
            raise ExportError(f"--in sensor needs exactly one LiDAR, have {lidars}: pass --sensors or --in ego")
        frames = selection.frames
        if in_frame == "world":
            require_poses(ds, frames, "--in world")
        rig = ds.calibration
        T_bs = {n: np.asarray(rig.sensor(n).T_base_sensor.matrix) for n in (*lidars, *cams)}
        # the package's world: the first exported frame with an ego pose (--in world: the first frame)
        T_origin = next((T for T in (ds[i].ego_pose for i in frames) if has_pose(T)), None)
        T_origin_inv = None if T_origin is None else invert_transform(T_origin)
        cloud_frame = {"world": "world", "ego": "ego", "sensor": f"sensor:{lidars[0]}"}[in_frame]
        files = nbytes = dropped = 0
        ego = ds.ego
        manifest_frames: list[dict[str, Any]] = []
        segments: list[dict[str, Any]] = []
        for k, i in enumerate(frames):
            fr = ds[i]
            T_wb = fr.ego_pose
            posed = has_pose(T_wb) and T_origin_inv is not None
            T_o_b = T_origin_inv @ T_wb if posed else None  # type: ignore[operator]
            # T_cloud_base at the frame time: how base_link maps into the points' frame
            T_cloud_base = {"world": T_o_b, "ego": np.eye(4),
                            "sensor": invert_transform(T_bs[lidars[0]])}[in_frame]
            assert T_cloud_base is not None  # world was checked by require_poses
            cloud = frame_cloud(fr, lidars, {n: None if in_frame == "sensor" else T_cloud_base @ T_bs[n]
                                             for n in lidars})  # sensor frame: the stored float32 as is
            dropped += cloud.dropped
            rel = f"frames/{k:06d}"
            folder = out / rel
            pcd = write_points(folder / "points.pcd", {"x": cloud.xyz[:, 0], "y": cloud.xyz[:, 1],
                                                       "z": cloud.xyz[:, 2], "intensity": cloud.intensity,
                                                       "t_ns": cloud.t_ns},
                               comment=f"fusion export package, frame {cloud_frame}")
            nbytes += pcd.stat().st_size
            images: dict[str, Any] = {}
            calib: dict[str, Any] = {"quaternion_order": "xyzw", "points_frame": cloud_frame, "sensors": {}}
            seg_images: list[dict[str, Any]] = []
            cam_views = fr.views("camera")
            for col, name in enumerate(cams):
                sensor = rig.sensor(name)
                view = cam_views.get(name)
                entry: dict[str, Any] = {"kind": "camera", "frame_id": sensor.frame_id,
                                         "intrinsics": _camera_intrinsics(sensor.camera),
                                         "sensor_to_base": pose_record(T_bs[name])}
                T_cloud_cam = T_cloud_base @ T_bs[name]
                if view is not None:
                    T_wb_cam = ego_poses_at(ego, np.array([view.time_ns]))[0]
                    if has_pose(T_wb) and has_pose(T_wb_cam):  # the camera where it was when the image was taken
                        T_cloud_cam = T_cloud_base @ invert_transform(T_wb) @ T_wb_cam @ T_bs[name]
                    data, ext = image_file(view)
                    (folder / f"{name}{ext}").write_bytes(data)
                    files += 1
                    nbytes += len(data)
                    images[name] = {"file": f"{rel}/{name}{ext}", "time_ns": int(view.time_ns),
                                    "encoded": not view.compressed}
                    seg_images.append(_segments_image(name, f"{rel}/{name}{ext}", col, T_cloud_cam, sensor.camera))
                entry["sensor_to_points"] = pose_record(T_cloud_cam)
                calib["sensors"][name] = entry
            for name in lidars:
                calib["sensors"][name] = {"kind": "lidar", "frame_id": rig.sensor(name).frame_id,
                                          "sensor_to_base": pose_record(T_bs[name]),
                                          "sensor_to_points": pose_record(T_cloud_base @ T_bs[name])}
            frame_doc = {"index": int(i), "time_ns": int(fr.time_ns),
                         "ego_pose": pose_record(T_o_b) if T_o_b is not None else None,
                         "points": {"file": f"{rel}/points.pcd", "frame": cloud_frame, "count": len(cloud.xyz),
                                    "fields": ["x", "y", "z", "intensity", "t_ns"]},
                         "images": images, "calibration": f"{rel}/calibration.json"}
            nbytes += write_json(folder / "calibration.json", calib) + write_json(folder / "frame.json", frame_doc)
            files += 3
            manifest_frames.append({"index": int(i), "time_ns": int(fr.time_ns), "frame": f"{rel}/frame.json"})
            seg: dict[str, Any] = {"pcd": {"url": f"{rel}/points.pcd", "type": "pcd"}, "images": seg_images,
                                   "timestamp": int(fr.time_ns), "name": f"frame_{k:06d}"}
            if T_o_b is not None:  # where the points' frame sits in the sequence's world
                T_seq_cloud = T_o_b @ invert_transform(T_cloud_base)
                p = pose_record(T_seq_cloud)
                qx, qy, qz, qw = p["orientation_xyzw"]
                seg["ego_pose"] = {"position": dict(zip("xyz", p["position"], strict=True)),
                                   "heading": {"qx": qx, "qy": qy, "qz": qz, "qw": qw}}
            segments.append(seg)
            progress(1)
        manifest = {"format": "fusion-package", "version": 1, "store": ds.url, "points_frame": cloud_frame,
                    "world_frame": ds.attrs.get("world_frame", "world"),
                    "base_frame": ds.attrs.get("base_frame", "base_link"),
                    "world_origin": pose_record(T_origin) if T_origin is not None else None,
                    "quaternion_order": "xyzw", "time_unit": "ns",
                    "sensors": {n: ds.sensors[n].kind for n in (*lidars, *cams)}, "frames": manifest_frames}
        nbytes += write_json(out / "manifest.json", manifest)
        nbytes += write_json(out / "segments_sequence.json", {"frames": segments})
        notes = (f"{dropped} point(s) without a finite position were left out",) if dropped else ()
        return ExportResult(len(frames), files + 2, nbytes, notes)
