"""nuScenes table records (the 13 tables nuscenes-devkit loads), tokens, the radar PCD v0.7 file
and the placeholder map, for :mod:`fusion.export.formats.nuscenes`.

Conventions at this boundary: timestamps are **µs** (``time_ns // 1000``); rotations are
**scalar-first** ``[w, x, y, z]`` (fusion stores x, y, z, w); box sizes are ``[width, length, height]``;
``translation`` of boxes and ego poses is in the global (world) frame.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np

from fusion.export.common import quat_wxyz
from fusion.export.pcd import write_points

_NS = uuid.UUID("6b1d5a0e-3f7c-4e0b-9a57-5d2c9e1f0a42")

#: nuScenes' four visibility levels (token, level, description).
VISIBILITY = [
    {"token": "1", "level": "v0-40", "description": "visibility of whole object is between 0 and 40%"},
    {"token": "2", "level": "v40-60", "description": "visibility of whole object is between 40 and 60%"},
    {"token": "3", "level": "v60-80", "description": "visibility of whole object is between 60 and 80%"},
    {"token": "4", "level": "v80-100", "description": "visibility of whole object is between 80 and 100%"},
]
_VIS_TOKEN = {v["level"]: v["token"] for v in VISIBILITY}

#: nuScenes' category names (detection and lidarseg); nuscenes-devkit's renderers colour boxes by
#: these names and fail on any other.
CATEGORIES = frozenset((
    "noise", "animal", "human.pedestrian.adult", "human.pedestrian.child", "human.pedestrian.construction_worker",
    "human.pedestrian.personal_mobility", "human.pedestrian.police_officer", "human.pedestrian.stroller",
    "human.pedestrian.wheelchair", "movable_object.barrier", "movable_object.debris",
    "movable_object.pushable_pullable", "movable_object.trafficcone", "static_object.bicycle_rack",
    "vehicle.bicycle", "vehicle.bus.bendy", "vehicle.bus.rigid", "vehicle.car", "vehicle.construction",
    "vehicle.emergency.ambulance", "vehicle.emergency.police", "vehicle.motorcycle", "vehicle.trailer",
    "vehicle.truck", "flat.driveable_surface", "flat.other", "flat.sidewalk", "flat.terrain", "static.manmade",
    "static.other", "static.vegetation", "vehicle.ego"))


def token(kind: str, *key: object) -> str:
    """A stable 32-hex token for a record of ``kind`` named by ``key``."""
    return uuid.uuid5(_NS, ":".join([kind, *map(str, key)])).hex


def pose_fields(T: np.ndarray) -> dict[str, Any]:
    """``translation`` [x, y, z] m and ``rotation`` [w, x, y, z] of a (4, 4) transform."""
    return {"translation": [float(v) for v in T[:3, 3]], "rotation": quat_wxyz(T)}


def calibrated_sensor(sensor_token: str, T_base_sensor: np.ndarray, K: np.ndarray | None) -> dict[str, Any]:
    """A ``calibrated_sensor`` record (``camera_intrinsic`` is [] for a non-camera)."""
    return {"token": token("calibrated_sensor", sensor_token), "sensor_token": sensor_token,
            **pose_fields(T_base_sensor), "camera_intrinsic": [] if K is None else np.asarray(K, float).tolist()}


def annotation(box: Any, sample_token: str, instance_token: str, frame: int) -> dict[str, Any]:
    """A ``sample_annotation`` record of a world-frame :class:`fusion.annotations.model.Cuboid`."""
    x, y, z, w = (float(v) for v in box.rotation_xyzw)
    length, width, height = (float(v) for v in box.size_lwh_m)
    attrs = box.attributes.get("nuscenes_attributes", []) if box.attributes else []
    return {"token": token("sample_annotation", box.track_id, frame), "sample_token": sample_token,
            "instance_token": instance_token, "visibility_token": _VIS_TOKEN.get(box.visibility or "", ""),
            "attribute_tokens": [token("attribute", a) for a in attrs],
            "translation": [float(v) for v in box.center_m], "size": [width, length, height],
            "rotation": [w, x, y, z], "prev": "", "next": "",
            "num_lidar_pts": int(box.num_lidar_points or 0), "num_radar_pts": int(box.num_radar_points or 0)}


def link(records: list[dict[str, Any]], key: str) -> None:
    """Fill ``prev``/``next`` of records grouped by ``key``, in list order."""
    last: dict[str, dict[str, Any]] = {}
    for rec in records:
        prev = last.get(rec[key])
        if prev is not None:
            prev["next"], rec["prev"] = rec["token"], prev["token"]
        last[rec[key]] = rec


def instances(anns: list[dict[str, Any]], category_of: dict[str, str]) -> list[dict[str, Any]]:
    """``instance`` records from linked annotations (``category_of``: instance token → category token)."""
    out: dict[str, dict[str, Any]] = {}
    for a in anns:
        inst = out.setdefault(a["instance_token"], {
            "token": a["instance_token"], "category_token": category_of[a["instance_token"]],
            "nbr_annotations": 0, "first_annotation_token": a["token"], "last_annotation_token": a["token"]})
        inst["nbr_annotations"] += 1
        inst["last_annotation_token"] = a["token"]
    return list(out.values())


RADAR_FIELDS = ("x", "y", "z", "dyn_prop", "id", "rcs", "vx", "vy", "vx_comp", "vy_comp", "is_quality_valid",
                "ambig_state", "x_rms", "y_rms", "invalid_state", "pdh0", "vx_rms", "vy_rms")


def write_radar_pcd(path: Path, xyz: np.ndarray, v_r: np.ndarray, v_r_comp: np.ndarray, rcs: np.ndarray) -> int:
    """A nuScenes radar PCD v0.7 (the 18 fields, binary). Only the radial velocity is known: ``vx, vy``
    are its vector ``v_r · xyz/|xyz|`` (x, y), likewise ``*_comp``; the states are written so the
    devkit's default filters keep every point (``dyn_prop`` 4 unknown, ``ambig_state`` 3,
    ``invalid_state`` 0); rms values and ``pdh0`` are 0. An empty scan is one NaN point (nuScenes'
    convention for an empty radar file). One newline follows the data: the devkit's reader wants a
    byte after the last point."""
    if len(xyz) == 0:
        xyz = np.full((1, 3), np.nan, np.float32)
        v_r = v_r_comp = rcs = np.full(1, np.nan, np.float32)
    n = len(xyz)
    unit = xyz / np.maximum(np.linalg.norm(xyz.astype(np.float64), axis=1, keepdims=True), 1e-9)
    f32 = np.float32
    zeros8 = np.zeros(n, np.int8)
    cols = {"x": xyz[:, 0].astype(f32), "y": xyz[:, 1].astype(f32), "z": xyz[:, 2].astype(f32),
            "dyn_prop": np.full(n, 4, np.int8), "id": np.arange(n, dtype=np.int16), "rcs": rcs.astype(f32),
            "vx": (v_r * unit[:, 0]).astype(f32), "vy": (v_r * unit[:, 1]).astype(f32),
            "vx_comp": (v_r_comp * unit[:, 0]).astype(f32), "vy_comp": (v_r_comp * unit[:, 1]).astype(f32),
            "is_quality_valid": np.ones(n, np.int8), "ambig_state": np.full(n, 3, np.int8), "x_rms": zeros8,
            "y_rms": zeros8, "invalid_state": zeros8, "pdh0": zeros8, "vx_rms": zeros8, "vy_rms": zeros8}
    write_points(path, cols, comment="nuScenes radar, written by fusion export nuscenes")
    with open(path, "ab") as f:
        f.write(b"\n")
    return path.stat().st_size


def write_map_png(path: Path) -> int:
    """A valid 64×64 all-background semantic-prior map (fusion has no map)."""
    import cv2

    _, buf = cv2.imencode(".png", np.zeros((64, 64), np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.tobytes())
    return len(buf)


def pinhole_shift_px(cam: Any) -> float:
    """How far (px) the pinhole ``K`` alone puts a ray from where the distorted image shows it: the
    largest shift over the image's corners and edge midpoints (0 for ``none``). A consumer that
    projects with ``camera_intrinsic`` only is off by up to this much in the recorded images."""
    w, h = int(cam.width) - 1, int(cam.height) - 1
    uv = np.array([[0, 0], [w, 0], [0, h], [w, h], [w / 2, 0], [w / 2, h], [0, h / 2], [w, h / 2]], float)
    rays = cam.unproject(uv)
    ok = np.isfinite(rays).all(axis=1) & (rays[:, 2] > 0)
    if not ok.any():
        return float("nan")
    K = np.asarray(cam.K, float)
    p = rays[ok] @ K.T
    return float(np.max(np.linalg.norm(p[:, :2] / p[:, 2:3] - uv[ok], axis=1)))
