"""One packet topic decoded message by message into LiDAR sweeps (:class:`PointCloud` records).

Decoding is stateful (a sweep spans messages): :class:`PacketStreams` keeps one
:class:`~fusion.lidar_packets.sweep.SweepAssembler` per topic and restarts it whenever a message
arrives out of order (a new pass over the log starts again at index 0, so every pass gives the
same records). The record of message *i* holds the sweep(s) that message completed, stamped with
their first point's time; a message that completes none raises :class:`NoSweepYetError` (a
:class:`~fusion.errors.CarriedOverError`: its packets wait for the sweep a later message completes,
nothing is lost, the conversion counts it as stored, ``carried_over``). The last message of the topic
(its index ``last_index[topic]``, set by the bag source from the topic's count) also flushes the
rotation the log ends in, flagged ``partial`` like the first: it is that message's record when the
message completed no rotation of its own, else a *trailing* record of its own (index = the topic's
message count, :meth:`PacketStreams.take_trailing`) that the conversion stores as one more row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from fusion.errors import CarriedOverError, ConfigError, DecodeError
from fusion.lidar_packets import decoder_for, hesai_models, velodyne
from fusion.lidar_packets.decoded import DecodedPoints, PacketDecoder
from fusion.lidar_packets.options import VENDOR_OF_TYPE, PacketOptions
from fusion.lidar_packets.payload import PacketBatch, PacketPayloadError, split_packets
from fusion.lidar_packets.sweep import Sweep, SweepAssembler
from fusion.readers.records import MessageMeta, PointCloud
from fusion.readers.source import RawMessage

TIME_CONVENTION = "packets"


class NoSweepYetError(CarriedOverError):
    """The message completed no sweep: its packets wait for the next message."""


def detect_model(vendor: str, batch: PacketBatch) -> str | None:
    """The model the packets identify (Velodyne factory byte, Hesai header), None when unknown."""
    for i in range(min(batch.data.shape[0], 4)):
        if vendor == "velodyne":
            name = velodyne.FACTORY_IDS.get(int(batch.data[i, 1205]))
        else:
            m = hesai_models.sniff_model(batch.data[i], int(batch.size[i]))
            name = m.name if m else None
        if name:
            return name
    return None


def make_decoder(msgtype: str, opts: PacketOptions, batch: PacketBatch, topic: str) -> PacketDecoder:
    """The vendor decoder for a topic (model from the options, else from its packets).

    Raises:
        ConfigError: Unknown model, no calibration where one is needed (names the topic and key).
    """
    vendor = opts.vendor or VENDOR_OF_TYPE[msgtype]
    model = opts.model or detect_model(vendor, batch)
    if model is None:
        raise ConfigError(f"topic {topic}: cannot tell the {vendor} model from its packets; "
                          "set sensors.<name>.packets.model in the sensor map")
    kw: dict[str, Any] = {"min_range_m": opts.min_range_m, "max_range_m": opts.max_range_m,
                          "cut_angle_deg": opts.cut_angle_deg}
    if opts.return_mode != "auto":
        kw["return_mode"] = opts.return_mode
    if opts.time_source is not None:
        kw["time_source"] = opts.time_source
    if vendor == "hesai":
        kw["dual_return_distance_threshold_m"] = opts.dual_return_distance_threshold_m
    try:
        return cast(PacketDecoder, decoder_for(vendor, model, opts.calibration, **kw))
    except ConfigError as exc:
        raise ConfigError(f"topic {topic}: {exc.reason}") from None


@dataclass
class _TopicState:
    assembler: SweepAssembler
    next_index: int
    sweeps: int = 0
    partial: int = 0
    carried: int = 0
    pending: list[int] = field(default_factory=list)  # carried messages whose packets no record holds yet
    last_partial: dict[str, Any] | None = None  # what became of the rotation the log ends in
    counters: dict[str, int] = field(default_factory=dict)


class PacketStreams:
    """The packet topics of one log, each with its sweep assembler."""

    def __init__(self) -> None:
        self._topics: dict[str, _TopicState] = {}
        #: topic -> index of its last message (the source sets it): that message flushes the last sweep
        self.last_index: dict[str, int] = {}
        self._trailing: dict[str, PointCloud] = {}

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per packet topic: vendor, model, sweeps returned and the decoder's counters (last pass)."""
        out: dict[str, dict[str, Any]] = {}
        for topic, st in self._topics.items():
            dec = st.assembler.decoder
            out[topic] = {"vendor": dec.vendor, "model": dec.model_name, "sweeps": st.sweeps,
                          "partial_sweeps": st.partial, "carried_over_messages": st.carried,
                          **({"last_partial_sweep": st.last_partial} if st.last_partial else {}),
                          "points_before_first_cut_dropped": st.assembler.dropped_points, **dec.counts()}
        return out

    def unfinished(self, topic: str) -> list[int]:
        """Carried-over messages of ``topic`` whose packets no record holds: the pass ended before a
        later message completed their rotation (a bag cut short, an undecodable last message)."""
        st = self._topics.get(topic)
        return list(st.pending) if st is not None else []

    def take_trailing(self, topic: str) -> PointCloud | None:
        """The trailing record of ``topic`` (the rotation the log ends in, when its last message also
        completed one), once, after that last message was decoded; else None."""
        return self._trailing.pop(topic, None)

    def _last_sweep(self, raw: RawMessage, st: _TopicState, completed: list[Sweep], frame_id: str) -> list[Sweep]:
        """At the topic's last message: the rotation the log ends in (see module docstring)."""
        rest = [s for s in st.assembler.flush() if len(s.points)]
        if not rest:
            return completed
        n = sum(len(s.points) for s in rest)
        t = np.concatenate([s.points.time_ns for s in rest])
        st.last_partial = {"points": n, "span_ms": round(float(t.max() - t.min()) / 1e6, 3),
                           "row": "trailing" if completed else "last message"}
        if not completed:
            return rest
        st.partial += len(rest)
        st.sweeps += len(rest)
        meta = MessageMeta(raw.topic, raw.index + 1, raw.record_time_ns, int(t.min()), frame_id)
        self._trailing[raw.topic] = self._record(st, rest, meta)
        return completed

    def _record(self, st: _TopicState, sweeps: list[Sweep], meta: MessageMeta) -> PointCloud:
        pts = DecodedPoints.concat([s.points for s in sweeps])  # packet (firing) order
        ring = st.assembler.decoder.ring(pts.channel).astype(np.uint16, copy=False)
        fields: dict[str, np.ndarray] = {"intensity": pts.intensity, "ring": ring, "channel": pts.channel,
                                         "return_index": pts.return_index}
        return PointCloud(meta, pts.xyz, fields, pts.time_ns, TIME_CONVENTION, 1, len(pts),
                          partial=any(s.partial for s in sweeps))

    def decoder(self, topic: str) -> PacketDecoder | None:
        st = self._topics.get(topic)
        return st.assembler.decoder if st else None

    def decode(self, raw: RawMessage, opts: PacketOptions | None,
               layout: tuple[int | None, bool] | None = None) -> PointCloud:
        """The sweep(s) message ``raw`` completes, as one LiDAR record.

        Raises:
            NoSweepYetError: The message completed no sweep (not an error: reported as carried over).
            DecodeError: The message bytes do not hold packets.
            ConfigError: The decoder cannot be set up (model/calibration).
        """
        try:
            batch = split_packets(raw.data, raw.msgtype, ros1=raw.ros1, layout=layout)
        except PacketPayloadError as exc:
            raise DecodeError(exc.reason, topic=raw.topic, index=raw.index) from None
        st = self._topics.get(raw.topic)
        last = raw.index == self.last_index.get(raw.topic, -1)
        if batch.data.shape[0] == 0 and (st is None or not last):
            raise NoSweepYetError("the message holds no packets", topic=raw.topic, index=raw.index)
        if st is None or raw.index == 0 or raw.index < st.next_index:  # a new pass over the log
            dec = make_decoder(raw.msgtype, opts or PacketOptions(), batch, raw.topic)
            st = _TopicState(SweepAssembler(dec), raw.index)  # (a new pass: counts start again)
            self._topics[raw.topic] = st
        st.next_index = raw.index + 1
        sweeps = st.assembler.feed(batch) if batch.data.shape[0] else []
        self._trailing.pop(raw.topic, None)
        if last:  # the log ends mid-rotation
            sweeps = self._last_sweep(raw, st, sweeps, batch.frame_id)
        counts = st.assembler.decoder.counts()
        if counts["packets_without_wanted_return"] and not counts["packets"]:
            raise ConfigError(f"topic {raw.topic}: packets.return_mode {opts.return_mode if opts else 'auto'!r}: "
                              "no packet holds that return (`fusion inspect` shows the packets' return mode); "
                              "use auto or a return the mode holds")
        if not sweeps:
            st.carried += 1
            st.pending.append(raw.index)
            raise NoSweepYetError(f"no full rotation ended in this message (its {batch.data.shape[0]} packets are "
                                  "kept for the sweep a later message completes)", topic=raw.topic, index=raw.index)
        st.pending.clear()  # their packets are in this record (or, at the last message, the trailing one)
        st.sweeps += len(sweeps)
        st.partial += sum(s.partial for s in sweeps)
        stamp = min(s.stamp_ns for s in sweeps) if sum(len(s.points) for s in sweeps) else batch.header_stamp_ns
        return self._record(st, sweeps, MessageMeta(raw.topic, raw.index, raw.record_time_ns, stamp, batch.frame_id))
