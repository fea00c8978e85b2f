"""Every built-in stream kind through the conformance suite (``fusion.testing.kinds``).

Each class writes a real MCAP log of one kind (10 Hz sensors, 100 Hz IMU), converts it with the
defaults plus frames at 10 Hz, validates the store and compares every stored message with the one
written: bytes and pixels exactly, points and velocities to float32 precision.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from rosbags.typesys.store import Typestore

from fusion import kinds
from fusion.readers.radar import polar_to_xyz
from fusion.testing.kinds import NS, T0, StreamKindConformance, header

M = 12  # messages of the kind under test
PERIOD = NS // 10
RNG = np.random.default_rng(5)


def _times(k: int, period: int = PERIOD) -> tuple[int, int]:
    """(stamp, record time) of message k: stamped 3 ms after the tick, recorded 5 ms after its stamp."""
    stamp = T0 + k * period + 3_000_000
    return stamp, stamp + 5_000_000


def _cloud(store: Typestore, stamp: int, frame: str, points: np.ndarray) -> Any:
    pf = store.types["sensor_msgs/msg/PointField"]
    names = points.dtype.names or ()
    fields = [pf(name=n, offset=points.dtype.fields[n][1], datatype=7, count=1) for n in names]  # type: ignore[index]
    return store.types["sensor_msgs/msg/PointCloud2"](
        header=header(store, stamp, frame), height=1, width=len(points), fields=fields, is_bigendian=False,
        point_step=points.dtype.itemsize, row_step=points.dtype.itemsize * len(points),
        data=np.frombuffer(points.tobytes(), np.uint8), is_dense=True)


def _points(names: tuple[str, ...], n: int) -> np.ndarray:
    p = np.zeros(n, dtype=np.dtype({"names": list(names), "formats": ["f4"] * len(names)}))
    for name in names:
        p[name] = RNG.normal(size=n).astype(np.float32) * 10
    return p


class TestCompressedCamera(StreamKindConformance):
    kind_name = "camera"
    sensor = "cam_front"
    topic = "/cam_front/image/compressed"

    def messages(self, store: Typestore) -> list[tuple[str, str, int, Any]]:
        out = []
        for k in range(M):
            stamp, rec = _times(k)
            img = RNG.integers(0, 255, (24, 32, 3), dtype=np.uint8)
            jpeg = cv2.imencode(".jpg", img)[1].ravel()
            msg = store.types["sensor_msgs/msg/CompressedImage"](header=header(store, stamp, self.sensor),
                                                                  format="jpeg", data=jpeg)
            out.append((self.topic, "sensor_msgs/msg/CompressedImage", rec, msg))
        return out

    def check_message(self, stored: Any, written: Any) -> None:
        assert stored.data == written.data.tobytes()  # the original bytes, never re-encoded
        assert stored.format == "jpeg"
        assert stored.image.shape == (24, 32, 3)


class TestRawCamera(StreamKindConformance):
    kind_name = "camera"
    sensor = "cam_left"
    topic = "/cam_left/image_raw"

    def messages(self, store: Typestore) -> list[tuple[str, str, int, Any]]:
        out = []
        for k in range(M):
            stamp, rec = _times(k)
            img = RNG.integers(0, 255, (6, 8, 3), dtype=np.uint8)
            msg = store.types["sensor_msgs/msg/Image"](header=header(store, stamp, self.sensor), height=6, width=8,
                                                       encoding="bgr8", is_bigendian=0, step=24, data=img.ravel())
            out.append((self.topic, "sensor_msgs/msg/Image", rec, msg))
        return out

    def check_message(self, stored: Any, written: Any) -> None:
        np.testing.assert_array_equal(stored.image, written.data.reshape(6, 8, 3))
        assert stored.format == "bgr8"


class TestImage(StreamKindConformance):
    """A LiDAR range panorama (mono16, frame os_lidar, no CameraInfo): stored at full rate, not matched."""

    kind_name = "image"
    sensor = "os_lidar"
    topic = "/ouster/range_image"

    def messages(self, store: Typestore) -> list[tuple[str, str, int, Any]]:
        out = []
        for k in range(M):
            stamp, rec = _times(k)
            img = RNG.integers(0, 65535, (16, 64), dtype=np.uint16)
            msg = store.types["sensor_msgs/msg/Image"](header=header(store, stamp, self.sensor), height=16, width=64,
                                                       encoding="mono16", is_bigendian=0, step=128,
                                                       data=img.view(np.uint8).ravel())
            out.append((self.topic, "sensor_msgs/msg/Image", rec, msg))
        return sorted(out + TestRawCamera().messages(store), key=lambda m: m[2])

    def check_message(self, stored: Any, written: Any) -> None:
        np.testing.assert_array_equal(stored.image, written.data.view(np.uint16).reshape(16, 64))
        assert stored.image.dtype == np.uint16 and stored.format == "mono16"


class TestLidar(StreamKindConformance):
    kind_name = "lidar"
    sensor = "lidar_top"
    topic = "/lidar_top/points"

    def messages(self, store: Typestore) -> list[tuple[str, str, int, Any]]:
        return [(self.topic, "sensor_msgs/msg/PointCloud2", _times(k)[1],
                 _cloud(store, _times(k)[0], self.sensor, _points(("x", "y", "z", "intensity"), 50 + k)))
                for k in range(M)]

    def check_message(self, stored: Any, written: Any) -> None:
        pts = np.frombuffer(written.data.tobytes(), dtype=np.dtype({"names": ["x", "y", "z", "intensity"],
                                                                   "formats": ["f4"] * 4}))
        xyz = np.stack([pts["x"], pts["y"], pts["z"]], axis=1)
        np.testing.assert_array_equal(stored.xyz, xyz)  # no ego trajectory: stored as measured
        np.testing.assert_array_equal(stored["intensity"], pts["intensity"])


class TestRadarCloud(StreamKindConformance):
    kind_name = "radar"
    sensor = "radar_front"
    topic = "/radar_front/points"

    def messages(self, store: Typestore) -> list[tuple[str, str, int, Any]]:
        return [(self.topic, "sensor_msgs/msg/PointCloud2", _times(k)[1],
                 _cloud(store, _times(k)[0], self.sensor, _points(("x", "y", "z", "doppler", "rcs"), 8 + k)))
                for k in range(M)]

    def check_message(self, stored: Any, written: Any) -> None:
        pts = np.frombuffer(written.data.tobytes(), dtype=np.dtype({"names": ["x", "y", "z", "doppler", "rcs"],
                                                                   "formats": ["f4"] * 5}))
        np.testing.assert_array_equal(stored.xyz, np.stack([pts["x"], pts["y"], pts["z"]], axis=1))
        np.testing.assert_array_equal(stored.radial_velocity_mps, pts["doppler"])
        np.testing.assert_array_equal(stored["rcs"], pts["rcs"])


class TestRadarScan(StreamKindConformance):
    kind_name = "radar"
    sensor = "radar_rear"
    topic = "/radar_rear/scan"

    def messages(self, store: Typestore) -> list[tuple[str, str, int, Any]]:
        ret = store.types["radar_msgs/msg/RadarReturn"]
        out = []
        for k in range(M):
            stamp, rec = _times(k)
            returns = [ret(range=float(5 + i + k), azimuth=0.1 * i, elevation=0.01 * i, doppler_velocity=-1.5 + i,
                           amplitude=20.0 + i) for i in range(4)]
            out.append((self.topic, "radar_msgs/msg/RadarScan", rec,
                        store.types["radar_msgs/msg/RadarScan"](header=header(store, stamp, self.sensor),
                                                                returns=returns)))
        return out

    def check_message(self, stored: Any, written: Any) -> None:
        r = np.array([x.range for x in written.returns], np.float32)
        az = np.array([x.azimuth for x in written.returns], np.float32)
        el = np.array([x.elevation for x in written.returns], np.float32)
        np.testing.assert_array_equal(stored.xyz, polar_to_xyz(r, az, el))
        np.testing.assert_array_equal(stored.radial_velocity_mps,
                                      np.array([x.doppler_velocity for x in written.returns], np.float32))
        np.testing.assert_array_equal(stored["range_m"], r)


def radar_tracks(store: Typestore, stamp: int, frame: str, k: int) -> Any:
    """A RadarTracks message ``k``: 1 + k % 4 tracks (k = 5: none) with distinct values in every field."""
    T = store.types
    v3, pt = T["geometry_msgs/msg/Vector3"], T["geometry_msgs/msg/Point"]
    tracks = []
    for i in range(0 if k == 5 else 1 + k % 4):
        r = RNG.normal(size=(4, 3)) * 10
        cov = RNG.random((4, 6)).astype(np.float32)
        tracks.append(T["radar_msgs/msg/RadarTrack"](
            uuid=T["unique_identifier_msgs/msg/UUID"](uuid=RNG.integers(0, 256, 16, dtype=np.uint8)),
            position=pt(x=r[0, 0], y=r[0, 1], z=r[0, 2]), velocity=v3(x=r[1, 0], y=r[1, 1], z=r[1, 2]),
            acceleration=v3(x=r[2, 0], y=r[2, 1], z=r[2, 2]), size=v3(x=abs(r[3, 0]), y=abs(r[3, 1]), z=abs(r[3, 2])),
            classification=(i + k) % 3, position_covariance=cov[0], velocity_covariance=cov[1],
            acceleration_covariance=cov[2], size_covariance=cov[3]))
    return T["radar_msgs/msg/RadarTracks"](header=header(store, stamp, frame), tracks=tracks)


class TestRadarTracks(StreamKindConformance):
    kind_name = "radar_tracks"
    sensor = "radar_front"
    topic = "/radar_front/tracks"

    def messages(self, store: Typestore) -> list[tuple[str, str, int, Any]]:
        return [(self.topic, "radar_msgs/msg/RadarTracks", _times(k)[1],
                 radar_tracks(store, _times(k)[0], self.sensor, k)) for k in range(M)]

    def check_message(self, stored: Any, written: Any) -> None:
        from fusion.kinds.radar_tracks import upper_to_full

        tr = written.tracks
        assert len(stored) == len(tr)
        assert stored.uuid == [bytes(t.uuid.uuid).hex() for t in tr]
        for attr, col in (("position", "position_m"), ("velocity", "velocity_mps"),
                          ("acceleration", "acceleration_mps2"), ("size", "size_m")):
            want = np.array([[getattr(t, attr).x, getattr(t, attr).y, getattr(t, attr).z] for t in tr],
                            np.float32).reshape(-1, 3)
            np.testing.assert_array_equal(stored[col], want)  # float64 in the message, float32 stored
        np.testing.assert_array_equal(stored.classification, [t.classification for t in tr])
        for q, col in (("position", "position_covariance_m2"), ("velocity", "velocity_covariance_m2ps2"),
                       ("acceleration", "acceleration_covariance_m2ps4"), ("size", "size_covariance_m2")):
            want = np.array([getattr(t, f"{q}_covariance") for t in tr], np.float32).reshape(-1, 6)
            np.testing.assert_array_equal(stored[col], want)  # float32 both: exact
            np.testing.assert_array_equal(stored.covariance(q), upper_to_full(want))
        if tr:
            full = stored.covariance("position")[0]
            c = tr[0].position_covariance
            assert full[0, 1] == full[1, 0] == c[1] and full[1, 2] == full[2, 1] == c[4] and full[2, 2] == c[5]


class TestImu(StreamKindConformance):
    kind_name = "imu"
    sensor = "imu"
    topic = "/imu/data"

    def messages(self, store: Typestore) -> list[tuple[str, str, int, Any]]:
        v3, q = store.types["geometry_msgs/msg/Vector3"], store.types["geometry_msgs/msg/Quaternion"]
        out = []
        for k in range(10 * M):
            stamp, rec = _times(k, NS // 100)
            w, a = RNG.normal(size=3), [*RNG.normal(size=3), 0, 0, 9.81]
            msg = store.types["sensor_msgs/msg/Imu"](
                header=header(store, stamp, self.sensor), orientation=q(x=0.0, y=0.0, z=0.0, w=1.0),
                orientation_covariance=np.zeros(9), angular_velocity=v3(x=w[0], y=w[1], z=w[2]),
                angular_velocity_covariance=np.zeros(9), linear_acceleration=v3(x=a[0], y=a[1], z=a[2]),
                linear_acceleration_covariance=np.zeros(9))
            out.append((self.topic, "sensor_msgs/msg/Imu", rec, msg))
        cam = TestRawCamera()  # a frame-matched sensor: a log of only an IMU has nothing to make frames of
        return sorted(out + cam.messages(store), key=lambda m: m[2])

    def check_message(self, stored: Any, written: Any) -> None:
        w, a = written.angular_velocity, written.linear_acceleration
        np.testing.assert_array_equal(stored["angular_velocity_radps"], [w.x, w.y, w.z])
        np.testing.assert_array_equal(stored["linear_acceleration_mps2"], [a.x, a.y, a.z])
        np.testing.assert_array_equal(stored["orientation_xyzw"], [0.0, 0.0, 0.0, 1.0])


def navsatfix(store: Typestore, stamp: int, frame: str, k: int) -> Any:
    """A NavSatFix ``k`` steps along a track near 52° N, 5° E (status alternating fix / SBAS)."""
    status = store.types["sensor_msgs/msg/NavSatStatus"](status=k % 2, service=1)
    cov = np.diag([0.5 + 0.01 * k, 0.6, 2.0]).reshape(-1)
    return store.types["sensor_msgs/msg/NavSatFix"](
        header=header(store, stamp, frame), status=status, latitude=52.0 + 1e-5 * k, longitude=5.0 - 2e-5 * k,
        altitude=10.0 + 0.1 * k, position_covariance=cov, position_covariance_type=2)


class TestGnss(StreamKindConformance):
    kind_name = "gnss"
    sensor = "gps"
    topic = "/gps/fix"

    def messages(self, store: Typestore) -> list[tuple[str, str, int, Any]]:
        out = [(self.topic, "sensor_msgs/msg/NavSatFix", _times(k, NS // 5)[1],
                navsatfix(store, _times(k, NS // 5)[0], self.sensor, k)) for k in range(5 * M)]
        cam = TestRawCamera()
        return sorted(out + cam.messages(store), key=lambda m: m[2])

    def check_message(self, stored: Any, written: Any) -> None:
        assert stored["latitude_deg"] == written.latitude
        assert stored["longitude_deg"] == written.longitude
        assert stored["altitude_m"] == written.altitude
        assert stored["status"] == written.status.status
        assert stored["covariance_type"] == written.position_covariance_type
        np.testing.assert_array_equal(stored["position_covariance_m2"], written.position_covariance.reshape(3, 3))


class TestTwist(StreamKindConformance):
    kind_name = "twist"
    sensor = "base"  # discovery names a sensor by its cleaned frame: wheel twists are in base_link
    topic = "/wheel/twist"

    def messages(self, store: Typestore) -> list[tuple[str, str, int, Any]]:
        T = store.types
        out = []
        for k in range(5 * M):
            stamp, rec = _times(k, NS // 5)
            tw = T["geometry_msgs/msg/Twist"](linear=T["geometry_msgs/msg/Vector3"](x=1.0 + 0.1 * k, y=0.0, z=0.0),
                                             angular=T["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.01 * k))
            out.append((self.topic, "geometry_msgs/msg/TwistStamped", rec,
                        T["geometry_msgs/msg/TwistStamped"](header=header(store, stamp, "base_link"), twist=tw)))
        return sorted(out + TestRawCamera().messages(store), key=lambda m: m[2])

    def check_message(self, stored: Any, written: Any) -> None:
        lin, ang = written.twist.linear, written.twist.angular
        np.testing.assert_array_equal(stored["linear_velocity_mps"], [lin.x, lin.y, lin.z])
        np.testing.assert_array_equal(stored["angular_velocity_radps"], [ang.x, ang.y, ang.z])


def test_every_registered_kind_is_complete() -> None:
    """Every kind the registry lists loads and has every member of the protocol."""
    from fusion.testing.kinds import PROTOCOL_MEMBERS

    names = list(kinds.KINDS)
    assert len(names) >= 10
    for name in names:
        kind = kinds.get(name)
        assert kind.name == name
        assert [m for m in PROTOCOL_MEMBERS if not hasattr(kind, m)] == []


def test_message_types_resolve_to_one_kind() -> None:
    """A type several kinds decode is resolved by topic or point fields, never ambiguously."""
    assert kinds.detect("sensor_msgs/msg/PointCloud2", "/points", ("x", "y", "z", "intensity")).name == "lidar"
    assert kinds.detect("sensor_msgs/msg/PointCloud2", "/radar", ("x", "y", "z", "doppler")).name == "radar"
    tracks = ("x", "y", "z", "vx", "vy", "vz", "objLen", "objId")  # the SICK RMS driver's track cloud
    assert kinds.detect("sensor_msgs/msg/PointCloud2", "/cloud_radar_track", tracks).name == "radar_tracks"
    assert kinds.detect("sensor_msgs/msg/PointCloud2", "/points", ("x", "y", "z", "id")).name == "lidar"
    assert kinds.detect("tf2_msgs/msg/TFMessage", "/tf", ()).name == "tf"
    assert kinds.detect("tf2_msgs/msg/TFMessage", "/tf_static", ()).name == "tf_static"
    assert kinds.detect("sensor_msgs/msg/NavSatFix", "/fix", ()).name == "gnss"
    assert kinds.detect("std_msgs/msg/String", "/chatter", ()) is None
    by_type: dict[str, list[str]] = {}
    for kind in kinds.all_kinds():
        for t in kind.msgtypes:
            by_type.setdefault(t, []).append(kind.name)
    shared = {t: ns for t, ns in by_type.items() if len(ns) > 1}
    assert shared == {"sensor_msgs/msg/PointCloud2": ["lidar", "radar", "radar_tracks"],
                      "sensor_msgs/msg/Image": ["camera", "image"],
                      "sensor_msgs/msg/CompressedImage": ["camera", "image"],
                      "tf2_msgs/msg/TFMessage": ["tf", "tf_static"], "tf/msg/tfMessage": ["tf", "tf_static"]}


def test_unknown_kind_is_a_config_error() -> None:
    import pytest

    from fusion.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown stream kind 'sonar'; registered kinds: camera"):
        kinds.get("sonar")
