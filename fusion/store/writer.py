"""`StoreWriter`: the streaming, shard-aligned writer of a fusion store (layout in docs/FORMAT.md).

Usage (the conversion pipeline)::

    w = StoreWriter.create("drive.zarr", input_fingerprint=fp)
    w.set_root_attrs(base_frame="base_link", world_frame="odom")
    lid = w.add_lidar("lidar_top", topic=..., frame_id=..., fields={"intensity": np.float32},
                      expected_messages=600, expected_points=600 * 65536, attrs={})
    lid.append(...)                                   # one call per scan
    w.write_ego(...); w.write_frames(...); w.write_report(report)
    w.finalize()                                      # `complete=True` is the very last write

Completion is atomic: the root attribute ``complete`` stays ``False`` until every shard,
trim, the report and the consolidated metadata are written.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Protocol

import numpy as np
import zarr
from zarr.abc.store import Store

from fusion.errors import StoreError
from fusion.store import layout as lay
from fusion.store._zarr_compat import GroupMetadata
from fusion.store.buffers import BACKGROUND
from fusion.store.camera_imu import CameraWriter, ImuWriter
from fusion.store.create import NodeBatch
from fusion.store.location import StoreLocation, resolve
from fusion.store.metadata import consolidate, local_root, open_group_object, update_attributes, write_nodes
from fusion.store.streams import LidarWriter, RadarWriter, StreamWriter
from fusion.store.tables import write_ego_group, write_frames_group


def to_json(value: Any) -> Any:
    """A JSON-compatible copy of ``value`` (numpy scalars/arrays become Python numbers/lists)."""

    def default(obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, set | frozenset | tuple):
            return list(obj)
        raise TypeError(f"{type(obj).__name__} is not JSON serializable")

    return json.loads(json.dumps(value, default=default))


class FrameSink(Protocol):
    """What the conversion pipeline needs from a store writer (``StoreWriter`` satisfies it)."""

    def set_root_attrs(self, *, base_frame: str, world_frame: str, **extra: Any) -> None: ...
    def write_rig(self, rig: dict[str, Any]) -> None: ...
    def add_lidar(self, name: str, **kw: Any) -> LidarWriter: ...
    def add_radar(self, name: str, **kw: Any) -> RadarWriter: ...
    def add_camera(self, name: str, **kw: Any) -> CameraWriter: ...
    def add_imu(self, name: str, **kw: Any) -> ImuWriter: ...
    def write_ego(self, *a: Any, **kw: Any) -> None: ...
    def write_frames(self, *a: Any, **kw: Any) -> None: ...
    def write_report(self, report: dict[str, Any]) -> None: ...
    def finalize(self) -> None: ...
    def abort(self) -> None: ...


class StoreWriter:
    """Writes one fusion store. Create with :meth:`create`; one writer (process) per store."""

    def __init__(self, location: StoreLocation, store: Store, root: zarr.Group) -> None:
        self.location = location
        self._store = store
        self.root = root
        self.streams: dict[str, StreamWriter] = {}
        self._streams_root: zarr.Group | None = None
        self._closed = False

    # ---- creation ----------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        url: str | Store,
        *,
        overwrite: bool = False,
        input_fingerprint: str = "",
        storage_options: dict[str, Any] | None = None,
    ) -> StoreWriter:
        """Create a new, empty store at ``url`` (local dir, ``*.zip``, ``s3://bucket/key`` or a zarr Store).

        Raises:
            StoreError: if a store already exists there and ``overwrite`` is False (an incomplete
                one suggests ``fusion convert --resume``).
        """
        from fusion import __version__

        location = resolve(url, storage_options)
        if location.kind == "local" and location.path.exists() and not location.path.is_dir():
            raise StoreError(f"{location.url} is a file, not a store directory; choose another output path")
        if location.exists():
            if not overwrite:
                raise StoreError(_exists_message(location))
            location.remove()
        elif location.kind == "local" and location.path.exists() and any(location.path.iterdir()):
            if not overwrite:
                raise StoreError(
                    f"{location.url} exists and is not a fusion store; choose another output path"
                )
            location.remove()
        store = location.open_write()
        attrs: dict[str, Any] = {
            "fusion_format": lay.FORMAT_VERSION,
            "complete": False,
            "created_by": f"fusion {__version__}",
            "input_fingerprint": input_fingerprint,
            "time_unit": "ns",
            "base_frame": "base_link",
            "world_frame": "odom",
        }
        root_meta = GroupMetadata(attributes=attrs, zarr_format=3)
        if local_root(store) is not None:  # the documents straight to their files (fusion.store.metadata)
            empty = GroupMetadata(zarr_format=3)  # annotations/ is created by fusion.annotations
            write_nodes(store, {"": root_meta, lay.STREAMS: empty, lay.FRAMES: empty})
            root = open_group_object(store, "", root_meta)
        else:
            root = zarr.open_group(store, mode="w", attributes=attrs, zarr_format=3)
            for grp in (lay.STREAMS, lay.FRAMES):
                root.require_group(grp)
        return cls(location, store, root)

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        """Finalize on success, abort (leave incomplete) on an exception."""
        if self._closed:
            return
        if exc_type is None:
            self.finalize()
        else:
            self.abort()

    # ---- attributes ----------------------------------------------------------------------
    def set_root_attrs(self, *, base_frame: str = "base_link", world_frame: str = "odom", **extra: Any) -> None:
        """Set ``base_frame``, ``world_frame`` and any extra JSON-able root attributes."""
        reserved = {"complete", "fusion_format"} & set(extra)
        if reserved:
            raise StoreError(f"root attributes {sorted(reserved)} are managed by the writer")
        update_attributes(self.root, to_json({"base_frame": base_frame, "world_frame": world_frame, **extra}))

    def write_rig(self, rig: dict[str, Any]) -> None:
        """Store the rig dict (``calibration.Rig.to_dict()``) as ``rig/`` attribute ``rig`` (replaced)."""
        batch = NodeBatch(self._store, overwrite=True)
        batch.group(self.root, lay.RIG, {"rig": to_json(rig)})
        batch.write()

    # ---- streams -------------------------------------------------------------------------
    def _stream_group(self, name: str, kind: str, topic: str, frame_id: str, attrs: dict[str, Any] | None,
                      T_base_sensor: Any) -> tuple[zarr.Group, NodeBatch]:
        """The stream's group, pending in a batch its columns join (written by the writer's ``create``)."""
        self._check_open()
        if not name or "/" in name or name in self.streams:
            raise StoreError(f"stream name {name!r} is empty, contains '/' or is already used")
        meta = {**to_json(attrs or {}), "kind": kind, "topic": topic, "frame_id": frame_id, "count": 0}
        if T_base_sensor is not None:
            M = np.asarray(getattr(T_base_sensor, "matrix", T_base_sensor), dtype=np.float64)
            if M.shape != (4, 4):
                raise StoreError(f"streams/{name}: T_base_sensor must be a 4x4 matrix, got {M.shape}")
            meta["T_base_sensor"] = M.tolist()
        if self._streams_root is None:
            self._streams_root = open_group_object(self._store, lay.STREAMS, GroupMetadata(zarr_format=3))
        batch = NodeBatch(self._streams_root.store)
        return batch.group(self._streams_root, name, meta), batch

    def add_lidar(self, name: str, *, topic: str, frame_id: str, fields: dict[str, Any], expected_messages: int,
                  expected_points: int, attrs: dict[str, Any] | None = None, with_xyz_raw: bool | None = None,
                  T_base_sensor: Any = None) -> LidarWriter:
        """Add a LiDAR stream (see :meth:`LidarWriter.append`).

        ``with_xyz_raw``: keep pre-deskew points (``None``: the first ``append`` decides).
        ``T_base_sensor``: optional 4x4 / SE3 stored as a stream attribute (else the reader uses the rig).
        """
        g, batch = self._stream_group(name, "lidar", topic, frame_id, attrs, T_base_sensor)
        w = LidarWriter(g, name, fields=fields, expected_messages=expected_messages,
                        expected_points=expected_points, with_xyz_raw=with_xyz_raw, batch=batch)
        w.create()
        self.streams[name] = w
        return w

    def add_radar(self, name: str, *, topic: str, frame_id: str, fields: dict[str, Any], expected_messages: int,
                  expected_points: int, attrs: dict[str, Any] | None = None, T_base_sensor: Any = None) -> RadarWriter:
        """Add a radar stream (see :meth:`RadarWriter.append`)."""
        g, batch = self._stream_group(name, "radar", topic, frame_id, attrs, T_base_sensor)
        w = RadarWriter(g, name, fields=fields, expected_messages=expected_messages, expected_points=expected_points,
                        batch=batch)
        w.create()
        self.streams[name] = w
        return w

    def add_camera(self, name: str, *, topic: str, frame_id: str, compressed: bool, expected_messages: int,
                   image_shape: tuple[int, ...] | None = None, dtype: Any = None,
                   attrs: dict[str, Any] | None = None, expected_bytes: int | None = None,
                   T_base_sensor: Any = None) -> CameraWriter:
        """Add a camera stream (compressed blob, or raw ``image_shape``/``dtype`` pixels)."""
        g, batch = self._stream_group(name, "camera", topic, frame_id, {**(attrs or {}), "compressed": compressed},
                                      T_base_sensor)
        w = CameraWriter(g, name, compressed=compressed, expected_messages=expected_messages,
                         image_shape=image_shape, dtype=dtype, expected_bytes=expected_bytes, batch=batch)
        w.create()
        self.streams[name] = w
        return w

    def add_imu(self, name: str, *, topic: str, frame_id: str, expected_messages: int,
                attrs: dict[str, Any] | None = None, T_base_sensor: Any = None) -> ImuWriter:
        """Add an IMU stream (see :meth:`ImuWriter.append_many`)."""
        g, batch = self._stream_group(name, "imu", topic, frame_id, attrs, T_base_sensor)
        w = ImuWriter(g, name, expected_messages=expected_messages, batch=batch)
        w.create()
        self.streams[name] = w
        return w

    def drop_stream(self, name: str) -> None:
        """Delete stream ``name`` and its arrays (to write it again from the start)."""
        self._check_open()
        if name not in self.streams:
            raise StoreError(f"no stream {name!r} to drop")
        BACKGROUND.drain()  # no shard of it may still be in flight
        del self.streams[name]
        del self.root[f"{lay.STREAMS}/{name}"]

    @property
    def buffer_bytes(self) -> int:
        """Upper bound of the memory held by all shard buffers."""
        return sum(s.buffer_bytes for s in self.streams.values())

    # ---- whole tables --------------------------------------------------------------------
    def write_ego(self, time_ns: np.ndarray, translation_m: np.ndarray, rotation_xyzw: np.ndarray,
                  linear_velocity_mps: np.ndarray, angular_velocity_radps: np.ndarray,
                  attrs: dict[str, Any] | None = None) -> None:
        """Write the full-rate ego trajectory ``T_world_base`` (K,) and base-frame twist."""
        self._check_open()
        write_ego_group(self.root, time_ns, translation_m, rotation_xyzw, linear_velocity_mps,
                        angular_velocity_radps, to_json(attrs or {}))

    def write_frames(self, time_ns: np.ndarray, ego_T_world_base: np.ndarray, flags: np.ndarray,
                     imu_range: np.ndarray, sensors: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                     imu_stream: str | None = None) -> None:
        """Write the frame table (F,) and per-sensor ``(index, dt_ns, valid)`` matches.

        ``imu_stream`` names the stream ``imu_range`` indexes (default: the only IMU stream).
        """
        self._check_open()
        if imu_stream is None:
            imus = [n for n, s in self.streams.items() if s.kind == "imu"]
            imu_stream = imus[0] if len(imus) == 1 else None
        write_frames_group(self.root, time_ns, ego_T_world_base, flags, imu_range, sensors, imu_stream)

    def write_report(self, report: dict[str, Any]) -> None:
        """Store the conversion report as a ``report (B,) uint8`` JSON blob (UTF-8)."""
        self._check_open()
        blob = np.frombuffer(json.dumps(to_json(report), sort_keys=True).encode(), dtype=np.uint8)
        arr = self.root.create_array(lay.REPORT, shape=blob.shape, dtype="uint8", chunks=(max(blob.size, 1),),
                                     compressors=lay.compressors("zstd"), fill_value=0, overwrite=True,
                                     attributes={"encoding": "json/utf-8"})
        arr[:] = blob

    # ---- completion ----------------------------------------------------------------------
    def finalize(self) -> None:
        """Flush and trim every stream, consolidate metadata, then set ``complete=True`` (last)."""
        self._check_open()
        for w in self.streams.values():
            w.seal()  # every tail shard queued before the first wait
        for w in self.streams.values():
            w.finalize()
        BACKGROUND.drain()
        consolidate(self._store, {"complete": True})  # one last write of the root document
        self._close()
        self.location.commit()

    def abort(self) -> None:
        """Close without marking the store complete (it stays detectable as interrupted)."""
        if not self._closed:
            with contextlib.suppress(Exception):  # the store is abandoned; the original error matters
                BACKGROUND.drain()
            self._close()

    def _close(self) -> None:
        self._closed = True
        self.streams = {}
        self._store.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self.location.url}: the writer is already finalized or aborted")


def _exists_message(location: StoreLocation) -> str:
    try:
        root = zarr.open_group(location.open_read(), mode="r")
        complete = bool(root.attrs.get("complete", False))
    except Exception:
        complete = False
    if complete:
        return f"a fusion store already exists at {location.url}; pass overwrite=True (--overwrite) to replace it"
    return (
        f"an incomplete fusion store (interrupted conversion) exists at {location.url}; "
        "run `fusion convert --resume ...` or pass overwrite=True (--overwrite) to start again"
    )
