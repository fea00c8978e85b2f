"""The reader-side view of one stored message: :class:`MessageView`, and :class:`SensorInfo`.

Every kind's view (camera image, LiDAR scan, radar scan: :mod:`fusion.kinds`) derives from
:class:`MessageView`. Everything is lazy: a view reads its column slices on first access and
caches them; the columns of a message are fetched concurrently (:func:`read_many`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fusion.store.state import StoreState, StreamState, read_many


@dataclass(frozen=True)
class SensorInfo:
    """One sensor stream: kind (camera/lidar/radar/imu), topic, frame_id, message count."""

    kind: str
    topic: str
    frame_id: str
    count: int


class MessageView:
    """A stored message of a stream, as seen from a frame (or on its own: ``ds.stream(name)[i]``).

    A kind's view (:mod:`fusion.kinds`) derives from this: it reads the message's column slices
    lazily (:meth:`column`) and caches them.

    Attributes:
        stream: The stream's cached state; ``name``: its name; ``message_index``: the message.
        frame_time_ns: Time of the frame it is seen from (its own time when seen on its own).
        dt_ns: Message time − frame time, ns.
    """

    def __init__(self, state: StoreState, stream: StreamState, msg: int, frame_time_ns: int, dt_ns: int,
                 frame_pose: np.ndarray) -> None:
        self._state = state
        self.stream = stream
        self.name = stream.name
        self.message_index = msg
        self.frame_time_ns = frame_time_ns
        self.dt_ns = dt_ns
        self._frame_pose = frame_pose
        self.message_time_ns = int(stream.time_ns[msg])
        off = stream.offsets
        self._rows = (int(off[msg]), int(off[msg + 1])) if off is not None else (msg, msg + 1)

    def column(self, col: str) -> np.ndarray:
        """Rows of column ``col`` belonging to this message (read once, cached)."""
        cache: dict[str, np.ndarray] = self.__dict__.setdefault("_cols", {})
        if col not in cache:
            a, b = self._rows
            names = [col, *(c for c in self._group_of(col) if c != col and c not in cache)]
            for name, values in zip(names, read_many([(self.stream.array(n), slice(a, b)) for n in names])):
                cache[name] = values
        return cache[col]

    def pending(self) -> list[tuple[str, Any, slice]]:
        """``(column, array, rows)`` of every column of this message not read yet (for a frame's batched
        read, :meth:`fusion.store.dataset.Frame.load`)."""
        cache: dict[str, np.ndarray] = self.__dict__.setdefault("_cols", {})
        a, b = self._rows
        return [(c, self.stream.array(c), slice(a, b))
                for c in (*self.stream.point_columns(), *self.stream.message_arrays)
                if c not in cache and c in self.stream.columns]

    def fill(self, col: str, values: np.ndarray) -> None:
        """Keep ``values`` as column ``col`` of this message (read by a batched request)."""
        self.__dict__.setdefault("_cols", {})[col] = values

    def _group_of(self, col: str) -> list[str]:
        return []
