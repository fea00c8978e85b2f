"""ros2 message_filters ``ApproximateTime`` policy, ported faithfully to Python.

A line-by-line port of ``include/message_filters/sync_policies/approximate_time.hpp``
(ros2/message_filters): per-topic deques + "past" vectors, the pivot is the topic whose
front is latest, candidates are the deque fronts, a candidate is published once no later
message can give a smaller interval (with ``age_penalty``), ``inter_message_lower_bound``
lets it publish earlier (virtual moves), ``max_interval_duration`` rejects wide sets, and
a topic that dropped a message cannot become the pivot until another topic advances.
Stamps are int64 ns; ``Duration * (1 + age_penalty)`` truncates toward zero like rclcpp.
Sets never share a message. Plain Python: it runs per message, not per point.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

MAX_INTERVAL_NS = (2**31 - 1) * 1_000_000_000 + 999_999_999
Event = tuple[int, Any]  # (stamp_ns, payload)


class ApproximateTimeSynchronizer:
    """Incremental ApproximateTime synchronizer over ``n_topics`` topics.

    Args:
        n_topics: number of synchronized topics (≥ 2).
        queue_size: per-topic queue size (deque + past), ≥ 1.
        age_penalty: ``age_penalty`` (default 0.1 as in the C++ code), ≥ 0.
        max_interval_duration_ns: sets wider than this are never candidates.
        inter_message_lower_bounds_ns: per topic lower bound on the stamp spacing (ns), or None.
    """

    def __init__(
        self,
        n_topics: int,
        queue_size: int,
        age_penalty: float = 0.1,
        max_interval_duration_ns: int = MAX_INTERVAL_NS,
        inter_message_lower_bounds_ns: Sequence[int] | None = None,
    ) -> None:
        if n_topics < 2:
            raise ValueError(f"n_topics must be >= 2, got {n_topics}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if age_penalty < 0 or max_interval_duration_ns < 0:
            raise ValueError("age_penalty and max_interval_duration_ns must be >= 0")
        self.n = n_topics
        self.queue_size = queue_size
        self._factor = Fraction(1.0 + float(age_penalty))
        self.max_interval_ns = int(max_interval_duration_ns)
        given = inter_message_lower_bounds_ns
        bounds = [0] * n_topics if given is None else [int(b) for b in given]
        if len(bounds) != n_topics or min(bounds) < 0:
            raise ValueError("inter_message_lower_bounds_ns needs one value >= 0 per topic")
        self.lower_bounds = bounds
        self.deques: list[deque[Event]] = [deque() for _ in range(n_topics)]
        self.past: list[list[Event]] = [[] for _ in range(n_topics)]
        self.num_non_empty = 0
        self.pivot: int | None = None
        self.pivot_time = 0
        self.candidate: tuple[Event, ...] | None = None
        self.candidate_start = 0
        self.candidate_end = 0
        self.has_dropped = [False] * n_topics
        self.bound_warned = [False] * n_topics  #: a topic broke its lower bound or arrived out of order
        self._out: list[tuple[Event, ...]] = []

    # -- public ------------------------------------------------------------------------------
    def add(self, topic: int, stamp_ns: int, payload: Any = None) -> list[tuple[Event, ...]]:
        """Add one message; return the sets published by this call, each a tuple of
        ``(stamp_ns, payload)`` per topic (topic order)."""
        i = int(topic)
        if not 0 <= i < self.n:
            raise ValueError(f"topic index {i} out of range [0, {self.n})")
        self._out = []
        dq = self.deques[i]
        dq.append((int(stamp_ns), payload))
        if len(dq) == 1:
            self.num_non_empty += 1
            if self.num_non_empty == self.n:
                self._process()
        else:
            self._check_bound(i)
        if len(dq) + len(self.past[i]) > self.queue_size:
            self.num_non_empty = 0
            self._recover_all()
            dq.popleft()
            self.has_dropped[i] = True
            if self.pivot is not None:
                self.candidate = None
                self.pivot = None
                self._process()
        return self._out

    # -- helpers (names follow the C++) --------------------------------------------------------
    def _scale(self, d: int) -> int:
        return int(Fraction(d) * self._factor)  # int() truncates toward zero, like the C++ cast

    def _check_bound(self, i: int) -> None:
        if self.bound_warned[i]:
            return
        dq = self.deques[i]
        t = dq[-1][0]
        if len(dq) == 1:
            if not self.past[i]:
                return
            prev = self.past[i][-1][0]
        else:
            prev = dq[-2][0]
        if t < prev or t - prev < self.lower_bounds[i]:
            self.bound_warned[i] = True

    def _delete_front(self, i: int) -> None:
        self.deques[i].popleft()
        if not self.deques[i]:
            self.num_non_empty -= 1

    def _move_front_to_past(self, i: int) -> None:
        self.past[i].append(self.deques[i].popleft())
        if not self.deques[i]:
            self.num_non_empty -= 1

    def _make_candidate(self) -> None:
        self.candidate = tuple(d[0] for d in self.deques)
        for p in self.past:
            p.clear()

    def _recover(self, i: int, count: int | None = None) -> None:
        v, q = self.past[i], self.deques[i]
        k = len(v) if count is None else count
        for _ in range(k):
            q.appendleft(v.pop())
        if q:
            self.num_non_empty += 1

    def _recover_all(self, counts: Sequence[int] | None = None) -> None:
        for i in range(self.n):
            self._recover(i, None if counts is None else counts[i])

    def _publish(self) -> None:
        assert self.candidate is not None
        self._out.append(self.candidate)
        self.candidate = None
        self.pivot = None
        self.num_non_empty = 0
        for i in range(self.n):
            v, q = self.past[i], self.deques[i]
            while v:
                q.appendleft(v.pop())
            q.popleft()
            if q:
                self.num_non_empty += 1

    def _boundary(self, times: Sequence[int], end: bool) -> tuple[int, int]:
        index, time = 0, times[0]
        for i in range(1, self.n):
            if (times[i] < time) ^ end:
                index, time = i, times[i]
        return index, time

    def _virtual_times(self) -> list[int]:
        out = []
        for i in range(self.n):
            q = self.deques[i]
            if not q:
                lb = self.past[i][-1][0] + self.lower_bounds[i]
                out.append(lb if lb > self.pivot_time else self.pivot_time)
            else:
                out.append(q[0][0])
        return out

    def _process(self) -> None:
        while self.num_non_empty == self.n:
            fronts = [d[0][0] for d in self.deques]
            end_index, end_time = self._boundary(fronts, True)
            start_index, start_time = self._boundary(fronts, False)
            for i in range(self.n):
                if i != end_index:
                    self.has_dropped[i] = False
            if self.pivot is None:
                if end_time - start_time > self.max_interval_ns or self.has_dropped[end_index]:
                    self._delete_front(start_index)
                    continue
                self._make_candidate()
                self.candidate_start, self.candidate_end = start_time, end_time
                self.pivot, self.pivot_time = end_index, end_time
                self._move_front_to_past(start_index)
            else:
                if self._scale(end_time - self.candidate_end) >= start_time - self.candidate_start:
                    self._move_front_to_past(start_index)
                else:
                    self._make_candidate()
                    self.candidate_start, self.candidate_end = start_time, end_time
                    self._move_front_to_past(start_index)
            age_check = self._scale(end_time - self.candidate_end)
            # C++: exhausted candidates for this pivot, or the candidate is provably optimal
            if start_index == self.pivot or age_check >= self.pivot_time - self.candidate_start:
                self._publish()
            elif self.num_non_empty < self.n:
                moves = [0] * self.n
                while True:
                    vt = self._virtual_times()
                    v_end_index, v_end_time = self._boundary(vt, True)
                    v_start_index, v_start_time = self._boundary(vt, False)
                    del v_end_index
                    lhs = self._scale(v_end_time - self.candidate_end)
                    if lhs >= self.pivot_time - self.candidate_start:
                        self._publish()
                        break
                    if lhs < v_start_time - self.candidate_start:
                        self.num_non_empty = 0
                        self._recover_all(moves)
                        break
                    self._move_front_to_past(v_start_index)
                    moves[v_start_index] += 1


def approximate_time_sets(
    topic_index: ArrayLike,
    stamp_ns: ArrayLike,
    n_topics: int,
    queue_size: int,
    age_penalty: float = 0.1,
    max_interval_duration_ns: int = MAX_INTERVAL_NS,
    inter_message_lower_bounds_ns: Sequence[int] | None = None,
) -> NDArray[np.int64]:
    """Run :class:`ApproximateTimeSynchronizer` over whole arrays in arrival order.

    Args:
        topic_index: (M,) int topic of each message, in arrival order.
        stamp_ns: (M,) int64 stamps (ns).
        n_topics, queue_size, age_penalty, max_interval_duration_ns, inter_message_lower_bounds_ns:
            as for the class.

    Returns:
        (S, n_topics) int64: per published set (in publication order), the position in the input
        arrays of each topic's message.
    """
    tp = np.asarray(topic_index, dtype=np.int64).reshape(-1)
    st = np.asarray(stamp_ns, dtype=np.int64).reshape(-1)
    if tp.shape != st.shape:
        raise ValueError(f"topic_index {tp.shape} and stamp_ns {st.shape} differ in shape")
    sync = ApproximateTimeSynchronizer(
        n_topics, queue_size, age_penalty, max_interval_duration_ns, inter_message_lower_bounds_ns
    )
    rows: list[list[int]] = []
    for k in range(tp.shape[0]):
        for s in sync.add(int(tp[k]), int(st[k]), k):
            rows.append([e[1] for e in s])
    return np.asarray(rows, dtype=np.int64).reshape(-1, n_topics)
