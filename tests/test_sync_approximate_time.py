"""ApproximateTime policy = ros2 message_filters test_approximate_time_policy.cpp scenarios."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.sync.approximate_time import ApproximateTimeSynchronizer, approximate_time_sets

S = 1_000_000_000


def run(inputs, n_topics, queue_size, **kw):
    """Feed (stamp s, topic) in arrival order; return published stamp tuples (s) and per-add counts."""
    sync = ApproximateTimeSynchronizer(n_topics, queue_size, **kw)
    out = []
    per_add = []
    for k, (t, topic) in enumerate(inputs):
        sets = sync.add(topic, int(t * S), k)
        per_add.append(len(sets))
        out += [tuple(e[0] / S for e in s) for s in sets]
    return out, per_add


PERFECT = [(0, 0), (1, 1), (3, 0), (4, 1), (6, 0), (7, 1)]
DROPPED = [(0, 0), (1, 1), (3, 1), (4, 0), (7, 1), (8, 0), (10, 0), (11, 1), (13, 0), (14, 1)]
CASES = [
    ("ExactMatch", 2, 10, [(0, 0), (0, 1), (3, 0), (3, 1), (6, 0), (6, 1)], {}, [(0, 0), (3, 3), (6, 6)]),
    ("PerfectMatch", 2, 10, PERFECT, {}, [(0, 1), (3, 4)]),
    ("ImperfectMatch", 2, 10, [(0, 0), (1, 1), (2, 0), (3, 0), (5, 1), (6, 0), (7, 1)], {}, [(0, 1), (6, 5)]),
    ("Acceleration", 2, 10, [(0, 0), (7, 1), (12, 0), (15, 1), (17, 0), (18, 1)], {}, [(12, 7), (17, 18)]),
    ("DroppedMessages q1", 2, 1, DROPPED, {}, [(4, 3), (10, 11)]),
    ("DroppedMessages q2", 2, 2, DROPPED, {}, [(0, 1), (4, 3), (8, 7), (10, 11)]),
    ("DoublePublish", 2, 10, [(0, 0), (1, 1), (3, 1), (3, 0)], {}, [(0, 1), (3, 3)]),
    (
        "FourTopics", 4, 10,
        [(0, 0), (1, 1), (2, 2), (3, 3), (5, 0), (5, 3), (6, 1), (6, 2), (8, 0), (9, 1), (10, 2), (11, 3),
         (10, 0), (13, 0), (14, 1)],
        {}, [(0, 1, 2, 3), (5, 6, 6, 5), (10, 9, 10, 11)],
    ),
    ("EarlyPublish", 4, 10, [(0, 0), (1, 1), (2, 2), (3, 3), (7, 0)], {}, [(0, 1, 2, 3)]),
    ("RateBound 1.5s", 2, 10, PERFECT, {"inter_message_lower_bounds_ns": [int(1.5 * S), 0]}, [(0, 1), (3, 4)]),
    ("RateBound 2s", 2, 10, PERFECT, {"inter_message_lower_bounds_ns": [2 * S, 0]}, [(0, 1), (3, 4), (6, 7)]),
    ("Acceleration penalty 0.5", 2, 10, [(0, 0), (7, 1), (12, 0), (15, 1), (17, 0), (18, 1)],
     {"age_penalty": 0.5}, [(0, 7), (12, 15)]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "n", "q", "inputs", "kw", "expected"), CASES, ids=[c[0] for c in CASES])
def test_message_filters_scenarios(name, n, q, inputs, kw, expected):
    out, _ = run(inputs, n, q, **kw)
    assert out == [tuple(float(x) for x in e) for e in expected]


def test_double_publish_happens_on_the_last_add():
    _, per_add = run([(0, 0), (1, 1), (3, 1), (3, 0)], 2, 10)
    assert per_add == [0, 0, 0, 2]


def test_rate_bound_2s_publishes_last_set_early():
    _, per_add = run(PERFECT, 2, 10, inter_message_lower_bounds_ns=[2 * S, 0])
    assert per_add[-1] == 1  # (6,7) published on the add of 7, without waiting for a later message
    _, per_add_nb = run(PERFECT, 2, 10)
    assert per_add_nb[-1] == 0


def test_sets_never_share_a_message_and_whole_array_api_matches():
    rng = np.random.default_rng(3)
    n = 3
    stamps = np.concatenate([np.arange(200) * 100_000_000 + rng.integers(0, 30_000_000, 200) for _ in range(n)])
    topics = np.repeat(np.arange(n), 200)
    order = np.argsort(stamps + rng.integers(0, 5_000_000, stamps.size), kind="stable")
    sets = approximate_time_sets(topics[order], stamps[order], n, 5)
    assert sets.shape[1] == n and sets.shape[0] >= 190
    assert np.unique(sets).size == sets.size
    for t in range(n):
        assert np.all(topics[order][sets[:, t]] == t)
    # every set spans less than one period
    span = stamps[order][sets].max(1) - stamps[order][sets].min(1)
    assert span.max() < 100_000_000


def test_max_interval_duration_rejects_wide_sets():
    inputs = [(0, 0), (5, 1), (6, 0), (6.5, 1), (20, 0), (21, 1)]
    # hand-traced through approximate_time.hpp: without a limit (0,5) becomes the first candidate and
    # is beaten by (6,5); with a 2 s limit (0,5) is never a candidate, 0 is deleted, and (6,6.5) wins
    assert run(inputs, 2, 10)[0] == [(6.0, 5.0), (20.0, 21.0)]
    assert run(inputs, 2, 10, max_interval_duration_ns=2 * S)[0] == [(6.0, 6.5)]
