"""``ds.stream(name)``: every stored message of one sensor at full rate, through its kind's view."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from fusion import kinds
from fusion.errors import StoreError
from fusion.store import geometry as geo
from fusion.store.state import StoreState, read_many


class StreamView:
    """Every stored message of one sensor at full rate: ``ds.stream(name)``.

    ``len``, ``time_ns`` (M,) common-clock message times, ``stamp_ns`` / ``record_time_ns``, and
    ``view[i]``: message ``i`` as its kind shows it in a frame (the same classes as
    ``Frame.cameras`` / ``.lidar`` / ``.radar``), seen at its own time (points at their stored
    reference time, ``dt_ns`` 0, ``in_world()`` through the ego pose at that time). For a
    continuous kind (IMU) use :meth:`rows`.
    """

    def __init__(self, state: StoreState, name: str) -> None:
        if name not in state.streams:
            raise KeyError(f"no stream {name!r} in {state.location.url}; streams: {', '.join(sorted(state.streams))}")
        self._state = state
        self._stream = state.streams[name]
        self.name = name
        self.kind = self._stream.kind

    def __len__(self) -> int:
        return self._stream.count

    def __repr__(self) -> str:
        return f"StreamView({self.name!r}, kind={self.kind!r}, messages={len(self)})"

    @property
    def attrs(self) -> dict[str, Any]:
        """The stream group's attributes (topic, frame_id, msgtype, time offset, ...)."""
        return dict(self._stream.attrs)

    @property
    def time_ns(self) -> np.ndarray:
        """(M,) int64 common-clock time of every message."""
        return np.asarray(self._stream.time_ns)

    @property
    def stamp_ns(self) -> np.ndarray:
        """(M,) int64 header stamps (the sensor's clock)."""
        return np.asarray(self._stream.array("stamp_ns")[...])

    @property
    def record_time_ns(self) -> np.ndarray:
        """(M,) int64 bag record times."""
        return np.asarray(self._stream.array("record_time_ns")[...])

    def __getitem__(self, i: int) -> Any:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"message {i} out of range for stream {self.name!r} of {n} messages")
        i %= n
        kind = kinds.get(self.kind)
        ref = self._stream.message_columns.get("ref_time_ns")
        t = int(ref[i]) if ref is not None else int(self._stream.time_ns[i])
        try:
            pose = geo.ego_poses(self._state.ego, [t], max_extrapolation_ns=0)[0]
        except StoreError:
            pose = np.full((4, 4), np.nan)
        return kind.view(self._state, self._stream, i, t, int(self._stream.time_ns[i]) - t, pose)

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]

    def rows(self, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
        """Rows ``[start, stop)`` of every one-row-per-message column (times and the kind's arrays)."""
        stop = len(self) if stop is None else stop
        names = [c for c in self._stream.columns if c not in ("offsets",) and c not in self._stream.point_columns()]
        values = read_many([(self._stream.array(c), slice(start, stop)) for c in names])
        return dict(zip(names, values))
