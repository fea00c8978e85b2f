"""Hesai packet decoding against the reference decoder's clouds (real packets, ../shared/data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from packets_common import best_match, decode_all, options, reference_clouds

from fusion.errors import ConfigError
from fusion.lidar_packets.calibration import load_hesai_csv
from fusion.lidar_packets.hesai_models import MODELS, find_model

pytestmark = pytest.mark.shared
HESAI = ["hesai/40p", "hesai/64", "hesai/qt128", "hesai/xt32"]


@pytest.fixture(scope="module")
def root(shared_data: Path) -> Path:
    return shared_data / "real" / "lidar_packets"


@pytest.mark.parametrize("case", HESAI)
def test_reproduces_reference_clouds(root: Path, case: str) -> None:
    """Same calibration model as the reference decoder: every reference point is reproduced.

    Measured (all four bags): point count ratio 1.00000, median 0.00003–0.00007 mm (float rounding),
    100 % within 1 mm.
    """
    sweeps = decode_all(root, case)
    for ref in reference_clouds(root, case):
        m = best_match(ref, sweeps)
        assert abs(m.count_ratio - 1) <= 0.02  # issue bound; measured exactly 1
        assert m.median_m <= 1e-3  # issue bound
        assert m.within_1cm >= 0.99  # issue bound
        assert m.median_m <= 1e-6 and m.within_1mm >= 0.999  # measured ≤ 7e-8 m and 100 %


@pytest.mark.parametrize("case", HESAI)
def test_per_point_time(root: Path, case: str) -> None:
    """Per-point firing times: the sweep is stamped with its first point, spans one 10 Hz rotation
    (measured 99.8–104.8 ms for full sweeps) and time grows with azimuth through the sweep."""
    sweeps = decode_all(root, case)
    full = sweeps[1:]
    assert full
    for s in sweeps:
        assert s.point_time_ns is not None and s.meta.stamp_ns == int(s.point_time_ns.min())
        assert s.time_convention == "packets"
    for s in full:
        t = s.point_time_ns
        assert t is not None
        span_ms = (t.max() - t.min()) / 1e6
        assert 95.0 <= span_ms <= 110.0
        az = np.degrees(np.arctan2(s.xyz[:, 0], s.xyz[:, 1])) % 360.0  # Hesai: clockwise from +y
        order = np.argsort(t)
        corr = np.corrcoef(az[order], t[order].astype(np.float64))[0, 1]
        assert corr > 0.99  # measured > 0.999
    starts = np.array([s.meta.stamp_ns for s in full])
    if len(starts) > 1:
        assert np.all(np.abs(np.diff(starts) / 1e6 - 100.0) < 5.0)  # 10 Hz


@pytest.mark.parametrize("case", HESAI)
def test_empty_returns_masked(root: Path, case: str) -> None:
    """Range-0 returns are counted and never become points at the origin."""
    sweeps = decode_all(root, case)
    for s in sweeps:
        r = np.linalg.norm(s.xyz, axis=1)
        assert r.min() >= 0.05 - 1e-4
        assert np.isfinite(s.xyz).all()


def test_calibration_csv(root: Path) -> None:
    cal = load_hesai_csv(root / "calibration" / "hesai" / "Pandar64.csv")
    assert cal.n_channels == 64
    assert np.degrees(cal.elevation_rad[0]) == pytest.approx(14.9, abs=1e-5)
    assert np.degrees(cal.azimuth_offset_rad[6]) == pytest.approx(1.042, abs=1e-5)


def test_models_and_errors(root: Path, tmp_path: Path) -> None:
    assert find_model("xt32") is MODELS["PandarXT32"] and find_model("Pandar-QT128") is MODELS["PandarQT128"]
    assert find_model("AT999") is None
    bad = tmp_path / "bad.csv"
    bad.write_text("Laser id,Elevation,Azimuth\n1,abc,0\n")
    with pytest.raises(ConfigError, match="line 2"):
        load_hesai_csv(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_hesai_csv(tmp_path / "missing.csv")
    opts = options(root, "hesai/xt32")
    from dataclasses import replace

    with pytest.raises(ConfigError, match="calibration"):
        decode_all(root, "hesai/xt32", replace(opts, calibration=None))


@pytest.mark.parametrize(("case", "model", "mode"), [
    ("hesai/40p", "Pandar40P", "dual (last, strongest)"), ("hesai/64", "Pandar64", "dual (last, strongest)"),
    ("hesai/qt128", "PandarQT128", "dual (last, strongest)"), ("hesai/xt32", "PandarXT32", "dual (last, strongest)"),
    ("velodyne/vlp16", "VLP16", "dual"), ("velodyne/vls128", "VLS128", "strongest"),
])
def test_inspect_names_packet_topics(root: Path, case: str, model: str, mode: str) -> None:
    """``fusion inspect`` says what a packet topic is (vendor, model from the packets, return mode)
    and how fusion reads it, without a calibration file."""
    from fusion.readers.inspect import inspect_bags

    bag = next(p for p in (root / case).iterdir() if p.is_dir())
    (topic,) = inspect_bags(bag)["topics"].values()
    assert topic["kind"] == "lidar"
    p = topic["packets"]
    assert p["model"] == model and p["return_mode"] == mode and p["packets_per_message"] > 100
    assert f"packets of {case.split('/')[0]} {model}" in p["reads_as"] and "stored as lidar" in p["reads_as"]


def test_time_source_stamp(root: Path) -> None:
    """``time_source: stamp`` times points from the packet messages' stamps instead of the sensor's
    own clock (this XT32's clock is ≈ 3.5 years behind: measured offset 109 375 908.08 s, spread
    ≤ 0.9 ms); the points are the same."""
    from dataclasses import replace

    a = decode_all(root, "hesai/xt32")
    b = decode_all(root, "hesai/xt32", replace(options(root, "hesai/xt32"), time_source="stamp"))
    for ra, rb in zip(a, b, strict=True):
        np.testing.assert_array_equal(ra.xyz, rb.xyz)
        assert ra.point_time_ns is not None and rb.point_time_ns is not None
        d = rb.point_time_ns - ra.point_time_ns
        assert abs(float(np.median(d)) / 1e9 - 109_375_908.08) < 1.0
        assert d.max() - d.min() < 3_000_000


@pytest.mark.parametrize("case", ["hesai/40p", "velodyne/vlp16"])
def test_return_mode_selects_one_return(root: Path, case: str) -> None:
    """``return_mode: last`` keeps the first block of each dual pair (last return); ``strongest``
    one return per group; both fewer points than every return (measured on 40P: 54 491 vs 56 762)."""
    from dataclasses import replace

    auto = decode_all(root, case)
    last = decode_all(root, case, replace(options(root, case), return_mode="last"))
    strong = decode_all(root, case, replace(options(root, case), return_mode="strongest"))
    for a, la, st in zip(auto, last, strong, strict=True):
        assert set(np.unique(la.fields["return_index"]).tolist()) == {0}
        assert len(la.xyz) < len(a.xyz) and len(st.xyz) < len(a.xyz)
        assert len(st.xyz) > 0.9 * len(a.xyz)
    with pytest.raises(ConfigError, match="return_mode"):
        decode_all(root, case, replace(options(root, case), return_mode="first"))
