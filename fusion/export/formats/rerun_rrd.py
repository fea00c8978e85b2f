"""``fusion export rerun``: one Rerun recording (``.rrd``) of a drive for the Rerun viewer.

Entity tree (world frame = the store's odom/world, z up, REP-103)::

    world                               ViewCoordinates RIGHT_HAND_Z_UP (static)
    world/ego_path                      LineStrips3D of ds.ego's positions (static, world)
    world/ego                           Transform3D T_world_base per posed frame
    world/ego/<sensor>                  Transform3D T_base_sensor from the rig (static)
    world/ego/<lidar>/points            Points3D, sensor frame, deskewed to the frame time, coloured
    world/ego/<camera>/image            Pinhole (static, optical frame RDF) + EncodedImage / Image
    world/ego/<radar>/points            Points3D, sensor frame
    world/ego/<radar>/velocity          Arrows3D: radial velocity along each return's line of sight
    world/boxes                         Boxes3D (world), labels "label track_id" + AnyValues track_id
    sync/<sensor>/dt_ms                 Scalars: message time − frame time, ms (matched frames)
    sync/<sensor>/valid                 Scalars: 1 matched, 0 not
    sync/ego_gap                        Scalars: 1 when the frame falls in a gap of the ego trajectory

Timelines: ``time`` (the frame's common time, ns timestamp) and ``frame`` (store frame index).
The file is written by a recording stream sink frame by frame (memory bounded by one frame).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fusion.errors import ExportError
from fusion.export.common import ExportResult, OptionSpec, Selection
from fusion.export.formats import Progress

#: Turbo-like colour stops (value 0..1 → RGB), interpolated linearly.
_STOPS = np.array([[48, 18, 59], [70, 134, 251], [26, 228, 182], [164, 252, 60], [251, 185, 56],
                   [122, 4, 3]], dtype=np.float64)


def colormap(values: np.ndarray) -> np.ndarray:
    """(N,) values → (N, 3) uint8 colours, normalized between their 2nd and 98th percentiles."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return np.zeros((0, 3), np.uint8)
    lo, hi = np.percentile(v, [2.0, 98.0])
    t = np.clip((v - lo) / (hi - lo) if hi > lo else np.zeros_like(v), 0.0, 1.0) * (len(_STOPS) - 1)
    k = np.minimum(t.astype(np.int64), len(_STOPS) - 2)
    f = (t - k)[:, None]
    return np.asarray(_STOPS[k] * (1 - f) + _STOPS[k + 1] * f, dtype=np.uint8)


def _rerun() -> Any:
    try:
        import rerun as rr
    except ImportError:
        raise ExportError("fusion export rerun needs rerun-sdk, which is not installed: "
                          "pip install 'fusion[rerun]'") from None
    return rr


def _transform(rr: Any, T: np.ndarray) -> Any:
    return rr.Transform3D(translation=T[:3, 3], mat3x3=T[:3, :3])


def _blueprint(cameras: list[str]) -> Any:
    """The default layout: the 3D world, one 2D view per camera, and the sync plots (Δt, validity)."""
    import rerun.blueprint as rrb

    cams = [rrb.Spatial2DView(origin=f"world/ego/{c}/image", name=c) for c in cameras]
    sync = [rrb.TimeSeriesView(origin="sync", contents="$origin/**/dt_ms", name="sync Δt (ms)"),
            rrb.TimeSeriesView(origin="sync", contents=["$origin/**/valid", "$origin/ego_gap"],
                               name="matched (1) / ego gap (1)")]
    return rrb.Blueprint(rrb.Horizontal(rrb.Spatial3DView(origin="world", name="world"),
                                        rrb.Vertical(*cams, *sync)), collapse_panels=True)


_RAW = {"rgb8": "RGB", "bgr8": "BGR", "rgba8": "RGBA", "bgra8": "BGRA", "mono8": "L", "mono16": "L"}


