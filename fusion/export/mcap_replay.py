"""Export a fusion store as one ROS 2 MCAP file for replay (``fusion export mcap``).

Built only from the public reader API (``fusion.open``, ``ds.stream(name)``, ``frame.boxes``,
``ds.ego``, ``ds.calibration``). The timeline is cut into one window per frame (from the midpoint
to the previous frame to the midpoint to the next; the first and last windows are open), and the
export streams window by window: each window's messages are read, built, sorted by time and
written, so memory is bounded by one frame's worth of data. Exporting ``a:b`` and ``b:c`` gives
disjoint files whose messages together are those of ``a:c``.

Every message is stamped with its common-clock time and recorded at that time (log time =
publish time = header stamp). See ``docs/EXPORT.md`` ("ROS 2 MCAP (replay)") for the topics,
conventions and what the export loses.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fusion.errors import StoreError
from fusion.export import mcap_msgs as mm
from fusion.export.mcap_crc import fill_crcs
from fusion.export.mcap_scene import scene_update as scene_msg
from fusion.export.mcap_topics import Channel, SensorChannels, TopicPlan, plan_topics

I64_MIN, I64_MAX = np.iinfo(np.int64).min, np.iinfo(np.int64).max
#: Messages of one window read concurrently (their store reads overlap; memory stays one window).
READ_THREADS = 4


@dataclass(frozen=True)
class McapExportResult:
    """What :func:`export_mcap` wrote.

    Attributes:
        path: The MCAP file.
        frames: Frames exported.
        messages: Topic → messages written.
        bytes: File size, bytes.
        seconds: Wall time of the export, s.
        notes: What the user should know (streams left out, fields converted).
    """

    path: Path
    frames: int
    messages: dict[str, int]
    bytes: int
    seconds: float
    notes: tuple[str, ...] = field(default=())

    @property
    def total_messages(self) -> int:
        """Messages written over all topics."""
        return sum(self.messages.values())

    @property
    def mb_per_s(self) -> float:
        """Output throughput, MB/s (10^6 bytes)."""
        return self.bytes / 1e6 / max(self.seconds, 1e-9)

    @property
    def frames_per_s(self) -> float:
        """Frames exported per second."""
        return self.frames / max(self.seconds, 1e-9)


def frame_windows(times_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame the half-open window ``[lo, hi)`` of message times it exports, int64 ns.

    The boundaries are the midpoints between consecutive (strictly increasing) frame times, rounded
    up, so each frame lies in its own window; the first window starts at
    −∞ and the last ends at +∞, so every message belongs to exactly one frame.
    """
    t = np.asarray(times_ns, dtype=np.int64)
    mid = t[:-1] + (t[1:] - t[:-1] + 1) // 2  # rounded up: a frame 1 ns after the previous still gets its own
    lo = np.concatenate([[I64_MIN], mid]).astype(np.int64)
    hi = np.concatenate([mid, [I64_MAX]]).astype(np.int64)
    return lo, hi


class _Sorted:
    """Message indices of one stream sorted by a time key, to select a window fast."""

    def __init__(self, times_ns: np.ndarray) -> None:
        self.order = np.argsort(np.asarray(times_ns, dtype=np.int64), kind="stable")
        self.times = np.asarray(times_ns, dtype=np.int64)[self.order]

    def window(self, lo: int, hi: int) -> np.ndarray:
        a, b = np.searchsorted(self.times, [lo, hi], side="left")
        return np.sort(self.order[a:b])


def _resolve_frames(n: int, frames: slice | None) -> range:
    sel = range(n)[frames] if frames is not None else range(n)
    if sel.step != 1:
        raise StoreError(f"--frames {frames.start}:{frames.stop}:{sel.step}: only a step of 1 can be exported"
                         if frames is not None else "bad frame range")
    if len(sel) == 0:
        raise StoreError(f"--frames selects no frame of the store's {n} (0..{n - 1})")
    return sel


