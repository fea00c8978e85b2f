"""Imu / Odometry read straight from the serialized bytes (fusion.readers.motion_raw) give the records the
rosbags deserializer + decode_message give, in ROS 1, CDR little- and big-endian, for every alignment."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from fusion.errors import DecodeError
from fusion.readers.bag import RosBagSource
from fusion.readers.decode import decode_message
from fusion.readers.motion_raw import IMU, ODOMETRY, decode_imu_raw, decode_odometry_raw, standard_motion_types
from fusion.readers.records import ImuSample, PoseSample
from fusion.readers.source import DecodeOptions, RawMessage

ENCODINGS = ["ros1", "cdr_le", "cdr_be"]
FRAMES = ["", "i", "im", "imu", "imu0", "/imu_link", "vehicle/imu_front_left_link"]  # every string alignment
CHILDREN = ["", "b", "ba", "bas", "base", "/base_link", "base_footprint_0"]


def _store(encoding: str) -> Typestore:
    return get_typestore(Stores.ROS1_NOETIC if encoding == "ros1" else Stores.ROS2_HUMBLE)


def _serialize(ts: Typestore, msg: object, msgtype: str, encoding: str) -> bytes:
    if encoding == "ros1":
        return bytes(ts.serialize_ros1(msg, msgtype))
    return bytes(ts.serialize_cdr(msg, msgtype, little_endian=encoding == "cdr_le"))


def _deserialize(ts: Typestore, data: bytes, msgtype: str, encoding: str) -> object:
    return ts.deserialize_ros1(data, msgtype) if encoding == "ros1" else ts.deserialize_cdr(data, msgtype)


def _header(ts: Typestore, encoding: str, k: int, frame: str) -> object:
    Header, Time = ts.types["std_msgs/msg/Header"], ts.types["builtin_interfaces/msg/Time"]
    sec = (-3, 0, 1_700_000_000, 2**31 - 1)[k % 4]  # negative seconds are int32 in both encodings
    kw = {"seq": k} if encoding == "ros1" else {}
    return Header(stamp=Time(sec=sec, nanosec=(999_999_999, 0, 123_456_789)[k % 3]), frame_id=frame, **kw)


def _cov(rng: np.random.Generator, n: int, absent: bool) -> np.ndarray:
    cov = rng.normal(size=n)
    if absent:
        cov[0] = -1.0
    return cov


def _imus(ts: Typestore, encoding: str) -> list[object]:
    Imu, Q, V = ts.types[IMU], ts.types["geometry_msgs/msg/Quaternion"], ts.types["geometry_msgs/msg/Vector3"]
    rng = np.random.default_rng(1)
    out = []
    for k, frame in enumerate(FRAMES):
        for absent in range(8):  # every combination of the three "absent" covariances
            q, w, a = rng.normal(size=4), rng.normal(size=3) * 1e-3, rng.normal(size=3) * 1e3
            out.append(Imu(header=_header(ts, encoding, k + absent, frame),
                           orientation=Q(x=q[0], y=q[1], z=q[2], w=q[3]),
                           orientation_covariance=_cov(rng, 9, absent & 1 > 0),
                           angular_velocity=V(x=w[0], y=w[1], z=w[2]),
                           angular_velocity_covariance=_cov(rng, 9, absent & 2 > 0),
                           linear_acceleration=V(x=a[0], y=a[1], z=a[2]),
                           linear_acceleration_covariance=_cov(rng, 9, absent & 4 > 0)))  # fmt: skip
    return out


def _odometries(ts: Typestore, encoding: str) -> list[object]:
    g = "geometry_msgs/msg/"
    Odom, Q, V, P = ts.types[ODOMETRY], ts.types[g + "Quaternion"], ts.types[g + "Vector3"], ts.types[g + "Point"]
    names = ("Pose", "PoseWithCovariance", "Twist", "TwistWithCovariance")
    Pose, PoseCov, Twist, TwistCov = (ts.types[g + n] for n in names)
    rng = np.random.default_rng(2)
    out = []
    for k, frame in enumerate(FRAMES):
        for child in CHILDREN:
            p, q, v, w = rng.normal(size=3) * 100, rng.normal(size=4), rng.normal(size=3), rng.normal(size=3)
            q /= np.linalg.norm(q)  # a rotation (a non-unit one is refused: tests/test_hostile_messages.py)
            pose = PoseCov(pose=Pose(position=P(x=p[0], y=p[1], z=p[2]), orientation=Q(x=q[0], y=q[1], z=q[2], w=q[3])),
                           covariance=rng.normal(size=36))  # fmt: skip
            twist = TwistCov(twist=Twist(linear=V(x=v[0], y=v[1], z=v[2]), angular=V(x=w[0], y=w[1], z=w[2])),
                             covariance=rng.normal(size=36))  # fmt: skip
            out.append(Odom(header=_header(ts, encoding, k, frame), child_frame_id=child, pose=pose, twist=twist))
    return out


def _raw(data: bytes | memoryview, msgtype: str, encoding: str, index: int = 7) -> RawMessage:
    record_time = 1_700_000_000_123_456_789 + index
    return RawMessage("/topic", index, record_time, msgtype, data, encoding == "ros1", Path("x.bag"))


def _reference(ts: Typestore, data: bytes, msgtype: str, encoding: str, index: int = 7) -> object:
    """The record of the generic path: rosbags' deserializer, then decode_message."""
    msg = _deserialize(ts, data, msgtype, encoding)
    return decode_message(msg, _raw(data, msgtype, encoding, index), DecodeOptions())


