"""The one stamp filter (fusion.sync.stamps): batch and online forms, and its users in the pipeline."""

from __future__ import annotations

from random import Random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.pipeline.plan import _sort_unique
from fusion.pipeline.report import ReportBuilder
from fusion.pipeline.streams import MessageTable
from fusion.sync.stamps import (
    DUPLICATE,
    KEPT,
    REASON_DUPLICATE,
    REASON_ZERO_STAMP,
    ZERO,
    StampFilter,
    filter_stamps,
)

# Few distinct values so that zeros and duplicates are frequent; large ones for out-of-order spread.
STAMP = st.one_of(st.just(0), st.integers(1, 12), st.integers(-(2**62), 2**62))
STREAM = st.lists(STAMP, max_size=80)


def spec(stamps: list[int]) -> list[str | None]:
    """The rule written plainly, independently of both implementations."""
    out: list[str | None] = []
    for i, s in enumerate(stamps):
        if s == 0:
            out.append(REASON_ZERO_STAMP)
        elif s in stamps[:i]:
            out.append(REASON_DUPLICATE)
        else:
            out.append(None)
    return out


def online(stamps: list[int], indices: list[int] | None = None) -> list[str | None]:
    f = StampFilter()
    return [f.offer(i, s) for i, s in zip(indices if indices is not None else range(len(stamps)), stamps)]


def test_example() -> None:
    stamps = [5, 0, 3, 5, 0, 3, 7, 1, 5]
    v = filter_stamps(stamps)
    assert v.code.tolist() == [KEPT, ZERO, KEPT, DUPLICATE, ZERO, DUPLICATE, KEPT, KEPT, DUPLICATE]
    assert v.first.tolist() == [0, -1, 2, 0, -1, 2, 6, 7, 0]
    assert v.kept_in_time_order().tolist() == [7, 2, 0, 6]  # stamps 1, 3, 5, 7
    assert v.rejected_in_time_order().tolist() == [1, 4, 5, 3, 8]  # zeros, then 3, 5, 5 (record order)
    assert online(stamps) == [v.reason(i) for i in range(len(stamps))]


@settings(max_examples=400, deadline=None)
@given(STREAM)
def test_batch_and_online_agree_with_the_rule(stamps: list[int]) -> None:
    v = filter_stamps(np.array(stamps, dtype=np.int64))
    batch = [v.reason(i) for i in range(len(stamps))]
    assert batch == spec(stamps)
    assert online(stamps) == batch
    assert v.usable.tolist() == [r is None for r in batch]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(STAMP, st.integers(1, 5)), max_size=60))
def test_online_with_gaps_in_the_indices(pairs: list[tuple[int, int]]) -> None:
    """Messages never yielded (unreadable) leave gaps: the verdict is that of the offered stream."""
    stamps = [s for s, _ in pairs]
    indices = np.cumsum([g for _, g in pairs]).tolist()
    assert online(stamps, indices) == spec(stamps)


@settings(max_examples=300, deadline=None)
@given(STREAM)
def test_first_of_equal_stamps_is_kept(stamps: list[int]) -> None:
    v = filter_stamps(stamps)
    for value in set(stamps) - {0}:
        idx = [i for i, s in enumerate(stamps) if s == value]
        assert v.code[idx[0]] == KEPT
        assert all(v.code[i] == DUPLICATE for i in idx[1:])
        assert v.first[idx].tolist() == [idx[0]] * len(idx)


@settings(max_examples=300, deadline=None)
@given(STREAM)
def test_every_rejected_message_has_exactly_one_reason(stamps: list[int]) -> None:
    v = filter_stamps(stamps)
    zero = set(np.flatnonzero(v.code == ZERO).tolist())
    dup = set(np.flatnonzero(v.code == DUPLICATE).tolist())
    assert not zero & dup
    assert zero | dup == set(np.flatnonzero(~v.usable).tolist())
    assert zero == {i for i, s in enumerate(stamps) if s == 0}
    assert sorted(v.rejected_in_time_order().tolist()) == sorted(zero | dup)