def _lifetime_ns(times_ns: np.ndarray, i: int) -> int:
    """How long frame ``i``'s scene entities live: to the next frame (the last frame: the previous
    interval; a single frame: 0 = until replaced), ns."""
    n = len(times_ns)
    if n < 2:
        return 0
    j = i if i + 1 < n else i - 1
    return int(times_ns[j + 1]) - int(times_ns[j])


Batch = list[tuple[int, int, Channel, Any]]  # (log time ns, order, channel, message)


def _sensor_message(ds: Any, chans: SensorChannels, i: int, raw: bool) -> list[tuple[int, Channel, Any]]:
    """The message(s) of stored message ``i`` of a LiDAR, radar or camera stream."""
    v = ds.stream(chans.name)[i]
    if chans.kind == "lidar":
        t = int(v.ref_time_ns)
        out = [(t, chans.main, mm.pointcloud2(t, chans.frame_id, v.xyz, chans.keep_fields(v.fields)))]
        if raw and chans.raw is not None:  # stamped at the first point; "t" = uint32 ns after it (ouster_t)
            off = np.asarray(v["time_offset_ns"], dtype=np.int64)
            t0 = t + int(off.min()) if off.size else t
            f = {**chans.keep_fields(v.fields), "t": (off - (t0 - t)).astype(np.uint32)}
            out.append((t0, chans.raw, mm.pointcloud2(t0, chans.frame_id, v.xyz_raw, f)))
        return out
    if chans.kind == "radar":
        t = int(v.message_time_ns)
        f = {"doppler_mps": v.radial_velocity_mps, "doppler_comp_mps": v.radial_velocity_comp_mps,
             **chans.keep_fields(v.fields)}
        return [(t, chans.main, mm.pointcloud2(t, chans.frame_id, v.xyz, f))]
    t = int(v.time_ns)
    img = (mm.compressed_image(t, chans.frame_id, v.data, v.format) if v.compressed
           else mm.image(t, chans.frame_id, v.image, v.format))
    out = [(t, chans.main, img)]
    if chans.info is not None:
        out.append((t, chans.info, mm.camera_info(t, chans.frame_id, chans.camera)))
    return out


def _window_messages(ds: Any, plan: TopicPlan, idx: dict[str, _Sorted], lo: int, hi: int, raw: bool,
                     pool: ThreadPoolExecutor) -> Batch:
    """Every message whose common time lies in ``[lo, hi)`` (boxes not included).

    LiDAR, radar and camera messages are read on ``pool`` (each message's column reads wait on the
    store; several in flight overlap those waits).
    """
    out: Batch = []

    def put(t: int, ch: Channel, msg: Any) -> None:
        out.append((int(t), len(out), ch, msg))

    tasks: list[tuple[SensorChannels, int]] = []
    for name, chans in plan.sensors.items():
        rows = idx[name].window(lo, hi)
        if not rows.size:
            continue
        if chans.kind != "imu":
            tasks.extend((chans, int(i)) for i in rows)
            continue
        a, b = int(rows[0]), int(rows[-1]) + 1
        r = ds.stream(name).rows(a, b)
        for k in rows - a:
            t = int(r["time_ns"][k])
            put(t, chans.main, mm.imu(t, chans.frame_id, r["angular_velocity_radps"][k],
                                      r["linear_acceleration_mps2"][k], r["orientation_xyzw"][k]))
    for msgs in pool.map(lambda task: _sensor_message(ds, task[0], task[1], raw), tasks):
        for t, ch, msg in msgs:
            put(t, ch, msg)
    if plan.odom is not None:
        e = plan.ego
        for k in idx["__ego__"].window(lo, hi):
            t = int(e.time_ns[k])
            tr, q = e.translation_m[k], e.rotation_xyzw[k]
            put(t, plan.odom, mm.odometry(t, plan.world, plan.base, tr, q, e.linear_velocity_mps[k],
                                          e.angular_velocity_radps[k]))
            assert plan.tf is not None
            put(t, plan.tf, mm.tf_message([mm.transform_stamped(t, plan.world, plan.base, tr, q)]))
    return out