class RerunExporter:
    """:class:`~fusion.export.formats.Exporter` of one Rerun ``.rrd`` file (``single_file``)."""

    name = "rerun"
    single_file = True
    options = (OptionSpec("color", "Colour LiDAR points by intensity (when the LiDAR has it) or height.",
                          "intensity", choices=("intensity", "height")),)

    def export(self, ds: Any, out: Path, selection: Selection, progress: Progress, *, color: str = "intensity",
               **_: Any) -> ExportResult:
        """Write ``out`` (an ``.rrd`` file; see the module docstring)."""
        rr = _rerun()
        rec = rr.RecordingStream("fusion", recording_id=str(ds.url))
        rec.save(str(out), default_blueprint=_blueprint(selection.pick(ds, "camera")))
        try:
            notes = self._write(rr, rec, ds, selection, progress, color)
        finally:
            rec.flush()
            rec.disconnect()
        return ExportResult(len(selection.frames), 1, Path(out).stat().st_size, notes)

    def _write(self, rr: Any, rec: Any, ds: Any, selection: Selection, progress: Progress,
               color: str) -> tuple[str, ...]:
        rig = ds.calibration
        kinds = {k: selection.pick(ds, k) for k in ("lidar", "camera", "radar")}
        notes: list[str] = []
        rec.log("world", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
        ego = ds.ego
        path = np.asarray(ego.translation_m, dtype=np.float64)
        path = path[np.isfinite(path).all(axis=1)]
        if len(path) > 1:
            rec.log("world/ego_path", rr.LineStrips3D([path]), static=True)
        for kind, names in kinds.items():
            for n in names:
                sensor = rig.sensors.get(n)
                if sensor is None:
                    notes.append(f"{n} is not in the rig: drawn at base_link")
                    continue
                rec.log(f"world/ego/{n}", _transform(rr, np.asarray(sensor.T_base_sensor.matrix)), static=True)
                if kind == "camera" and sensor.camera is not None:
                    cam = sensor.camera
                    rec.log(f"world/ego/{n}/image", rr.Pinhole(image_from_camera=np.asarray(cam.K),
                                                               resolution=[cam.width, cam.height],
                                                               camera_xyz=rr.ViewCoordinates.RDF), static=True)
        had_boxes = False
        for i in selection.frames:
            fr = ds[i]
            rec.set_time("time", timestamp=np.datetime64(fr.time_ns, "ns"))
            rec.set_time("frame", sequence=i)
            T = fr.ego_pose
            if np.isfinite(T).all():
                rec.log("world/ego", _transform(rr, T))
            rec.log("sync/ego_gap", rr.Scalars(float(fr.flags & 1)))
            valid = fr.valid
            for kind, names in kinds.items():
                views = fr.views(kind)
                for n in names:
                    view = views.get(n)
                    rec.log(f"sync/{n}/valid", rr.Scalars(float(bool(valid.get(n, view is not None)))))
                    if view is None:
                        continue
                    rec.log(f"sync/{n}/dt_ms", rr.Scalars(view.dt_ns / 1e6))
                    getattr(self, f"_{kind}")(rr, rec, n, view, color)
            boxes = fr.boxes
            if boxes:
                had_boxes = True
                rec.log("world/boxes", rr.Boxes3D(
                    centers=[b.center_m for b in boxes], half_sizes=[b.size_lwh_m / 2 for b in boxes],
                    quaternions=[rr.Quaternion(xyzw=b.rotation_xyzw) for b in boxes],
                    labels=[f"{b.label} {b.track_id}" for b in boxes]),
                    rr.AnyValues(track_id=[b.track_id for b in boxes], label=[b.label for b in boxes]))
            elif had_boxes:
                rec.log("world/boxes", rr.Clear(recursive=False))
            progress(1)
        return tuple(notes)

    @staticmethod
    def _lidar(rr: Any, rec: Any, name: str, scan: Any, color: str) -> None:
        xyz = np.asarray(scan.xyz, dtype=np.float32)
        keep = np.isfinite(xyz).all(axis=1)
        inten = scan.fields.get("intensity") if color == "intensity" else None
        value = xyz[keep, 2] if inten is None else np.asarray(inten, dtype=np.float32)[keep]
        rec.log(f"world/ego/{name}/points", rr.Points3D(xyz[keep], colors=colormap(value)))

    @staticmethod
    def _radar(rr: Any, rec: Any, name: str, scan: Any, color: str) -> None:
        xyz = np.asarray(scan.xyz, dtype=np.float32)
        keep = np.isfinite(xyz).all(axis=1)
        xyz = xyz[keep]
        v = np.asarray(scan.radial_velocity_mps, dtype=np.float32)[keep]
        rng = np.linalg.norm(xyz, axis=1, keepdims=True)
        unit = np.divide(xyz, rng, out=np.zeros_like(xyz), where=rng > 0)
        rec.log(f"world/ego/{name}/points", rr.Points3D(xyz, colors=[255, 64, 255]))
        rec.log(f"world/ego/{name}/velocity", rr.Arrows3D(origins=xyz, vectors=unit * v[:, None],
                                                          colors=[255, 160, 0]))

    @staticmethod
    def _camera(rr: Any, rec: Any, name: str, view: Any, color: str) -> None:
        fmt = str(view.format).lower()
        if view.compressed:
            media = "image/png" if "png" in fmt else "image/jpeg"
            rec.log(f"world/ego/{name}/image", rr.EncodedImage(contents=view.data, media_type=media))
            return
        enc = fmt.split(";")[0].strip()
        if enc not in _RAW:
            raise ExportError(f"streams/{name}: raw encoding {enc!r} has no Rerun colour model; "
                              "leave the camera out with --sensors")
        rec.log(f"world/ego/{name}/image", rr.Image(np.asarray(view.image), color_model=_RAW[enc]))
