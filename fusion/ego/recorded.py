"""Ego sources ``odom`` and ``tf``: the trajectory recorded in the log, used as it is."""

from __future__ import annotations

from dataclasses import dataclass

from fusion.ego.sources import EgoInputs, EgoTrack


@dataclass(frozen=True)
class RecordedSource:
    """The recorded odometry (``kind = "odometry"``) or ``/tf`` (``kind = "tf"``) trajectory."""

    name: str
    kind: str

    def missing(self, inputs: EgoInputs) -> str | None:
        r = inputs.recorded
        if r is None or len(r.times_ns) < 2:
            what = "an odometry / pose topic" if self.kind == "odometry" else "world → base transforms on /tf"
            return f"the log has no recorded trajectory ({what}; set ego.topic)"
        if r.kind != self.kind:
            return f"the selected ego topic {r.topic} is {r.kind}, not {self.kind} (set ego.topic)"
        return None

    def build(self, inputs: EgoInputs) -> EgoTrack:
        r = inputs.recorded
        assert r is not None
        return EgoTrack(r.times_ns, r.translation_m, r.rotation_xyzw, r.linear_velocity_mps, r.angular_velocity_radps,
                        parent=r.parent, source=self.name, inputs=(r.topic,),
                        expected_accuracy=f"as recorded on {r.topic}")


ODOM = RecordedSource("odom", "odometry")
TF = RecordedSource("tf", "tf")
