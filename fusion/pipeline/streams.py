"""Pass-1 stream tables: every selected message's clocks, and the continuous streams.

These are small (a few int64 per message) so a whole log's tables fit in memory
even for hours of driving; the heavy payloads (points, images) are only touched
in pass 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from fusion.sync.stamps import (
    DUPLICATE,
    REASON_DUPLICATE,
    REASON_REPUBLISHED,
    REASON_ZERO_STAMP,
    ZERO,
    filter_stamps,
)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass
class MessageTable:
    """Clocks of one sensor's messages, indexed by topic index (record order).

    Attributes:
        name: Sensor name.
        topic: Topic name.
        kind: ``lidar``, ``radar``, ``camera``.
        stamp_ns: (M,) header stamps (hardware clock).
        record_ns: (M,) bag record times.
        offset_ns: The sensor's time offset: ``common = stamp + offset``.
        usable: (M,) False for messages excluded from matching (zero or duplicate stamp, carried over).
        reason: Topic index -> (reason, detail) of a zero or duplicate stamp (``mark_unusable``).
        sweep_start_ns / sweep_end_ns: (M,) common-clock sweep bounds for LiDARs (pass 1
            decodes the per-point time field of LiDAR messages); -1 when unknown.
        points: (M,) points per message (LiDAR/radar) for pre-sizing the store.
        stamp_source: ``header`` or ``record`` (the stream had no usable header stamps).
        record_why: Why a stream with stamps (most not 0) is aligned by record time; None otherwise.
        carried: (M,) True for messages carried over into a later record (no row of their own) and
            for a first sweep that is only a sliver of a rotation: never matched, not judged by the
            stamp filter; None: none.
        empty_rows: (M,) rows at (0, 0, 0) of each decoded radar scan / track list, -1 where not
            known (:func:`fusion.sync.stamps.republished`); None: none known.
        republished: Topic indices of messages a later one re-publishes complete with the same
            stamp (:func:`fusion.sync.stamps.republished`): set aside before the stamp filter.
    """

    name: str
    topic: str
    kind: str
    stamp_ns: I64
    record_ns: I64
    offset_ns: int = 0
    usable: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    reason: dict[int, tuple[str, str]] = field(default_factory=dict)
    sweep_start_ns: I64 | None = None
    sweep_end_ns: I64 | None = None
    points: I64 | None = None
    stamp_source: str = "header"
    record_why: str | None = None
    carried: npt.NDArray[np.bool_] | None = None
    empty_rows: I64 | None = None
    republished: I64 | None = None

    @property
    def common_ns(self) -> I64:
        """(M,) common-clock times (record time where the stream has no usable stamps)."""
        base = self.record_ns if self.stamp_source == "record" else self.stamp_ns
        return base + np.int64(self.offset_ns)

    def mark_unusable(self) -> None:
        """Flag zero and duplicated stamps with the stamp filter (:mod:`fusion.sync.stamps`; the
        first of equal stamps in record order stays usable), on the clock the stream is aligned by;
        re-published messages (:attr:`republished`) are set aside first."""
        stamps = self.record_ns if self.stamp_source == "record" else self.stamp_ns
        rows = np.flatnonzero(~self.carried) if self.carried is not None else np.arange(len(stamps))
        if self.republished is not None and self.republished.size:
            rows = np.setdiff1d(rows, self.republished)
            later = np.searchsorted(rows, self.republished)  # the burst's last message: the next row kept
            for i, j in zip(self.republished.tolist(), later.tolist()):
                self.reason[i] = (REASON_REPUBLISHED, f"re-published complete by message {int(rows[j])} "
                                                      "(same header stamp)")
        verdict = filter_stamps(stamps[rows])  # a message carried over into a later record has no row
        self.usable = np.zeros(len(stamps), dtype=bool)
        self.usable[rows] = verdict.usable
        for z in np.flatnonzero(verdict.code == ZERO).tolist():
            self.reason[int(rows[z])] = (REASON_ZERO_STAMP,
                                         "header.stamp is 0; the message has no usable hardware time")
        for i in np.flatnonzero(verdict.code == DUPLICATE).tolist():
            self.reason[int(rows[i])] = (REASON_DUPLICATE,
                                         f"same header stamp as message {int(rows[int(verdict.first[i])])}")


@dataclass
class EgoTable:
    """The ego trajectory ``T_world_base`` on the common clock, sorted, unique times.

    Attributes:
        times_ns: (K,) strictly increasing.
        translation_m: (K, 3); rotation_xyzw: (K, 4) x, y, z, w.
        linear_velocity_mps / angular_velocity_radps: (K, 3) in base_link.
        parent / child: world and base frame names.
        topic: Source topic (an estimate: its source name, e.g. ``imu+gnss``).
        position_sigma_m / yaw_sigma_rad: (K,) 1σ horizontal position (m) and heading (rad) of an
            estimated trajectory; None for a recorded one.
    """

    times_ns: I64
    translation_m: F64
    rotation_xyzw: F64
    linear_velocity_mps: F64
    angular_velocity_radps: F64
    parent: str
    child: str
    topic: str
    position_sigma_m: F64 | None = None
    yaw_sigma_rad: F64 | None = None


@dataclass
class ImuTable:
    """IMU samples on the common clock, sorted, unique times (IMU frame)."""

    name: str
    topic: str
    frame_id: str
    stamp_ns: I64
    record_ns: I64
    times_ns: I64
    angular_velocity_radps: F64
    linear_acceleration_mps2: F64
    orientation_xyzw: F64


@dataclass
class SampleTable:
    """A continuous stream other than the frame IMU (GNSS, further IMUs) on the common clock,
    sorted, unique times, in its sensor frame.

    Attributes:
        name, topic, frame_id: The sensor, its topic and frame.
        stamp_ns / record_ns / times_ns: (K,) header stamps, record times, common-clock times.
        columns: The kind's per-sample columns (K, ...) (its pass-1 columns without the clocks).
    """

    name: str
    topic: str
    frame_id: str
    stamp_ns: I64
    record_ns: I64
    times_ns: I64
    columns: dict[str, npt.NDArray[Any]]


class SampleColumns:
    """Append-only numeric columns that grow by doubling: no Python object per sample.

    Pass 1 keeps the continuous streams (odometry, IMU) of a whole log in memory; as records
    they would cost ~1 KB per sample (0.7 GB for an hour of 200 Hz IMU), as columns ~100 bytes.

    Args:
        spec: column name -> (dtype, shape of one sample).
    """

    def __init__(self, spec: dict[str, tuple[Any, tuple[int, ...]]]) -> None:
        self._spec = spec
        self._cols = {k: np.empty((256, *shape), dtype=dt) for k, (dt, shape) in spec.items()}
        self._n = 0

    def append(self, **values: Any) -> None:
        """Add one sample (every column must be given)."""
        if self._n == len(next(iter(self._cols.values()))):
            self._cols = {k: np.concatenate([c, np.empty_like(c)]) for k, c in self._cols.items()}
        for k, c in self._cols.items():
            c[self._n] = values[k]
        self._n += 1

    def __len__(self) -> int:
        return self._n

    @property
    def columns(self) -> tuple[str, ...]:
        """The column names, in spec order."""
        return tuple(self._spec)

    def __getitem__(self, name: str) -> np.ndarray:
        return self._cols[name][: self._n]


#: Pass-1 ego poses: T_world_base (x, y, z, w) and the twist in the child frame (NaN when absent).
POSE_COLUMNS: dict[str, tuple[Any, tuple[int, ...]]] = {
    "stamp_ns": (np.int64, ()), "index": (np.int64, ()), "record_ns": (np.int64, ()),
    "translation_m": (np.float64, (3,)), "rotation_xyzw": (np.float64, (4,)),
    "linear_velocity_mps": (np.float64, (3,)), "angular_velocity_radps": (np.float64, (3,)),
}  # fmt: skip

#: Pass-1 IMU samples in the IMU frame (orientation NaN when the message says absent).
IMU_COLUMNS: dict[str, tuple[Any, tuple[int, ...]]] = {
    "stamp_ns": (np.int64, ()), "index": (np.int64, ()), "record_ns": (np.int64, ()),
    "angular_velocity_radps": (np.float64, (3,)), "linear_acceleration_mps2": (np.float64, (3,)),
    "orientation_xyzw": (np.float64, (4,)),
}  # fmt: skip


def finite_difference_twist(times_ns: I64, t: F64, q_xyzw: F64) -> tuple[F64, F64]:
    """Body-frame linear and angular velocity from a pose sequence (central differences).

    Args:
        times_ns: (K,) strictly increasing.
        t: (K, 3) translations of ``T_world_base``.
        q_xyzw: (K, 4) rotations of ``T_world_base``, x, y, z, w.

    Returns:
        (v_base (K, 3) m/s, omega_base (K, 3) rad/s), both in base_link.
    """
    from scipy.spatial.transform import Rotation

    k = len(times_ns)
    if k < 2:
        return np.zeros((k, 3)), np.zeros((k, 3))
    ts = times_ns.astype(np.float64) * 1e-9
    v_world = np.gradient(t, ts, axis=0)
    rot = Rotation.from_quat(q_xyzw)
    rel = (rot[:-1].inv() * rot[1:]).as_rotvec() / np.diff(ts)[:, None]
    omega = np.empty((k, 3))
    omega[0] = rel[0]
    omega[-1] = rel[-1]
    omega[1:-1] = 0.5 * (rel[:-1] + rel[1:])
    v_base = rot.inv().apply(v_world)
    return v_base, omega
