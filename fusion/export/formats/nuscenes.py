"""``fusion export nuscenes``: the store as a nuScenes dataset that nuscenes-devkit loads.

::

    OUT/<version>/{category,attribute,visibility,instance,sensor,calibrated_sensor,ego_pose,log,
                   scene,sample,sample_data,sample_annotation,map}.json
    OUT/samples/<CHANNEL>/<log>__<CHANNEL>__<µs>.{pcd.bin,pcd,jpg}   keyframes
    OUT/sweeps/<CHANNEL>/...                                           the frames between keyframes
    OUT/maps/<token>.png                                               placeholder (fusion has no map)
    OUT/README.md                                                      what the tables assume (pinhole)

``--flavor t4`` writes TIER IV's T4 dataset instead (layout and differences: :mod:`.t4`).

Every ``--every``-th selected frame is a keyframe (a ``sample`` with the store's boxes as
``sample_annotation``); the frames between are sweeps. Channels are the sensor names in upper
case. LiDAR: ``.pcd.bin`` float32 x y z intensity ring in the LiDAR frame (deskewed to the frame
time); radar: PCD v0.7 with the 18 nuScenes fields (:func:`write_radar_pcd`); cameras: the recorded
JPEG bytes (raw images encoded once as JPEG, quality 95). Each sample_data has its own ego pose at
its timestamp (LiDAR/radar: the frame time; camera: the image time).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from fusion.errors import ExportError
from fusion.export.common import (
    ExportResult,
    OptionSpec,
    Selection,
    ego_poses_at,
    image_file,
    require_poses,
    write_json,
)
from fusion.export.formats import Progress, t4
from fusion.export.formats import nuscenes_tables as nt
from fusion.export.points import frame_cloud

MODALITY = {"lidar": "lidar", "radar": "radar", "camera": "camera"}
FLAVORS = ("nuscenes", "t4")
TABLES = ("category", "attribute", "visibility", "instance", "sensor", "calibrated_sensor", "ego_pose", "log",
          "scene", "sample", "sample_data", "sample_annotation", "map")


def load_category_map(path: str | None) -> dict[str, str]:
    """``--category-map``: a YAML/JSON mapping fusion label → nuScenes category name."""
    if not path:
        return {}
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ExportError(f"--category-map {path}: cannot read it ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ExportError(f"--category-map {path}: expected a mapping of label: nuscenes.category names")
    return data


class NuScenesExporter:
    """:class:`~fusion.export.formats.Exporter` of the nuScenes layout (and its T4 flavour)."""

    name = "nuscenes"
    options = (
        OptionSpec("every", "Every N-th frame is a keyframe (sample); the others are sweeps.", 1),
        OptionSpec("flavor", "nuscenes, or t4: TIER IV's T4 dataset (Autoware; annotation/, data/, "
                   "status.json, LiDAR in base_link, camera_distortion).", "nuscenes", FLAVORS),
        OptionSpec("version", "Table folder (NuScenes(version=...); default v1.0-fusion) or, for t4, the "
                   "dataset version folder (an integer; default 0).", None),
        OptionSpec("category_map", "YAML/JSON file mapping fusion labels to nuScenes categories "
                   "(every label must be mapped).", None),
        OptionSpec("log_name", "Name of the log and scene (default: the store folder's name).", None),
    )

    def export(self, ds: Any, out: Path, selection: Selection, progress: Progress, *, every: int = 1,
               flavor: str = "nuscenes", version: str | None = None, category_map: str | None = None,
               log_name: str | None = None, **_: Any) -> ExportResult:
        """Write the nuScenes (or T4) dataset (see the module docstrings)."""
        if every < 1:
            raise ExportError(f"--every must be >= 1, got {every}")
        if flavor not in FLAVORS:
            raise ExportError(f"--flavor must be one of {', '.join(FLAVORS)}, got {flavor!r}")
        is_t4 = flavor == "t4"
        version = t4.check_version(version or "0") if is_t4 else version or "v1.0-fusion"
        cat_map = load_category_map(category_map)
        frames = selection.frames
        require_poses(ds, frames, f"{'T4' if is_t4 else 'nuScenes'} (an ego_pose per sample_data)")
        sensors = {k: selection.pick(ds, k) for k in MODALITY}
        if not any(sensors.values()):
            raise ExportError("nothing to export: the selection has no LiDAR, radar or camera")
        rig = ds.calibration
        log = log_name or Path(ds.url.rstrip("/")).stem or "fusion"
        if is_t4:
            root, table_dir = out / version, out / version / "annotation"
            distortion = {n: t4.camera_distortion(n, rig.sensor(n).camera) for n in sensors["camera"]}
        else:
            root, table_dir = out, out / version
        tables: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
        tables["visibility"] = list(nt.VISIBILITY)
        # LiDAR groups: (key, channel, LiDARs, T_points_sensor per LiDAR or None for the sensor frame)
        groups: list[Group]
        if is_t4 and sensors["lidar"]:
            ch = t4.lidar_channel(sensors["lidar"])
            groups = [(ch, ch, sensors["lidar"], {n: np.asarray(rig.sensor(n).T_base_sensor.matrix)
                                                  for n in sensors["lidar"]})]
        else:
            groups = [(n, n.upper(), [n], {n: None}) for n in sensors["lidar"]]
        cs_token: dict[str, str] = {}
        channel: dict[str, str] = {g[0]: g[1] for g in groups}
        cam_distortion: dict[str, list[float]] = {}
        entries = [(key, "lidar", None if is_t4 else key) for key, *_ in groups]
        entries += [(n, kind, n) for kind in ("radar", "camera") for n in sensors[kind]]
        for key, kind, sensor_name in entries:
            channel.setdefault(key, key.upper())
            sensor_token = nt.token("sensor", key)
            tables["sensor"].append({"token": sensor_token, "channel": channel[key], "modality": MODALITY[kind]})
            s = rig.sensor(sensor_name) if sensor_name else None
            T = np.eye(4) if s is None else np.asarray(s.T_base_sensor.matrix)
            rec = nt.calibrated_sensor(sensor_token, T, s.camera.K if s is not None and kind == "camera" else None)
            tables["calibrated_sensor"].append(rec)
            cs_token[key] = rec["token"]
            if is_t4 and kind == "camera":
                cam_distortion[rec["token"]] = distortion[key]
        key_idx = list(frames)[::every]
        keyframes = set(key_idx)
        sample_of = {i: nt.token("sample", log, i) for i in key_idx}
        scene_token, log_token = nt.token("scene", log), nt.token("log", log)

        def sample_for(i: int) -> str:  # a sweep belongs to the next keyframe (the last one after it)
            later = [k for k in key_idx if k >= i]
            return sample_of[later[0] if later else key_idx[-1]]

        nbytes = files = 0
        labels: dict[str, str] = {}  # instance token -> label
        tracks: dict[str, str] = {}  # instance token -> track id
        visibility: dict[str, str | None] = {}  # annotation token -> the box's visibility
        attr_names: set[str] = set()
        ego = ds.ego
        for k, i in enumerate(frames):
            fr = ds[i]
            is_key = i in keyframes
            if is_key:
                tables["sample"].append({"token": sample_of[i], "timestamp": fr.time_ns // 1000,
                                         "scene_token": scene_token, "prev": "", "next": ""})
                for box in fr.boxes:
                    inst = nt.token("instance", box.track_id)
                    labels[inst], tracks[inst] = box.label, str(box.track_id)
                    attr_names.update((box.attributes or {}).get("nuscenes_attributes", []))
                    ann = nt.annotation(box, sample_of[i], inst, i)
                    visibility[ann["token"]] = box.visibility
                    tables["sample_annotation"].append(ann)
            folder = "samples" if is_key else "sweeps"
            stem = f"data/{{channel}}/{k}" if is_t4 else f"{folder}/{{channel}}/{log}__{{channel}}__{{us}}"
            items, n = _write_files(fr, root, stem, groups, sensors, channel, rig, ego)
            nbytes += n
            for name, rel, t_ns, T_wb, (w, h) in items:
                if not np.isfinite(T_wb).all():
                    raise ExportError(f"streams/{name}: no ego pose at {t_ns} ns (outside the trajectory); "
                                      "narrow --frames")
                pose_token = nt.token("ego_pose", name, i)
                tables["ego_pose"].append({"token": pose_token, "timestamp": t_ns // 1000, **nt.pose_fields(T_wb)})
                suffix = next(x for x in (".pcd.bin", ".pcd", ".jpg", ".png") if rel.endswith(x))[1:]
                fileformat = suffix if is_t4 else ("pcd" if suffix in ("pcd.bin", "pcd") else suffix)
                tables["sample_data"].append({
                    "token": nt.token("sample_data", name, i),
                    "sample_token": sample_of[i] if is_key else sample_for(i),
                    "ego_pose_token": pose_token, "calibrated_sensor_token": cs_token[name],
                    "timestamp": t_ns // 1000, "fileformat": fileformat,
                    "is_key_frame": is_key, "height": h, "width": w, "filename": rel, "prev": "", "next": "",
                    "_channel": name})
                files += 1
            progress(1)
        # links, instances, categories, log/scene/map
        nt.link(tables["sample"], "scene_token")
        nt.link(tables["sample_data"], "_channel")
        for rec in tables["sample_data"]:
            del rec["_channel"]
        nt.link(tables["sample_annotation"], "instance_token")
        missing = sorted({lb for lb in labels.values() if cat_map and lb not in cat_map})
        if missing:
            raise ExportError(f"--category-map {category_map}: no nuScenes category for label(s) {', '.join(missing)}")
        names = sorted({cat_map.get(lb, lb) for lb in labels.values()})
        tables["category"] = [{"token": nt.token("category", c), "name": c, "description": "", "index": k}
                              for k, c in enumerate(names)]
        category_of = {inst: nt.token("category", cat_map.get(lb, lb)) for inst, lb in labels.items()}
        tables["instance"] = nt.instances(tables["sample_annotation"], category_of)
        tables["attribute"] = [{"token": nt.token("attribute", a), "name": a, "description": ""}
                               for a in sorted(attr_names)]
        samples = tables["sample"]
        t0 = ds[frames[0]].time_ns
        day = datetime.fromtimestamp(t0 // 1_000_000_000, tz=UTC).strftime("%Y-%m-%d")
        tables["log"] = [{"token": log_token, "logfile": log, "vehicle": "fusion", "date_captured": day,
                          "location": "unknown"}]
        tables["scene"] = [{"token": scene_token, "log_token": log_token, "nbr_samples": len(samples),
                            "first_sample_token": samples[0]["token"], "last_sample_token": samples[-1]["token"],
                            "name": log, "description": f"fusion export of {ds.url}"}]
        map_token = nt.token("map", log)
        if not is_t4:
            nbytes += nt.write_map_png(out / "maps" / f"{map_token}.png")
            files += 1
        tables["map"] = [{"token": map_token, "log_tokens": [log_token], "category": "semantic_prior",
                          "filename": f"maps/{map_token}.png"}]
        cams = {n: rig.sensor(n).camera for n in sensors["camera"]}
        if is_t4:
            t4.adapt(tables, dataset=log, distortion=cam_distortion, track_of=tracks, visibility_of=visibility,
                     time_ns=t0)
            nbytes += write_json(root / "status.json", t4.status(
                store=ds.url, frames=list(frames), every=every, version=version, lidars=sensors["lidar"],
                channel=groups[0][1] if groups else "", cameras=cams))
            files += 1
        for name, rows in tables.items():
            nbytes += write_json(table_dir / f"{name}.json", rows)
        text, notes = readme(flavor, version, cams)
        (root / "README.md").write_text(text)
        nbytes += len(text.encode())
        foreign = sorted(set(names) - nt.CATEGORIES)
        if foreign and not is_t4:
            notes += (f"categor{'ies' if len(foreign) > 1 else 'y'} {', '.join(foreign)}: not nuScenes names; "
                      "nuscenes-devkit's renderers fail on them (map labels with --category-map)",)
        return ExportResult(len(frames), files + len(tables) + 1, nbytes, notes)


def readme(flavor: str, version: str, cams: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The export's README.md (what the tables assume: a pinhole camera) and the notes for the user."""
    shifts = {n: nt.pinhole_shift_px(c) for n, c in cams.items()}
    distorted = {n: s for n, s in shifts.items() if s > 0.05}
    lines = [f"# fusion export nuscenes --flavor {flavor}", "",
             "Images are the recorded (distorted) images; nothing is rectified.", ""]
    if flavor == "t4":
        lines += ["`annotation/calibrated_sensor.json`: `camera_intrinsic` is the camera matrix K and "
                  "`camera_distortion` its OpenCV coefficients (status.json names each camera's model); a "
                  "consumer that projects with `camera_intrinsic` alone assumes a pinhole camera."]
    else:
        lines += [f"`{version}/calibrated_sensor.json`: `camera_intrinsic` is the camera matrix K of a "
                  "**pinhole** camera: nuScenes has no distortion. Everything that projects into the "
                  "images assumes that pinhole: `calibrated_sensor.camera_intrinsic` with the boxes of "
                  "`sample_annotation` (nuscenes-devkit `get_sample_data`, `box_vis_level`, "
                  "`render_sample_data`, `render_pointcloud_in_image`, `view_points`)."]
    lines += [""]
    for n in sorted(shifts):
        lines.append(f"- {n.upper()}: {cams[n].distortion_model}, the pinhole K misplaces pixels by up to "
                     f"{shifts[n]:.1f} px at the image border")
    lost = ("the per-point time and the source LiDAR of points (one merged cloud in base_link), radar's "
            "tangential velocity and states, the maps (map/: no Lanelet2 or point-cloud map), input_bag/"
            if flavor == "t4" else
            "lens distortion, the per-point time of LiDAR points, radar's tangential velocity and states, any map")
    lines += ["", f"Lost: {lost}."]
    notes = tuple(f"camera {n}: the images are distorted ({cams[n].distortion_model}); "
                  f"{'camera_intrinsic' if flavor == 't4' else 'nuScenes'} assumes a pinhole, off by up to "
                  f"{s:.1f} px at the border (README.md)" for n, s in sorted(distorted.items()))
    return "\n".join(lines) + "\n", notes


