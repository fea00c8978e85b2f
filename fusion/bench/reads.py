"""Dataset reads against plain zarr on the same store (``fusion bench`` stage ``read``).

The baseline reads, for each frame, exactly the arrays :meth:`fusion.store.dataset.Frame.load`
returns — every column of every matched message (LiDAR/radar ``xyz`` and per-point fields, a
camera's stored bytes or raw image), the frame's IMU samples — with zarr's own API and the best access pattern zarr
offers: all of a frame's slices requested concurrently in one event-loop round trip. The row
ranges come from the store's frame table (read once, as ``fusion.open`` does). It checks nothing
(no checksum manifest, no invariants) and motion-compensates nothing: it is the floor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np
import zarr
from zarr.core.sync import sync


def _array(root: zarr.Group, path: str) -> Any:
    node = root[path]
    assert isinstance(node, zarr.Array)
    return node.async_array


def plain_reader(ds: Any) -> Callable[[int], int]:
    """A function reading frame ``i``'s bytes with plain zarr (returns the bytes read).

    Args:
        ds: The opened :class:`fusion.store.dataset.Dataset` (only its frame table is used).
    """
    st = ds.state
    root = zarr.open_group(ds.url, mode="r", use_consolidated=True)
    plans: list[tuple[Any, np.ndarray | None, bool]] = []  # (array, offsets, per-message)
    names: list[str] = []
    for name, s in st.streams.items():
        if name not in st.matches:
            continue
        cols = [c for c in (*s.point_columns(), *s.message_arrays) if c in s.columns]  # what Frame.load reads
        for col in cols:
            per_message = col in s.message_arrays or s.offsets is None
            plans.append((_array(root, f"streams/{name}/{col}"), None if per_message else s.offsets, per_message))
            names.append(name)
    imu = st.imu_stream
    imu_arrays = []
    if imu is not None and imu in st.streams:
        imu_cols = ("stamp_ns", "angular_velocity_radps", "linear_acceleration_mps2", "orientation_xyzw")
        imu_arrays = [_array(root, f"streams/{imu}/{c}") for c in imu_cols]
    index = {n: st.matches[n][0] for n in names}
    imu_range = st.imu_range

    def read(i: int) -> int:
        reqs = []
        for (arr, off, per_message), name in zip(plans, names, strict=True):
            m = int(index[name][i])
            if m < 0:
                continue
            reqs.append(arr.getitem(slice(m, m + 1) if per_message or off is None
                                    else slice(int(off[m]), int(off[m + 1]))))
        a, b = (int(x) for x in imu_range[i])
        reqs.extend(arr.getitem(slice(a, b)) for arr in imu_arrays)

        async def _all() -> list[Any]:
            return list(await asyncio.gather(*reqs))

        return sum(np.asarray(v).nbytes for v in sync(_all()))

    return read


def summarize_read(rd: dict[str, Any]) -> dict[str, float]:
    """Medians and rates of a ``read`` stage result (:func:`fusion.bench.stages.stage_read`)."""
    n = rd["frames"]

    def med(key: str) -> float:
        return float(np.median(rd[key]))

    return {
        "frames": n,
        "bytes_per_frame": rd["bytes"] / max(n, 1),
        "random_frame_ms": med("random_frame_ms"),
        "plain_zarr_random_frame_ms": med("plain_zarr_random_frame_ms"),
        "first_frame_of_open_ms": med("first_frame_of_open_ms"),
        "random_vs_plain": med("random_frame_ms") / med("plain_zarr_random_frame_ms"),
        "sequential_frames_per_s": n / med("sequential_s"),
        "sequential_iter_frames_per_s": n / med("sequential_iter_s"),
        "plain_zarr_sequential_frames_per_s": n / med("plain_zarr_sequential_s"),
        "consumer_ms": rd["consumer_ms"],
        "with_consumer_loop_frames_per_s": n / med("with_consumer_loop_s"),
        "with_consumer_iter_frames_per_s": n / med("with_consumer_iter_s"),
    }


def _loader_worker(store: str, batches: list[tuple[int, int]], passes: int, ready: Any, go: Any, out: Any) -> None:
    """One DataLoader-like worker process: open the store, then read its batches of frames after ``go``."""
    import time

    import fusion

    ds = fusion.open(store)
    ds[0].load()  # arrays opened, rig parsed (a DataLoader worker's first item pays this)
    ready.set()
    go.wait()
    t0 = time.perf_counter()
    n = 0
    for _ in range(passes):
        for a, b in batches:
            for i in range(a, b):
                ds[i].load()
                n += 1
    out.put((n, time.perf_counter() - t0))


def loader_scaling(store: str, processes: int, batch: int = 8, passes: int = 3) -> dict[str, Any]:
    """Frames/s of ``processes`` worker processes reading every frame ``passes`` times (epochs), as a
    DataLoader does.

    The frames are cut into batches of ``batch`` consecutive frames dealt round-robin to the workers
    (``torch.utils.data.DataLoader(ds, batch_size=batch, num_workers=N)``'s order; each worker opens
    the store itself, as a pickled :class:`~fusion.store.dataset.Dataset` does). Timed from a common
    start once every worker has opened the store; the aggregate rate is all frames ÷ the slowest worker.
    """
    import multiprocessing

    import fusion

    n = len(fusion.open(store))
    cuts = [(a, min(n, a + batch)) for a in range(0, n, batch)]
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    readies = [ctx.Event() for _ in range(processes)]
    procs = [ctx.Process(target=_loader_worker, args=(store, cuts[k::processes], passes, readies[k], go, out))
             for k in range(processes)]
    for p in procs:
        p.start()
    for r in readies:
        r.wait(timeout=120)
    go.set()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    frames = sum(r[0] for r in results)
    slowest = max(r[1] for r in results)
    return {"processes": processes, "frames": frames, "seconds": slowest, "frames_per_s": frames / slowest}
