"""The fusion error hierarchy.

Every error fusion raises on purpose derives from :class:`FusionError`. The CLI
catches it (and :class:`calibration.errors.CalibrationError`, the root of the
standalone calibration package) and prints ``error: <message>`` on one line,
exiting with status 2. Messages say *what* went wrong, *where* (file, topic,
message index, config key) and *what to do*.
"""

from __future__ import annotations


class FusionError(Exception):
    """Root of every error fusion raises deliberately.

    Attributes:
        reason: What went wrong, without a location prefix. For most errors this is the
            whole message (``str(exc)``); :class:`DecodeError` prefixes its message with
            ``topic[index]: `` and keeps the bare reason here.
    """

    reason: str

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.reason = str(self)


class ConfigError(FusionError):
    """A configuration file or option is invalid (names the key)."""


class BagError(FusionError):
    """A bag cannot be opened or read (names the file)."""


class BagNotFoundError(BagError):
    """The bag path does not exist."""


class EmptyBagError(BagError):
    """The bag holds no messages (or none on the selected topics)."""


class UnsupportedBagError(BagError):
    """The file is not a ROS bag fusion can read (e.g. a non-ROS MCAP)."""


class TruncatedBagError(BagError):
    """The bag is damaged; everything before the damage was read."""


class DecodeError(FusionError):
    """One message cannot be decoded (names topic, index and reason).

    Conversion catches this per message: the message is skipped, counted and
    listed in the report.
    """

    def __init__(self, reason: str, *, topic: str = "", index: int = -1) -> None:
        where = f"{topic}[{index}]: " if topic else ""
        super().__init__(f"{where}{reason}")
        self.reason = reason
        self.topic = topic
        self.index = index


class CarriedOverError(DecodeError):
    """The message yields no record of its own: its content goes into a later message's record
    (raw LiDAR packets that complete no rotation). Not a failure: conversion counts the message as
    stored (``carried_over`` in the report), never as skipped."""


class MessageTypeError(DecodeError, BagError):
    """A message type has no definition anywhere (names topic and type).

    Every message of such a topic is undecodable, so this is a :class:`DecodeError` (per
    message, conversion skips and reports it under the same reason); it stays a
    :class:`BagError` for the callers that refuse a bag over it. Raised with the whole
    message as its only argument: ``reason == str(exc)``.
    """


class UnsupportedEncodingError(DecodeError):
    """An image encoding or point field layout fusion does not support."""


class SyncError(FusionError):
    """Synchronization cannot proceed (e.g. no reference stream)."""


from calibration.errors import ExtrapolationError as _CalibrationExtrapolationError  # noqa: E402


class ExtrapolationError(SyncError, _CalibrationExtrapolationError):
    """A continuous stream was asked for a time outside its range (also a calibration ExtrapolationError)."""


class StoreError(FusionError):
    """A Zarr store cannot be written or read."""


class NothingStoredError(FusionError):
    """A selected sensor stored no message (names the sensor and the dominant skip reason)."""


class IncompleteStoreError(StoreError):
    """The store was not finalized (interrupted conversion)."""


class MissingKeyframeError(StoreError):
    """A video frame whose keyframe is not in the stream: it cannot be decoded (its bytes stay readable)."""


class StoreCorruptError(StoreError):
    """A store's data or metadata is damaged: a chunk that fails its checksum or does not decode,
    a missing shard file, metadata that is not valid JSON, arrays that contradict each other
    (names the array, chunk or frame; ``fusion validate`` lists every problem)."""


class FormatVersionError(StoreError):
    """The store's format version is not supported by this fusion."""


class AnnotationError(FusionError):
    """An annotation file is malformed (names the file and JSON path)."""


class ExportError(FusionError):
    """A store (or a selection of it) holds something the export format cannot (names it and what to do)."""


class BenchmarkError(FusionError):
    """A benchmark cannot run."""
