"""Ego motion without a localization stack: the inertial estimator and the ego-source registry.

See ``docs/SYNC.md`` ("Ego trajectory sources"). Names are imported on first use (the estimator
loads numba): parsing ``ego.source`` in a config (:mod:`fusion.ego.sources`) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fusion._lazy import lazy_getattr

if TYPE_CHECKING:
    from fusion.ego.estimator import EstimatorError, estimate
    from fusion.ego.inputs import EgoEstimate, EstimatorParams, GnssInput, ImuInput, WheelInput

#: public name -> submodule, imported on first use.
_EXPORTS = {
    "EstimatorError": ".estimator",
    "estimate": ".estimator",
    "EgoEstimate": ".inputs",
    "EstimatorParams": ".inputs",
    "GnssInput": ".inputs",
    "ImuInput": ".inputs",
    "WheelInput": ".inputs",
}

__all__ = ["EgoEstimate", "EstimatorError", "EstimatorParams", "GnssInput", "ImuInput", "WheelInput", "estimate"]

__getattr__ = lazy_getattr(__name__, _EXPORTS)
