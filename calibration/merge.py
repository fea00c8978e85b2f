"""Combining rigs from several sources (e.g. a calibration file over what a bag's /tf_static says).

Precedence of :func:`merge_rigs` (``override`` wins), per sensor **name**:

- a sensor only in ``base`` is kept unchanged; a sensor only in ``override`` is added;
- a sensor in both takes from ``override``: ``kind``, ``frame_id``, ``T_base_sensor`` and
  ``time_offset_ns`` (always set in a :class:`Sensor`), plus ``camera`` and ``topic`` when the
  override's are not None; otherwise ``camera``/``topic`` stay the base's. The camera
  block is replaced whole (never merged coefficient by coefficient).
- both rigs must share ``base_frame``; sensor order is the base's, then new override sensors.
"""

from __future__ import annotations

from calibration.errors import FrameTreeError
from calibration.rig import Rig, Sensor
from calibration.se3 import SE3


def merge_sensor(base: Sensor, override: Sensor) -> Sensor:
    """One sensor under the precedence above (name from ``base``)."""
    return Sensor(
        name=base.name,
        kind=override.kind,
        frame_id=override.frame_id,
        T_base_sensor=override.T_base_sensor,
        time_offset_ns=override.time_offset_ns,
        camera=override.camera if override.camera is not None else base.camera,
        topic=override.topic if override.topic is not None else base.topic,
    )


def merge_rigs(base: Rig, override: Rig) -> Rig:
    """Merge ``override`` onto ``base`` (see the module docstring for the exact precedence).

    Raises:
        FrameTreeError: the base frames differ, or the result has two sensors on one frame.
    """
    if base.base_frame != override.base_frame:
        raise FrameTreeError(
            f"cannot merge rigs with different base frames ({base.base_frame!r} vs {override.base_frame!r}); "
            "rebase one with rebase_rig first"
        )
    out = base.sensors
    for name, s in override.sensors.items():
        out[name] = merge_sensor(out[name], s) if name in out else s
    return Rig(out, base.base_frame)


def rebase_rig(rig: Rig, T_new_old: SE3, base_frame: str) -> Rig:
    """Express every extrinsic in a new base frame: ``T_new_sensor = T_new_old @ T_old_sensor``.

    Args:
        rig: rig whose extrinsics map into ``rig.base_frame`` (the "old" base).
        T_new_old: maps points in the old base frame into the new one.
        base_frame: name of the new base frame.
    """
    sensors = {n: s.replace(T_base_sensor=T_new_old @ s.T_base_sensor) for n, s in rig.sensors.items()}
    return Rig(sensors, base_frame)
