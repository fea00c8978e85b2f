"""Deterministic synthetic drive-log generator with exact ground truth.

Example:
    >>> from fusion.testing.synth import SynthConfig, generate, load_truth
    >>> out = generate(SynthConfig(duration_s=2.0, lidar_beams=16, lidar_columns=256), "/tmp/log")
    >>> truth = load_truth(out.truth_path)
    >>> t, q_xyzw = truth.pose_at(truth.messages("/odom").true_time_ns)

See docs/SYNTH.md for the content of a log and the truth file format.
"""

from __future__ import annotations

from fusion.testing.synth.config import FAULT_KINDS, LIDAR_TIME_CONVENTIONS, Faults, SynthConfig
from fusion.testing.synth.generate import FORMATS, SynthOutput, generate
from fusion.testing.synth.truth import (
    BoxesTruth,
    LidarScanTruth,
    MessageTable,
    RadarScanTruth,
    Truth,
    load_truth,
)

__all__ = [
    "FAULT_KINDS",
    "FORMATS",
    "LIDAR_TIME_CONVENTIONS",
    "BoxesTruth",
    "Faults",
    "LidarScanTruth",
    "MessageTable",
    "RadarScanTruth",
    "SynthConfig",
    "SynthOutput",
    "Truth",
    "generate",
    "load_truth",
]
