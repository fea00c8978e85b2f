"""Helpers of the packet-decoder tests: decode a reference bag, compare with its reference clouds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pcd_reader import read_points
from scipy.spatial import cKDTree

from fusion.lidar_packets.options import PacketOptions
from fusion.lidar_packets.topic import NoSweepYetError
from fusion.readers import open_bags
from fusion.readers.records import PointCloud
from fusion.readers.source import DecodeOptions

#: folder -> (vendor, model, calibration file, min range m, max range m): the reference decoder's settings
CASES = {
    "velodyne/vlp16": ("velodyne", "VLP16", "VLP16.yaml", 0.3, 300.0),
    "velodyne/vls128": ("velodyne", "VLS128", "VLS128.yaml", 0.3, 300.0),
    "hesai/40p": ("hesai", "Pandar40P", "Pandar40P.csv", 0.3, 200.0),
    "hesai/64": ("hesai", "Pandar64", "Pandar64.csv", 0.3, 200.0),
    "hesai/qt128": ("hesai", "PandarQT128", "PandarQT128.csv", 0.3, 300.0),
    "hesai/xt32": ("hesai", "PandarXT32", "PandarXT32.csv", 0.05, 120.0),
}


def options(root: Path, case: str) -> PacketOptions:
    vendor, model, cal, lo, hi = CASES[case]
    return PacketOptions(vendor=vendor, model=model, calibration=str(root / "calibration" / vendor / cal),
                         min_range_m=lo, max_range_m=hi)


def decode_all(root: Path, case: str, opts: PacketOptions | None = None) -> list[PointCloud]:
    """Every sweep record of the case's bag, read through the reader API (``BagSource.decode``)."""
    bag = next(p for p in (root / case).iterdir() if p.is_dir())
    out: list[PointCloud] = []
    with open_bags(bag) as src:
        dopts = DecodeOptions(kind="lidar", packets=opts or options(root, case))
        for raw in src.messages():
            try:
                rec = src.decode(raw, options=dopts)
            except NoSweepYetError:
                continue
            assert isinstance(rec, PointCloud)
            out.append(rec)
    return out


@dataclass(frozen=True)
class Match:
    """How one decoded sweep reproduces one reference cloud."""

    count_ratio: float
    median_m: float
    within_1cm: float
    within_1mm: float


def reference_clouds(root: Path, case: str) -> list[np.ndarray]:
    refs = []
    for p in sorted((root / case).glob("*.pcd")):
        _, rows = read_points(p)
        refs.append(np.stack([rows["x"], rows["y"], rows["z"]], 1).astype(np.float64))
    return refs


def best_match(ref: np.ndarray, sweeps: list[PointCloud]) -> Match:
    """The decoded sweep nearest to ``ref`` (the reference decoder names a scan by a message stamp
    that is not always the message that completes it in fusion; the other sweeps are tens of mm off)."""
    best: Match | None = None
    for s in sweeps:
        d, _ = cKDTree(s.xyz.astype(np.float64)).query(ref)
        m = Match(len(s.xyz) / len(ref), float(np.median(d)), float(np.mean(d < 0.01)), float(np.mean(d < 0.001)))
        if best is None or m.median_m < best.median_m:
            best = m
    assert best is not None
    return best
