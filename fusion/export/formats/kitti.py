"""``fusion export kitti``: the KITTI raw layout of one drive, plus KITTI tracking labels.

::

    <date>/calib_cam_to_cam.txt calib_velo_to_cam.txt calib_imu_to_velo.txt     (<date> = YYYY_MM_DD, UTC)
    <date>/<date>_drive_NNNN_sync/
        velodyne_points/data/NNNNNNNNNN.bin  x y z intensity, float32, LiDAR frame (deskewed to the frame time)
        velodyne_points/timestamps.txt       frame times (UTC, ns digits)
        image_0X/data/NNNNNNNNNN.jpg|png     one folder per camera (sorted names; image_00 = reference camera)
        image_0X/timestamps.txt              each image's own time
        oxts/data/NNNNNNNNNN.txt             30 values from the ego trajectory at the frame time
        oxts/timestamps.txt, oxts/dataformat.txt
    label_02/0000.txt                        tracking labels in the image_00 camera frame (if annotated)
    track_ids.txt                            KITTI integer track id → fusion track id
    README.md                                what this export loses

KITTI's "IMU" (the OXTS frame) is fusion's base_link; the world (odom) is taken as ENU and placed
on the globe by the devkit's Mercator projection around ``--origin``. What KITTI cannot hold is
listed in the export's README.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from calibration.se3 import invert_transform
from fusion.annotations.kitti import encode_kitti
from fusion.errors import ExportError
from fusion.export.common import ExportResult, OptionSpec, Selection, image_file, require_poses
from fusion.export.formats import Progress
from fusion.export.formats import kitti_files as kf
from fusion.export.points import frame_cloud

README = """# KITTI raw export (fusion export kitti)

Source store: {store}; frames {first}..{last} ({n} frames); LiDAR `{lidar}`; cameras {cams}.
Drive: `{drive_dir}` (calibration files in its date folder).
Layout and conventions: fusion's docs/EXPORT.md (section KITTI).

## What this export loses
- Images are the recorded bytes ({formats}); KITTI raw has rectified PNGs. Nothing is rectified:
  `R_rect_0X` is the identity and `P_rect_0X = K_X [R_0X | T_0X]` ignores lens distortion (`D_0X` is
  written as recorded, model per camera: {models}).
- Velodyne points are deskewed to the frame time in the LiDAR frame; ring and per-point time are dropped.
- OXTS: latitude/longitude are the local world (odom, taken as ENU) placed by the devkit's Mercator
  projection around origin {origin}; accelerations, accuracies and GPS states are unknown (0; navstat 4).
- Labels: KITTI keeps only the yaw about the camera's y axis; 2D boxes, truncation, occlusion and alpha
  are unknown (0, 0, 0, -10); fusion track ids become integers (track_ids.txt); categories are fusion's labels.
