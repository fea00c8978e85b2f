"""SynthConfig / Faults validation, hashing and round trip; schedule rules."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.errors import ConfigError
from fusion.testing.synth import Faults, SynthConfig
from fusion.testing.synth.schedule import build_schedule, periodic_times


@pytest.mark.parametrize(("changes", "field"), [
    ({"duration_s": 0}, "duration_s"),
    ({"seed": -1}, "seed"),
    ({"speed_mps": 0.0}, "speed_mps"),
    ({"lidar_time_convention": "livox"}, "lidar_time_convention"),
    ({"lidar_beams": 0}, "lidar_beams"),
    ({"latency_ns": (5, 1)}, "latency_ns"),
    ({"clock_offsets_ns": {"gps": 1}}, "clock_offsets_ns"),
    ({"image_width": 4}, "image size"),
    ({"n_moving_objects": -1}, "n_moving_objects"),
])
def test_invalid_config_names_the_field(changes, field) -> None:
    with pytest.raises(ConfigError, match=field):
        SynthConfig(**changes)


def test_faults_validation() -> None:
    with pytest.raises(ConfigError, match="duplicate_count"):
        Faults(duplicate_count=-1)
    with pytest.raises(ConfigError, match="gap"):
        Faults(gap=(1.0, 0.0))
    assert not Faults().any and Faults(gap=(0.1, 0.1)).any
    with pytest.raises(ConfigError, match=r"faults\.topics"):
        build_schedule(SynthConfig(duration_s=0.1, faults=Faults(duplicate_count=1, topics=("/gps",))))


def test_config_hashable_and_round_trips() -> None:
    a = SynthConfig(clock_offsets_ns={"imu": 3, "lidar_top": -5}, faults=Faults(gap=(1, 2), topics=("/odom",)))
    b = SynthConfig.from_dict(a.to_dict())
    assert a == b and hash(a) == hash(b)
    assert {a: 1}[b] == 1
    assert a.offset_ns("lidar_top") == -5 and a.offset_ns("camera_left") == 0
    assert a.replace(seed=3).seed == 3
    tiny = SynthConfig.tiny(seed=2)
    assert (tiny.duration_s, tiny.lidar_beams, tiny.lidar_columns, tiny.image_width) == (1.0, 16, 256, 160)
    assert tiny.seed == 2


def test_message_counts_and_phases() -> None:
    t = periodic_times(0, 1_000_000_000, 15.0, 3_000_000)
    assert t.size == 15 and t[0] == 3_000_000 and t[-1] == 3_000_000 + round(14e9 / 15)
    cfg = SynthConfig(duration_s=2.0, seed=9)
    tables = build_schedule(cfg)
    assert tables["/lidar/points"].seq.size == 20
    assert tables["/imu/data"].seq.size == 400
    for table in tables.values():
        assert np.all(np.diff(table.record_time_ns) >= 2)  # per-topic FIFO, strictly increasing
        lat = table.record_time_ns - table.true_time_ns
        assert lat.min() >= 2_000_000 and lat.max() <= 30_000_000
