"""`StoreWriter`: the streaming, shard-aligned writer of a fusion store (layout in docs/FORMAT.md).

It implements :class:`~fusion.store.sink.FrameSink`, the typed seam the conversion pipeline writes
through. Usage::

    w = StoreWriter.create("drive.zarr", input_fingerprint=fp)
    w.set_root_attrs(RootAttrs(base_frame="base_link", world_frame="odom"))
    lid = add_lidar_stream(w, "lidar_top", topic=..., frame_id=..., fields={"intensity": np.float32},
                           expected_messages=600, expected_points=600 * 65536)   # fusion.kinds.lidar
    lid.append(...)                                   # one call per scan
    w.write_ego(EgoColumns(...)); w.write_frames(FrameTable(...)); w.write_report(report)
    w.finalize()                                      # `complete=True` is the very last write

Each writer owns its :class:`~fusion.store.buffers.ShardPool`: two writers in one process (a
threaded Dask worker converting two logs) never wait on each other or see each other's errors.

Completion is atomic: the root attribute ``complete`` stays ``False`` until every shard,
trim, the report and the consolidated metadata are written.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import zarr
from zarr.abc.store import Store

from fusion.errors import StoreError
from fusion.store import digests
from fusion.store import layout as lay
from fusion.store._zarr_compat import GroupMetadata
from fusion.store.buffers import ShardPool
from fusion.store.create import NodeBatch
from fusion.store.location import StoreLocation, resolve
from fusion.store.metadata import consolidate, local_root, open_group_object, update_attributes, write_nodes
from fusion.store.sink import Attrs, EgoColumns, FrameSink, FrameTable, RootAttrs, StreamGroup, StreamHeader
from fusion.store.streams import ZarrStreamGroup, to_json
from fusion.store.tables import write_ego_group, write_frames_group

__all__ = ["FrameSink", "StoreWriter", "to_json"]
W = TypeVar("W")


class StoreWriter:
    """Writes one fusion store. Create with :meth:`create`; one writer (process) per store."""

    def __init__(self, location: StoreLocation, store: Store, root: zarr.Group) -> None:
        self.location = location
        self._store = store
        self.root = root
        self.streams: dict[str, Any] = {}
        self.kinds: dict[str, str] = {}
        self.pool = ShardPool()
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
    def set_root_attrs(self, attrs: RootAttrs) -> None:
        """Set ``base_frame``, ``world_frame`` and ``reference`` (when given)."""
        reserved = {"complete", "fusion_format"} & set(attrs.extra)
        if reserved:
            raise StoreError(f"root attributes {sorted(reserved)} are managed by the writer")
        values: dict[str, object] = {"base_frame": attrs.base_frame, "world_frame": attrs.world_frame,
                                     **attrs.extra}
        if attrs.reference is not None:
            values["reference"] = attrs.reference
        update_attributes(self.root, to_json(values))

    def write_rig(self, rig: Attrs) -> None:
        """Store the rig dict (``calibration.Rig.to_dict()``) as ``rig/`` attribute ``rig`` (replaced)."""
        batch = NodeBatch(self._store, overwrite=True)
        batch.group(self.root, lay.RIG, {"rig": to_json(dict(rig))})
        batch.write()

    # ---- streams -------------------------------------------------------------------------
    def add_stream(self, header: StreamHeader, factory: Callable[[StreamGroup], W]) -> W:
        """Create ``streams/<header.name>`` and the writer ``factory`` builds on it (its columns join the
        group's one metadata write).

        Raises:
            StoreError: The name is not safe as a store path (:mod:`fusion.store.names`) or already used; a bad
                ``T_base_sensor``.
        """
        self._check_open()
        name = header.name
        from fusion.store.names import unsafe_reason

        if (reason := unsafe_reason(name)) is not None or name in self.streams:
            raise StoreError(f"stream name {name!r}: {reason or 'already used'}")
        meta = {**to_json(dict(header.attrs)), "kind": header.kind, "topic": header.topic,
                "frame_id": header.frame_id, "count": 0}
        if header.T_base_sensor is not None:
            M = np.asarray(header.T_base_sensor, dtype=np.float64)
            if M.shape != (4, 4):
                raise StoreError(f"streams/{name}: T_base_sensor must be a 4x4 matrix, got {M.shape}")
            meta["T_base_sensor"] = M.tolist()
        if self._streams_root is None:
            self._streams_root = open_group_object(self._store, lay.STREAMS, GroupMetadata(zarr_format=3))
        batch = NodeBatch(self._streams_root.store)
        group = batch.group(self._streams_root, name, meta)
        writer = factory(ZarrStreamGroup(group, name, batch, self.pool))
        batch.write()
        self.streams[name] = writer
        self.kinds[name] = header.kind
        return writer

    def drop_stream(self, name: str) -> None:
        """Delete stream ``name`` and its arrays (to write it again from the start)."""
        self._check_open()
        if name not in self.streams:
            raise StoreError(f"no stream {name!r} to drop")
        self.pool.drain()  # no shard of it may still be in flight
        del self.streams[name]
        del self.kinds[name]
        del self.root[f"{lay.STREAMS}/{name}"]

    @property
    def buffer_bytes(self) -> int:
        """Upper bound of the memory held by all shard buffers."""
        return sum(s.buffer_bytes for s in self.streams.values())

    # ---- whole tables --------------------------------------------------------------------
    def write_ego(self, ego: EgoColumns) -> None:
        """Write the full-rate ego trajectory ``T_world_base`` (K,) and base-frame twist."""
        self._check_open()
        write_ego_group(self.root, ego.time_ns, ego.translation_m, ego.rotation_xyzw, ego.linear_velocity_mps,
                        ego.angular_velocity_radps, to_json(dict(ego.attrs)))

    def write_frames(self, frames: FrameTable) -> None:
        """Write the frame table (F,) and per-sensor ``(index, dt_ns, valid)`` matches.

        ``frames.imu_stream`` names the stream ``imu_range`` indexes (default: the only stream of a
        continuous kind that frames slice, i.e. with a frame view: an IMU, never a GNSS stream).
        """
        self._check_open()
        imu_stream = frames.imu_stream
        if imu_stream is None:
            from fusion import kinds

            cont = [n for n, k in self.kinds.items() if k in kinds.KINDS and kinds.get(k).role is kinds.Role.CONTINUOUS
                    and kinds.get(k).frame_attr is not None]
            imu_stream = cont[0] if len(cont) == 1 else None
        sensors = {k: (m.index, m.dt_ns, m.valid) for k, m in frames.sensors.items()}
        write_frames_group(self.root, frames.time_ns, frames.ego_T_world_base, frames.flags, frames.imu_range,
                           sensors, imu_stream, frames.ego_quality, frames.ego_source)

    def write_report(self, report: Attrs) -> None:
        """Store the conversion report as a ``report (B,) uint8`` JSON blob (UTF-8)."""
        self._check_open()
        blob = np.frombuffer(json.dumps(to_json(dict(report)), sort_keys=True).encode(), dtype=np.uint8)
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
        self.pool.drain()
        self.pool.shutdown()
        digests.write(self.root, self.pool.signatures)  # format 1.2: every chunk bound to its place
        consolidate(self._store, {"complete": True})  # one last write of the root document
        self._close()
        self.location.commit()

    def abort(self) -> None:
        """Close without marking the store complete (it stays detectable as interrupted)."""
        if not self._closed:
            with contextlib.suppress(Exception):  # the store is abandoned; the original error matters
                self.pool.drain()
            self.pool.shutdown()
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
        return f"a fusion store already exists at {location.url}; pass --overwrite to replace it"
    return (
        f"an incomplete fusion store (interrupted conversion) exists at {location.url}; "
        "run `fusion convert --resume ...` or pass --overwrite to start again"
    )
