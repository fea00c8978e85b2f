"""Synchronization: clock offsets, matching, interpolation, deskew, radar, frame planning.

Arrays in, arrays out, no I/O. Time is int64 ns on the common clock, quaternions are
x, y, z, w, ``T_a_b`` maps frame-b coordinates into frame a. See ``docs/SYNC.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fusion._lazy import lazy_getattr

if TYPE_CHECKING:
    from fusion.sync.approximate_time import ApproximateTimeSynchronizer, approximate_time_sets
    from fusion.sync.beam import beam_crossing_fraction, beam_crossing_time_ns, camera_azimuth_rad
    from fusion.sync.clock import ClockFit, estimate_clock_offset, relative_offset_ns
    from fusion.sync.deskew import deskew_points, deskew_points_reference, undeskew_points
    from fusion.sync.deskew_mode import DESKEW_MODES
    from fusion.sync.frames import (
        FLAG_EGO_GAP_SWEEP,
        FLAG_EGO_GAP_TIME,
        FLAG_IMU_GAP,
        FramePlan,
        FrameSpec,
        SensorMatch,
        StreamTimes,
    )
    from fusion.sync.interpolate import interpolate_imu, interpolate_poses, lookup_poses
    from fusion.sync.matching import default_tolerance_ns, match_nearest
    from fusion.sync.plan import plan_frames
    from fusion.sync.radar import compensate_doppler, compensate_doppler_from_ego, sensor_velocity
    from fusion.sync.reference import FrameReference
    from fusion.sync.transforms import to_base, to_world

#: public name -> submodule; imported on first use (most of them import numba: ``fusion inspect`` and a
#: subcommand's ``--help`` do not need it)
_LAZY = {
    "ApproximateTimeSynchronizer": ".approximate_time",
    "approximate_time_sets": ".approximate_time",
    "beam_crossing_fraction": ".beam",
    "beam_crossing_time_ns": ".beam",
    "camera_azimuth_rad": ".beam",
    "ClockFit": ".clock",
    "estimate_clock_offset": ".clock",
    "relative_offset_ns": ".clock",
    "DESKEW_MODES": ".deskew_mode",
    "deskew_points": ".deskew",
    "deskew_points_reference": ".deskew",
    "undeskew_points": ".deskew",
    "FLAG_EGO_GAP_SWEEP": ".frames",
    "FLAG_EGO_GAP_TIME": ".frames",
    "FLAG_IMU_GAP": ".frames",
    "FramePlan": ".frames",
    "FrameSpec": ".frames",
    "SensorMatch": ".frames",
    "StreamTimes": ".frames",
    "interpolate_imu": ".interpolate",
    "interpolate_poses": ".interpolate",
    "lookup_poses": ".interpolate",
    "default_tolerance_ns": ".matching",
    "match_nearest": ".matching",
    "plan_frames": ".plan",
    "compensate_doppler": ".radar",
    "compensate_doppler_from_ego": ".radar",
    "sensor_velocity": ".radar",
    "FrameReference": ".reference",
    "to_base": ".transforms",
    "to_world": ".transforms",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = [
    "DESKEW_MODES",
    "FLAG_EGO_GAP_SWEEP",
    "FLAG_EGO_GAP_TIME",
    "FLAG_IMU_GAP",
    "ApproximateTimeSynchronizer",
    "ClockFit",
    "FramePlan",
    "FrameReference",
    "FrameSpec",
    "SensorMatch",
    "StreamTimes",
    "approximate_time_sets",
    "beam_crossing_fraction",
    "beam_crossing_time_ns",
    "camera_azimuth_rad",
    "compensate_doppler",
    "compensate_doppler_from_ego",
    "default_tolerance_ns",
    "deskew_points",
    "deskew_points_reference",
    "estimate_clock_offset",
    "interpolate_imu",
    "interpolate_poses",
    "lookup_poses",
    "match_nearest",
    "plan_frames",
    "relative_offset_ns",
    "sensor_velocity",
    "to_base",
    "to_world",
    "undeskew_points",
]
