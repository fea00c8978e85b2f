"""End to end: synthetic log → `fusion convert` → `fusion annotate import` of truth boxes at 5 Hz
→ every frame's boxes and LiDAR counts against the generator's truth → `fusion annotate export`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from fusion.annotations._rotation import matrix_to_quat_xyzw
from fusion.annotations.model import Cuboid
from fusion.annotations.openlabel import decode_openlabel
from fusion.annotations.openlabel_encode import encode_openlabel

REPO = Path(__file__).resolve().parents[1]
MARGIN_M = 0.01  # labels 1 cm larger than the object on every face: LiDAR hits lie exactly on the faces


@pytest.mark.slow
def test_synthetic_log_import_counts_and_export(tmp_path: Path) -> None:
    synth = pytest.importorskip("fusion.testing.synth")
    from fusion.cli.main import main
    from fusion.store import open_dataset

    out = synth.generate(synth.SynthConfig(duration_s=1.0, lidar_beams=16, lidar_columns=256), tmp_path / "log")
    truth = synth.load_truth(out.truth_path)
    store = tmp_path / "drive.zarr"
    main(["convert", str(tmp_path / "log" / "synth_db3"), "-o", str(store),
          "--config", str(REPO / "configs" / "synthetic.yaml")])
    ds = open_dataset(str(store))
    times = ds.times_ns
    key_times = np.arange(times[0], times[-1] + 1, 200_000_000, dtype=np.int64)  # 5 Hz labels
    b = truth.boxes_at(key_times)
    labels = [Cuboid.from_yaw(b.centers[i, m], b.sizes[m] + 2 * MARGIN_M, b.yaws[m],
                              "static" if b.is_static[m] else "car", f"obj{int(b.ids[m])}", time_ns=int(t),
                              frame="odom")
              for i, t in enumerate(key_times) for m in range(b.ids.size)]
    src = tmp_path / "labels.json"
    src.write_text(json.dumps(encode_openlabel(labels)))
    main(["annotate", "import", str(store), str(src)])

    ds = open_dataset(str(store))
    n_static_checked = n_moving_checked = moving_counted = 0
    for f in range(len(ds)):
        frame = ds[f]
        tb = truth.boxes_at([frame.time_ns])
        for box in frame.boxes:
            m = int(box.track_id.removeprefix("obj"))
            assert np.max(np.abs(box.center_m - tb.centers[0, m])) <= 0.05
            assert abs(math.remainder(box.yaw_rad - tb.yaws[m], 2 * math.pi)) <= math.radians(0.5)
            lidar = frame.lidar.get("lidar_top")
            if lidar is None or not np.all(np.isfinite(frame.ego_pose)):
                assert box.num_lidar_points is None or lidar is None
                continue
            scan = truth.lidar_scan(lidar.message_index)
            hits = int(np.sum(scan.object_id == m))
            if tb.is_static[m]:
                # exact: the object's hits + the truth ground hits inside the 1 cm margin
                ground = scan.world_xyz[scan.object_id == -1]
                grown = Cuboid.from_yaw(tb.centers[0, m], tb.sizes[m] + 2 * MARGIN_M, tb.yaws[m], "s", "s")
                local = (ground - grown.center_m) @ grown.rotation_matrix
                extra = int(np.sum(np.all(np.abs(local) <= grown.size_lwh_m / 2, axis=1)))
                assert box.num_lidar_points == hits + extra, (f, m)
                n_static_checked += hits
            else:
                # a moving object moves during the sweep (deskew compensates only the ego motion), so
                # only the totals are compared
                moving_counted += box.num_lidar_points
                n_moving_checked += hits
    assert n_static_checked > 20 and n_moving_checked > 500
    assert abs(moving_counted - n_moving_checked) <= 0.1 * n_moving_checked

    exported = tmp_path / "export.json"
    main(["annotate", "export", str(store), "-o", str(exported)])
    doc = json.loads(exported.read_text())
    back = {(x.track_id, x.time_ns): x for x in decode_openlabel(doc).boxes}
    for lab in labels:
        got = back[(lab.track_id, lab.time_ns)]
        assert np.max(np.abs(got.center_m - lab.center_m)) <= 1e-6
        assert np.max(np.abs(got.rotation_matrix - lab.rotation_matrix)) <= 1e-6
    ego = doc["openlabel"]["frames"]["3"]["frame_properties"]["transforms"]["base_link_to_odom"]
    assert (ego["src"], ego["dst"]) == ("base_link", "odom")
    T = ds[3].ego_pose
    assert np.allclose(ego["transform_src_to_dst"]["translation"], T[:3, 3], atol=1e-12)
    assert np.allclose(ego["transform_src_to_dst"]["quaternion"], matrix_to_quat_xyzw(T[:3, :3]), atol=1e-12)
    assert doc["openlabel"]["frames"]["3"]["frame_properties"]["timestamp"] == int(times[3])