@settings(max_examples=300, deadline=None)
@given(STREAM)
def test_idempotent_and_time_sorted(stamps: list[int]) -> None:
    """The kept stamps pass the filter again unchanged; they are the distinct non-zero stamps."""
    v = filter_stamps(stamps)
    kept = v.kept_in_time_order()
    ks = np.asarray(stamps, dtype=np.int64)[kept]
    assert np.all(np.diff(ks) > 0)
    assert set(ks.tolist()) == set(stamps) - {0}
    again = filter_stamps(ks)
    assert again.usable.all() and again.kept_in_time_order().tolist() == list(range(len(ks)))
    assert np.array_equal(filter_stamps(np.asarray(stamps)[v.usable]).usable, np.ones(int(v.usable.sum()), bool))


@settings(max_examples=200, deadline=None)
@given(STREAM, st.randoms(use_true_random=False))
def test_kept_values_do_not_depend_on_arrival_order(stamps: list[int], rnd: Random) -> None:
    shuffled = list(stamps)
    rnd.shuffle(shuffled)
    a, b = filter_stamps(stamps), filter_stamps(shuffled)
    arr, sh = np.asarray(stamps, np.int64), np.asarray(shuffled, np.int64)
    assert arr[a.kept_in_time_order()].tolist() == sh[b.kept_in_time_order()].tolist()


def test_online_refuses_indices_out_of_record_order() -> None:
    f = StampFilter()
    assert f.offer(3, 10) is None and f.first(10) == 3 and f.first(11) == -1
    with pytest.raises(ValueError, match="record order"):
        f.offer(3, 11)
    with pytest.raises(ValueError, match="record order"):
        f.offer(1, 12)


def test_empty_stream() -> None:
    v = filter_stamps(np.zeros(0, np.int64))
    assert v.code.size == v.first.size == v.kept_in_time_order().size == 0


@settings(max_examples=150, deadline=None)
@given(STREAM)
def test_message_table_marks_what_the_online_filter_rejects(stamps: list[int]) -> None:
    """The plan's mask (batch) equals pass 1's camera rule (online): EarlyStreams.settle relies on it."""
    m = len(stamps)
    tab = MessageTable("cam", "/cam", "camera", np.asarray(stamps, np.int64), np.arange(m, dtype=np.int64) + 100)
    tab.mark_unusable()
    reasons = online(stamps)
    assert tab.usable.tolist() == [r is None for r in reasons]
    assert {i: r for i, (r, _) in tab.reason.items()} == {i: r for i, r in enumerate(reasons) if r is not None}
    for i, (r, detail) in tab.reason.items():
        if r == REASON_DUPLICATE:
            assert detail == f"same header stamp as message {stamps.index(stamps[i])}"
        else:
            assert detail == "header.stamp is 0; the message has no usable hardware time"


def test_message_table_by_record_time() -> None:
    """A stream aligned by record time is filtered on its record times, not its (zero) stamps."""
    tab = MessageTable("cam", "/cam", "camera", np.zeros(4, np.int64), np.array([10, 20, 20, 0], np.int64))
    tab.stamp_source = "record"
    tab.mark_unusable()
    assert tab.usable.tolist() == [True, True, False, False]
    assert tab.reason == {
        3: (REASON_ZERO_STAMP, "header.stamp is 0; the message has no usable hardware time"),
        2: (REASON_DUPLICATE, "same header stamp as message 1"),
    }


def test_sort_unique_reports_in_time_order_and_keeps_sorted() -> None:
    """Ego/IMU samples: kept positions time-sorted; skips reported by stamp with the sample's own index."""
    stamps = np.array([30, 10, 0, 30, 20, 10], np.int64)
    indices = np.array([100, 101, 102, 103, 104, 105], np.int64)
    record = indices * 1000
    report = ReportBuilder()
    report.topic("/imu", "sensor_msgs/msg/Imu", "imu", "imu", 6)
    keep = _sort_unique(stamps, indices, "/imu", record, report, count_topic=True)
    assert keep.tolist() == [1, 4, 0]
    assert [(s["index"], s["reason"], s["detail"]) for s in report.skipped] == [
        (102, REASON_ZERO_STAMP, "header.stamp is 0"),
        (105, REASON_DUPLICATE, "same stamp as an earlier sample"),
        (103, REASON_DUPLICATE, "same stamp as an earlier sample"),
    ]
    assert report.topics["/imu"].stored == 3 and report.unaccounted() == {}
