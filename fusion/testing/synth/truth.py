"""Ground truth of a synthetic log: ``truth.json`` + ``truth.npz`` beside the bags.

See ``docs/SYNTH.md`` for the file format. :func:`load_truth` returns a
:class:`Truth`, which answers every question a test may ask about the log
(exact poses and derivatives at any time, extrinsics, intrinsics, clock offsets,
per-message timing and faults, per-point LiDAR truth, radar truth, boxes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusion.errors import ConfigError
from fusion.testing.synth.config import FAULT_KINDS, SynthConfig
from fusion.testing.synth.trajectory import AnalyticTrajectory, TrajectoryParams
from fusion.testing.synth.world import World

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
TRUTH_JSON = "truth.json"
TRUTH_NPZ = "truth.npz"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class MessageTable:
    """Timing and faults of one topic's messages (parallel (R,) arrays).

    Written rows come first in record order (``index`` = 0, 1, ... = position among the
    topic's messages in the bag); unwritten rows (drop, gap) have ``index`` -1.
    ``seq`` is the generation order (the sweep / frame number), ``fault`` a string
    (``""`` = unaffected). A duplicate has two rows with the same seq (the copy is
    ``"duplicate"``). For ``"out_of_order"`` the message (seq s) was recorded before
    seq s-1. ``stamp_ns`` is the header stamp as written (0 for ``"zero_stamp"``).
    """

    topic: str
    index: I64
    seq: I64
    true_time_ns: I64
    stamp_ns: I64
    record_time_ns: I64
    fault: NDArray[np.str_]

    def __len__(self) -> int:
        return int(self.index.size)

    @property
    def latency_ns(self) -> I64:
        """(R,) transport latency ``record_time_ns - true_time_ns`` of each row."""
        return self.record_time_ns - self.true_time_ns


@dataclass(frozen=True)
class LidarScanTruth:
    """Truth of one sweep (seq ``seq``), arrays in cloud point order.

    Attributes:
        world_xyz: (N, 3) f64 hit points in odom, m. time_ns: (N,) int64 true point times.
        object_id: (N,) int64 (-1 ground, boxes 0..). xyz_lidar: (N, 3) float32 as written.
        ring: (N,) uint16. stamp_ns: header stamp (hardware clock; without a zero_stamp fault).
        start_ns: true time of column 0. stamp_true_ns: true time the stamp stands for.
    """

    seq: int
    world_xyz: F64
    time_ns: I64
    object_id: I64
    xyz_lidar: NDArray[np.float32]
    ring: NDArray[np.uint16]
    stamp_ns: int
    start_ns: int
    stamp_true_ns: int

    def __iter__(self) -> Iterator[Any]:
        """Unpacks as ``world_xyz, time_ns, object_id, stamp_ns``."""
        return iter((self.world_xyz, self.time_ns, self.object_id, self.stamp_ns))


@dataclass(frozen=True)
class RadarScanTruth:
    """Truth of one radar scan: xyz_radar (N, 3) f64 m, world_xyz (N, 3), doppler_mps (N,),
    object_id (N,), target_velocity (N, 3) world m/s, time_ns (true), stamp_ns (hardware)."""

    seq: int
    xyz_radar: F64
    world_xyz: F64
    doppler_mps: F64
    object_id: I64
    target_velocity: F64
    time_ns: int
    stamp_ns: int


@dataclass(frozen=True)
class BoxesTruth:
    """Boxes at T times: ids (M,), centers (T, M, 3) odom m, sizes (M, 3) l w h m, yaws (M,) rad,
    velocities (M, 3) world m/s, is_static (M,) bool."""

    ids: I64
    centers: F64
    sizes: F64
    yaws: F64
    velocities: F64
    is_static: NDArray[np.bool_]


def _resolve(path: str | Path) -> tuple[Path, Path]:
    p = Path(path)
    if p.is_dir():
        p = p / TRUTH_JSON
    if p.suffix == ".npz":
        p = p.with_name(TRUTH_JSON)
    if not p.is_file() or not p.with_name(TRUTH_NPZ).is_file():
        raise ConfigError(f"no synthetic truth at {path}: expected {TRUTH_JSON} and {TRUTH_NPZ}")
    return p, p.with_name(TRUTH_NPZ)


def load_truth(path: str | Path) -> Truth:
    """Load the truth written by :func:`fusion.testing.synth.generate` (json path, npz path or folder)."""
    jpath, npath = _resolve(path)
    return Truth(json.loads(jpath.read_text()), npath)


class Truth:
    """Ground truth of one synthetic log (see the module docstring)."""

    def __init__(self, meta: dict[str, Any], npz_path: Path) -> None:
        self.meta = meta
        self.npz_path = npz_path
        self._npz = np.load(npz_path, allow_pickle=False)
        self._cache: dict[str, NDArray[Any]] = {}
        self.config = SynthConfig.from_dict(meta["config"])
        self.trajectory = AnalyticTrajectory(TrajectoryParams(**meta["trajectory"]))
        self.world = World.from_dict(meta["world"])

    def close(self) -> None:
        """Close truth.npz (arrays already read stay available)."""
        self._npz.close()

    def __enter__(self) -> Truth:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def array(self, name: str) -> NDArray[Any]:
        """Raw array ``name`` of truth.npz (cached)."""
        if name not in self._cache:
            self._cache[name] = self._npz[name]
        return self._cache[name]

    # ---- trajectory (exact, any time) -------------------------------------------------
    def pose_at(self, times_ns: ArrayLike) -> tuple[F64, F64]:
        """``T_odom_base`` at ``times_ns``: translations (N, 3) m, quaternions (N, 4) x, y, z, w."""
        return self.trajectory.pose(np.atleast_1d(times_ns))

    def T_odom_base(self, times_ns: ArrayLike) -> F64:
        """(N, 4, 4) ``T_odom_base`` at ``times_ns``."""
        return self.trajectory.matrices(times_ns)

    def velocity_at(self, times_ns: ArrayLike) -> F64:
        """(N, 3) base_link velocity in odom (world frame), m/s."""
        return self.trajectory.velocity(np.atleast_1d(times_ns))

    def angular_velocity_at(self, times_ns: ArrayLike) -> F64:
        """(N, 3) base_link angular velocity in base_link, rad/s."""
        return self.trajectory.angular_velocity_body(np.atleast_1d(times_ns))

    def angular_acceleration_at(self, times_ns: ArrayLike) -> F64:
        """(N, 3) base_link angular acceleration in base_link, rad/s²."""
        return self.trajectory.angular_acceleration_body(np.atleast_1d(times_ns))

    def acceleration_at(self, times_ns: ArrayLike) -> F64:
        """(N, 3) base_link origin acceleration in odom (world frame, gravity excluded), m/s²."""
        return self.trajectory.acceleration(np.atleast_1d(times_ns))

    # ---- rig -------------------------------------------------------------------------
    @property
    def sensor_names(self) -> list[str]:
        """Names of the rig's sensors."""
        return list(self.meta["rig"]["sensors"])

    def T_base_sensor(self, name: str) -> F64:
        """(4, 4) extrinsic of sensor ``name`` (sensor frame -> base_link)."""
        return np.asarray(self.meta["rig"]["sensors"][name]["T_base_sensor"], dtype=np.float64)

    def frame_id(self, name: str) -> str:
        """Frame of sensor ``name`` (optical frame for cameras)."""
        return str(self.meta["rig"]["sensors"][name]["frame_id"])

    def camera(self, name: str) -> dict[str, Any]:
        """Intrinsics of camera ``name``: K (3, 3), D (5,), model, width, height."""
        c = self.meta["rig"]["sensors"][name]["camera"]
        return {"K": np.asarray(c["K"], float), "D": np.asarray(c["D"], float), "model": c["model"],
                "width": int(c["width"]), "height": int(c["height"])}

    @property
    def time_offsets_ns(self) -> dict[str, int]:
        """Sensor name -> time_offset_ns (``common = stamp + offset``); includes ``odom``."""
        out = {n: int(s["time_offset_ns"]) for n, s in self.meta["rig"]["sensors"].items()}
        out["odom"] = int(self.meta["rig"]["odom_time_offset_ns"])
        return out

    def rig(self) -> Any:
        """The rig as a ``calibration.Rig`` (imported lazily)."""
        from fusion.testing.synth.rig_cal import to_calibration_rig

        return to_calibration_rig(self.meta["rig"])

    # ---- messages --------------------------------------------------------------------
    @property
    def topics(self) -> dict[str, str]:
        """Topic -> ROS 2-style message type."""
        return dict(self.meta["topics"])

    def counts(self) -> dict[str, int]:
        """Messages per topic as written in each bag (duplicates included)."""
        return {t: int(n) for t, n in self.meta["counts"].items()}

    def messages(self, topic: str, include_unwritten: bool = False) -> MessageTable:
        """Timing/fault table of ``topic`` (see :class:`MessageTable`)."""
        code = self.meta["topic_list"].index(topic)
        sel = self.array("msg_topic") == code
        idx = self.array("msg_index")[sel]
        if not include_unwritten:
            sel = sel & (self.array("msg_index") >= 0)
            idx = self.array("msg_index")[sel]
        kinds = np.asarray(FAULT_KINDS)
        return MessageTable(topic, idx, self.array("msg_seq")[sel], self.array("msg_true_time_ns")[sel],
                            self.array("msg_stamp_ns")[sel], self.array("msg_record_time_ns")[sel],
                            kinds[self.array("msg_fault")[sel]])

    def faults(self) -> list[dict[str, Any]]:
        """Every affected message: dicts with topic, index (-1 unwritten), seq, kind."""
        kinds = np.asarray(FAULT_KINDS)
        topics = self.meta["topic_list"]
        f = self.array("msg_fault")
        out = []
        for r in np.flatnonzero(f != 0):
            out.append({"topic": topics[int(self.array("msg_topic")[r])], "index": int(self.array("msg_index")[r]),
                        "seq": int(self.array("msg_seq")[r]), "kind": str(kinds[f[r]])})
        return out

    # ---- LiDAR / radar / boxes -------------------------------------------------------
    @property
    def n_lidar_scans(self) -> int:
        """Number of simulated sweeps (including dropped ones)."""
        return int(self.array("lidar_start_ns").size)

    def lidar_scan(self, i: int) -> LidarScanTruth:
        """Truth of sweep seq ``i`` (generation order; see ``messages(...).seq``)."""
        o = self.array("lidar_offsets")
        a, b = int(o[i]), int(o[i + 1])
        return LidarScanTruth(int(i), self.array("lidar_world_xyz")[a:b], self.array("lidar_time_ns")[a:b],
                              self.array("lidar_object_id")[a:b].astype(np.int64),
                              self.array("lidar_xyz")[a:b], self.array("lidar_ring")[a:b],
                              int(self.array("lidar_stamp_ns")[i]), int(self.array("lidar_start_ns")[i]),
                              int(self.array("lidar_stamp_true_ns")[i]))

    @property
    def n_radar_scans(self) -> int:
        """Number of simulated radar scans (including dropped ones)."""
        return int(self.array("radar_time_ns").size)

    def radar_scan(self, i: int) -> RadarScanTruth:
        """Truth of radar scan seq ``i``."""
        o = self.array("radar_offsets")
        a, b = int(o[i]), int(o[i + 1])
        return RadarScanTruth(int(i), self.array("radar_xyz")[a:b], self.array("radar_world_xyz")[a:b],
                              self.array("radar_doppler_mps")[a:b], self.array("radar_object_id")[a:b],
                              self.array("radar_target_velocity")[a:b], int(self.array("radar_time_ns")[i]),
                              int(self.array("radar_stamp_ns")[i]))

    @cached_property
    def n_static_boxes(self) -> int:
        """Static boxes have ids ``0 .. n_static_boxes-1``; moving boxes follow."""
        return int(self.world.n_static)

    def boxes_at(self, times_ns: ArrayLike) -> BoxesTruth:
        """All boxes at ``times_ns`` (T,) (constant-velocity tracks, exact)."""
        w = self.world
        ids = np.arange(w.n_boxes, dtype=np.int64)
        return BoxesTruth(ids, w.centers_at(times_ns), w.sizes.copy(), w.yaws.copy(), w.velocities.copy(),
                          ids < w.n_static)
