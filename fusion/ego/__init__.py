"""Ego motion without a localization stack: the inertial estimator and the ego-source registry.

See ``docs/SYNC.md`` ("Ego trajectory sources").
"""

from fusion.ego.estimator import EstimatorError, estimate
from fusion.ego.inputs import EgoEstimate, EstimatorParams, GnssInput, ImuInput, WheelInput

__all__ = ["EgoEstimate", "EstimatorError", "EstimatorParams", "GnssInput", "ImuInput", "WheelInput", "estimate"]
