"""Errors of the standalone calibration package.

:class:`CalibrationError` is the root; every message names the sensor and the
field (or file and key) at fault and what to do about it.
"""

from __future__ import annotations


class CalibrationError(Exception):
    """Root of every error the calibration package raises deliberately."""


class RigFileError(CalibrationError):
    """A rig/calibration file cannot be read or has a bad key (names file and key)."""


class TransformError(CalibrationError):
    """A transform is invalid: rotation not orthonormal, quaternion not unit, ..."""


class FrameTreeError(CalibrationError):
    """The frame tree is disconnected or cyclic, or a frame is unknown."""


class ExtrapolationError(CalibrationError):
    """A time-varying transform was asked for a time outside its range."""


class IntrinsicsError(CalibrationError):
    """Camera intrinsics are invalid (e.g. distortion coefficients do not match the model)."""


class UnitsError(CalibrationError):
    """Values look like the wrong units (millimetres for metres, degrees for radians)."""


class SensorNotFoundError(CalibrationError):
    """A sensor referenced by a config is not in the rig."""
