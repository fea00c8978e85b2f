"""The public reader: ``open_dataset`` → :class:`Dataset` of :class:`Frame` s (``fusion.open``).

``Dataset`` is a sequence of synchronized frames in time order. It pickles as
``(url, storage_options, allow_incomplete, frame range)`` only and reopens the store lazily
in the receiving process, so it is safe to hand to DataLoader / multiprocessing workers.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import Any, overload

import numpy as np

from fusion import kinds
from fusion.store.frame import MessageView, SensorInfo
from fusion.store.state import StoreState, StoreStatus, open_state, read_many, store_status
from fusion.store.streamview import StreamView

__all__ = ["Dataset", "EgoTrajectory", "Frame", "StoreStatus", "StreamView", "open_dataset", "store_status"]


@dataclass(frozen=True)
class EgoTrajectory:
    """Full-rate ego motion ``T_world_base``: times (K,) ns, translation (K,3) m, rotation (K,4) xyzw,
    linear velocity (K,3) m/s and angular velocity (K,3) rad/s in the base frame."""

    time_ns: np.ndarray
    translation_m: np.ndarray
    rotation_xyzw: np.ndarray
    linear_velocity_mps: np.ndarray
    angular_velocity_radps: np.ndarray
    attrs: dict[str, Any]


class Frame:
    """One synchronized frame (global index ``index`` in the store)."""

    def __init__(self, state: StoreState, index: int) -> None:
        self._state = state
        self.index = index
        self.time_ns = int(state.times_ns[index])

    def __repr__(self) -> str:
        return f"Frame(index={self.index}, time_ns={self.time_ns}, valid={self.valid})"

    @property
    def ego_pose(self) -> np.ndarray:
        """(4, 4) float64 ``T_world_base`` at :attr:`time_ns`."""
        return np.array(self._state.ego_T_world_base[self.index])

    @property
    def ego_quality(self) -> dict[str, Any]:
        """How good :attr:`ego_pose` is: ``source`` (``odom``, ``imu+gnss``, ...), 1σ
        ``position_sigma_m`` (horizontal) and ``yaw_sigma_rad`` (NaN for a recorded trajectory)."""
        q = self._state.ego_quality[self.index]
        return {"source": str(self._state.frames_attrs.get("ego_source", "")),
                "position_sigma_m": float(q[0]), "yaw_sigma_rad": float(q[1])}

    @property
    def flags(self) -> int:
        """Frame flag bits (bit 0: ego gap)."""
        return int(self._state.flags[self.index])

    @cached_property
    def valid(self) -> dict[str, bool]:
        """Sensor name → whether the frame has a matched message of it."""
        return {name: bool(v[self.index]) for name, (_, _, v) in self._state.matches.items()}

    def views(self, kind: str) -> Any:
        """What the stream kind ``kind`` shows of this frame (:meth:`fusion.kinds.base.StreamKind.frame_view`).

        For a frame-matched kind, sensor name → view of its matched message (missing sensors are
        absent); for the IMU, the samples since the previous frame (None without an IMU).
        """
        cache: dict[str, Any] = self.__dict__.setdefault("_views", {})
        if kind not in cache:
            cache[kind] = kinds.get(kind).frame_view(self._state, self.index)
        return cache[kind]

    def __getattr__(self, attr: str) -> Any:
        """``frame.cameras``, ``frame.lidar``, ``frame.radar``, ``frame.imu``: each registered kind's
        ``frame_attr`` (:mod:`fusion.kinds`) gives its :meth:`views`."""
        if not attr.startswith("_"):
            for kind in kinds.all_kinds():
                if kind.frame_attr == attr:
                    return self.views(kind.name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")

    def load(self) -> Frame:
        """Read every matched message's columns (all sensors) in one batched request — every array of
        every sensor fetched concurrently — and the IMU samples; returns the frame itself. Views then
        answer from memory (``frame.lidar[...]``, ``.cameras[...].data``, ...)."""
        views: list[MessageView] = []
        built: list[tuple[str, Any, int, int]] = []  # kinds whose view is built from reads (the IMU)
        extra: list[tuple[Any, Any]] = []
        cache: dict[str, Any] = self.__dict__.setdefault("_views", {})
        for kind in kinds.all_kinds():
            if kind.frame_attr is None:
                continue
            requests = getattr(kind, "frame_requests", None)
            if requests is not None and kind.name not in cache:
                reqs, finish = requests(self._state, self.index)
                built.append((kind.name, finish, len(extra), len(extra) + len(reqs)))
                extra.extend(reqs)
                continue
            found = self.views(kind.name)
            views.extend(v for v in (found.values() if isinstance(found, dict) else ()) if isinstance(v, MessageView))
        todo = [(v, name, arr, sel) for v in views for name, arr, sel in v.pending()]
        values = read_many([*extra, *((arr, sel) for _, _, arr, sel in todo)])
        for name, finish, a, b in built:
            cache[name] = finish(values[a:b])
        for (view, col, _, _), value in zip(todo, values[len(extra):], strict=True):
            view.fill(col, value)
        return self

    @property
    def boxes(self) -> list[Any]:
        """3D boxes of this frame (from ``fusion.annotations.store_io`` when installed, else [])."""
        try:
            from fusion.annotations.store_io import read_frame_boxes  # type: ignore[import-not-found]
        except ImportError:
            return []
        return list(read_frame_boxes(self._state.live_root, self.index))


class Dataset:
    """A (view of a) fusion store: ``len``, indexing, slicing, iteration, :meth:`at`."""

    def __init__(self, url: Any, storage_options: dict[str, Any], allow_incomplete: bool,
                 frames: range | None = None, state: StoreState | None = None) -> None:
        self._url = url
        self._storage_options = dict(storage_options)
        self._allow_incomplete = allow_incomplete
        self._state = state
        self._pid = os.getpid()
        self._frames = frames if frames is not None else range(len(self.state.times_ns))

    # ---- pickling: only the address and the frame range travel -----------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"url": self._url, "storage_options": self._storage_options,
                "allow_incomplete": self._allow_incomplete, "frames": self._frames}

    def __setstate__(self, d: dict[str, Any]) -> None:
        self._url = d["url"]
        self._storage_options = d["storage_options"]
        self._allow_incomplete = d["allow_incomplete"]
        self._frames = d["frames"]
        self._state = None
        self._pid = os.getpid()

    @property
    def state(self) -> StoreState:
        """The opened store (opened on first use in this process; reopened after a fork)."""
        if self._state is None or self._pid != os.getpid():
            self._state = open_state(self._url, self._storage_options, self._allow_incomplete)
            self._pid = os.getpid()
        return self._state

    # ---- sequence protocol -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._frames)

    @overload
    def __getitem__(self, key: int) -> Frame: ...
    @overload
    def __getitem__(self, key: slice) -> Dataset: ...
    def __getitem__(self, key: int | slice) -> Frame | Dataset:
        if isinstance(key, slice):
            return Dataset(self._url, self._storage_options, self._allow_incomplete, self._frames[key], self._state)
        i = int(key)
        if not -len(self) <= i < len(self):
            raise IndexError(f"frame index {i} out of range for a dataset of {len(self)} frames")
        return Frame(self.state, self._frames[i])

    def __iter__(self) -> Iterator[Frame]:
        state = self.state
        for i in self._frames:
            yield Frame(state, i)

    def iter(self, *, prefetch: int = 4, workers: int = 1) -> Iterator[Frame]:
        """The frames in order, each with every sensor's data already read (a training loop's scan).

        ``workers`` threads read up to ``prefetch`` frames ahead of the consumer (all columns of
        every matched message, the IMU samples), so reading and decompressing (which release the
        GIL) overlap with the work done on the previous frame. Consecutive frames share decoded
        chunks through the store's chunk cache. Memory: about ``prefetch`` frames.

        Args:
            prefetch: Frames read ahead (≥ 1).
            workers: Reading threads (≥ 1).
        """
        if prefetch < 1 or workers < 1:
            raise ValueError(f"iter(): prefetch and workers must be ≥ 1, got {prefetch}, {workers}")
        state = self.state
        frames = iter(self._frames)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fusion-read") as pool:
            ahead: deque[Future[Frame]] = deque()
            for i in itertools.islice(frames, prefetch):
                ahead.append(pool.submit(Frame(state, i).load))
            while ahead:
                frame = ahead.popleft().result()
                nxt = next(frames, None)
                if nxt is not None:
                    ahead.append(pool.submit(Frame(state, nxt).load))
                yield frame

    def __repr__(self) -> str:
        return f"Dataset({self.url!r}, frames={len(self)}, sensors={sorted(self.sensors)})"

    # ---- whole-store info --------------------------------------------------------------
    @property
    def url(self) -> str:
        """Store location."""
        return str(self._url)

    @property
    def attrs(self) -> dict[str, Any]:
        """Root attributes (fusion_format, complete, base_frame, world_frame, …)."""
        return dict(self.state.attrs)

    @property
    def times_ns(self) -> np.ndarray:
        """(len,) int64 frame times of this view."""
        return self.state.times_ns[np.asarray(self._frames, dtype=np.int64)]

    def at(self, time_ns: int) -> Frame:
        """The frame of this view nearest to ``time_ns`` (ties: the earlier one)."""
        times = self.times_ns
        if times.size == 0:
            raise IndexError("at(): the dataset has no frames")
        if self._frames.step < 0:
            order = np.argsort(times)
            k = _nearest(times[order], int(time_ns))
            return self[int(order[k])]
        return self[_nearest(times, int(time_ns))]

    @property
    def sensors(self) -> dict[str, SensorInfo]:
        """Stream name → :class:`SensorInfo`."""
        return {name: SensorInfo(s.kind, str(s.attrs.get("topic", "")), str(s.attrs.get("frame_id", "")), s.count)
                for name, s in self.state.streams.items()}

    def stream(self, name: str) -> StreamView:
        """Every stored message of sensor ``name`` at full rate (:class:`StreamView`)."""
        return StreamView(self.state, name)

    @property
    def calibration(self) -> Any:
        """The rig as ``calibration.Rig`` (``Rig.from_dict`` of the stored dict)."""
        import calibration

        return calibration.Rig.from_dict(self.state.rig_dict)

    @property
    def rig_dict(self) -> dict[str, Any]:
        """The stored rig dict as written."""
        return dict(self.state.rig_dict)

    @property
    def report(self) -> dict[str, Any]:
        """The conversion report."""
        return dict(self.state.report)

    @property
    def ego(self) -> EgoTrajectory:
        """Full-rate ego trajectory of the whole store."""
        e = self.state.ego
        attrs = dict(self.state.root["ego"].attrs) if "ego" in self.state.root else {}
        return EgoTrajectory(attrs=attrs, **{k: v.copy() for k, v in e.items()})


def _nearest(sorted_times: np.ndarray, t: int) -> int:
    k = int(np.searchsorted(sorted_times, t))
    if k == 0:
        return 0
    if k >= sorted_times.size:
        return int(sorted_times.size - 1)
    return k - 1 if t - int(sorted_times[k - 1]) <= int(sorted_times[k]) - t else k


def open_dataset(path_or_url: Any, *, allow_incomplete: bool = False, **storage_options: Any) -> Dataset:
    """Open a fusion store for reading.

    Args:
        path_or_url: Local directory, ``*.zip``, ``s3://bucket/key`` (or a zarr Store).
        allow_incomplete: Read a store whose conversion did not finish.
        **storage_options: Remote options: ``endpoint_url``, ``key``, ``secret``, ``region``.

    Raises:
        StoreError: nothing (readable) at that location.
        FormatVersionError: unsupported ``fusion_format``.
        IncompleteStoreError: ``complete`` is not true and ``allow_incomplete`` is False.
    """
    state = open_state(path_or_url, storage_options, allow_incomplete)
    return Dataset(path_or_url, storage_options, allow_incomplete, None, state)
