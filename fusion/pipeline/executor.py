"""Executors: run independent conversions serially or on a Dask cluster.

One log converts in one process (a store has one writer per shard, so a single
log is never split across processes). Many logs fan out, one task per log, on a
Dask cluster: a local one started here (``LocalCluster``) or an existing
scheduler (``tcp://host:8786``). The same command works for both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """Maps a function over independent items, yielding (item index, result or exception)."""

    def map_unordered(self, fn: Callable[[T], R], items: list[T]) -> Iterator[tuple[int, R | BaseException]]:
        """Run ``fn`` on every item; yield results as they finish."""
        ...

    def close(self) -> None:
        """Release workers."""
        ...


class SerialExecutor:
    """Runs everything in this process, in order."""

    def map_unordered(self, fn: Callable[[T], R], items: list[T]) -> Iterator[tuple[int, R | BaseException]]:
        for i, item in enumerate(items):
            try:
                yield i, fn(item)
            except Exception as exc:  # reported per item by the caller
                yield i, exc

    def close(self) -> None:
        return None


@dataclass
class DaskExecutor:
    """Runs items as Dask tasks on a LocalCluster or an existing scheduler.

    Args:
        address: ``None`` or ``"local"`` starts a ``LocalCluster``; otherwise a scheduler
            address such as ``tcp://10.0.0.5:8786``.
        n_workers: Workers of the local cluster (each converts one log at a time).
        threads_per_worker: Threads per local worker (numba kernels use their own threads).
    """

    address: str | None = None
    n_workers: int = 2
    threads_per_worker: int = 1

    def __post_init__(self) -> None:
        from distributed import Client, LocalCluster

        self._cluster: Any = None
        if self.address in (None, "local"):
            self._cluster = LocalCluster(
                n_workers=self.n_workers,
                threads_per_worker=self.threads_per_worker,
                processes=True,
                dashboard_address=None,
                silence_logs=40,
            )
            self._client = Client(self._cluster)
        else:
            self._client = Client(self.address)

    def map_unordered(self, fn: Callable[[T], R], items: list[T]) -> Iterator[tuple[int, R | BaseException]]:
        from distributed import as_completed

        futures = self._client.map(fn, items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for future in as_completed(futures):
            i = index[future.key]
            exc = future.exception()
            yield i, (exc if exc is not None else future.result())

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(dask: str | None, workers: int) -> Executor:
    """Executor for ``fusion convert``: serial unless ``--dask`` is given."""
    if dask is None:
        return SerialExecutor()
    return DaskExecutor(address=dask, n_workers=max(1, workers))


def run_all(executor: Executor, fn: Callable[[T], R], items: Iterable[T]) -> list[R | BaseException]:
    """Run and collect results in input order."""
    items = list(items)
    out: list[Any] = [None] * len(items)
    for i, res in executor.map_unordered(fn, items):
        out[i] = res
    return out
