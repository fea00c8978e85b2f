"""What defines the frames: a typed frame reference and the closed choices of frame planning.

A frame reference is written ``lidar:<sensor>``, ``camera:<sensor>``, ``radar:<sensor>`` (one frame
per message of that sensor) or ``rate:<hz>`` (frames at a fixed rate on the common clock). It is
parsed once, where the text enters (config file or ``--reference``), into a :class:`FrameReference`;
everything downstream reads its fields and never splits the text again.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal, get_args

from fusion.config_values import show
from fusion.errors import ConfigError

ReferenceKind = Literal["lidar", "camera", "radar", "rate"]
"""The kinds of frame reference: a sensor of that kind, or a fixed rate."""
ReferenceTime = Literal["sweep_start", "sweep_end", "header"]
"""Which time of a LiDAR sweep is the frame time (other sensors always use their header stamp)."""
Policy = Literal["nearest", "approximate_time"]
"""How the other sensors are matched to the frames."""

REFERENCE_KINDS: tuple[ReferenceKind, ...] = get_args(ReferenceKind)
REFERENCE_TIMES: tuple[ReferenceTime, ...] = get_args(ReferenceTime)
POLICIES: tuple[Policy, ...] = get_args(Policy)
MAX_RATE_HZ = 1e6
"""Largest ``rate:<hz>`` (one frame per microsecond)."""
MIN_RATE_HZ = 1e-3
"""Smallest ``rate:<hz>`` (one frame per 1000 s; a smaller rate would overflow the frame period in ns)."""

_FORM = re.compile(r"(lidar|camera|radar|rate):(.+)")  # "." excludes a line break
_EXPECTED = "'lidar:<sensor>', 'camera:<sensor>', 'radar:<sensor>' or 'rate:<hz>'"


@dataclass(frozen=True)
class FrameReference:
    """A parsed frame reference.

    Attributes:
        kind: ``"lidar"``, ``"camera"``, ``"radar"`` (frames at that sensor's messages) or ``"rate"``.
        sensor: the reference sensor's name; None for ``rate``.
        rate_hz: the frame rate, Hz, in [0.001, 1e6]; None unless ``kind == "rate"``.
    """

    kind: ReferenceKind
    sensor: str | None = None
    rate_hz: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in REFERENCE_KINDS:
            raise ValueError(f"FrameReference.kind must be one of {REFERENCE_KINDS}, got {self.kind!r}")
        if self.kind == "rate":
            hz = self.rate_hz
            if self.sensor is not None or hz is None or not (math.isfinite(hz) and 0 < hz <= MAX_RATE_HZ):
                raise ValueError(f"FrameReference rate needs rate_hz in (0, {MAX_RATE_HZ:g}] and no sensor: {self!r}")
        elif not self.sensor or self.rate_hz is not None:
            raise ValueError(f"FrameReference {self.kind} needs a sensor name and no rate_hz: {self!r}")

    @classmethod
    def parse(cls, text: object, key: str = "frames.reference") -> FrameReference:
        """Parse ``lidar:<sensor>``, ``camera:<sensor>``, ``radar:<sensor>`` or ``rate:<hz>``.

        Args:
            text: the value as read (anything; only a string of one of the forms is accepted).
            key: the config key or option it came from, named in the error.

        Raises:
            ConfigError: ``"<key>: expected ..., got <value>"`` for anything else, including a rate
                that is not a finite number of Hz in [0.001, 1e6].
        """
        match = _FORM.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ConfigError(f"{key}: expected {_EXPECTED}, got {show(text)}")
        kind, arg = match.group(1), match.group(2)
        if kind != "rate":
            return cls(kind, sensor=arg)  # type: ignore[arg-type]  # the pattern admits only the kinds
        try:
            hz = float(arg)
        except ValueError:
            hz = math.nan
        if not (math.isfinite(hz) and MIN_RATE_HZ <= hz <= MAX_RATE_HZ):
            raise ConfigError(f"{key}: expected 'rate:<hz>' with a number of Hz ≥ 0.001 and ≤ 1e6, got {show(text)}")
        return cls("rate", rate_hz=hz)

    def __str__(self) -> str:
        """The text form, e.g. ``lidar:lidar_top`` or ``rate:10`` (a whole rate is written without ``.0``)."""
        if self.kind == "rate":
            hz = float(self.rate_hz or 0.0)
            return f"rate:{int(hz)}" if hz.is_integer() else f"rate:{hz!r}"
        return f"{self.kind}:{self.sensor}"
