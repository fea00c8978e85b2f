"""The error hierarchy: one root, one ``reason`` on every error, MessageTypeError is a DecodeError."""

from __future__ import annotations

import inspect
import pickle

import pytest

import fusion.errors as errors
from fusion.errors import BagError, ConfigError, DecodeError, FusionError, MessageTypeError, UnsupportedEncodingError

ALL = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, FusionError)]


def test_message_type_error_is_a_decode_error_and_a_bag_error() -> None:
    exc = MessageTypeError("a.db3: topic /x has type p/msg/T which cannot be decoded: no definition")
    assert isinstance(exc, DecodeError) and isinstance(exc, BagError) and isinstance(exc, FusionError)
    # The pipeline reported str(exc) for it before it was a DecodeError: reason must be that text.
    assert exc.reason == str(exc) == "a.db3: topic /x has type p/msg/T which cannot be decoded: no definition"
    with pytest.raises(DecodeError):
        raise exc


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_error_has_the_bare_reason(cls: type[FusionError]) -> None:
    assert len(ALL) == 22  # every class of fusion.errors (a new one must be checked here too)
    exc = cls("what went wrong; what to do")
    assert exc.reason == "what went wrong; what to do"
    assert str(exc) == "what went wrong; what to do"


@pytest.mark.parametrize("cls", [DecodeError, UnsupportedEncodingError, MessageTypeError])
def test_decode_error_keeps_location_out_of_reason(cls: type[DecodeError]) -> None:
    exc = cls("short buffer", topic="/lidar", index=7)
    assert str(exc) == "/lidar[7]: short buffer"  # message format unchanged
    assert (exc.reason, exc.topic, exc.index) == ("short buffer", "/lidar", 7)
    bare = cls("short buffer")
    assert str(bare) == bare.reason == "short buffer" and (bare.topic, bare.index) == ("", -1)


def test_reason_survives_pickling() -> None:
    """Errors cross process boundaries (worker pools): reason, topic and index must arrive intact."""
    exc = pickle.loads(pickle.dumps(DecodeError("bad", topic="/t", index=3)))
    assert (str(exc), exc.reason, exc.topic, exc.index) == ("/t[3]: bad", "bad", "/t", 3)
    cfg = pickle.loads(pickle.dumps(ConfigError("frames.reference: unknown sensor")))
    assert cfg.reason == "frames.reference: unknown sensor"
