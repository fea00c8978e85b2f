"""The T4 flavour of ``fusion export nuscenes`` (``--flavor t4``): TIER IV's T4 dataset, the
nuScenes-based format of Autoware's perception datasets (schema: the t4-devkit documentation).

::

    OUT/<version>/                         version: an integer folder (default 0)
        annotation/<table>.json            the 13 mandatory tables (nuScenes' 13 with T4's fields)
        data/<CHANNEL>/<k>.pcd.bin|.pcd|.jpg   exported frame k (0-based), keyframe or not
        status.json                        how the dataset was made (T4's configuration record)
        README.md                          what the tables assume (pinhole) and what is lost

What T4 adds to or changes in the nuScenes tables (this module's job):

- ``calibrated_sensor.camera_distortion``: OpenCV's coefficient list (``plumb_bob`` k1 k2 p1 p2 k3,
  ``rational_polynomial`` + k4 k5 k6; ``[]`` for LiDAR/radar). T4 names no model: the list length
  is OpenCV's convention, so an ``equidistant`` (fisheye) camera cannot be written (refused);
  ``status.json`` names each camera's model.
- LiDAR points are in ``base_link`` (all selected LiDARs merged into one cloud; channel
  ``LIDAR_TOP`` for one LiDAR, ``LIDAR_CONCAT`` for several), so its calibrated_sensor is identity.
- ``instance.instance_name`` (``<dataset>::<track id>``), ``log.data_captured``
  (``YYYY-MM-DD-HH-MM-SS``, T4's spelling), ``sample_data.is_valid``,
  ``sample_annotation.automatic_annotation``, T4's visibility levels (full/most/partial/none, and
  t4-devkit's ``unavailable`` for a box without one: T4 refuses an empty ``visibility_token``),
  ``category`` without ``index`` (no lidarseg), a map record with no file (T4 maps are Lanelet2 /
  point-cloud maps in ``map/``, which fusion does not have).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from fusion.errors import ExportError

#: T4's visibility levels (token, level, description); nuScenes' levels map onto them.
VISIBILITY = [
    {"token": "1", "level": "full", "description": "the object is not occluded"},
    {"token": "2", "level": "most", "description": "occluded, by less than 50%"},
    {"token": "3", "level": "partial", "description": "occluded by more than 50%, not completely"},
    {"token": "4", "level": "none", "description": "90-100% occluded, no point or pixel of it visible"},
    {"token": "5", "level": "unavailable", "description": "visibility not annotated"},
]
_LEVEL = {"full": "1", "most": "2", "partial": "3", "none": "4",
          "v80-100": "1", "v60-80": "2", "v40-60": "3", "v0-40": "4"}  # nuScenes' (deprecated in T4)
_UNAVAILABLE = "5"  # t4-devkit's VisibilityLevel.UNAVAILABLE: its loader refuses an empty visibility_token

#: OpenCV coefficient names of the models T4's ``camera_distortion`` can hold (by list length).
COEFFICIENTS = {"plumb_bob": ("k1", "k2", "p1", "p2", "k3"),
                "rational_polynomial": ("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6"),
                "none": ("k1", "k2", "p1", "p2", "k3")}


def lidar_channel(lidars: list[str]) -> str:
    """T4's LiDAR channel: ``LIDAR_TOP`` for one LiDAR, ``LIDAR_CONCAT`` for a merged cloud."""
    return "LIDAR_TOP" if len(lidars) == 1 else "LIDAR_CONCAT"


def check_version(version: str) -> str:
    """T4's dataset version folder: a non-negative integer (t4-devkit loads the highest)."""
    if not version.isdigit():
        raise ExportError(f"--version {version!r}: a T4 dataset version is a folder named by an integer (e.g. 0)")
    return str(int(version))


def camera_distortion(name: str, cam: Any) -> list[float]:
    """``camera_distortion`` of a :class:`calibration.CameraModel` (OpenCV order; zeros for ``none``).

    Raises:
        ExportError: an ``equidistant`` camera (T4's list has no fisheye model).
    """
    model = str(cam.distortion_model)
    if model not in COEFFICIENTS:
        raise ExportError(f"camera {name}: distortion model {model!r} has no T4 form (camera_distortion is "
                          "OpenCV's k1 k2 p1 p2 [k3 [k4 k5 k6]]); leave the camera out with --sensors")
    if model == "none":
        return [0.0] * 5
    return [float(v) for v in np.asarray(cam.D, float).ravel()]


def visibility_token(level: str | None) -> str:
    """T4 visibility token of a box's ``visibility`` (T4 or nuScenes level); ``unavailable``'s when the
    box has none or another vocabulary (t4-devkit refuses an empty token)."""
    return _LEVEL.get(level or "", _UNAVAILABLE)


def adapt(tables: dict[str, list[dict[str, Any]]], *, dataset: str, distortion: dict[str, list[float]],
          track_of: dict[str, str], visibility_of: dict[str, str | None], time_ns: int) -> None:
    """Turn the nuScenes tables into T4's, in place.

    Args:
        tables: Table name → records, as the nuScenes flavour builds them.
        dataset: Dataset id (``instance_name`` prefix).
        distortion: calibrated_sensor token → ``camera_distortion`` (cameras only).
        track_of: instance token → fusion track id.
        visibility_of: sample_annotation token → the box's visibility level.
        time_ns: First exported frame time (``log.data_captured``, UTC).
    """
    for rec in tables["calibrated_sensor"]:
        rec["camera_distortion"] = distortion.get(rec["token"], [])
    for rec in tables["category"]:
        rec.pop("index", None)
    for rec in tables["instance"]:
        rec["instance_name"] = f"{dataset}::{track_of[rec['token']]}"
    for rec in tables["sample_data"]:
        rec["is_valid"] = True
    for rec in tables["sample_annotation"]:
        rec["visibility_token"] = visibility_token(visibility_of[rec["token"]])
        rec["automatic_annotation"] = False
    tables["visibility"] = [dict(v) for v in VISIBILITY]
    day = datetime.fromtimestamp(time_ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%d-%H-%M-%S")
    tables["log"] = [{"token": r["token"], "logfile": r["logfile"], "vehicle": r["vehicle"], "data_captured": day,
                      "location": r["location"]} for r in tables["log"]]
    for rec in tables["scene"]:
        rec["name"] = f"{dataset}_{rec['token']}"
    for rec in tables["map"]:
        rec.update(category="", filename="")


def status(*, store: str, frames: list[int], every: int, version: str, lidars: list[str], channel: str,
           cameras: dict[str, Any]) -> dict[str, Any]:
    """``status.json``: the configuration that made the dataset (T4 keeps its converter's settings here)."""
    return {"fusion_export_t4": {
        "store": store, "frames": [int(frames[0]), int(frames[-1])], "frame_count": len(frames),
        "keyframe_every": every, "version": version,
        "lidar": {"channel": channel, "sensors": lidars, "frame": "base_link"},
        "cameras": {name.upper(): {"distortion_model": str(cam.distortion_model),
                                   "coefficients": list(COEFFICIENTS.get(str(cam.distortion_model), ()))}
                    for name, cam in cameras.items()},
        "time_unit": "us", "quaternion_order": "wxyz"}}