def export_mcap(
    store_url: str,
    out_path: Path,
    *,
    frames: slice | None = None,
    sensors: Sequence[str] | None = None,
    raw_points: bool = False,
    scene_update: bool = False,
    progress: Callable[[int, int], None] | None = None,
    overwrite: bool = False,
) -> McapExportResult:
    """Write a store (or frames ``frames`` of it) as one ROS 2 MCAP file (CDR) for replay.

    Args:
        store_url: A fusion store (directory, .zip, s3://…).
        out_path: The ``.mcap`` file to write (written beside it as ``.<name>.partial/``, then renamed).
        frames: Frames to export (step 1); None: all.
        sensors: Stream names to export; None: every LiDAR, radar, camera and IMU stream.
        raw_points: Also write each LiDAR's raw (not deskewed) points on ``<topic>/raw``.
        scene_update: Also write the boxes as ``foxglove_msgs/SceneUpdate`` on ``/annotations/scene``.
        progress: Called with (frames done, frames total) after each frame.
        overwrite: Replace an existing ``out_path``.

    Raises:
        StoreError: bad frame range, unknown sensor, no raw points, output exists (naming the option).
    """
    from rosbags.rosbag2 import StoragePlugin, Writer

    import fusion

    t0 = time.perf_counter()
    out = Path(out_path)
    if out.suffix != ".mcap":
        raise StoreError(f"{out}: name the output .mcap (-o)")
    if out.exists() and not overwrite:
        raise StoreError(f"{out} exists; pass --overwrite to replace it")
    ds = fusion.open(store_url)
    sel = _resolve_frames(len(ds), frames)
    plan = plan_topics(ds, sensors, raw_points, scene_update)
    idx = {name: _Sorted(ds.stream(name).time_ns) for name in plan.sensors}
    if plan.odom is not None:
        plan.ego = ds.ego
        idx["__ego__"] = _Sorted(plan.ego.time_ns)
    lo, hi = frame_windows(ds.times_ns)
    staging = out.parent / f".{out.name}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    counts: dict[str, int] = {}
    writer = Writer(staging, version=9, storage_plugin=StoragePlugin.MCAP)
    writer.open()
    pool = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="mcap-read")
    try:
        conns: dict[str, Any] = {}
        ts = mm.typestore()
        track_ids: dict[str, int] = {}
        for done, fi in enumerate(sel, 1):
            batch = _window_messages(ds, plan, idx, int(lo[fi]), int(hi[fi]), raw_points, pool)
            frame = ds[fi]
            boxes = frame.boxes
            if boxes or plan.markers.topic in conns:
                batch.append((frame.time_ns, len(batch), plan.markers,
                              mm.box_markers(frame.time_ns, plan.world, boxes, track_ids)))
            if plan.scene is not None and (boxes or plan.scene.topic in conns):
                life = _lifetime_ns(ds.times_ns, fi)
                batch.append((frame.time_ns, len(batch), plan.scene,
                              scene_msg(frame.time_ns, plan.world, boxes, life)))
            if done == 1 and plan.static is not None:
                t_first = min([frame.time_ns, *(b[0] for b in batch)])
                batch.append((t_first, -1, plan.static, plan.static_message(t_first)))
            batch.sort(key=lambda b: (b[0], b[1]))
            for t, _, ch, msg in batch:
                conn = conns.get(ch.topic)
                if conn is None:
                    conn = conns[ch.topic] = writer.add_connection(ch.topic, ch.msgtype, typestore=ts,
                                                                   offered_qos_profiles=ch.qos)
                writer.write(conn, t, bytes(ts.serialize_cdr(msg, ch.msgtype)))
                counts[ch.topic] = counts.get(ch.topic, 0) + 1
            if progress is not None:
                progress(done, len(sel))
        writer.close()
        written = staging / f"{staging.name}.mcap"
        fill_crcs(written)  # rosbags leaves every CRC zero ("not computed")
        if out.exists():
            out.unlink()
        written.replace(out)
    except BaseException:
        with contextlib.suppress(Exception):  # the original error is what the user needs
            writer.close()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(staging, ignore_errors=True)
    return McapExportResult(out, len(sel), dict(sorted(counts.items())), out.stat().st_size,
                            time.perf_counter() - t0, tuple(plan.notes))