- Radar, IMU samples and further LiDARs are not exported.{missing}
"""


def _origin(text: str) -> tuple[float, float, float]:
    try:
        lat, lon, alt = (float(v) for v in str(text).split(","))
    except ValueError:
        raise ExportError(f"--origin {text!r}: expected LAT,LON,ALT in degrees and metres") from None
    if not (-85.0 < lat < 85.0 and -180.0 <= lon <= 180.0):
        raise ExportError(f"--origin {text!r}: latitude must be within ±85°, longitude within ±180°")
    return lat, lon, alt


class KittiExporter:
    """:class:`~fusion.export.formats.Exporter` of the KITTI raw layout."""

    name = "kitti"
    options = (OptionSpec("origin", "LAT,LON,ALT (deg, deg, m) of the world origin for oxts.", "0,0,0"),
               OptionSpec("drive", "Drive number in the folder name <date>_drive_NNNN_sync.", 1))

    def export(self, ds: Any, out: Path, selection: Selection, progress: Progress, *, origin: str = "0,0,0",
               drive: int = 1, **_: Any) -> ExportResult:
        """Write the KITTI raw layout (see the module docstring)."""
        geo = _origin(origin)
        lidars, cams = selection.pick(ds, "lidar"), selection.pick(ds, "camera")
        if len(lidars) != 1:
            raise ExportError(f"KITTI holds exactly one LiDAR (velodyne_points), the selection has {lidars or 'none'}: "
                              "pick one with --sensors")
        if len(cams) > 10:
            raise ExportError(f"KITTI numbers cameras image_00..image_09; the selection has {len(cams)}: use --sensors")
        frames = selection.frames
        require_poses(ds, frames, "KITTI (oxts)")
        if not 0 <= drive <= 9999:
            raise ExportError(f"--drive {drive}: KITTI drive numbers have 4 digits (0..9999)")
        day = kf.kitti_date(ds[frames[0]].time_ns)
        drive_dir = f"{day}/{day}_drive_{drive:04d}_sync"
        rig = ds.calibration
        lidar = lidars[0]
        T_bl = np.asarray(rig.sensor(lidar).T_base_sensor.matrix)
        T_bc = {c: np.asarray(rig.sensor(c).T_base_sensor.matrix) for c in cams}
        nbytes = files = 0

        def put(rel: str, data: bytes | str) -> None:
            nonlocal nbytes, files
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            raw = data.encode() if isinstance(data, str) else data
            path.write_bytes(raw)
            nbytes += len(raw)
            files += 1

        if cams:
            T_c0_b = invert_transform(T_bc[cams[0]])
            put(f"{day}/calib_cam_to_cam.txt", kf.cam_to_cam([
                (rig.sensor(c).camera.width, rig.sensor(c).camera.height, rig.sensor(c).camera.K,
                 rig.sensor(c).camera.D, invert_transform(T_bc[c]) @ T_bc[cams[0]]) for c in cams]))
            put(f"{day}/calib_velo_to_cam.txt", kf.rigid(T_c0_b @ T_bl, extra=True))
        put(f"{day}/calib_imu_to_velo.txt", kf.rigid(invert_transform(T_bl)))
        ego = ds.ego
        stamps: dict[str, list[str]] = {"velodyne_points": [], "oxts": []}
        stamps.update({f"image_{i:02d}": [] for i in range(len(cams))})
        formats: set[str] = set()
        missing: list[str] = []
        boxes: list[Any] = []
        track_ids: dict[str, int] = {}
        missing_labels = False
        for k, i in enumerate(frames):
            fr = ds[i]
            name = f"{k:010d}"
            cloud = frame_cloud(fr, [lidar], {lidar: None})
            if lidar not in fr.views("lidar"):
                missing.append(f"frame {i}: no {lidar} sweep (empty .bin)")
            put(f"{drive_dir}/velodyne_points/data/{name}.bin",
                np.column_stack([cloud.xyz, cloud.intensity]).astype("<f4").tobytes())
            stamps["velodyne_points"].append(kf.kitti_timestamp(fr.time_ns))
            T_wb = fr.ego_pose
            v = np.array([np.interp(fr.time_ns, ego.time_ns, ego.linear_velocity_mps[:, j]) for j in range(3)])
            w = np.array([np.interp(fr.time_ns, ego.time_ns, ego.angular_velocity_radps[:, j]) for j in range(3)])
            put(f"{drive_dir}/oxts/data/{name}.txt", kf.oxts_line(T_wb, v, w, geo))
            stamps["oxts"].append(kf.kitti_timestamp(fr.time_ns))
            views = fr.views("camera")
            for j, c in enumerate(cams):
                view = views.get(c)
                if view is None:
                    missing.append(f"frame {i}: no {c} image (image_{j:02d}/data/{name} absent)")
                    stamps[f"image_{j:02d}"].append(kf.kitti_timestamp(fr.time_ns))
                    continue
                data, ext = image_file(view)
                formats.add(ext)
                put(f"{drive_dir}/image_{j:02d}/data/{name}{ext}", data)
                stamps[f"image_{j:02d}"].append(kf.kitti_timestamp(view.time_ns))
            if not cams and fr.boxes and not missing_labels:
                missing_labels = True
                missing.append("the store has annotations but no camera is selected: KITTI labels are in a "
                               "camera frame, so label_02 is not written")
            if cams:
                T_c0_w = invert_transform(T_wb @ T_bc[cams[0]])
                for b in fr.boxes:
                    tid = track_ids.setdefault(b.track_id, len(track_ids))
                    boxes.append(b.transformed(T_c0_w, "camera").with_(
                        track_id=str(tid), time_ns=k, label=b.label.replace(" ", "_")))
            progress(1)
        for folder, lines in stamps.items():
            put(f"{drive_dir}/{folder}/timestamps.txt", "\n".join(lines) + "\n")
        put(f"{drive_dir}/oxts/dataformat.txt", kf.DATAFORMAT)
        if boxes:
            label = out / "label_02" / "0000.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            encode_kitti(boxes, label, frame_times_ns=np.arange(len(frames)))
            nbytes += label.stat().st_size
            files += 1
            put("track_ids.txt", "".join(f"{n} {t}\n" for t, n in track_ids.items()))
        models = {c: rig.sensor(c).camera.distortion_model for c in cams}
        put("README.md", README.format(
            store=ds.url, drive_dir=drive_dir, first=frames[0], last=frames[-1], n=len(frames), lidar=lidar,
            cams=", ".join(f"image_{j:02d} = {c}" for j, c in enumerate(cams)) or "none",
            formats=", ".join(sorted(formats)) or "none", models=models or "none", origin=geo,
            missing="".join(f"\n- {m}" for m in missing)))
        notes = tuple(missing[:5]) + ((f"... and {len(missing) - 5} more (README.md)",) if len(missing) > 5 else ())
        return ExportResult(len(frames), files, nbytes, notes)
