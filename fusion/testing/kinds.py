"""The conformance suite every registered stream kind passes: decode → convert → validate → read back.

Like zarr-python's ``zarr.testing.store``: a test module subclasses :class:`StreamKindConformance`
for one kind, says which messages make a log of it (:meth:`~StreamKindConformance.messages`) and
how a stored message compares with the one written (:meth:`~StreamKindConformance.check_message`);
the base class writes a real MCAP bag with rosbags' writer, converts it with ``fusion convert``'s
defaults (frames at a fixed rate, so that any kind can be converted alone), and runs the same
tests for every kind:

- the kind is registered under its name and provides every member of the
  :class:`~fusion.kinds.base.StreamKind` protocol;
- the bag's topics of the kind are detected as it (``fusion inspect``'s view);
- the conversion stores every message of it and ``fusion validate`` finds nothing wrong;
- each stored message reads back equal to the one written (``ds.stream(name)[i]``);
- a frame-matched kind shows its messages in the frames (``frame.views(kind)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.store import Typestore

NS = 1_000_000_000
T0 = 1_700_000_000 * NS

#: Every member a stream kind provides (kept in step with ``fusion.kinds.base.StreamKind``).
PROTOCOL_MEMBERS = (
    "name", "role", "msgtypes", "records", "frame_attr", "reference_priority", "spooled", "has_sweeps", "early",
    "message_columns", "message_arrays", "is_sensor", "wants_intrinsics", "provides_intrinsics", "ego_priority",
    "claims", "decode", "scanner", "open_stream", "open_early", "early_payload", "write", "write_table", "view",
    "frame_view", "validate",
)  # fmt: skip


def typestore() -> Typestore:
    """ROS 2 types plus the radar_msgs fusion bundles, to build messages with."""
    from fusion.readers.typesys import BUNDLED_MSG_DIR, types_from_msg_dirs

    store = get_typestore(Stores.LATEST)
    extra = types_from_msg_dirs([BUNDLED_MSG_DIR / "radar_msgs", BUNDLED_MSG_DIR / "unique_identifier_msgs"])
    store.register({k: v for k, v in extra.items() if k not in store.fielddefs})
    return store


def header(store: Typestore, stamp_ns: int, frame_id: str) -> Any:
    """A ``std_msgs/Header``."""
    t = store.types["builtin_interfaces/msg/Time"](sec=stamp_ns // NS, nanosec=stamp_ns % NS)
    return store.types["std_msgs/msg/Header"](stamp=t, frame_id=frame_id)


def write_mcap(path: Path, store: Typestore, messages: list[tuple[str, str, int, Any]]) -> Path:
    """``(topic, msgtype, record time ns, message)`` into a ROS 2 MCAP bag at ``path``."""
    conns: dict[tuple[str, str], Any] = {}
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        for topic, msgtype, t, msg in messages:
            if (topic, msgtype) not in conns:
                conns[topic, msgtype] = w.add_connection(topic, msgtype, typestore=store)
            w.write(conns[topic, msgtype], t, store.serialize_cdr(msg, msgtype))
    return path


class StreamKindConformance:
    """Base class of a kind's conformance tests (see module docstring).

    Attributes:
        kind_name: The registered kind under test.
        sensor: The sensor name discovery gives its topic (the cleaned ``frame_id``).
        topic: The topic its messages are written on.
    """

    kind_name: ClassVar[str] = ""
    sensor: ClassVar[str] = ""
    topic: ClassVar[str] = ""

    # ---- what a kind's test module provides ------------------------------------------------
    def messages(self, store: Typestore) -> list[tuple[str, str, int, Any]]:
        """The log: ``(topic, msgtype, record time ns, message)`` in record order (other topics allowed)."""
        raise NotImplementedError

    def check_message(self, stored: Any, written: Any) -> None:
        """Assert that stored message view ``stored`` (``ds.stream(sensor)[i]``, or the rows of a
        continuous kind) equals ``written``."""
        raise NotImplementedError

    # ---- the suite -------------------------------------------------------------------------
    @pytest.fixture(scope="class")
    @classmethod
    def converted(cls, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
        """The kind's log written, converted with defaults (frames at 10 Hz) and opened."""
        import fusion
        from fusion.pipeline.config import load_config
        from fusion.pipeline.convert import convert
        from fusion.store import validate_store

        self = cls()
        tmp = tmp_path_factory.mktemp(f"conformance_{self.kind_name}")
        msgs = self.messages(typestore())
        bag = write_mcap(tmp / "log", typestore(), msgs)
        cfg_path = tmp / "fusion.yaml"
        cfg_path.write_text("frames:\n  reference: rate:10\n")
        result = convert([bag], str(tmp / "out.zarr"), load_config(cfg_path))
        return {"bag": bag, "messages": msgs, "result": result, "validation": validate_store(tmp / "out.zarr"),
                "ds": fusion.open(str(tmp / "out.zarr"))}

    def written(self, converted: dict[str, Any]) -> list[Any]:
        """The messages written on the kind's topic, in record order."""
        return [m for topic, _, _, m in converted["messages"] if topic == self.topic]

    def test_registered_with_every_member(self) -> None:
        from fusion import kinds

        kind = kinds.get(self.kind_name)
        assert kind.name == self.kind_name
        missing = [m for m in PROTOCOL_MEMBERS if not hasattr(kind, m)]
        assert not missing, f"stream kind {self.kind_name!r} lacks {missing}"
        assert kind.msgtypes and all(isinstance(t, str) and "/msg/" in t for t in kind.msgtypes)

    def test_topic_detected_as_the_kind(self, converted: dict[str, Any]) -> None:
        from fusion.readers import open_bags

        with open_bags([converted["bag"]]) as src:
            assert src.topics[self.topic].kind == self.kind_name

    def test_every_message_stored_and_store_valid(self, converted: dict[str, Any]) -> None:
        assert converted["validation"].ok, converted["validation"].problems
        n = len(self.written(converted))
        assert converted["result"].counts[self.sensor] == n
        assert converted["ds"].sensors[self.sensor].count == n
        assert converted["ds"].sensors[self.sensor].kind == self.kind_name

    def test_read_back_equal(self, converted: dict[str, Any]) -> None:
        from fusion import kinds

        ds = converted["ds"]
        stream = ds.stream(self.sensor)
        written = self.written(converted)
        stamps = np.array([_stamp_ns(m) for m in written], dtype=np.int64)
        np.testing.assert_array_equal(stream.stamp_ns, stamps)
        if kinds.get(self.kind_name).role is kinds.Role.CONTINUOUS:
            rows = stream.rows()
            for i, msg in enumerate(written):
                self.check_message({k: v[i] for k, v in rows.items()}, msg)
        else:
            for i, msg in enumerate(written):
                self.check_message(stream[i], msg)

    def test_frames_show_matched_messages(self, converted: dict[str, Any]) -> None:
        from fusion import kinds

        kind = kinds.get(self.kind_name)
        ds = converted["ds"]
        if kind.role is kinds.Role.STREAM:  # stored at full rate, never in a frame
            assert all(self.sensor not in frame.valid for frame in ds)
            assert all(frame.views(self.kind_name) == {} for frame in ds)
            return
        if kind.role is not kinds.Role.FRAME:
            pytest.skip(f"{self.kind_name} is not matched to frames")
        assert len(ds) >= 5, f"the log made only {len(ds)} frames"
        shown = 0
        for frame in ds:
            view = frame.views(self.kind_name).get(self.sensor)
            if view is None:
                continue
            shown += 1
            assert view.message_time_ns == int(ds.stream(self.sensor).time_ns[view.message_index])
            if kind.frame_attr is not None:
                assert getattr(frame, kind.frame_attr)[self.sensor].message_index == view.message_index
        assert shown >= len(ds) // 2, f"{shown} of {len(ds)} frames show {self.sensor}"


def _stamp_ns(msg: Any) -> int:
    h = msg.header
    return int(h.stamp.sec) * NS + int(h.stamp.nanosec)
