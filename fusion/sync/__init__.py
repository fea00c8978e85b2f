"""Synchronization: clock offsets, matching, interpolation, deskew, radar, frame planning.

Arrays in, arrays out, no I/O. Time is int64 ns on the common clock, quaternions are
x, y, z, w, ``T_a_b`` maps frame-b coordinates into frame a. See ``docs/SYNC.md``.
"""

from fusion.sync.approximate_time import ApproximateTimeSynchronizer, approximate_time_sets
from fusion.sync.beam import beam_crossing_fraction, beam_crossing_time_ns, camera_azimuth_rad
from fusion.sync.clock import ClockFit, estimate_clock_offset, relative_offset_ns
from fusion.sync.deskew import DESKEW_MODES, deskew_points, deskew_points_reference, undeskew_points
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
