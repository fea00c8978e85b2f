"""Benchmark raw LiDAR packet decoding (not a test): points/s per core for each vendor.

For every packet bag in ``../shared/data/real/lidar_packets/{velodyne,hesai}`` it measures, each
the best of ``--repeat`` runs over the whole bag (after one warm-up run that compiles the kernels):

All times are CPU time of this process (``time.process_time``): the machine may be shared.

1. **raw floor**: ``open_bags(...).messages()`` iterating the bag's messages (bytes only);
2. **kernel**: packet split (zero-copy view) + the numba decoder (points, per-point time, cut);
3. **records**: ``BagSource.decode`` of every message: kernel + sweep assembly + the
   ``PointCloud`` records the pipeline spools (what ``fusion convert`` pays per message).

Pandar128E3X and AT128 have no recorded bag: ``--synthetic`` adds their kernel figure on packets
encoded by the tests' encoder (``tests/hesai128_encode.py``: 10 Hz, every return 5–150 m, single
return), decoded in batches of 300 packets as a scan message holds.

Points/s counts decoded (kept) points; returns/s counts every measurement slot the kernel read
(empty and filtered ones included). The numba kernels are serial: one core.

Usage::

    python tools/bench_packets.py --repeat 20 [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from packets_common import CASES, options  # noqa: E402

from fusion.errors import DecodeError  # noqa: E402
from fusion.lidar_packets.payload import split_packets  # noqa: E402
from fusion.lidar_packets.topic import make_decoder  # noqa: E402
from fusion.readers import open_bags  # noqa: E402
from fusion.readers.source import DecodeOptions  # noqa: E402


def _best(fn: Any, repeat: int) -> tuple[float, Any]:
    fn()  # warm-up (numba compile / cache load, page cache)
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


def bench_case(root: Path, case: str, repeat: int) -> dict[str, Any]:
    bag = next(p for p in (root / case).iterdir() if p.is_dir())
    opts = options(root, case)
    with open_bags(bag) as src:
        raws = [(r.msgtype, r.ros1, bytes(r.data)) for r in src.messages()]

    def raw_floor() -> int:
        n = 0
        with open_bags(bag) as src:
            for r in src.messages():
                n += len(r.data)
        return n

    dec = make_decoder(raws[0][0], opts, split_packets(raws[0][2], raws[0][0], ros1=raws[0][1]), case)

    def kernel() -> tuple[int, int]:
        dec.reset()
        pts = slots = 0
        for msgtype, ros1, data in raws:
            b = split_packets(data, msgtype, ros1=ros1)
            pts += len(dec.decode(b))
            slots += b.data.shape[0] * dec.points_per_packet  # type: ignore[attr-defined]
        return pts, slots

    src = open_bags(bag)  # opened once: the records figure is the per-message decode
    msgs = list(src.messages())
    dopts = DecodeOptions(kind="lidar", packets=opts)

    def records() -> int:
        n = 0
        for r in msgs:
            with contextlib.suppress(DecodeError):
                n += len(src.decode(r, options=dopts).xyz)  # type: ignore[attr-defined]
        return n

    t_raw, nbytes = _best(raw_floor, repeat)
    t_k, (pts, slots) = _best(kernel, repeat)
    t_r, rec_pts = _best(records, repeat)
    src.close()
    return {"case": case, "messages": len(raws), "bytes": nbytes, "points": pts, "returns": slots,
            "raw_floor_s": t_raw, "kernel_s": t_k, "records_s": t_r, "record_points": rec_pts,
            "raw_floor_MBps": nbytes / t_raw / 1e6, "kernel_Mpts_per_s": pts / t_k / 1e6,
            "kernel_Mreturns_per_s": slots / t_k / 1e6, "records_Mpts_per_s": rec_pts / t_r / 1e6,
            "raw_floor_Mpts_per_s": pts / t_raw / 1e6}


def bench_synthetic(model: str, repeat: int, tmp: Path) -> dict[str, Any]:
    """Kernel points/s on 3000 self-encoded packets of ``model`` (Pandar128E3X or AT128)."""
    import numpy as np
    from hesai128_encode import at128_dat, at128_packet, epoch, p128_calibration, p128_packet, write_angle_csv

    from fusion.lidar_packets.hesai import make_hesai
    from fusion.lidar_packets.payload import PacketBatch

    rng = np.random.default_rng(0)
    t0 = epoch(2025, 1, 1)
    pkts = []
    for p in range(3000):
        raw = rng.integers(1250, 37_500, (2, 128)).astype(np.uint16)
        refl = rng.integers(0, 256, (2, 128)).astype(np.uint8)
        if model == "AT128":
            a = [(25 + 15) * 25600 + (p * 2 + b) * 1280 for b in range(2)]  # 0.05° of motor per block
            pkts.append(at128_packet([x % (360 * 25600) for x in a], raw, refl, secs=t0, usec=p * 50))
        else:
            pkts.append(p128_packet([(p * 20 + b * 10) % 36000 for b in range(2)], raw, refl, secs=t0, usec=p * 28))
    if model == "AT128":
        cal = tmp / "AT128.dat"
        cal.write_bytes(at128_dat().to_bytes())
    else:
        cal = write_angle_csv(tmp / "Pandar128E3X.csv", *p128_calibration())
    dec = make_hesai(model, cal)
    batches = []
    for i in range(0, len(pkts), 300):
        chunk = pkts[i:i + 300]
        data = np.zeros((len(chunk), 1500), np.uint8)
        for j, b in enumerate(chunk):
            data[j, :len(b)] = np.frombuffer(b, np.uint8)
        n = len(chunk)
        batches.append(PacketBatch(data, np.array([len(b) for b in chunk], np.int64), np.zeros(n, np.int64), 0, ""))

    def kernel() -> int:
        dec.reset()
        return sum(len(dec.decode(b)) for b in batches)

    t_k, pts = _best(kernel, repeat)
    return {"case": f"synthetic/{model}", "points": pts, "kernel_s": t_k, "kernel_Mpts_per_s": pts / t_k / 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared/data/real/lidar_packets"))
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--json", default=None)
    ap.add_argument("--synthetic", action="store_true", help="also Pandar128E3X / AT128 on self-encoded packets")
    ap.add_argument("--only-synthetic", action="store_true", help="only the self-encoded Pandar128E3X / AT128")
    args = ap.parse_args()
    root = Path(args.data)
    if args.synthetic or args.only_synthetic:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            for model in ("Pandar128E3X", "AT128"):
                r = bench_synthetic(model, args.repeat, Path(tmp))
                print(f"{r['case']:<24}{r['points']:>9} points   kernel {r['kernel_Mpts_per_s']:.1f} M points/s")
        if args.only_synthetic:
            return
    rows = [bench_case(root, c, args.repeat) for c in CASES]
    head = f"{'bag':<16}{'points':>9}{'raw floor':>12}{'kernel':>12}{'returns':>12}{'records':>12}"
    print(head + "   (M points/s, 1 core)")
    for r in rows:
        print(f"{r['case']:<16}{r['points']:>9}{r['raw_floor_Mpts_per_s']:>12.1f}{r['kernel_Mpts_per_s']:>12.1f}"
              f"{r['kernel_Mreturns_per_s']:>12.1f}{r['records_Mpts_per_s']:>12.1f}")
    for vendor in ("velodyne", "hesai"):
        sel = [r for r in rows if r["case"].startswith(vendor)]
        pts = sum(r["points"] for r in sel)
        print(f"{vendor:<16}{pts:>9}{pts / sum(r['raw_floor_s'] for r in sel) / 1e6:>12.1f}"
              f"{pts / sum(r['kernel_s'] for r in sel) / 1e6:>12.1f}"
              f"{sum(r['returns'] for r in sel) / sum(r['kernel_s'] for r in sel) / 1e6:>12.1f}"
              f"{sum(r['record_points'] for r in sel) / sum(r['records_s'] for r in sel) / 1e6:>12.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