Item = tuple[str, str, int, np.ndarray, tuple[int, int]]  # sensor, file, time ns, T_world_base, (width, height)
Group = tuple[str, str, list[str], dict[str, np.ndarray | None]]  # key, channel, LiDARs, T_points_sensor


def _write_files(fr: Any, out: Path, stem: str, groups: list[Group], sensors: dict[str, list[str]],
                 channel: dict[str, str], rig: Any, ego: Any) -> tuple[list[Item], int]:
    """Write one frame's sensor files (``stem`` with ``{channel}`` and ``{us}`` (time, µs) + suffix);
    returns the sample_data items and the bytes written."""
    items: list[Item] = []
    nbytes = 0

    def put(name: str, t_ns: int, suffix: str, data: bytes) -> str:
        nonlocal nbytes
        rel = stem.replace("{channel}", channel[name]).replace("{us}", str(t_ns // 1000)) + suffix
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
        nbytes += len(data)
        return rel

    lidar_views, radar_views, cam_views = fr.views("lidar"), fr.views("radar"), fr.views("camera")
    for key, _, names, T_points in groups:
        if any(n in lidar_views for n in names):
            cloud = frame_cloud(fr, names, T_points)
            raw = np.column_stack([cloud.xyz, cloud.intensity, cloud.ring]).astype("<f4").tobytes()
            items.append((key, put(key, fr.time_ns, ".pcd.bin", raw), fr.time_ns, fr.ego_pose, (0, 0)))
    for name in sensors["radar"]:
        scan = radar_views.get(name)
        if scan is not None:
            rel = put(name, fr.time_ns, ".pcd", b"")
            rcs = scan.fields.get("rcs", np.zeros(len(scan), np.float32))
            nbytes += nt.write_radar_pcd(out / rel, scan.xyz, scan.radial_velocity_mps,
                                         scan.radial_velocity_comp_mps, np.asarray(rcs))
            items.append((name, rel, fr.time_ns, fr.ego_pose, (0, 0)))
    for name in sensors["camera"]:
        view = cam_views.get(name)
        if view is not None:
            data, ext = image_file(view, raw_as=".jpg")
            cam = rig.sensor(name).camera
            items.append((name, put(name, int(view.time_ns), ext, data), int(view.time_ns),
                          ego_poses_at(ego, np.array([view.time_ns]))[0], (int(cam.width), int(cam.height))))
    return items, nbytes
