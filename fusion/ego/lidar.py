"""Ego sources ``lidar`` and ``lidar+imu``: LiDAR odometry — the seam, not implemented yet.

A LiDAR odometry source (e.g. kiss-icp over the deskew-free sweeps, optionally IMU-seeded)
implements :class:`fusion.ego.sources.EgoSource` here: ``missing`` says what the log lacks, ``build``
returns an :class:`~fusion.ego.sources.EgoTrack`. It would need the sweeps in pass 1 (the spool
holds them), so until then asking for it is a configuration error that says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from fusion.ego.sources import EgoInputs, EgoTrack


@dataclass(frozen=True)
class LidarSource:
    """LiDAR odometry (not available in this version)."""

    name: str

    def missing(self, inputs: EgoInputs) -> str | None:
        return ("LiDAR odometry is not implemented yet; use auto, odom, tf or an inertial source "
                "(imu, imu+odom, imu+gnss, imu+odom+gnss)")

    def build(self, inputs: EgoInputs) -> EgoTrack:  # pragma: no cover - missing() always refuses
        raise NotImplementedError(self.name)


LIDAR = LidarSource("lidar")
LIDAR_IMU = LidarSource("lidar+imu")