def assert_same(fast: object, ref: object) -> None:
    """Records equal field by field: same meta, same strings and flags, float64 arrays with equal values."""
    assert type(fast) is type(ref)
    assert isinstance(fast, ImuSample | PoseSample)
    for name in type(fast).__slots__:
        a, b = getattr(fast, name), getattr(ref, name)
        if isinstance(b, np.ndarray):
            assert isinstance(a, np.ndarray) and a.dtype == b.dtype == np.float64, name
            assert a.shape == b.shape and np.array_equal(a, b), name
        else:
            assert a == b and type(a) is type(b), name


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_raw_decoders_equal_the_deserializer(encoding: str) -> None:
    ts = _store(encoding)
    cases = [(IMU, m, decode_imu_raw) for m in _imus(ts, encoding)]
    cases += [(ODOMETRY, m, decode_odometry_raw) for m in _odometries(ts, encoding)]
    absent = 0
    for i, (msgtype, msg, decoder) in enumerate(cases):
        data = _serialize(ts, msg, msgtype, encoding)
        ref = _reference(ts, data, msgtype, encoding, i)
        for buf in (data, memoryview(data)):  # the readers hand out bytes or memoryviews
            assert_same(decoder(_raw(buf, msgtype, encoding, i)), ref)
        absent += isinstance(ref, ImuSample) and ref.orientation_xyzw is None
    assert absent == 4 * len(FRAMES)  # the -1 covariance cases were exercised
    # spot-check values against the message itself, not only against the other path
    imu = decode_imu_raw(_raw(_serialize(ts, cases[0][1], IMU, encoding), IMU, encoding))
    src = cases[0][1]
    assert imu.meta.stamp_ns == -3 * 10**9 + 999_999_999 and imu.meta.frame_id == ""
    np.testing.assert_array_equal(imu.linear_acceleration_mps2, [src.linear_acceleration.x, src.linear_acceleration.y,  # type: ignore[attr-defined]
                                                                 src.linear_acceleration.z])  # type: ignore[attr-defined]  # fmt: skip
    odo = decode_odometry_raw(_raw(_serialize(ts, cases[-1][1], ODOMETRY, encoding), ODOMETRY, encoding))
    assert (odo.parent_frame, odo.child_frame, odo.meta.frame_id) == (FRAMES[-1], CHILDREN[-1], FRAMES[-1])
    assert odo.meta.topic == "/topic" and odo.meta.index == 7 and odo.meta.record_time_ns == 1_700_000_000_123_456_796


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("msgtype", [IMU, ODOMETRY])
def test_damaged_bytes_are_refused_like_rosbags_does(encoding: str, msgtype: str) -> None:
    ts = _store(encoding)
    msg = (_imus if msgtype == IMU else _odometries)(ts, encoding)[-1]
    data = _serialize(ts, msg, msgtype, encoding)
    decoder = decode_imu_raw if msgtype == IMU else decode_odometry_raw
    for cut in range(len(data)):  # every truncation
        with pytest.raises(DecodeError, match=r"bytes|string|encapsulation"):
            decoder(_raw(data[:cut], msgtype, encoding))
    bad = [data + b"\0" * n for n in range(1, 10)]  # trailing bytes (CDR tolerates up to 3 of padding)
    bad.append(data[:16] + b"\xff" + data[17:])  # frame id not UTF-8
    if encoding != "ros1":
        bad.append(data[:1] + b"\x07" + data[2:])  # unknown encapsulation
        bad.append(data[:12] + b"\0\0\0\0" + data[16:])  # CDR string length 0 (no room for the NUL)
        n = len(FRAMES[-1])
        bad.append(data[: 16 + n] + b"x" + data[17 + n :])  # no NUL terminator
    for buf in bad:
        try:
            ref = _reference(ts, buf, msgtype, encoding)
        except Exception:
            with pytest.raises(DecodeError):
                decoder(_raw(buf, msgtype, encoding))
        else:
            assert_same(decoder(_raw(buf, msgtype, encoding)), ref)


