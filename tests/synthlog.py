"""Test helper: a generated synthetic log with its truth and the rig file written from that truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from calibration import save_rig
from fusion.testing.synth import SynthConfig, Truth, generate, load_truth

#: The standard small size for conversion tests.
SMALL: dict[str, Any] = {
    "duration_s": 2.0,
    "lidar_beams": 16,
    "lidar_columns": 256,
    "image_width": 160,
    "image_height": 120,
}


def make_log(folder: Path, formats: tuple[str, ...] = ("mcap",), **synth: Any) -> tuple[dict[str, Path], Truth, Path]:
    """Generate a log in ``folder/log`` (``SMALL`` overridden by ``synth``) and ``folder/rig.yaml``.

    Returns:
        (bag path per format, the truth, the rig YAML path).
    """
    out = generate(SynthConfig(**{**SMALL, **synth}), folder / "log", formats=formats)
    truth = load_truth(out.truth_path)
    rig = folder / "rig.yaml"
    save_rig(truth.rig(), rig)
    return dict(out.bags), truth, rig
