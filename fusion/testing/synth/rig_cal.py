"""Conversion of the synthetic rig description to a ``calibration.Rig`` (lazy import)."""

from __future__ import annotations

from typing import Any

import numpy as np


def to_calibration_rig(rig: dict[str, Any]) -> Any:
    """Build a ``calibration.Rig`` from the truth's rig dict (``truth.json["rig"]``).

    The odometry clock offset (``odom_time_offset_ns``) has no sensor in the rig; it is
    available as ``Truth.time_offsets_ns["odom"]``.
    """
    import calibration as cal

    sensors = {}
    for name, s in rig["sensors"].items():
        camera = None
        if "camera" in s:
            c = s["camera"]
            camera = cal.CameraModel(width=int(c["width"]), height=int(c["height"]), K=np.asarray(c["K"], float),
                                     distortion_model=c["model"], D=np.asarray(c["D"], float))
        sensors[name] = cal.Sensor(name=name, kind=s["kind"], frame_id=s["frame_id"],
                                   T_base_sensor=cal.SE3.from_matrix(np.asarray(s["T_base_sensor"], float)),
                                   time_offset_ns=int(s["time_offset_ns"]), camera=camera, topic=s["topic"])
    return cal.Rig(sensors, base_frame=rig["base_frame"])
