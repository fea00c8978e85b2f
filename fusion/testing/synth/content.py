"""Per-message content of every topic, computed once from the world and the trajectory.

:class:`ContentSource` turns (topic, seq) into a :class:`~fusion.testing.synth.messages.Content`.
Continuous streams (IMU, odometry, /tf) are computed vectorized up front; LiDAR
sweeps and radar scans are simulated on demand and kept for the truth file.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from fusion.testing.synth import rig as rigdef
from fusion.testing.synth.camera import CameraRenderer, encode_jpeg
from fusion.testing.synth.config import SynthConfig
from fusion.testing.synth.lidar import Sweep, beam_directions, encode_points, point_layout, simulate_sweep
from fusion.testing.synth.messages import Content
from fusion.testing.synth.radar import FIELDS as RADAR_FIELDS
from fusion.testing.synth.radar import POINT_STEP as RADAR_STEP
from fusion.testing.synth.radar import RadarScan, encode_scan, simulate_scan
from fusion.testing.synth.schedule import lidar_sweep_starts, log_clock, log_topics
from fusion.testing.synth.trajectory import AnalyticTrajectory
from fusion.testing.synth.world import World

F64 = NDArray[np.float64]
GRAVITY_WORLD = np.array([0.0, 0.0, -9.80665])
"""Gravity in odom, m/s² (specific force = R_odom_imu^T (a_imu - g))."""


def imu_samples(traj: AnalyticTrajectory, times_ns: NDArray[np.int64]) -> dict[str, F64]:
    """Exact IMU samples at true ``times_ns`` (N,).

    Returns:
        ``quat_xyzw`` (N, 4) orientation of imu_link in odom (R_odom_imu, x, y, z, w),
        ``gyro`` (N, 3) rad/s in imu_link, ``accel`` (N, 3) specific force m/s² in imu_link.
    """
    T_bi = rigdef.SENSORS["imu"].T_base_sensor
    Rw = traj.rotation_matrices(times_ns) @ T_bi[:3, :3]
    gyro = traj.angular_velocity_body(times_ns) @ T_bi[:3, :3]  # R_base_imu^T ω_b
    a = traj.point_acceleration_world(times_ns, T_bi[:3, 3])
    accel = np.einsum("nji,nj->ni", Rw, a - GRAVITY_WORLD)
    return {"quat_xyzw": Rotation.from_matrix(Rw).as_quat(), "gyro": gyro, "accel": accel}


def odom_samples(traj: AnalyticTrajectory, times_ns: NDArray[np.int64]) -> dict[str, F64]:
    """Exact odometry at ``times_ns``: ``t`` (N, 3), ``quat_xyzw`` (N, 4) of T_odom_base,
    ``v_base`` (N, 3) linear and ``w_base`` (N, 3) angular velocity in base_link."""
    Rw = traj.rotation_matrices(times_ns)
    v_base = np.einsum("nji,nj->ni", Rw, traj.velocity(times_ns))
    return {"t": traj.position(times_ns), "quat_xyzw": Rotation.from_matrix(Rw).as_quat(),
            "v_base": v_base, "w_base": traj.angular_velocity_body(times_ns)}


class ContentSource:
    """Message content per (topic, seq) for one configuration.

    Args:
        cfg: the configuration; traj, world: the scene; true_times: topic -> (n,) true times
            in seq order (from the schedule).
    """

    def __init__(self, cfg: SynthConfig, traj: AnalyticTrajectory, world: World,
                 true_times: dict[str, NDArray[np.int64]]) -> None:
        self.cfg, self.traj, self.world, self.true_times = cfg, traj, world, true_times
        self.period_ns = round(1e9 / cfg.lidar_rate_hz)
        self.sweep_starts = lidar_sweep_starts(cfg)
        self.dirs = beam_directions(cfg.lidar_beams, cfg.lidar_columns)
        self.fields, self.point_step, _ = point_layout(cfg.lidar_time_convention)
        self.sweeps: dict[int, Sweep] = {}
        self.scans: dict[int, RadarScan] = {}
        W, H = cfg.image_width, cfg.image_height
        self.sensors = rigdef.sensors(cfg.extra_cameras)
        self.topic_types = log_topics(cfg)
        self.topic_clock = log_clock(cfg)
        cam_topics = rigdef.camera_topics(cfg.extra_cameras)
        self.image_topics = {image: n for n, (image, _) in cam_topics.items()}
        self.info_topics = {info: n for n, (_, info) in cam_topics.items()}
        self.cams = {n: rigdef.camera_intrinsics(n, W, H) for n in cam_topics}
        self.renderers = {n: CameraRenderer(c["K"], c["D"], W, H, self.sensors[n].T_base_sensor)
                          for n, c in self.cams.items()}
        self.imu = imu_samples(traj, true_times[rigdef.TOPIC_IMU])
        self.odom = odom_samples(traj, true_times[rigdef.TOPIC_ODOM]) if cfg.odometry else {}
        self.tf = odom_samples(traj, true_times[rigdef.TOPIC_TF]) if cfg.odometry else {}
        self.imu_bias: tuple[F64, F64] | None = None
        self.wheel: dict[str, F64] = {}
        self.gnss: dict[str, F64] = {}
        noise = cfg.sensor_noise
        if noise is not None:  # noisy IMU, wheel odometry, GNSS (own random streams)
            from fusion.testing.synth.inertial import gnss_fixes, noisy_imu, wheel_odometry

            g, a, bg, ba = noisy_imu(self.imu["gyro"], self.imu["accel"], cfg.imu_rate_hz, noise,
                                     np.random.default_rng([cfg.seed, 7, 0]))
            self.imu = {**self.imu, "gyro": g, "accel": a}
            self.imu_bias = (bg, ba)
            wheel = rigdef.TOPIC_WHEEL_TWIST if noise.wheel_message == "twist" else rigdef.TOPIC_WHEEL
            self.wheel = wheel_odometry(traj, true_times[wheel], noise, np.random.default_rng([cfg.seed, 7, 1]))
            self.gnss = gnss_fixes(traj, true_times[rigdef.TOPIC_GNSS], noise, np.random.default_rng([cfg.seed, 7, 2]))

    def stamp(self, topic: str, seq: int) -> int:
        """Header stamp (hardware clock) of message ``seq`` of ``topic``."""
        return int(self.true_times[topic][seq]) - self.cfg.offset_ns(self.topic_clock[topic])

    def sweep(self, seq: int) -> Sweep:
        """Sweep ``seq`` (simulated once, cached for the truth file)."""
        if seq not in self.sweeps:
            T_bl = rigdef.SENSORS["lidar_top"].T_base_sensor
            self.sweeps[seq] = simulate_sweep(self.traj, self.world, T_bl, int(self.sweep_starts[seq]),
                                              self.period_ns, self.dirs, self.cfg.lidar_max_range_m)
        return self.sweeps[seq]

    def radar(self, seq: int) -> RadarScan:
        """Radar scan ``seq`` (simulated once, seeded per scan, cached for the truth file)."""
        if seq not in self.scans:
            rng = np.random.default_rng([self.cfg.seed, 3, seq])
            self.scans[seq] = simulate_scan(self.traj, self.world, rigdef.SENSORS["radar_front"].T_base_sensor,
                                            int(self.true_times[rigdef.TOPIC_RADAR][seq]),
                                            self.cfg.radar_max_detections, rng)
        return self.scans[seq]

    def content(self, topic: str, seq: int) -> Content:
        """Content of message ``seq`` of ``topic`` (stamp = hardware clock)."""
        msgtype = self.topic_types[topic]
        stamp = self.stamp(topic, seq)
        p: dict[str, Any]
        frame = rigdef.BASE_FRAME
        if topic == rigdef.TOPIC_LIDAR:
            sw = self.sweep(seq)
            offset = self.cfg.offset_ns("lidar_top")
            data = encode_points(sw, self.cfg.lidar_time_convention, stamp + offset, offset)
            p = {"fields": self.fields, "point_step": self.point_step, "width": sw.xyz_lidar.shape[0], "data": data}
            frame = rigdef.SENSORS["lidar_top"].frame_id
        elif topic == rigdef.TOPIC_RADAR:
            sc = self.radar(seq)
            fields = [(n, o, 7) for n, o in RADAR_FIELDS]
            p = {"fields": fields, "point_step": RADAR_STEP, "width": sc.xyz_radar.shape[0], "data": encode_scan(sc)}
            frame = rigdef.SENSORS["radar_front"].frame_id
        elif topic in self.image_topics:
            name = self.image_topics[topic]
            img = self.renderers[name].render(self.traj, self.world, int(self.true_times[topic][seq]))
            frame = self.sensors[name].frame_id
            if msgtype == "sensor_msgs/msg/CompressedImage":
                p = {"format": "jpeg", "data": encode_jpeg(img, self.cfg.jpeg_quality)}
            else:
                p = {"height": img.shape[0], "width": img.shape[1], "encoding": "bgr8", "step": img.shape[1] * 3,
                     "data": img.tobytes()}
        elif topic in self.info_topics:
            name = self.info_topics[topic]
            p = dict(self.cams[name])
            frame = self.sensors[name].frame_id
        elif topic == rigdef.TOPIC_IMU:
            p = {k: v[seq] for k, v in self.imu.items()}
            frame = rigdef.SENSORS["imu"].frame_id
        elif topic == rigdef.TOPIC_ODOM:
            p = {k: v[seq] for k, v in self.odom.items()}
            p["child_frame_id"] = rigdef.BASE_FRAME
            frame = rigdef.WORLD_FRAME
        elif topic == rigdef.TOPIC_TF:
            p = {"transforms": [(rigdef.WORLD_FRAME, rigdef.BASE_FRAME, self.tf["t"][seq], self.tf["quat_xyzw"][seq])]}
            frame = rigdef.WORLD_FRAME
        elif topic == rigdef.TOPIC_WHEEL:
            p = {k: v[seq] for k, v in self.wheel.items()}
            p["child_frame_id"] = rigdef.BASE_FRAME
            frame = rigdef.WORLD_FRAME
        elif topic == rigdef.TOPIC_WHEEL_TWIST:
            p = {"v_base": self.wheel["v_base"][seq], "w_base": self.wheel["w_base"][seq]}
        elif topic == rigdef.TOPIC_GNSS:
            p = {k: v[seq] for k, v in self.gnss.items() if k != "enu_true"}
            frame = rigdef.GNSS_FRAME
        elif topic == rigdef.TOPIC_TF_STATIC:
            edges = rigdef.static_transforms(self.cfg.extra_cameras)
            if self.cfg.sensor_noise is not None:  # the GNSS antenna
                T = np.eye(4)
                T[:3, 3] = self.cfg.sensor_noise.t_base_antenna
                edges.append((rigdef.BASE_FRAME, rigdef.GNSS_FRAME, T))
            p = {"transforms": [(parent, child, T[:3, 3], Rotation.from_matrix(T[:3, :3]).as_quat())
                                for parent, child, T in edges]}
        else:  # pragma: no cover - programming error
            raise ValueError(topic)
        return Content(msgtype, stamp, frame, seq, p)
