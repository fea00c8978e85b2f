"""The opened state of a store for reading: checks on open and caches of the small arrays.

:func:`open_state` checks the format version and completeness, then caches the frame table,
every per-sensor match table, every stream's per-message columns and offsets, so that reading
a frame costs only the column slices of its messages. One :class:`StoreState` per process:
it is never pickled (``Dataset`` reopens it lazily in a worker).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import zarr

from fusion import kinds
from fusion.errors import FormatVersionError, IncompleteStoreError, StoreError
from fusion.store import layout as lay
from fusion.store._zarr_compat import sync
from fusion.store.location import StoreLocation, resolve


@dataclass
class StreamState:
    """Cached metadata and per-message columns of ``streams/<name>``.

    Attributes:
        message_columns: The kind's small per-message columns, read once at open (its
            ``message_columns``, e.g. LiDAR ``ref_time_ns``, camera ``format_code``).
        message_arrays: The kind's other one-row-per-message columns (e.g. raw camera ``pixels``).
    """

    name: str
    kind: str
    attrs: dict[str, Any]
    group: zarr.Group
    time_ns: np.ndarray
    offsets: np.ndarray | None
    message_columns: dict[str, np.ndarray] = field(default_factory=dict)
    message_arrays: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    arrays: dict[str, zarr.Array] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """Number of messages."""
        return int(self.time_ns.shape[0])

    def array(self, col: str) -> zarr.Array:
        """The zarr array ``col`` of this stream (cached handle)."""
        arr = self.arrays.get(col)
        if arr is None:
            node = self.group[col]
            assert isinstance(node, zarr.Array)
            arr = self.arrays[col] = node
        return arr

    def point_columns(self) -> list[str]:
        """Names of the ragged columns: every row-per-element column (length ``offsets[-1]``).

        For point kinds these are ``xyz`` and the per-point fields; for a compressed camera its
        byte blob ``data``.
        """
        skip = {*lay.TIME_COLUMNS, *self.message_columns, *self.message_arrays, "offsets"}
        return [k for k in self.columns if k not in skip]


class StoreState:
    """An opened store: root group, attributes and cached small arrays (see module docstring)."""

    def __init__(self, location: StoreLocation, root: zarr.Group) -> None:
        self.location = location
        self.root = root
        self.attrs = dict(root.attrs)
        frames = root.get(lay.FRAMES, None)
        self.frames_attrs: dict[str, Any] = dict(frames.attrs) if frames is not None else {}
        self.times_ns = _read(root, "frames/time_ns", np.zeros(0, np.int64))
        f = self.times_ns.shape[0]
        self.ego_T_world_base = _read(root, "frames/ego_T_world_base", np.zeros((f, 4, 4)))
        self.flags = _read(root, "frames/flags", np.zeros(f, np.uint32))
        self.imu_range = _read(root, "frames/imu_range", np.zeros((f, 2), np.int64))
        self.ego_quality = _read(root, "frames/ego_quality", np.full((f, 2), np.nan, np.float32))
        self.streams: dict[str, StreamState] = {}
        if lay.STREAMS in root:
            sg = root[lay.STREAMS]
            assert isinstance(sg, zarr.Group)
            for name in sorted(sg.group_keys()):
                g = sg[name]
                assert isinstance(g, zarr.Group)
                keys = set(g.array_keys())
                kind_name = str(g.attrs.get("kind", ""))
                kind = kinds.get(kind_name) if kind_name in kinds.KINDS else None
                cached = kind.message_columns if kind is not None else ()
                self.streams[name] = StreamState(
                    name=name,
                    kind=kind_name,
                    attrs=dict(g.attrs),
                    group=g,
                    time_ns=_arr(g, "time_ns") if "time_ns" in keys else np.zeros(0, np.int64),
                    offsets=_arr(g, "offsets") if "offsets" in keys else None,
                    message_columns={c: _arr(g, c) for c in cached if c in keys},
                    message_arrays=kind.message_arrays if kind is not None else (),
                    columns=tuple(sorted(keys)),
                )
        self.matches: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        if "frames/sensors" in root:
            ms = root["frames/sensors"]
            assert isinstance(ms, zarr.Group)
            for name in sorted(ms.group_keys()):
                g = ms[name]
                assert isinstance(g, zarr.Group)
                self.matches[name] = (_arr(g, "index"), _arr(g, "dt_ns"), _arr(g, "valid").astype(bool))

    @property
    def imu_stream(self) -> str | None:
        """Name of the IMU stream ``frames/imu_range`` indexes."""
        name = self.frames_attrs.get("imu_stream")
        return str(name) if name else None

    @cached_property
    def ego(self) -> dict[str, np.ndarray]:
        """Full-rate ego arrays (empty arrays when the store has no ``ego/``)."""
        cols = ("time_ns", "translation_m", "rotation_xyzw", "linear_velocity_mps", "angular_velocity_radps")
        empty = {"time_ns": np.zeros(0, np.int64), "translation_m": np.zeros((0, 3)),
                 "rotation_xyzw": np.zeros((0, 4)), "linear_velocity_mps": np.zeros((0, 3)),
                 "angular_velocity_radps": np.zeros((0, 3))}
        if lay.EGO not in self.root:
            return empty
        return {c: _read(self.root, f"{lay.EGO}/{c}", empty[c]) for c in cols}

    @cached_property
    def live_root(self) -> zarr.Group:
        """The root group read through the store's own metadata, not the consolidated copy.

        Groups added after conversion (``annotations/`` by ``fusion annotate``) are not in the
        consolidated metadata written at finalize; this view sees them.
        """
        return zarr.open_group(self.root.store, mode="r", zarr_format=3, use_consolidated=False)

    @cached_property
    def rig_dict(self) -> dict[str, Any]:
        """The stored rig dict ({} when none was written)."""
        if lay.RIG not in self.root:
            return {}
        rig: Any = self.root[lay.RIG].attrs.get("rig", {})
        return dict(rig or {})

    @cached_property
    def report(self) -> dict[str, Any]:
        """The conversion report ({} when none was written)."""
        if lay.REPORT not in self.root:
            return {}
        node = self.root[lay.REPORT]
        assert isinstance(node, zarr.Array)
        return dict(json.loads(np.asarray(node[:], dtype=np.uint8).tobytes().decode()))

    def T_base_sensor(self, name: str) -> np.ndarray:
        """The (4, 4) extrinsic ``T_base_sensor`` of ``name`` (stream attr, else the rig).

        Raises:
            StoreError: if neither the stream nor the rig gives one.
        """
        stored = self.streams[name].attrs.get("T_base_sensor")
        if stored is not None:
            return np.asarray(stored, dtype=np.float64)
        cache = self.__dict__.setdefault("_extrinsics", {})
        if name not in cache:
            if not self.rig_dict:
                raise StoreError(f"{self.location.url}: no extrinsic for sensor {name!r} (no rig and no "
                                 "T_base_sensor stream attribute); rewrite the store with a rig")
            import calibration

            rig = calibration.Rig.from_dict(self.rig_dict)
            cache[name] = np.asarray(rig.sensor(name).T_base_sensor.matrix, dtype=np.float64)
        return np.asarray(cache[name])


def read_many(requests: list[tuple[zarr.Array, Any]]) -> list[np.ndarray]:
    """Read several ``(array, selection)`` pairs concurrently (one event-loop round trip).

    Overlaps the I/O (and, on object stores, the request latency) of the columns of a message.
    """
    if len(requests) == 1:
        arr, sel = requests[0]
        return [np.asarray(arr[sel])]

    async def _all() -> list[Any]:
        return list(await asyncio.gather(*(arr.async_array.getitem(sel) for arr, sel in requests)))

    return [np.asarray(v) for v in sync(_all())]


def _arr(group: zarr.Group, name: str) -> np.ndarray:
    node = group[name]
    assert isinstance(node, zarr.Array)
    return np.asarray(node[...])


def _read(root: zarr.Group, path: str, default: np.ndarray) -> np.ndarray:
    if path not in root:
        return default
    node = root[path]
    assert isinstance(node, zarr.Array)
    return np.asarray(node[...])


def check_root(url: str, attrs: dict[str, Any], allow_incomplete: bool) -> None:
    """Raise FormatVersionError / IncompleteStoreError for an unusable root."""
    version = attrs.get("fusion_format")
    if version is None:
        raise FormatVersionError(f"{url} is a Zarr store but not a fusion store (no fusion_format root attribute)")
    try:
        major = int(str(version).split(".")[0])
    except ValueError:
        major = -1
    if major != lay.SUPPORTED_MAJOR:
        raise FormatVersionError(
            f"{url}: fusion_format {version!r} is not supported by this fusion (reads {lay.SUPPORTED_MAJOR}.x); "
            "upgrade fusion or reconvert the bags"
        )
    if not attrs.get("complete", False) and not allow_incomplete:
        raise IncompleteStoreError(
            f"{url}: incomplete store: conversion was interrupted; run `fusion convert --resume ...` "
            "or delete it (or open it with allow_incomplete=True to read what is there)"
        )


def open_root(url: Any, storage_options: dict[str, Any], *, consolidated: bool = True
              ) -> tuple[StoreLocation, zarr.Group]:
    """Open the root group read-only (``consolidated``: use consolidated metadata when present)."""
    location = resolve(url, storage_options)
    store = location.open_read()
    try:
        root = zarr.open_group(store, mode="r", zarr_format=3, use_consolidated=None if consolidated else False)
    except FileNotFoundError as exc:
        raise StoreError(f"no fusion store at {location.url}: {exc}") from exc
    return location, root


def open_state(url: Any, storage_options: dict[str, Any], allow_incomplete: bool) -> StoreState:
    """Open, check and cache a store for reading (see :class:`StoreState`)."""
    location, root = open_root(url, storage_options)
    check_root(location.url, dict(root.attrs), allow_incomplete)
    return StoreState(location, root)


@dataclass(frozen=True)
class StoreStatus:
    """What is at a store location: ``exists``, ``complete``, ``input_fingerprint`` (None if absent)."""

    url: str
    exists: bool
    complete: bool
    input_fingerprint: str | None
    fusion_format: str | None


def store_status(url: Any, storage_options: dict[str, Any] | None = None) -> StoreStatus:
    """Probe a location without raising for a missing or incomplete store (used by ``--resume``)."""
    location = resolve(url, storage_options)
    if not location.exists():
        return StoreStatus(location.url, False, False, None, None)
    _, root = open_root(url, dict(storage_options or {}))
    attrs = dict(root.attrs)
    fp = attrs.get("input_fingerprint")
    fmt = attrs.get("fusion_format")
    return StoreStatus(location.url, True, bool(attrs.get("complete", False)),
                       str(fp) if fp is not None else None, str(fmt) if fmt is not None else None)