def test_only_standard_definitions_take_the_fast_path() -> None:
    noetic, humble = get_typestore(Stores.ROS1_NOETIC), get_typestore(Stores.ROS2_HUMBLE)
    assert standard_motion_types(noetic, ros1=True) == {IMU, ODOMETRY}
    assert standard_motion_types(humble, ros1=False) == {IMU, ODOMETRY}
    assert standard_motion_types(get_typestore(Stores.LATEST), ros1=False) == {IMU, ODOMETRY}
    # the header layout must match the encoding: ROS 1 has seq, CDR has not
    assert standard_motion_types(noetic, ros1=False) == set()
    assert standard_motion_types(humble, ros1=True) == set()
    assert standard_motion_types(get_typestore(Stores.EMPTY), ros1=False) == set()

    def custom(redefined: dict[str, str]) -> Typestore:
        types = {k: v for k, v in humble.fielddefs.items() if k not in redefined}
        for msgtype, text in redefined.items():
            types.update(get_types_from_msg(text, msgtype))
        store = get_typestore(Stores.EMPTY)
        store.register(types)
        return store

    imu_text = "std_msgs/Header header\ngeometry_msgs/Quaternion orientation\nfloat64[9] orientation_covariance\n"
    # a vendor Imu with an extra field: same name, other bytes
    extra = custom({IMU: imu_text + "geometry_msgs/Vector3 angular_velocity\nfloat64[9] angular_velocity_covariance\n"
                               "geometry_msgs/Vector3 linear_acceleration\nfloat64[9] linear_acceleration_covariance\n"
                               "float32 temperature\n"})  # fmt: skip
    assert standard_motion_types(extra, ros1=False) == {ODOMETRY}
    # a redefinition deep inside: Vector3 of float32 changes both Imu and Odometry (Twist)
    vec32 = custom({"geometry_msgs/msg/Vector3": "float32 x\nfloat32 y\nfloat32 z\n"})
    assert standard_motion_types(vec32, ros1=False) == set()
    # a covariance as a sequence instead of a fixed array
    seq = custom({"geometry_msgs/msg/PoseWithCovariance": "geometry_msgs/Pose pose\nfloat64[] covariance\n"})
    assert standard_motion_types(seq, ros1=False) == {IMU}


def _generic(src: RosBagSource, raw: RawMessage) -> object:
    return decode_message(src.deserialize(raw), raw, DecodeOptions())


def test_real_ros1_bag_fast_path_equals_the_deserializer(shared_data: Path) -> None:
    with RosBagSource([shared_data / "real" / "husky_imu_odom_gps.bag"]) as src:
        assert set(src.decoder.motion_fast) == {IMU, ODOMETRY}  # the fast path is taken for this bag
        counts = {IMU: 0, ODOMETRY: 0}
        for raw in src.messages():
            if raw.msgtype in counts:
                counts[raw.msgtype] += 1
                assert_same(src.decode(raw), _generic(src, raw))
        assert counts[IMU] > 10_000 and counts[ODOMETRY] > 3_000
        # a damaged message names its topic, index, record time and file, like the rosbags path does
        raw = dataclasses.replace(next(src.messages(["/imu/data"])), index=5)
        short = dataclasses.replace(raw, data=bytes(raw.data)[:40])
        with pytest.raises(DecodeError) as exc:
            src.decode(short)
        err = exc.value
        assert (err.topic, err.index) == ("/imu/data", 5)
        assert f"cannot deserialize {IMU} at record time {raw.record_time_ns} ns in {raw.path}: " in err.reason
        with pytest.raises(DecodeError, match=r"cannot deserialize .* at record time"):
            src.deserialize(short)
