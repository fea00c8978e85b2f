"""Helpers for the reader tests: typestores, message builders, bag writers (no tests here)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.rosbag1 import Writer as Writer1
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer as Writer2
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from fusion.readers.typesys import BUNDLED_MSG_DIR, types_from_msg_dirs

FORMATS = ("bag", "db3", "mcap")
NS = 1_000_000_000
T0 = 1_700_000_000 * NS  # a realistic absolute epoch

_TF1 = "geometry_msgs/TransformStamped[] transforms\n"


def store_for(fmt: str) -> Typestore:
    """Typestore used to *build* messages for a bag format (ROS 1 noetic or ROS 2 latest, + radar_msgs, tf2)."""
    store = get_typestore(Stores.ROS1_NOETIC if fmt == "bag" else Stores.LATEST)
    extra = types_from_msg_dirs([BUNDLED_MSG_DIR / "radar_msgs", BUNDLED_MSG_DIR / "unique_identifier_msgs"])
    if fmt == "bag":
        extra.update(get_types_from_msg(_TF1, "tf2_msgs/msg/TFMessage"))
        extra.update(get_types_from_msg(_TF1, "tf/msg/tfMessage"))  # legacy ROS 1 tf
    store.register({k: v for k, v in extra.items() if k not in store.fielddefs})
    return store


def mk(store: Typestore, msgtype: str, **kw: Any) -> Any:
    """Instantiate ``msgtype`` from ``store``."""
    return store.types[msgtype](**kw)


def header(store: Typestore, stamp_ns: int, frame_id: str) -> Any:
    """A std_msgs/Header (with seq=0 when the store is ROS 1)."""
    t = mk(store, "builtin_interfaces/msg/Time", sec=stamp_ns // NS, nanosec=stamp_ns % NS)
    names = [f[0] for f in store.fielddefs["std_msgs/msg/Header"][1]]
    if "seq" in names:
        return mk(store, "std_msgs/msg/Header", seq=0, stamp=t, frame_id=frame_id)
    return mk(store, "std_msgs/msg/Header", stamp=t, frame_id=frame_id)


_PF = {"i1": 1, "u1": 2, "i2": 3, "u2": 4, "i4": 5, "u4": 6, "f4": 7, "f8": 8}


def pointcloud2(
    store: Typestore,
    stamp_ns: int,
    frame_id: str,
    points: np.ndarray,
    *,
    height: int = 1,
    big_endian: bool = False,
    row_pad: int = 0,
    is_dense: bool = True,
) -> Any:
    """PointCloud2 from a structured array (its dtype offsets/itemsize define the layout)."""
    dt = points.dtype
    fields = []
    for name in dt.names or ():
        sub, off = dt.fields[name][:2]  # type: ignore[index]
        base, count = (sub.base, int(np.prod(sub.shape))) if sub.shape else (sub, 1)
        fields.append(
            mk(store, "sensor_msgs/msg/PointField", name=name, offset=off, datatype=_PF[base.str[1:]], count=count)
        )
    arr = points.astype(dt.newbyteorder(">" if big_endian else "<"))
    width = points.shape[0] // height
    rows = arr.tobytes()
    step = dt.itemsize * width
    if row_pad:
        rows = b"".join(rows[r * step : (r + 1) * step] + b"\xee" * row_pad for r in range(height))
    return mk(
        store,
        "sensor_msgs/msg/PointCloud2",
        header=header(store, stamp_ns, frame_id),
        height=height,
        width=width,
        fields=fields,
        is_bigendian=big_endian,
        point_step=dt.itemsize,
        row_step=step + row_pad,
        data=np.frombuffer(rows, dtype=np.uint8),
        is_dense=is_dense,
    )


def write_bag(
    out: Path, fmt: str, store: Typestore, messages: Iterable[tuple[str, str, int, Any]], *, raw: bool = False
) -> Path:
    """Write ``(topic, msgtype, record_time_ns, msg)`` into a ``fmt`` bag ('bag', 'db3', 'mcap').

    With ``raw=True`` the message is already serialized bytes.
    """
    conns: dict[tuple[str, str], Any] = {}
    if fmt == "bag":
        path = out.with_suffix(".bag")
        with Writer1(path) as w:
            for topic, msgtype, t, msg in messages:
                if (topic, msgtype) not in conns:
                    conns[topic, msgtype] = w.add_connection(topic, msgtype, typestore=store)
                data = msg if raw else store.serialize_ros1(msg, msgtype)
                w.write(conns[topic, msgtype], t, data)
        return path
    plugin = StoragePlugin.MCAP if fmt == "mcap" else StoragePlugin.SQLITE3
    with Writer2(out, version=9, storage_plugin=plugin) as w:
        for topic, msgtype, t, msg in messages:
            if (topic, msgtype) not in conns:
                conns[topic, msgtype] = w.add_connection(topic, msgtype, typestore=store)
            data = msg if raw else store.serialize_cdr(msg, msgtype)
            w.write(conns[topic, msgtype], t, data)
    return out
