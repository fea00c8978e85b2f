"""Which implementation, and how many threads, a numba kernel call gets (issue 23).

Two costs decide it, both measured on the shared 2-core VM (docs/ARCHITECTURE.md, "Start-up and
kernel threads"; ``tools/bench_threads.py``):

* **The first kernel of a process** costs ≈ 0.3–0.5 CPU-s even from numba's cache: numba builds
  its typing and lowering registries, which import scipy.linalg (numba checks for BLAS). A call
  small enough to run in plain Python/numpy in less than that (e.g. the lower hull of a few
  thousand clock samples in ``fusion inspect``) does so while no kernel has been loaded
  (:func:`numba_loaded`); once one has, the kernel is always the faster choice.
* **Threads of a** ``parallel=True`` **kernel** pay only when every thread gets a core: with the
  other core busy, a 2-thread kernel waits for its descheduled worker (a 131 k-point deskew took
  15.2 ms with 2 threads vs 0.50 ms with 1 under load, before the deskew kernels were made
  serial). :func:`kernel_threads` gives 1 thread below the measured crossover, when no other core
  is free (other runnable threads, CPU affinity) or inside :func:`serial_kernels` (a conversion,
  whose shard pool keeps the other cores busy); else the free cores.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

#: Work items (points x boxes of :func:`fusion.annotations.points_in_box.points_in_boxes`) from which
#: 2 threads are used on free cores (tools/bench_threads.py, idle, best / median of 30: 2 threads faster
#: from 16 k items, 0.27 vs 0.20 ms at 64 k, 1.3-2.4x from 256 k). With another thread runnable, the
#: median of 2 threads reached 2x that of 1 (4x with other jobs running): :func:`free_cores` decides that.
PARALLEL_MIN_ITEMS = 65_536
#: A core counts as free while the other runnable threads leave at least this much of it idle.
FREE_CORE = 0.5

_local = threading.local()


def numba_loaded() -> bool:
    """True once this process has loaded (or compiled) a numba kernel: numba's lowering registries
    (``numba.np.arraymath`` among them) are then imported and another kernel costs milliseconds."""
    return "numba.np.arraymath" in sys.modules


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _own_running() -> int:
    """Threads of this process in state R (running or runnable): this one, and numba's OpenMP
    workers, which spin for a while after a parallel region (Linux ``/proc/self/task``; else 1)."""
    n = 0
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/stat") as f:
                n += f.read().rsplit(")", 1)[1].split()[0] == "R"
    except (OSError, IndexError):  # pragma: no cover - not Linux, or a thread ended meanwhile
        return 1
    return max(n, 1)


def others_running() -> float:
    """Runnable threads of other processes: the larger of the instantaneous count (Linux
    ``/proc/loadavg``'s running entities less this process's own running threads) and the 1-minute
    load average less one (this process, when it has been busy that long). Elsewhere the load
    average itself."""
    try:
        load1 = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - no load average on this OS
        return 0.0
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        return load1
    return max(float(running - _own_running()), load1 - 1.0)


def free_cores() -> int:
    """Cores not busy with other work: usable CPUs less :func:`others_running`, with :data:`FREE_CORE`
    slack; at least 1 (this thread's)."""
    cpus = usable_cpus()
    return max(1, min(cpus, int(cpus - others_running() + FREE_CORE)))


def _serial_depth() -> int:
    depth: int = getattr(_local, "serial", 0)
    return depth


def kernel_threads(n_items: int, min_items: int = PARALLEL_MIN_ITEMS, max_threads: int | None = None) -> int:
    """Threads for a ``parallel=True`` kernel over ``n_items`` work items.

    Args:
        n_items: Size of the call's work (e.g. points x boxes).
        min_items: The measured crossover below which one thread is faster.
        max_threads: Upper bound (default numba's configured thread count).

    Returns:
        1 below ``min_items``, inside :func:`serial_kernels` or when only one core is free; else the
        free cores, at most ``max_threads``.
    """
    if n_items < min_items or _serial_depth():
        return 1
    if max_threads is None:
        import numba

        max_threads = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    return max(1, min(max_threads, free_cores()))


@contextlib.contextmanager
def serial_kernels() -> Iterator[None]:
    """Within the block, :func:`kernel_threads` answers 1 on this thread (nests; imports nothing)."""
    _local.serial = _serial_depth() + 1
    try:
        yield
    finally:
        _local.serial -= 1


@contextlib.contextmanager
def threads_for(n_items: int, min_items: int = PARALLEL_MIN_ITEMS, threads: int | None = None) -> Iterator[int]:
    """Run the block's parallel kernels with :func:`kernel_threads` threads, or ``threads`` when given
    (restored after; numba's thread count is per calling thread). Yields the count."""
    import numba

    top = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    n = kernel_threads(n_items, min_items, top) if threads is None else max(1, min(threads, top))
    before = numba.get_num_threads()
    if n != before:
        numba.set_num_threads(n)
    try:
        yield n
    finally:
        if n != before:
            numba.set_num_threads(before)
