"""Radar: PointCloud2 radars (field mapping), ``radar_msgs/RadarScan`` and ``RadarTracks``.

RadarScan returns are polar (range m, azimuth rad CCW+, elevation rad); they are
converted to Cartesian in the sensor frame: ``x = r cos(el) cos(az)``,
``y = r cos(el) sin(az)``, ``z = r sin(el)``.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from fusion.errors import DecodeError
from fusion.readers.kinds import DOPPLER_FIELDS, track_id_field
from fusion.readers.pointcloud import column, structured_points, xyz_of
from fusion.readers.records import MessageMeta, RadarDetections, RadarTrackList
from fusion.readers.source import RadarFieldMap, RawMessage
from fusion.readers.stamps import header_stamp_ns, peek_frame_id

EXTRA_FIELDS = ("rcs", "amplitude", "snr", "intensity", "power", "noise")


def doppler_field(names: tuple[str, ...], mapping: RadarFieldMap) -> str | None:
    """The field carrying radial velocity: the configured one, else the first known name present.

    Raises:
        DecodeError: The configured field is not in the cloud.
    """
    if mapping.doppler is not None:
        if mapping.doppler not in names:
            raise DecodeError(
                f"radar field mapping names doppler field {mapping.doppler!r}, cloud has {', '.join(names)}"
            )
        return mapping.doppler
    lower = {n.lower(): n for n in names}
    return next((lower[d] for d in DOPPLER_FIELDS if d in lower), None)


def decode_radar_cloud(msg: Any, meta: MessageMeta, mapping: RadarFieldMap) -> RadarDetections:
    """A PointCloud2 radar → :class:`RadarDetections` (radial velocity NaN when no Doppler field)."""
    pts = structured_points(msg)
    names = tuple(pts.dtype.names or ())
    dop = doppler_field(names, mapping)
    if dop is None:
        v = np.full(pts.shape[0], np.nan, dtype=np.float32)
    else:
        v = (pts[dop].astype(np.float32) * np.float32(mapping.doppler_scale)).astype(np.float32)
    keep = mapping.extras or tuple(n for n in names if n not in ("x", "y", "z", dop))
    missing = [n for n in mapping.extras if n not in names]
    if missing:
        raise DecodeError(
            f"radar field mapping names extra field(s) {', '.join(missing)} not in the cloud ({', '.join(names)})"
        )
    return RadarDetections(meta, xyz_of(pts), v, {n: column(pts, n) for n in keep})


_RETURN = np.dtype(
    [("range", "f4"), ("azimuth", "f4"), ("elevation", "f4"), ("doppler_velocity", "f4"), ("amplitude", "f4")]
)


def returns_array(msg: Any) -> np.ndarray:
    """RadarScan returns as a (N,) structured float32 array."""
    rets = msg.returns
    out = np.empty(len(rets), dtype=_RETURN)
    if len(rets):
        out[:] = [(r.range, r.azimuth, r.elevation, r.doppler_velocity, r.amplitude) for r in rets]
    return out


def returns_from_raw(data: bytes | memoryview, *, ros1: bool) -> np.ndarray:
    """RadarScan returns straight from the serialized bytes (standard layout only), (N,) structured.

    ROS 1: ``seq, sec, nsec, len + frame_id, uint32 count, count x 5 float32``; CDR: 4-byte
    encapsulation, ``sec, nanosec, len + frame_id (NUL included)``, padding to 4, count, returns.

    Raises:
        DecodeError: The bytes are shorter than the header or the returns they announce.
    """
    buf = memoryview(data)
    little = ros1 or bool(buf[1]) if len(buf) > 1 else True
    u32 = "<I" if little else ">I"
    try:
        (n_frame,) = struct.unpack_from(u32, buf, 12)
        pos = 16 + n_frame
        if not ros1:
            pos = 4 + (((pos - 4) + 3) & ~3)
        (count,) = struct.unpack_from(u32, buf, pos)
    except struct.error:
        raise DecodeError(f"RadarScan of {len(buf)} bytes is shorter than its header") from None
    need = pos + 4 + 20 * count
    if len(buf) < need:
        raise DecodeError(f"RadarScan announces {count} returns ({need} bytes) but has {len(buf)} bytes")
    dt = _RETURN if little else _RETURN.newbyteorder(">")
    out = np.frombuffer(buf, dtype=dt, count=count, offset=pos + 4)
    return out.astype(_RETURN) if not little else out.copy()


def polar_to_xyz(range_m: np.ndarray, azimuth_rad: np.ndarray, elevation_rad: np.ndarray) -> np.ndarray:
    """(N, 3) float32 Cartesian points from polar returns (azimuth CCW+ about z, elevation up)."""
    r = range_m.astype(np.float64)
    ce = np.cos(elevation_rad.astype(np.float64))
    xyz = np.empty((r.shape[0], 3), dtype=np.float32)
    xyz[:, 0] = r * ce * np.cos(azimuth_rad)
    xyz[:, 1] = r * ce * np.sin(azimuth_rad)
    xyz[:, 2] = r * np.sin(elevation_rad.astype(np.float64))
    return xyz


def decode_radar_scan(msg: Any, meta: MessageMeta, ret: np.ndarray | None = None) -> RadarDetections:
    """``radar_msgs/RadarScan`` → :class:`RadarDetections`.

    Fields: ``range_m``, ``azimuth_rad``, ``elevation_rad``, ``amplitude_db`` (N,) float32.
    """
    if ret is None:
        ret = returns_array(msg)
    return RadarDetections(
        meta,
        polar_to_xyz(ret["range"], ret["azimuth"], ret["elevation"]),
        ret["doppler_velocity"].copy(),
        {
            "range_m": ret["range"].copy(),
            "azimuth_rad": ret["azimuth"].copy(),
            "elevation_rad": ret["elevation"].copy(),
            "amplitude_db": ret["amplitude"].copy(),
        },
    )


def decode_radar_scan_raw(raw: RawMessage) -> RadarDetections:
    """RadarScan straight from its bytes: no Python object per return (standard layout only).

    Raises:
        DecodeError: The bytes are shorter than the returns they announce (names topic and index).
    """
    try:
        ret = returns_from_raw(raw.data, ros1=raw.ros1)
    except DecodeError as exc:
        raise DecodeError(
            f"{exc.reason} (record time {raw.record_time_ns} ns, {raw.path})", topic=raw.topic, index=raw.index
        ) from None
    stamp = header_stamp_ns(raw.data, ros1=raw.ros1) or 0
    meta = MessageMeta(raw.topic, raw.index, raw.record_time_ns, stamp, peek_frame_id(raw.data, ros1=raw.ros1))
    return decode_radar_scan(None, meta, ret)


def decode_radar_tracks(msg: Any, meta: MessageMeta) -> RadarTrackList:
    """``radar_msgs/RadarTracks`` → :class:`RadarTrackList` (one row per track).

    Raises:
        DecodeError: A uuid that is not 16 bytes or a covariance that is not 6 values.
    """
    tracks = msg.tracks
    n = len(tracks)
    vec = np.zeros((4, n, 3), dtype=np.float64)
    cov = np.zeros((4, n, 6), dtype=np.float32)
    cls = np.zeros(n, dtype=np.uint16)
    uuid = np.zeros((n, 16), dtype=np.uint8)
    for i, t in enumerate(tracks):  # tracks are objects (tens), not points
        for j, v in enumerate((t.position, t.velocity, t.acceleration, t.size)):
            vec[j, i] = (v.x, v.y, v.z)
        for j, c in enumerate((t.position_covariance, t.velocity_covariance, t.acceleration_covariance,
                               t.size_covariance)):
            cv = np.asarray(c, dtype=np.float32).reshape(-1)
            if cv.shape != (6,):
                raise DecodeError(f"track {i}: covariance of {cv.size} values, expected 6 (upper triangle)",
                                  topic=meta.topic, index=meta.index)
            cov[j, i] = cv
        u = np.asarray(t.uuid.uuid, dtype=np.uint8).reshape(-1)
        if u.shape != (16,):
            raise DecodeError(f"track {i}: uuid of {u.size} bytes, expected 16", topic=meta.topic, index=meta.index)
        uuid[i] = u
        cls[i] = t.classification
    f = vec.astype(np.float32)
    return RadarTrackList(meta, uuid, f[0], f[1], f[2], f[3], cls, cov[0], cov[1], cov[2], cov[3])


#: Fields of a track cloud read into a :class:`RadarTrackList` (any case): quantity -> its 3 fields.
TRACK_CLOUD_VECTORS: dict[str, tuple[str, str, str]] = {
    "position": ("x", "y", "z"),
    "velocity": ("vx", "vy", "vz"),
    "acceleration": ("ax", "ay", "az"),
    "size": ("length", "width", "height"),
}
#: Other names of a size component (the SICK RMS driver's ``objLen``).
TRACK_CLOUD_SIZE_ALIASES = {"objlen": "length", "obj_len": "length"}


def decode_radar_track_cloud(msg: Any, meta: MessageMeta) -> RadarTrackList:
    """A PointCloud2 of tracked objects (:func:`fusion.readers.kinds.track_id_field`) → :class:`RadarTrackList`.

    One point per track. ``uuid``: the track id rounded to an integer, as int64 little-endian in the
    first 8 bytes (the rest 0). ``position``/``velocity``/``acceleration``/``size``: the fields of
    :data:`TRACK_CLOUD_VECTORS` (a missing ``z``/``vz`` is 0, any other missing component NaN: not
    reported); ``classification`` from a ``classification``/``class`` field, else 0; covariances NaN.

    Raises:
        DecodeError: No track-id field, or bytes that do not match the fields.
    """
    try:
        pts = structured_points(msg)
    except (ValueError, TypeError) as exc:
        raise DecodeError(f"track cloud: {exc}", topic=meta.topic, index=meta.index) from None
    names = tuple(pts.dtype.names or ())
    id_field = track_id_field(names)
    if id_field is None:
        raise DecodeError("track cloud without a track-id field and vx, vy", topic=meta.topic, index=meta.index)
    lower = {n.lower(): n for n in names}
    for alias, name in TRACK_CLOUD_SIZE_ALIASES.items():
        if alias in lower and name not in lower:
            lower[name] = lower[alias]
    n = len(pts)
    vec = np.full((4, n, 3), np.nan, dtype=np.float32)
    for j, comps in enumerate(TRACK_CLOUD_VECTORS.values()):
        for k, comp in enumerate(comps):
            if comp in lower:
                vec[j, :, k] = column(pts, lower[comp]).reshape(n, -1)[:, 0]
            elif comp in ("z", "vz"):
                vec[j, :, k] = 0.0
    ids = np.rint(column(pts, id_field).reshape(n, -1)[:, 0].astype(np.float64)).astype("<i8")
    uuid = np.zeros((n, 16), dtype=np.uint8)
    uuid[:, :8] = ids.view(np.uint8).reshape(n, 8)
    cls_field = lower.get("classification", lower.get("class"))
    cls = column(pts, cls_field).reshape(n, -1)[:, 0].astype(np.uint16) if cls_field else np.zeros(n, np.uint16)
    cov = np.full((n, 6), np.nan, dtype=np.float32)
    return RadarTrackList(meta, uuid, vec[0], vec[1], vec[2], vec[3], cls, cov, cov.copy(), cov.copy(), cov.copy())
