"""``fusion export nuscenes``: the store as a nuScenes dataset that nuscenes-devkit loads.

::

    OUT/<version>/{category,attribute,visibility,instance,sensor,calibrated_sensor,ego_pose,log,
                   scene,sample,sample_data,sample_annotation,map}.json
    OUT/samples/<CHANNEL>/<log>__<CHANNEL>__<µs>.{pcd.bin,pcd,jpg}   keyframes
    OUT/sweeps/<CHANNEL>/...                                           the frames between keyframes
    OUT/maps/<token>.png                                               placeholder (fusion has no map)

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
from fusion.export.formats import Progress
from fusion.export.formats import nuscenes_tables as nt
from fusion.export.points import frame_cloud

MODALITY = {"lidar": "lidar", "radar": "radar", "camera": "camera"}


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
    """:class:`~fusion.export.formats.Exporter` of the nuScenes layout."""

    name = "nuscenes"
    options = (
        OptionSpec("every", "Every N-th frame is a keyframe (sample); the others are sweeps.", 1),
        OptionSpec("version", "Name of the table folder (NuScenes(version=...)).", "v1.0-fusion"),
        OptionSpec("category_map", "YAML/JSON file mapping fusion labels to nuScenes categories "
                   "(every label must be mapped).", None),
        OptionSpec("log_name", "Name of the log and scene (default: the store folder's name).", None),
    )

    def export(self, ds: Any, out: Path, selection: Selection, progress: Progress, *, every: int = 1,
               version: str = "v1.0-fusion", category_map: str | None = None, log_name: str | None = None,
               **_: Any) -> ExportResult:
        """Write the nuScenes dataset (see the module docstring)."""
        if every < 1:
            raise ExportError(f"--every must be >= 1, got {every}")
        cat_map = load_category_map(category_map)
        frames = selection.frames
        require_poses(ds, frames, "nuScenes (an ego_pose per sample_data)")
        sensors = {k: selection.pick(ds, k) for k in MODALITY}
        if not any(sensors.values()):
            raise ExportError("nothing to export: the selection has no LiDAR, radar or camera")
        rig = ds.calibration
        log = log_name or Path(ds.url.rstrip("/")).stem or "fusion"
        tables: dict[str, list[dict[str, Any]]] = {name: [] for name in (
            "category", "attribute", "visibility", "instance", "sensor", "calibrated_sensor", "ego_pose", "log",
            "scene", "sample", "sample_data", "sample_annotation", "map")}
        tables["visibility"] = list(nt.VISIBILITY)
        cs_token: dict[str, str] = {}
        channel: dict[str, str] = {}
        for kind, names in sensors.items():
            for name in names:
                channel[name] = name.upper()
                sensor_token = nt.token("sensor", name)
                tables["sensor"].append({"token": sensor_token, "channel": channel[name], "modality": MODALITY[kind]})
                s = rig.sensor(name)
                rec = nt.calibrated_sensor(sensor_token, np.asarray(s.T_base_sensor.matrix),
                                           s.camera.K if kind == "camera" else None)
                tables["calibrated_sensor"].append(rec)
                cs_token[name] = rec["token"]
        key_idx = list(frames)[::every]
        keyframes = set(key_idx)
        sample_of = {i: nt.token("sample", log, i) for i in key_idx}
        scene_token, log_token = nt.token("scene", log), nt.token("log", log)

        def sample_for(i: int) -> str:  # a sweep belongs to the next keyframe (the last one after it)
            later = [k for k in key_idx if k >= i]
            return sample_of[later[0] if later else key_idx[-1]]

        nbytes = files = 0
        labels: dict[str, str] = {}  # instance token -> label
        attr_names: set[str] = set()
        ego = ds.ego
        for i in frames:
            fr = ds[i]
            is_key = i in keyframes
            if is_key:
                tables["sample"].append({"token": sample_of[i], "timestamp": fr.time_ns // 1000,
                                         "scene_token": scene_token, "prev": "", "next": ""})
                for box in fr.boxes:
                    inst = nt.token("instance", box.track_id)
                    labels[inst] = box.label
                    attr_names.update((box.attributes or {}).get("nuscenes_attributes", []))
                    tables["sample_annotation"].append(nt.annotation(box, sample_of[i], inst, i))
            folder = "samples" if is_key else "sweeps"
            items, n = _write_files(fr, out, f"{folder}/{{channel}}/{log}__{{channel}}__", sensors, channel, rig, ego)
            nbytes += n
            for name, rel, t_ns, T_wb, (w, h) in items:
                if not np.isfinite(T_wb).all():
                    raise ExportError(f"streams/{name}: no ego pose at {t_ns} ns (outside the trajectory); "
                                      "narrow --frames")
                pose_token = nt.token("ego_pose", name, i)
                tables["ego_pose"].append({"token": pose_token, "timestamp": t_ns // 1000, **nt.pose_fields(T_wb)})
                suffix = rel.rsplit(".", 1)[-1]
                tables["sample_data"].append({
                    "token": nt.token("sample_data", name, i),
                    "sample_token": sample_of[i] if is_key else sample_for(i),
                    "ego_pose_token": pose_token, "calibrated_sensor_token": cs_token[name],
                    "timestamp": t_ns // 1000, "fileformat": "pcd" if suffix in ("bin", "pcd") else suffix,
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
        day = datetime.fromtimestamp(ds[frames[0]].time_ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%d")
        tables["log"] = [{"token": log_token, "logfile": log, "vehicle": "fusion", "date_captured": day,
                          "location": "unknown"}]
        tables["scene"] = [{"token": scene_token, "log_token": log_token, "nbr_samples": len(samples),
                            "first_sample_token": samples[0]["token"], "last_sample_token": samples[-1]["token"],
                            "name": log, "description": f"fusion export of {ds.url}"}]
        map_token = nt.token("map", log)
        nbytes += nt.write_map_png(out / "maps" / f"{map_token}.png")
        tables["map"] = [{"token": map_token, "log_tokens": [log_token], "category": "semantic_prior",
                          "filename": f"maps/{map_token}.png"}]
        for name, rows in tables.items():
            nbytes += write_json(out / version / f"{name}.json", rows)
        return ExportResult(len(frames), files + len(tables) + 1, nbytes)


Item = tuple[str, str, int, np.ndarray, tuple[int, int]]  # sensor, file, time ns, T_world_base, (width, height)


def _write_files(fr: Any, out: Path, stem: str, sensors: dict[str, list[str]], channel: dict[str, str], rig: Any,
                 ego: Any) -> tuple[list[Item], int]:
    """Write one frame's sensor files (``stem`` with ``{channel}`` + µs time + suffix); returns the
    sample_data items and the bytes written."""
    items: list[Item] = []
    nbytes = 0

    def put(name: str, t_ns: int, suffix: str, data: bytes) -> str:
        nonlocal nbytes
        rel = stem.replace("{channel}", channel[name]) + f"{t_ns // 1000}{suffix}"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
        nbytes += len(data)
        return rel

    lidar_views, radar_views, cam_views = fr.views("lidar"), fr.views("radar"), fr.views("camera")
    for name in sensors["lidar"]:
        if name in lidar_views:
            cloud = frame_cloud(fr, [name], {name: None})
            raw = np.column_stack([cloud.xyz, cloud.intensity, cloud.ring]).astype("<f4").tobytes()
            items.append((name, put(name, fr.time_ns, ".pcd.bin", raw), fr.time_ns, fr.ego_pose, (0, 0)))
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
