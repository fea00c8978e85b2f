"""The opened state of a store for reading: checks on open and caches of the small arrays.

:func:`open_state` checks the format version and completeness, then caches the frame table,
every per-sensor match table, every stream's per-message columns and offsets, so that reading
a frame costs only the column slices of its messages. One :class:`StoreState` per process:
it is never pickled (``Dataset`` reopens it lazily in a worker).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import zarr

from fusion import kinds
from fusion.errors import FormatVersionError, IncompleteStoreError, StoreCorruptError, StoreError
from fusion.store import layout as lay
from fusion.store.chunkcache import DEFAULT_CACHE_MB, ChunkCache
from fusion.store.guard import ADVICE, GuardedStore, guard
from fusion.store.location import StoreLocation, resolve
from fusion.store.reading import guarded, read, read_many

__all__ = ["StoreState", "StoreStatus", "StreamState", "check_root", "open_root", "open_state", "read_many",
           "store_status"]


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
        """The zarr array ``col`` of this stream (cached handle; reads raise StoreCorruptError on damage)."""
        arr = self.arrays.get(col)
        if arr is None:
            node = self.group[col]
            if not isinstance(node, zarr.Array):
                raise StoreCorruptError(f"{self.group.path}/{col}: a group where an array belongs; {ADVICE}")
            arr = self.arrays[col] = guarded(node)
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
        #: Arrays or groups that are missing or of the wrong node type (an interrupted or damaged
        #: store); :func:`open_state` refuses a complete store that has any.
        self.damage: list[str] = []
        frames = root.get(lay.FRAMES, None)
        self.frames_attrs: dict[str, Any] = dict(frames.attrs) if frames is not None else {}
        self.times_ns = _read(root, "frames/time_ns", np.zeros(0, np.int64), self.damage)
        f = self.times_ns.shape[0]
        self.ego_T_world_base = _read(root, "frames/ego_T_world_base", np.zeros((f, 4, 4)), self.damage)
        self.flags = _read(root, "frames/flags", np.zeros(f, np.uint32), self.damage)
        self.imu_range = _read(root, "frames/imu_range", np.zeros((f, 2), np.int64), self.damage)
        self.ego_quality = _read(root, "frames/ego_quality", np.full((f, 2), np.nan, np.float32), self.damage)
        self.streams: dict[str, StreamState] = {}
        sg = _group(root, lay.STREAMS, self.damage)
        if sg is not None:
            for name in sorted(sg.group_keys()):
                g = sg[name]
                assert isinstance(g, zarr.Group)
                keys = set(g.array_keys())
                damage = self.damage
                kind_name = str(g.attrs.get("kind", ""))
                kind = kinds.get(kind_name) if kind_name in kinds.KINDS else None
                cached = kind.message_columns if kind is not None else ()
                self.streams[name] = StreamState(
                    name=name,
                    kind=kind_name,
                    attrs=dict(g.attrs),
                    group=g,
                    time_ns=_arr(g, "time_ns", damage) if "time_ns" in keys else np.zeros(0, np.int64),
                    offsets=_arr(g, "offsets", damage) if "offsets" in keys else None,
                    message_columns={c: _arr(g, c, damage) for c in cached if c in keys},
                    message_arrays=kind.message_arrays if kind is not None else (),
                    columns=tuple(sorted(keys)),
                )
        self.matches: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        ms = _group(root, "frames/sensors", self.damage)
        if ms is not None:
            for name in sorted(ms.group_keys()):
                g = ms[name]
                assert isinstance(g, zarr.Group)
                cols = [_arr(g, c, self.damage) if c in g else None for c in ("index", "dt_ns", "valid")]
                missing = [c for c, v in zip(("index", "dt_ns", "valid"), cols) if v is None]
                if missing:
                    self.damage.append(f"frames/sensors/{name}: missing {', '.join(missing)} "
                                       "(the conversion stopped while writing the frame table)")
                    continue
                index, dt, valid = cols
                assert index is not None and dt is not None and valid is not None
                self.matches[name] = (index, dt, valid.astype(bool))

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
        return {c: _read(self.root, f"{lay.EGO}/{c}", empty[c], self.damage) for c in cols}

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
        if not isinstance(node, zarr.Array):
            raise StoreCorruptError(f"{self.location.url}: report: a group where an array belongs; {ADVICE}")
        raw = read(node).astype(np.uint8, copy=False).tobytes()
        try:
            report = json.loads(raw.decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StoreCorruptError(f"{self.location.url}: report: not UTF-8 JSON ({exc}); {ADVICE}") from exc
        if not isinstance(report, dict):
            raise StoreCorruptError(f"{self.location.url}: report: a JSON {type(report).__name__}, not an object; "
                                    f"{ADVICE}")
        return report

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


def _group(root: zarr.Group, path: str, damage: list[str]) -> zarr.Group | None:
    if path not in root:
        return None
    node = root[path]
    if not isinstance(node, zarr.Group):
        damage.append(f"{path}: an array where a group belongs")
        return None
    return node


def _arr(group: zarr.Group, name: str, damage: list[str]) -> np.ndarray:
    node = group[name]
    if not isinstance(node, zarr.Array):
        damage.append(f"{group.path}/{name}: a group where an array belongs")
        return np.zeros(0, np.int64)
    return read(node)


def _read(root: zarr.Group, path: str, default: np.ndarray, damage: list[str]) -> np.ndarray:
    if path not in root:
        return default
    node = root[path]
    if not isinstance(node, zarr.Array):
        damage.append(f"{path}: a group where an array belongs")
        return default
    return read(node)


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
    store = guard(location.open_read(), location.url)
    try:
        root = zarr.open_group(store, mode="r", zarr_format=3, use_consolidated=None if consolidated else False)
    except FileNotFoundError as exc:
        raise StoreError(f"no fusion store at {location.url}: {exc}") from exc
    except (StoreError, MemoryError):
        raise
    except Exception as exc:  # broken JSON, bad metadata fields: zarr raises many types
        raise StoreCorruptError(f"{location.url}: the root zarr.json (with the consolidated metadata of every "
                                f"node) cannot be parsed ({type(exc).__name__}: {str(exc)[:160]}); {ADVICE}") from exc
    if isinstance(store, GuardedStore):
        store.strict = root.attrs.get("complete", False) is True
    return location, root


def cache_budget() -> int:
    """Bytes of decoded chunks an opened dataset keeps (``FUSION_READ_CACHE_MB``, default
    :data:`~fusion.store.chunkcache.DEFAULT_CACHE_MB`; 0 turns the cache off)."""
    raw = os.environ.get("FUSION_READ_CACHE_MB", "")
    try:
        mb = float(raw) if raw else float(DEFAULT_CACHE_MB)
    except ValueError:
        raise StoreError(f"FUSION_READ_CACHE_MB={raw!r} is not a number of megabytes (0 turns the cache off)") from None
    return int(max(0.0, mb) * 2**20) if mb == mb else 0


def open_state(url: Any, storage_options: dict[str, Any], allow_incomplete: bool) -> StoreState:
    """Open, check and cache a store for reading (see :class:`StoreState`)."""
    from fusion.store.checks import open_problems

    location, root = open_root(url, storage_options)
    check_root(location.url, dict(root.attrs), allow_incomplete)
    store = root.store_path.store
    if isinstance(store, GuardedStore) and (budget := cache_budget()) > 0:
        store.cache = ChunkCache(budget)  # a sequential scan decodes each chunk once
    state = StoreState(location, root)
    problems = open_problems(state)
    if problems and (state.attrs.get("complete", False) or not allow_incomplete):
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise StoreCorruptError(f"{location.url}: {problems[0]}{more}; {ADVICE}")
    return state


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
