"""Ouster LiDAR packets → one sweep's points, through the Ouster SDK (``ouster-sdk``, optional).

The SDK parses the packets of every lidar profile it supports (``LEGACY``, ``RNG19_RFL8_SIG16_NIR16``,
``RNG15_RFL8_NIR8``, dual returns, ...) from the sensor metadata JSON: :class:`OusterModel` batches
one frame's packets into a ``LidarFrame``, projects the range image with the SDK's XYZ lookup
table (sensor frame ``os_sensor``, m), destaggers every field, gives each pixel its column's
timestamp (ns, sensor clock) and drops the pixels without a return (range 0) or whose column is
not valid (status bit 0), counting them.

Install: ``pip install --no-deps ouster-sdk`` (see ``docs/READERS.md``: the SDK pins an old
rosbags, so it is installed without its dependencies; decoding needs only numpy).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fusion.errors import DecodeError, FusionError

#: Frame of the points the SDK's XYZ lookup table gives (``use_extrinsics=False``).
SENSOR_FRAME = "os_sensor"
#: Frame of the IMU packets' measurements.
IMU_FRAME = "os_imu"
INSTALL_HINT = "pip install --no-deps ouster-sdk  (the SDK pins rosbags==0.9.23; install it without dependencies)"


class MissingSdkError(FusionError):
    """Ouster packets need the optional ``ouster-sdk`` package."""


def sdk() -> Any:
    """The ``ouster.sdk.core`` module, or :class:`MissingSdkError` saying how to install it."""
    try:
        from ouster.sdk import core
    except ImportError as exc:
        raise MissingSdkError(
            f"decoding Ouster packets needs the ouster-sdk package ({exc}); install it: {INSTALL_HINT}"
        ) from None
    return core


@dataclass(frozen=True, slots=True)
class Sweep:
    """One decoded sweep, points in destaggered row-major order (row = beam), no-return pixels removed.

    Attributes:
        xyz: (N, 3) float32 points in the sensor frame, m.
        point_time_ns: (N,) int64 column timestamps of the points, ns (sensor clock).
        fields: Per-point fields, each (N,): the profile's channels lower-cased (``range_mm``,
            ``reflectivity``, ``signal``, ``near_ir``, ...) and ``ring`` (uint16 beam index).
        dropped: Pixels of the frame without a return (range 0) or in an invalid column.
        height, width: The frame's beams and columns.
    """

    xyz: npt.NDArray[np.float32]
    point_time_ns: npt.NDArray[np.int64]
    fields: dict[str, np.ndarray]
    dropped: int
    height: int
    width: int


class OusterModel:
    """Decoding state of one sensor, built from its metadata JSON (cached by :func:`model`).

    Raises:
        DecodeError: The metadata JSON is not valid for the SDK.
    """

    def __init__(self, metadata_json: str) -> None:
        core = sdk()
        try:
            self.info = core.SensorInfo(metadata_json)
            self.pf = core.PacketFormat(self.info)
        except Exception as exc:
            raise DecodeError(f"Ouster metadata JSON rejected by the SDK: {exc}") from None
        self._core = core
        self.lut = core.XYZLut(self.info)
        self.height = int(self.info.format.pixels_per_column)
        self.width = int(self.info.format.columns_per_frame)
        self.packet_size = int(self.pf.lidar_packet_size)
        self.imu_packet_size = int(self.pf.imu_packet_size)
        self.profile = str(self.info.format.udp_profile_lidar)

    def frame_id(self, buf: npt.NDArray[np.uint8]) -> int:
        """The frame id of a lidar packet (a new id = a new sweep)."""
        return int(self.pf.frame_id(buf))

    def first_time_ns(self, buf: npt.NDArray[np.uint8]) -> int:
        """The earliest timestamp of the packet's valid columns (0 when none is valid)."""
        core = self._core
        ts = np.asarray(self.pf.packet_header(core.ColHeader.TIMESTAMP, buf), dtype=np.int64)
        status = np.asarray(self.pf.packet_header(core.ColHeader.STATUS, buf))
        ok = ts[(status & 1).astype(bool) & (ts > 0)]
        return int(ok.min()) if ok.size else 0

    def imu(self, buf: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64],
                                                       npt.NDArray[np.float64]]:
        """An IMU packet's measurements: (time ns (M,), acceleration m/s² (M, 3), angular rate rad/s (M, 3)),
        IMU frame ``os_imu``, SI units as the SDK's ``ImuPacket`` gives them (the wire has g and deg/s)."""
        pkt = self._core.ImuPacket(self.pf)
        pkt.buf[:] = buf
        t = np.asarray(pkt.timestamp(), dtype=np.int64)
        return t, np.asarray(pkt.accel(), np.float64).reshape(-1, 3), np.asarray(pkt.gyro(), np.float64).reshape(-1, 3)

    def frame(self, packets: list[npt.NDArray[np.uint8]]) -> Any:
        """The SDK's (staggered) ``LidarFrame`` of one sweep's packets."""
        core = self._core
        frame = core.LidarFrame(self.info)
        batcher = core.FrameBatcher(self.info)
        for buf in packets:
            pkt = core.LidarPacket(self.pf)
            pkt.buf[:] = buf
            batcher.batch(pkt, frame)
        return frame

    def decode(self, packets: list[npt.NDArray[np.uint8]]) -> Sweep:
        """One sweep's packets (all of one frame id) → :class:`Sweep`."""
        frame = self.frame(packets)
        perm, col, row = self._order
        ts = np.asarray(frame.timestamp, dtype=np.int64)
        ts = np.where((np.asarray(frame.status) & 1).astype(bool) & (ts > 0), ts, 0)
        time_d = ts[col]
        keep = (np.asarray(frame.field("RANGE")).reshape(-1)[perm] != 0) & (time_d > 0)
        idx = perm[keep]
        xyz = np.asarray(self.lut(frame)).reshape(-1, 3)[idx].astype(np.float32)
        fields: dict[str, np.ndarray] = {}
        for name in frame.fields:
            img = np.asarray(frame.field(name))
            if img.ndim == 2:
                key = "range_mm" if name == "RANGE" else ("range2_mm" if name == "RANGE2" else name.lower())
                fields[key] = img.reshape(-1)[idx]
        fields["ring"] = row[keep]
        return Sweep(xyz, time_d[keep], fields, int(keep.size - idx.size), self.height, self.width)

    @functools.cached_property
    def _order(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.uint16]]:
        """(perm, column, row): destaggered pixel k is staggered pixel ``perm[k]`` (row-major), which
        lies in staggered column ``column[k]``; ``row[k]`` is its beam. From the SDK's own destagger."""
        h, w = self.height, self.width
        perm = np.asarray(self._core.destagger(self.info, np.arange(h * w, dtype=np.int64).reshape(h, w)))
        perm = perm.reshape(-1).astype(np.int64)
        return perm, perm % w, (perm // w).astype(np.uint16)


@functools.lru_cache(maxsize=8)
def model(metadata_json: str) -> OusterModel:
    """The :class:`OusterModel` of a metadata JSON (built once per process: the XYZ table is costly)."""
    return OusterModel(metadata_json)
