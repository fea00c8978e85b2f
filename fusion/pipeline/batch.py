"""Many logs at once: one conversion task per log on a serial or Dask executor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusion.pipeline.config import ConvertConfig
from fusion.pipeline.executor import make_executor, run_all


@dataclass(frozen=True)
class ConvertSettings:
    """What every log of a batch shares (shipped to each Dask worker once, not once per task)."""

    cfg: ConvertConfig
    overwrite: bool
    resume: bool
    storage_options: dict[str, Any] | None


@dataclass(frozen=True)
class ConvertTask:
    """One log to convert (picklable: shipped to Dask workers)."""

    bag: str
    out: str

    def __call__(self, settings: ConvertSettings) -> Any:
        from fusion.pipeline.convert import convert

        return convert(
            [self.bag],
            self.out,
            settings.cfg,
            overwrite=settings.overwrite,
            resume=settings.resume,
            storage_options=settings.storage_options,
        )


def _run(task: ConvertTask, common: ConvertSettings) -> Any:
    return task(common)


def store_name(bag: Path) -> str:
    """Store name for a bag: its stem (directory name for ROS 2 bag folders) + ``.zarr``."""
    name = bag.name if bag.is_dir() else bag.stem
    return f"{name}.zarr"


def store_names(bags: Sequence[Path]) -> list[str]:
    """Unique store names: the bag's name, prefixed by its parent folders while names collide."""
    names = [store_name(b) for b in bags]
    depth = 0
    while len(set(names)) < len(names) and depth < 8:
        depth += 1
        names = []
        for b in bags:
            parents = [p.name for p in Path(b).resolve().parents][:depth][::-1]
            names.append("_".join([*parents, store_name(b)]))
    if len(set(names)) < len(names):
        names = [f"{i:04d}_{n}" for i, n in enumerate(names)]
    return names


def convert_many(
    bags: Sequence[Path],
    out_dir: str,
    cfg: ConvertConfig,
    *,
    overwrite: bool = False,
    resume: bool = False,
    dask: str | None = None,
    workers: int = 2,
    storage_options: dict[str, Any] | None = None,
) -> list[tuple[Path, Any]]:
    """Convert each bag into ``out_dir/<name>.zarr``; returns (bag, result or exception) in input order."""
    base = out_dir.rstrip("/")
    if "://" not in base:
        Path(base).mkdir(parents=True, exist_ok=True)
    tasks = [ConvertTask(str(b), f"{base}/{name}") for b, name in zip(bags, store_names([Path(b) for b in bags]))]
    settings = ConvertSettings(cfg, overwrite, resume, storage_options)
    executor = make_executor(dask, workers)
    try:
        results = run_all(executor, _run, tasks, settings)
    finally:
        executor.close()
    return list(zip(bags, results))
