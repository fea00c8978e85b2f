"""Pass 2: stream the selected messages once, decode, compensate, and write.

Each message is decoded exactly once and handed to the store writer, which
buffers whole shards; memory is bounded by those buffers, not by log length.
LiDAR clouds are deskewed to their sweep's reference time, radar Doppler is
ego-compensated, camera bytes pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from calibration import Rig
from fusion.errors import DecodeError, ExtrapolationError, MessageTypeError, TruncatedBagError
from fusion.pipeline.cameras import camera_payload
from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.plan import ConversionPlan
from fusion.pipeline.report import REASON_DECODE, ReportBuilder
from fusion.pipeline.sensors import SelectedSensors
from fusion.pipeline.streams import MessageTable
from fusion.readers.records import CameraImage, PointCloud, RadarDetections
from fusion.readers.source import BagSource
from fusion.sync import compensate_doppler, deskew_points, interpolate_poses, sensor_velocity


@dataclass
class LidarStats:
    """Deskew bookkeeping reported per LiDAR."""

    deskewed: int = 0
    not_deskewed_no_time: int = 0
    not_deskewed_no_ego: int = 0
    nonfinite_points_dropped: int = 0


class StreamPass:
    """Pass 2 of one log: every selected message decoded once and written to the store writer."""

    def __init__(
        self,
        source: BagSource,
        selected: SelectedSensors,
        rig: Rig,
        cfg: ConvertConfig,
        plan: ConversionPlan,
        writer: Any,
        report: ReportBuilder,
        prewritten: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.source = source
        self.selected = selected
        self.rig = rig
        self.cfg = cfg
        self.plan = plan
        self.writer = writer
        self.report = report
        self.streams: dict[str, Any] = {}
        self.rows: dict[str, np.ndarray] = {}  # sensor -> topic index -> stored row (-1: not stored)
        self.next_row: dict[str, int] = {}
        self.lidar_stats: dict[str, LidarStats] = {}
        self.prewritten = dict(prewritten or {})  # camera streams written in pass 1: name -> rows
        ego = plan.ego
        self._ego = (ego.times_ns, ego.translation_m, ego.rotation_xyzw)
        self._max_gap_ns = int(cfg.frames.max_gap_ms * 1e6)

    # -- setup ---------------------------------------------------------------------------
    def open_streams(self) -> None:
        keep_raw = self.cfg.store.keep_raw_points
        self.rows.update(self.prewritten)
        for name, tab in self.pass2_tables().items():
            sel = self.selected.sensors[name]
            n = len(tab.stamp_ns)
            self.rows[name] = np.full(n, -1, dtype=np.int64)
            self.next_row[name] = 0
            attrs = {"msgtype": sel.msgtype, "stamp_source": tab.stamp_source, "time_offset_ns": tab.offset_ns}
            if tab.kind == "lidar":
                pts = int(tab.points.sum()) if tab.points is not None else n * 1024
                attrs.update(
                    deskew=self.cfg.deskew, reference_time=self.cfg.frames.reference_time, keep_raw_points=keep_raw
                )
                self.streams[name] = self.writer.add_lidar(
                    name,
                    topic=tab.topic,
                    frame_id=sel.frame_id,
                    fields=dict(sel.fields),
                    expected_messages=n,
                    expected_points=max(pts, 1),
                    attrs=attrs,
                )
                self.lidar_stats[name] = LidarStats()
            elif tab.kind == "radar":
                self.streams[name] = self.writer.add_radar(
                    name,
                    topic=tab.topic,
                    frame_id=sel.frame_id,
                    fields=dict(sel.fields),
                    expected_messages=n,
                    expected_points=max(n * 64, 1),
                    attrs=attrs,
                )
            else:
                self.streams[name] = self.writer.add_camera(
                    name,
                    topic=tab.topic,
                    frame_id=sel.frame_id,
                    compressed=sel.compressed,
                    expected_messages=n,
                    attrs=attrs,
                )

    def pass2_tables(self) -> dict[str, MessageTable]:
        """The tables of the sensors this pass reads (all but the streams written in pass 1)."""
        return {k: v for k, v in self.plan.tables.items() if k not in self.prewritten}

    # -- per message ---------------------------------------------------------------------
    def _ego_window(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ego samples bracketing [lo, hi] (one beyond each end): O(sweep), not O(log)."""
        times, t, q = self._ego
        i0 = max(int(np.searchsorted(times, lo, side="right")) - 1, 0)
        i1 = min(int(np.searchsorted(times, hi, side="left")) + 1, len(times))
        return times[i0:i1], t[i0:i1], q[i0:i1]

    def _ref_time(self, tab: MessageTable, i: int, common: int) -> int:
        mode = self.cfg.deskew
        if mode == "sweep_end" and tab.sweep_end_ns is not None and tab.sweep_end_ns[i] >= 0:
            return int(tab.sweep_end_ns[i])
        rt = self.cfg.frames.reference_time
        if rt == "sweep_start" and tab.sweep_start_ns is not None and tab.sweep_start_ns[i] >= 0:
            return int(tab.sweep_start_ns[i])
        if rt == "sweep_end" and tab.sweep_end_ns is not None and tab.sweep_end_ns[i] >= 0:
            return int(tab.sweep_end_ns[i])
        return common

    def _lidar(self, name: str, tab: MessageTable, rec: PointCloud, common: int) -> None:
        stats = self.lidar_stats[name]
        i = rec.meta.index
        xyz = rec.xyz
        fields = {k: v for k, v in rec.fields.items() if k in self.selected.sensors[name].fields}
        pt = rec.point_time_ns
        # A float64 sum of float32 values cannot overflow: it is finite iff every point is (and
        # costs a tenth of the row-wise test, which only runs when something is not finite).
        if not np.isfinite(xyz.sum(dtype=np.float64)):
            finite = np.isfinite(xyz).all(axis=1)
            stats.nonfinite_points_dropped += int((~finite).sum())
            xyz = xyz[finite]
            fields = {k: v[finite] for k, v in fields.items()}
            pt = pt[finite] if pt is not None else None
        ref = self._ref_time(tab, i, common)
        raw = xyz
        if pt is None:
            stats.not_deskewed_no_time += 1
            offsets = np.zeros(len(xyz), dtype=np.int32)
        else:
            pt_common = pt + np.int64(tab.offset_ns)
            offsets = (pt_common - ref).astype(np.int32)
            times = self._ego[0]
            lo = min(int(pt_common.min()), ref) if len(pt_common) else ref
            hi = max(int(pt_common.max()), ref) if len(pt_common) else ref
            if self.cfg.deskew != "off" and len(times) and times[0] <= lo and hi <= times[-1]:
                T = self.rig.sensor(name).T_base_sensor.matrix
                try:
                    xyz = deskew_points(xyz, pt_common, *self._ego_window(lo, hi), T, ref, max_gap_ns=self._max_gap_ns)
                    stats.deskewed += 1
                except ExtrapolationError:  # an ego gap inside the sweep: never bridged
                    stats.not_deskewed_no_ego += 1
            elif self.cfg.deskew != "off":
                stats.not_deskewed_no_ego += 1
        self.streams[name].append(
            rec.meta.stamp_ns,
            rec.meta.record_time_ns,
            common,
            ref,
            np.ascontiguousarray(xyz, dtype=np.float32),
            offsets,
            fields,
            xyz_raw=raw if self.cfg.store.keep_raw_points else None,
        )

    def _radar(self, name: str, rec: RadarDetections, common: int) -> None:
        ego = self.plan.ego
        fields = {k: v for k, v in rec.fields.items() if k in self.selected.sensors[name].fields}
        comp = np.full(len(rec.radial_velocity_mps), np.nan, dtype=np.float32)
        if len(ego.times_ns) and ego.times_ns[0] <= common <= ego.times_ns[-1]:
            k = int(np.searchsorted(ego.times_ns, common))
            k = min(max(k, 1), len(ego.times_ns) - 1)
            a = (common - ego.times_ns[k - 1]) / max(1, ego.times_ns[k] - ego.times_ns[k - 1])
            v = (1 - a) * ego.linear_velocity_mps[k - 1] + a * ego.linear_velocity_mps[k]
            w = (1 - a) * ego.angular_velocity_radps[k - 1] + a * ego.angular_velocity_radps[k]
            T = self.rig.sensor(name).T_base_sensor.matrix
            v_sensor = sensor_velocity(T, v, w)
            comp = compensate_doppler(rec.xyz, rec.radial_velocity_mps, v_sensor).astype(np.float32)
        self.streams[name].append(
            rec.meta.stamp_ns, rec.meta.record_time_ns, common, rec.xyz, rec.radial_velocity_mps, comp, fields
        )

    def _camera(self, name: str, rec: CameraImage, common: int) -> None:
        data = camera_payload(rec)
        self.streams[name].append(rec.meta.stamp_ns, rec.meta.record_time_ns, common, data, format=rec.encoding)

    def run(self, progress: Callable[[int], None] | None = None) -> None:
        """Stream every selected discrete message once; write it or report why not."""
        tables = self.pass2_tables()
        by_topic = {tab.topic: name for name, tab in tables.items()}
        if not by_topic:
            return
        seen: dict[str, int] = dict.fromkeys(by_topic.values(), -1)
        try:
            for raw in self.source.messages(sorted(by_topic)):
                name = by_topic[raw.topic]
                tab = self.plan.tables[name]
                i = raw.index
                seen[name] = max(seen[name], i)
                if progress is not None:
                    progress(len(raw.data))
                if i < len(tab.usable) and not tab.usable[i]:
                    reason, detail = tab.reason.get(i, ("unusable", ""))
                    if reason in ("zero_stamp", "duplicate_stamp"):
                        self.report.skip(raw.topic, i, raw.record_time_ns, reason, detail)
                        continue
                try:
                    rec = self.source.decode(raw, options=self.selected.decode_options)
                except DecodeError as exc:
                    self.report.skip(raw.topic, i, raw.record_time_ns, REASON_DECODE, exc.reason)
                    continue
                except MessageTypeError as exc:
                    self.report.skip(raw.topic, i, raw.record_time_ns, REASON_DECODE, str(exc))
                    continue
                common = int(tab.common_ns[i])
                try:
                    self._store(name, tab, rec, common)
                except DecodeError as exc:
                    self.report.skip(raw.topic, i, raw.record_time_ns, REASON_DECODE, exc.reason)
                    continue
                self.rows[name][i] = self.next_row[name]
                self.next_row[name] += 1
                self.report.stored(raw.topic)
        except TruncatedBagError as exc:
            self.report.warn(f"bag truncated: {exc}; every message before the damage was converted")
            for name, tab in tables.items():
                self.report.skip_unread(tab.topic, seen[name] + 1, tab.record_ns, str(exc))

    def _store(self, name: str, tab: MessageTable, rec: Any, common: int) -> None:
        """Write one decoded record to its stream (raises DecodeError for a payload that is invalid)."""
        if isinstance(rec, PointCloud):
            self._lidar(name, tab, rec, common)
        elif isinstance(rec, RadarDetections):
            self._radar(name, rec, common)
        elif isinstance(rec, CameraImage):
            self._camera(name, rec, common)
        else:
            raise DecodeError(f"decoded as {type(rec).__name__}, expected {tab.kind}")

    # -- frame table ---------------------------------------------------------------------
    def frame_sensors(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Frame table per sensor with plan rows mapped to stored rows."""
        out = {}
        for name, m in self.plan.frames.sensors.items():
            index = np.asarray(m.index, dtype=np.int64)
            dt = np.asarray(m.dt_ns, dtype=np.int64)
            valid = np.asarray(m.valid, dtype=bool) & (index >= 0)
            topic_idx = np.where(index >= 0, self.plan.usable_index[name][np.maximum(index, 0)], -1)
            stored = np.where(topic_idx >= 0, self.rows[name][np.maximum(topic_idx, 0)], -1)
            lost = valid & (stored < 0)
            if lost.any():
                self.report.warn(
                    f"{name}: {int(lost.sum())} frame(s) matched a message that could not be stored; marked missing"
                )
            valid &= stored >= 0
            out[name] = (np.where(valid, stored, -1), np.where(valid, dt, 0), valid)
        return out

    def ego_at_frames(self) -> np.ndarray:
        """(F, 4, 4) ``T_world_base`` at every frame time (NaN where outside the trajectory)."""
        from calibration.rotation import quat_xyzw_to_matrix

        times = np.asarray(self.plan.frames.time_ns, dtype=np.int64)
        t, q, inside = interpolate_poses(*self._ego, times)
        T = np.tile(np.eye(4), (len(times), 1, 1))
        T[:, :3, :3] = quat_xyzw_to_matrix(q)
        T[:, :3, 3] = t
        T[~np.asarray(inside)] = np.nan
        return T
