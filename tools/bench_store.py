"""Benchmark the store layout choices (results recorded in docs/FORMAT.md).

Measures, for LiDAR point columns (64×1024 = 65 536 points per frame), IMU columns and JPEG
blobs, with several compressors: write throughput (MB/s of raw data), bytes written, file
count and random single-frame read latency. Then writes a whole store with ``StoreWriter``
(one 64×1024 LiDAR + 2 JPEG cameras + IMU) and measures random single-frame reads through
``fusion.open`` (all sensors, with and without JPEG decoding), plus the zip variant.

Usage::

    python tools/bench_store.py [--frames 48] [--out /tmp/bench_store] [--quick] [--store-only]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import zarr

from fusion.kinds.camera import add_camera_stream
from fusion.kinds.imu import add_imu_stream
from fusion.kinds.lidar import add_lidar_stream
from fusion.store import layout as lay
from fusion.store.create import WRITE_CONFIG
from fusion.store.sink import FrameTable, SensorMatches

CODECS: list[lay.Codec] = ["none", "lz4_shuffle", "lz4_bitshuffle", "zstd_shuffle", "zstd_bitshuffle", "zstd"]


def lidar_scan(rng: np.random.Generator, k: int) -> dict[str, np.ndarray]:
    """A plausible 64×1024 scan: ground plane + walls, noise, float32 xyz, per-point columns."""
    rows, cols = 64, 1024
    elev = np.deg2rad(np.linspace(-25, 15, rows))[:, None]
    az = np.linspace(-np.pi, np.pi, cols, endpoint=False)[None, :] + 0.001 * k
    wall = 8 + 30 * (0.5 + 0.5 * np.sin(3 * az + 0.1 * k))
    ground = np.where(elev < -0.01, 1.9 / np.maximum(np.sin(-elev), 1e-3), np.inf)
    r = np.minimum(wall / np.cos(elev), ground) + rng.normal(0, 0.02, (rows, cols))
    r = np.minimum(r, 120.0)
    xyz = np.stack([r * np.cos(elev) * np.cos(az), r * np.cos(elev) * np.sin(az), r * np.sin(elev)], -1)
    return {
        "xyz": xyz.reshape(-1, 3).astype(np.float32),
        "intensity": np.clip(rng.gamma(2.0, 20.0, rows * cols), 0, 255).round().astype(np.float32),
        "ring": np.repeat(np.arange(rows, dtype=np.uint16), cols),
        "time_offset_ns": np.tile((np.arange(cols) * (100_000_000 // cols)).astype(np.int32), rows),
    }


def camera_image(rng: np.random.Generator, k: int, hw: tuple[int, int] = (600, 960)) -> np.ndarray:
    """A textured BGR test image (gradients + shapes + noise) so JPEG sizes are realistic (~100 kB)."""
    h, w = hw
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x + 3 * k) % 256, (y + 2 * k) % 256, ((x + y) // 3) % 256], -1).astype(np.uint8)
    for _ in range(12):
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(img, c, int(rng.integers(10, 120)), [int(v) for v in rng.integers(0, 255, 3)], -1)
    return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)


def _dir_stats(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def bench_columns(out: Path, name: str, columns: dict[str, np.ndarray], spec: lay.ColumnSpec,
                  frame_rows: int, codecs: list[lay.Codec], reads: int = 40) -> list[dict[str, Any]]:
    """Write ``columns`` shard by shard with each codec; read random frames of ``frame_rows``."""
    results = []
    raw = sum(a.nbytes for a in columns.values())
    n = next(iter(columns.values())).shape[0]
    for codec in codecs:
        path = out / f"{name}_{codec}.zarr"
        shutil.rmtree(path, ignore_errors=True)
        g = zarr.open_group(str(path), mode="w")
        t0 = time.perf_counter()
        for col, a in columns.items():
            arr = g.create_array(col, shape=a.shape, dtype=a.dtype, chunks=(spec.chunk_rows, *a.shape[1:]),
                                 shards=(spec.shard_rows, *a.shape[1:]), compressors=lay.compressors(codec),
                                 fill_value=0, config=WRITE_CONFIG)
            for s in range(0, n, spec.shard_rows):
                arr[s:s + spec.shard_rows] = a[s:s + spec.shard_rows]
        write_s = time.perf_counter() - t0
        size, nfiles = _dir_stats(path)
        rng = np.random.default_rng(1)
        g = zarr.open_group(str(path), mode="r")
        arrays = [g[c] for c in columns]
        lat = []
        for _ in range(reads):
            f = int(rng.integers(0, n // frame_rows))
            t = time.perf_counter()
            for arr in arrays:
                arr[f * frame_rows:(f + 1) * frame_rows]
            lat.append(time.perf_counter() - t)
        results.append({"data": name, "codec": codec, "raw_MB": raw / 1e6, "stored_MB": size / 1e6,
                        "ratio": raw / size, "files": nfiles, "write_MBps": raw / 1e6 / write_s,
                        "read_frame_ms_median": 1e3 * float(np.median(lat)),
                        "read_frame_ms_p90": 1e3 * float(np.percentile(lat, 90))})
        shutil.rmtree(path, ignore_errors=True)
    return results


def bench_store(out: Path, frames: int, zip_too: bool = True) -> dict[str, Any]:
    """End to end: StoreWriter write + fusion.open random-frame reads (LiDAR + 2 cameras + IMU)."""
    import fusion
    from fusion.store import StoreWriter

    rng = np.random.default_rng(0)
    scans = [lidar_scan(rng, k) for k in range(4)]
    jpegs = [cv2.imencode(".jpg", camera_image(rng, k), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
             for k in range(4)]
    res: dict[str, Any] = {"frames": frames, "jpeg_kB": float(np.mean([len(j) for j in jpegs]) / 1e3)}
    for url in [out / "e2e.zarr", *([out / "e2e.zip"] if zip_too else [])]:
        t0 = time.perf_counter()
        w = StoreWriter.create(url, overwrite=True)
        lid = add_lidar_stream(w, "lidar", topic="/l", frame_id="l",
                               fields={"intensity": np.float32, "ring": np.uint16}, expected_messages=frames,
                               expected_points=frames * 65536, attrs={}, T_base_sensor=np.eye(4))
        cams = [add_camera_stream(w, f"cam{i}", topic="/c", frame_id="c", compressed=True, expected_messages=frames)
                for i in range(2)]
        imu = add_imu_stream(w, "imu", topic="/i", frame_id="i", expected_messages=frames * 20)
        t_frames = 10**18 + 100_000_000 * np.arange(frames, dtype=np.int64)
        for k, t in enumerate(t_frames):
            s = scans[k % 4]
            lid.append(int(t), int(t), int(t), int(t), s["xyz"], s["time_offset_ns"],
                       {"intensity": s["intensity"], "ring": s["ring"]})
            for i, c in enumerate(cams):
                c.append(int(t), int(t), int(t) + i, jpegs[(k + i) % 4], format="jpeg")
        ti = t_frames[0] + 5_000_000 * np.arange(frames * 20, dtype=np.int64)
        imu.append_many(ti, ti, ti, rng.normal(size=(ti.size, 3)), rng.normal(size=(ti.size, 3)),
                        np.tile([0, 0, 0, 1.0], (ti.size, 1)))
        idx = np.arange(frames, dtype=np.int64)
        match = SensorMatches(idx, np.zeros(frames, np.int64), np.ones(frames, bool))
        bounds = np.searchsorted(ti, t_frames, side="right")
        w.write_frames(FrameTable(t_frames, np.tile(np.eye(4), (frames, 1, 1)), np.zeros(frames, np.uint32),
                                  np.stack([np.r_[0, bounds[:-1]], bounds], -1),
                                  {"lidar": match, "cam0": match, "cam1": match}))
        w.finalize()
        write_s = time.perf_counter() - t0
        size = url.stat().st_size if url.suffix == ".zip" else _dir_stats(url)[0]
        t0 = time.perf_counter()
        ds = fusion.open(str(url))
        open_ms = 1e3 * (time.perf_counter() - t0)
        order = np.random.default_rng(2).permutation(frames)[:40]
        lat_raw, lat_dec = [], []
        for i in order:
            t = time.perf_counter()
            f = ds[int(i)]
            f.lidar["lidar"].xyz, f.lidar["lidar"].fields, f.lidar["lidar"].time_ns, f.imu
            _ = [c.data for c in f.cameras.values()]
            lat_raw.append(time.perf_counter() - t)
            t = time.perf_counter()
            _ = [c.image for c in f.cameras.values()]
            lat_dec.append(time.perf_counter() - t)
        res[url.suffix or "dir"] = {
            "write_s": write_s, "write_MBps_raw": frames * (65536 * 22 + 2 * res["jpeg_kB"] * 1e3) / 1e6 / write_s,
            "stored_MB": size / 1e6, "open_ms": open_ms,
            "read_frame_ms_median": 1e3 * float(np.median(lat_raw)),
            "read_frame_ms_p90": 1e3 * float(np.percentile(lat_raw, 90)),
            "decode_2_jpeg_ms_median": 1e3 * float(np.median(lat_dec)),
        }
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench_store"))
    ap.add_argument("--quick", action="store_true", help="fewer codecs and frames")
    ap.add_argument("--store-only", action="store_true", help="only the end-to-end StoreWriter/fusion.open part")
    args = ap.parse_args()
    if args.store_only:
        args.out.mkdir(parents=True, exist_ok=True)
        print(json.dumps(bench_store(args.out, args.frames), indent=1))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    frames = 16 if args.quick else args.frames
    codecs = ["none", "lz4_shuffle", "zstd_shuffle"] if args.quick else CODECS
    rng = np.random.default_rng(0)
    scans = [lidar_scan(rng, k) for k in range(frames)]
    lidar_cols = {c: np.concatenate([s[c] for s in scans]) for c in scans[0]}
    results = []
    for col in ("xyz", "intensity", "time_offset_ns"):
        results += bench_columns(args.out, f"lidar_{col}", {col: lidar_cols[col]}, lay.LIDAR_XYZ, 65536, codecs)
    for spec_name, spec in (("chunk16k", lay.ColumnSpec(16384, 1048576, "zstd_shuffle")),
                            ("chunk256k", lay.ColumnSpec(262144, 1048576, "zstd_shuffle"))):
        r = bench_columns(args.out, f"lidar_xyz_{spec_name}", {"xyz": lidar_cols["xyz"]}, spec, 65536,
                          ["zstd_shuffle"])
        results += r
    k = 720_000 if not args.quick else 200_000
    tt = np.arange(k, dtype=np.float64) / 200
    imu = {"angular_velocity_radps": np.stack([0.01 * np.sin(tt), 0.02 * np.cos(tt), 0.2 * np.sin(0.1 * tt)], -1)
           + rng.normal(0, 0.002, (k, 3)),
           "time_ns": (10**18 + 5_000_000 * np.arange(k)).astype(np.int64) + rng.integers(0, 20000, k)}
    results += bench_columns(args.out, "imu", imu, lay.IMU, 20, codecs)
    jpegs = [cv2.imencode(".jpg", camera_image(rng, i), [cv2.IMWRITE_JPEG_QUALITY, 90])[1] for i in range(frames)]
    blob = np.concatenate(jpegs).astype(np.uint8)
    mean_jpeg = int(blob.size // frames)
    results += bench_columns(args.out, "jpeg_blob", {"data": blob}, lay.BLOB, mean_jpeg,
                             ["none", "lz4_shuffle", "zstd"])
    for r in results:
        print(f"{r['data']:28s} {r['codec']:16s} ratio {r['ratio']:5.2f}  stored {r['stored_MB']:7.2f} MB "
              f"files {r['files']:3d}  write {r['write_MBps']:7.1f} MB/s  "
              f"read/frame {r['read_frame_ms_median']:6.2f} ms (p90 {r['read_frame_ms_p90']:.2f})")
    e2e = bench_store(args.out, frames)
    print(json.dumps(e2e, indent=1))
    (args.out / "results.json").write_text(json.dumps({"columns": results, "store": e2e}, indent=1))


if __name__ == "__main__":
    main()
