"""Image / CompressedImage read straight from the serialized bytes (fusion.readers.image_raw) equal
rosbags' deserializer field by field, in ROS 1, CDR little- and big-endian, for every alignment."""

from __future__ import annotations

import numpy as np
import pytest
from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.store import Typestore

from fusion.errors import DecodeError
from fusion.readers.image_raw import COMPRESSED_IMAGE, IMAGE, image_view, standard_image_types


def _messages(ts: Typestore, ros1: bool) -> list[tuple[str, object]]:
    Header = ts.types["std_msgs/msg/Header"]
    Time = ts.types["builtin_interfaces/msg/Time"]
    Image, Compressed = ts.types[IMAGE], ts.types[COMPRESSED_IMAGE]
    rng = np.random.default_rng(0)
    out: list[tuple[str, object]] = []
    for k, frame in enumerate(["", "c", "cam", "cam0", "camera_front_optical"]):  # every string alignment
        kw = {"seq": k} if ros1 else {}
        header = Header(stamp=Time(sec=1_700_000_000 + k, nanosec=123_456_789 - k), frame_id=frame, **kw)
        for enc, ch, big in (("rgb8", 3, 0), ("mono16", 2, 1), ("bgra8", 4, 0)):
            h, w = 3 + k, 5
            step = w * ch + k  # row padding
            data = rng.integers(0, 256, h * step, dtype=np.uint8)
            out.append((IMAGE, Image(header=header, height=h, width=w, encoding=enc + "x" * k, is_bigendian=big,
                                     step=step, data=data)))  # fmt: skip
        out.append((COMPRESSED_IMAGE, Compressed(header=header, format="jpeg"[: 1 + k % 4],
                                                 data=rng.integers(0, 256, 7 + k, dtype=np.uint8))))  # fmt: skip
    return out


def _check(view: object, msg: object) -> None:
    assert view.header.stamp.sec == msg.header.stamp.sec  # type: ignore[attr-defined]
    assert view.header.stamp.nanosec == msg.header.stamp.nanosec  # type: ignore[attr-defined]
    assert view.header.frame_id == msg.header.frame_id  # type: ignore[attr-defined]
    names = ("height", "width", "encoding", "is_bigendian", "step") if hasattr(msg, "step") else ("format",)
    for name in names:
        assert getattr(view, name) == getattr(msg, name), name
    np.testing.assert_array_equal(view.data, msg.data)  # type: ignore[attr-defined]


@pytest.mark.parametrize("encoding", ["ros1", "cdr_le", "cdr_be"])
def test_views_equal_the_deserializer(encoding: str) -> None:
    ros1 = encoding == "ros1"
    ts = get_typestore(Stores.ROS1_NOETIC if ros1 else Stores.ROS2_HUMBLE)
    for msgtype, msg in _messages(ts, ros1):
        if ros1:
            data = ts.serialize_ros1(msg, msgtype)
            ref = ts.deserialize_ros1(data, msgtype)
        else:
            data = ts.serialize_cdr(msg, msgtype, little_endian=encoding == "cdr_le")
            ref = ts.deserialize_cdr(data, msgtype)
        view = image_view(data, msgtype, ros1=ros1)
        _check(view, ref)
        # the pixels are a view of the message bytes, not a copy
        buf = np.frombuffer(data, np.uint8)
        assert np.shares_memory(view.data, buf)


@pytest.mark.parametrize("ros1", [True, False])
def test_truncated_messages_raise_decode_error(ros1: bool) -> None:
    ts = get_typestore(Stores.ROS1_NOETIC if ros1 else Stores.ROS2_HUMBLE)
    msgtype, msg = _messages(ts, ros1)[2]
    data = ts.serialize_ros1(msg, msgtype) if ros1 else ts.serialize_cdr(msg, msgtype)
    for cut in (3, 10, 30, len(data) - 1):
        with pytest.raises(DecodeError, match="bytes"):
            image_view(data[:cut], msgtype, ros1=ros1)


def test_only_standard_definitions_take_the_fast_path() -> None:
    assert standard_image_types(get_typestore(Stores.ROS2_HUMBLE)) == {IMAGE, COMPRESSED_IMAGE}
    assert standard_image_types(get_typestore(Stores.ROS1_NOETIC)) == {IMAGE, COMPRESSED_IMAGE}
    from rosbags.typesys import get_types_from_msg

    humble = get_typestore(Stores.ROS2_HUMBLE)
    custom = get_typestore(Stores.EMPTY)
    custom.register({k: humble.fielddefs[k] for k in ("builtin_interfaces/msg/Time", "std_msgs/msg/Header",
                                                       COMPRESSED_IMAGE)})  # fmt: skip
    custom.register(  # a vendor redefinition: same name, other fields
        get_types_from_msg("std_msgs/Header header\nuint32 height\nuint32 width\nuint8[] data\n", IMAGE)
    )
    assert standard_image_types(custom) == {COMPRESSED_IMAGE}
