"""Executors: run independent conversions serially or on a Dask cluster.

Many logs fan out, one task per log, on a Dask cluster: a local one started here
(``LocalCluster``) or an existing scheduler (``tcp://host:8786``). The same command
works for both. One long log can fan out too, as parts by time
(:mod:`fusion.pipeline.split`): the parts run pass 2 on the executor, and the driver,
the store's only writer, joins them.

A local cluster's workers are forked from one *warm* process (the multiprocessing
forkserver, preloaded with :mod:`fusion.pipeline.worker_preload`): fusion and distributed
are imported and numba's CPU target is loaded once, and every worker starts with all of
it in memory instead of repeating fusion's start-up. The forkserver starts first, so its
warm-up runs while this process imports distributed. Workers of an existing scheduler
warm themselves (a :class:`FusionWorkerPlugin`, once per worker). Closing the executor
stops every process it started (workers, forkserver, multiprocessing's resource tracker).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from fusion.errors import ConfigError, FusionError

T = TypeVar("T")
R = TypeVar("R")
C = TypeVar("C")

#: Modules the forkserver imports before it forks any worker (the last one warms the kernels).
PRELOAD = ("distributed", "fusion.pipeline.worker_preload")


class Executor(Protocol):
    """Maps a function over independent items, yielding (item index, result or exception)."""

    def map_unordered(
        self, fn: Callable[[T, C], R], items: list[T], common: C
    ) -> Iterator[tuple[int, R | BaseException]]:
        """Run ``fn(item, common)`` on every item; yield results as they finish.

        ``common`` is the same for every item (shipped once per worker, not once per task).
        """
        ...

    def close(self) -> None:
        """Release workers."""
        ...


class SerialExecutor:
    """Runs everything in this process, in order."""

    def map_unordered(
        self, fn: Callable[[T, C], R], items: list[T], common: C
    ) -> Iterator[tuple[int, R | BaseException]]:
        for i, item in enumerate(items):
            try:
                yield i, fn(item, common)
            except Exception as exc:  # reported per item by the caller
                yield i, exc

    def close(self) -> None:
        return None


def start_forkserver() -> None:
    """Start multiprocessing's forkserver now, preloaded with distributed and fusion's warm kernels.

    Safe to call again (a running forkserver is kept). ``fusion convert --each --dask local`` calls
    it before reading the config, so the warm-up overlaps everything the command does before the
    cluster starts; :func:`stop_helpers` undoes it.

    distributed would otherwise import a dozen optional packages into *this* process to build
    its own preload list; its flag says that was done.
    """
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(PRELOAD))
    from multiprocessing import forkserver

    forkserver.ensure_running()


def stop_helpers() -> None:
    """Stop (and reap) the forkserver and resource tracker this process started, if any.

    The forkserver is killed rather than asked: its workers are gone by now, it holds no state,
    and a clean exit of a process with fusion, numba and distributed loaded takes ≈ 0.5 s.
    """
    import signal
    from multiprocessing import forkserver, resource_tracker

    server = getattr(forkserver, "_forkserver", None)
    pid = getattr(server, "_forkserver_pid", None)
    if pid is not None:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    for helper in (server, getattr(resource_tracker, "_resource_tracker", None)):
        stop = getattr(helper, "_stop", None)
        if stop is not None:
            with contextlib.suppress(Exception):  # already gone: nothing left to stop
                stop()


@dataclass
class DaskExecutor:
    """Runs items as Dask tasks on a LocalCluster or an existing scheduler.

    Args:
        address: ``None`` or ``"local"`` starts a ``LocalCluster``; otherwise a scheduler
            address such as ``tcp://10.0.0.5:8786``.
        n_workers: Workers of the local cluster (each converts one log at a time).
        threads_per_worker: Threads per local worker (1: a worker converts its logs one after another).
        warm: Load fusion and its kernels once per worker before the first task.
    """

    address: str | None = None
    n_workers: int = 2
    threads_per_worker: int = 1
    warm: bool = True

    def __post_init__(self) -> None:
        self._cluster: Any = None
        self._client: Any = None
        self._local = self.address in (None, "local")
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        import dask

        if self._local:
            if self.warm:
                start_forkserver()
            from distributed import Client, LocalCluster
            from distributed import utils as dutils

            from fusion.pipeline.worker_warm import FusionWorkerPlugin

            if hasattr(dutils, "_forkserver_preload_set"):
                dutils._forkserver_preload_set = True  # our preload is set (see start_forkserver)
            method = "forkserver" if self.warm else "spawn"
            light = {
                "distributed.worker.multiprocessing-method": method,
                "distributed.worker.profile.enabled": False,  # a sampling thread per worker: CPU for nothing here
            }
            with dask.config.set(light):
                self._cluster = LocalCluster(
                    n_workers=self.n_workers,
                    threads_per_worker=self.threads_per_worker,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=40,
                    plugins={FusionWorkerPlugin()} if self.warm else set(),
                )
            self._client = Client(self._cluster)
        else:
            from distributed import Client

            from fusion.pipeline.worker_warm import FusionWorkerPlugin

            try:
                self._client = Client(self.address)
            except (OSError, TimeoutError) as exc:  # refused, unresolvable, or no answer in time
                import dask

                timeout = dask.config.get("distributed.comm.timeouts.connect")
                raise ConfigError(
                    f"--dask {self.address}: cannot reach the Dask scheduler ({_reason(exc)}; waited up to "
                    f"{timeout}); start one there with `dask scheduler`, check the address and port, or "
                    f"use --dask local") from None
            if self.warm:
                self._client.register_plugin(FusionWorkerPlugin())

    def map_unordered(
        self, fn: Callable[[T, C], R], items: list[T], common: C
    ) -> Iterator[tuple[int, R | BaseException]]:
        from distributed import as_completed

        shared = self._client.scatter(common, broadcast=True, hash=False)
        futures = self._client.map(_guarded, items, fn=fn, common=shared, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in as_completed(futures):
                i = index[future.key]
                exc = future.exception()
                res = exc if exc is not None else future.result()
                yield i, (res.exc if isinstance(res, _Failed) else res)
        finally:
            for future in futures:
                future.release()
            shared.release()

    def close(self) -> None:
        """Close the client, then the local cluster's workers and scheduler, then multiprocessing's helpers."""
        try:
            if self._client is not None:
                self._client.close(timeout=10)
        finally:
            try:
                if self._cluster is not None:
                    self._cluster.close(timeout=10)
            finally:
                if self._local:
                    stop_helpers()


@dataclass(frozen=True)
class _Failed:
    """An expected failure of a task, returned instead of raised (see :func:`_guarded`)."""

    exc: BaseException


def _guarded(item: T, fn: Callable[[T, C], R], common: C) -> R | _Failed:
    """``fn(item, common)`` in a worker; a :class:`FusionError` or ``OSError`` (bad input, a full disk)
    comes back as a value: raised, Dask's worker would log it with a traceback on the command's stderr,
    where the command prints its one ``error:`` line. Anything else (a bug) is raised and logged."""
    try:
        return fn(item, common)
    except (FusionError, OSError) as exc:
        return _Failed(exc)


def make_executor(dask: str | None, workers: int) -> Executor:
    """Executor for ``fusion convert``: serial unless ``--dask`` is given."""
    if dask is None:
        return SerialExecutor()
    return DaskExecutor(address=dask, n_workers=max(1, workers))


def run_all(executor: Executor, fn: Callable[[T, C], R], items: Iterable[T], common: C) -> list[R | BaseException]:
    """Run and collect results in input order."""
    items = list(items)
    out: list[Any] = [None] * len(items)
    for i, res in executor.map_unordered(fn, items, common):
        out[i] = res
    return out


def _reason(exc: BaseException) -> str:
    """The cause of a failed connection, short (distributed wraps it in its own message)."""
    seen = {id(exc)}
    while (nxt := exc.__cause__ or exc.__context__) is not None and id(nxt) not in seen:
        seen.add(id(nxt))
        exc = nxt  # the innermost cause: e.g. "[Errno 111] Connect call failed"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = text.split(": ", 1)[1] if text.startswith("in <") and ": " in text else text
    if text in ("CancelledError", "TimeoutError"):
        text = "no connection"
    return text if len(text) <= 120 else text[:117] + "..."
