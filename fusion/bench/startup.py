"""``fusion bench --stage startup``: what one ``fusion`` process costs, against a naive converter.

A one-off conversion of a short log pays the process's start-up (imports, the first numba kernel
loaded from the cache, the rosbags typestore) on top of the conversion itself. This stage runs,
in ``rounds`` interleaved rounds (so a drift of the machine's speed hits every command alike),
one fresh process each of:

* ``naive``: ``tools/naive_convert.py`` (rosbags AnyReader + deserialize, the camera message
  nearest to each LiDAR sweep by header stamp, sharded Zarr v3 writes of xyz and image bytes;
  no fusion import) on the log;
* ``convert``: ``python -m fusion convert`` of the same log with its rig;
* ``help``: ``python -m fusion --help``; ``convert_help``: ``python -m fusion convert --help``;
  ``inspect``: ``python -m fusion inspect`` of the log.

Every command runs once untimed first (warm page cache, ``__pycache__`` and numba's cache).
Wall time is measured around the process; CPU time (user + system) is the process's own, from
``os.wait4`` (the rusage ``RUSAGE_CHILDREN`` adds up, but of that one child). Medians are reported,
and the ratios ``convert`` ÷ ``naive`` of both.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fusion.errors import BenchmarkError

#: The naive converter, in the source tree (not part of the installed package).
NAIVE_SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "naive_convert.py"


def child_env() -> dict[str, str]:
    """The environment of the timed processes: this one's, with bytecode caching on (as an installed
    package runs; a shell may turn it off, then every process compiles fusion's sources again) and
    without what fusion's CLI set in this process (``OPENBLAS_NUM_THREADS``: the naive script would
    get it for free; a ``fusion`` child sets it again itself)."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cli = sys.modules.get("fusion.cli.main")
    for name in getattr(cli, "SET_BY_CLI", ()):
        env.pop(name, None)
    return env


def time_process(argv: Sequence[str], env: Mapping[str, str] | None = None) -> dict[str, float]:
    """Run ``argv`` to completion; its wall time and CPU time (no peak RSS: a child's ``ru_maxrss``
    includes the pages of this process it was forked from).

    Returns:
        ``{"wall_s", "cpu_s"}`` (CPU: user + system of that process and of the children it waited for).

    Raises:
        BenchmarkError: the process failed (its exit status and the end of its stderr).
    """
    with tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=err, env=dict(env or child_env()))
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().strip()[-1500:]
            raise BenchmarkError(f"{' '.join(argv[:4])} … failed (exit {proc.returncode}): {tail}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime}


def time_interleaved(commands: Mapping[str, Sequence[str]], rounds: int, warm: bool = True) -> dict[str, Any]:
    """Each command ``rounds`` times, interleaved (round by round); one untimed run each first with ``warm``.

    Returns:
        name -> ``{"wall_s": [...], "cpu_s": [...], "wall_s_median", "cpu_s_median"}``.
    """
    if warm:
        for argv in commands.values():
            time_process(argv)
    out: dict[str, Any] = {name: {"wall_s": [], "cpu_s": []} for name in commands}
    for _ in range(rounds):
        for name, argv in commands.items():
            r = time_process(argv)
            o = out[name]
            o["wall_s"].append(r["wall_s"])
            o["cpu_s"].append(r["cpu_s"])
    for o in out.values():
        o["wall_s_median"] = statistics.median(o["wall_s"])
        o["cpu_s_median"] = statistics.median(o["cpu_s"])
    return out


def startup_commands(bag: Path, rig: Path, work: Path) -> dict[str, list[str]]:
    """The commands of the stage (module docstring) on one log."""
    if not NAIVE_SCRIPT.is_file():
        raise BenchmarkError(f"{NAIVE_SCRIPT}: not found; --stage startup runs from a source checkout of fusion")
    py = sys.executable
    return {
        "naive": [py, str(NAIVE_SCRIPT), str(bag), str(work / "naive.zarr")],
        "convert": [py, "-m", "fusion", "convert", str(bag), "-o", str(work / "fusion.zarr"), "--rig", str(rig),
                    "--overwrite"],
        "help": [py, "-m", "fusion", "--help"],
        "convert_help": [py, "-m", "fusion", "convert", "--help"],
        "inspect": [py, "-m", "fusion", "inspect", str(bag)],
    }


def run_startup_bench(preset_name: str = "tiny", duration_s: float = 10.0, rounds: int = 5,
                      workdir: Path | None = None) -> dict[str, Any]:
    """The start-up benchmark (module docstring) on a ``duration_s`` log of the preset (``tiny``: 16 x 256
    LiDAR at 10 Hz, 2 cameras 320 x 240, radar, IMU, odometry); JSON-friendly results."""
    from fusion.bench.runner import PRESETS, generate_log

    if preset_name not in PRESETS:
        raise BenchmarkError(f"--stage startup: unknown preset {preset_name}; use one of {', '.join(PRESETS)}")
    work = workdir or Path(tempfile.mkdtemp(prefix="fusion-bench-startup-"))
    work = work / preset_name
    work.mkdir(parents=True, exist_ok=True)
    bag, rig = generate_log(PRESETS[preset_name], work, duration_s=duration_s)
    load_before = os.getloadavg()
    stages = time_interleaved(startup_commands(bag, rig, work), rounds)
    naive, conv = stages["naive"], stages["convert"]
    return {
        "preset": preset_name,
        "duration_s": duration_s,
        "bag_bytes": sum(f.stat().st_size for f in Path(bag).rglob("*") if f.is_file()),
        "rounds": rounds,
        "stages": stages,
        "convert_vs_naive_wall": conv["wall_s_median"] / naive["wall_s_median"],
        "convert_vs_naive_cpu": conv["cpu_s_median"] / naive["cpu_s_median"],
        "loadavg_before": list(load_before),
        "loadavg_after": list(os.getloadavg()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
    }


def stage_startup(preset: str = "tiny", duration_s: float = 10.0, repeats: int = 5, workdir: str | None = None,
                  **_: Any) -> dict[str, Any]:
    """The stage as :mod:`fusion.bench.stages` runs it (``seconds``: the conversion's wall times)."""
    res = run_startup_bench(preset, duration_s, repeats, Path(workdir) if workdir else None)
    return {"seconds": res["stages"]["convert"]["wall_s"], **res}


LABELS = {
    "naive": "naive converter (tools/naive_convert.py)",
    "convert": "`fusion convert`",
    "help": "`fusion --help`",
    "convert_help": "`fusion convert --help`",
    "inspect": "`fusion inspect`",
}


def markdown(res: dict[str, Any]) -> str:
    """The table of README.md's Performance section (start-up)."""
    la, lb = res["loadavg_before"], res["loadavg_after"]
    lines = [
        f"Log: {res['duration_s']:g} s, preset `{res['preset']}`, {res['bag_bytes'] / 1e6:.0f} MB of bag; "
        f"medians of {res['rounds']} interleaved rounds of fresh processes (after one untimed run each); "
        f"machine: {res['machine']['cpus']} cores, load average {la[0]:.2f} before, {lb[0]:.2f} after.",
        "",
        "| process | wall s | CPU s |",
        "|---|---:|---:|",
    ]
    for name, st in res["stages"].items():
        lines.append(f"| {LABELS.get(name, name)} | {st['wall_s_median']:.2f} | {st['cpu_s_median']:.2f} |")
    lines.append("")
    lines.append(f"`fusion convert` ÷ naive: {res['convert_vs_naive_wall']:.2f}× wall, "
                 f"{res['convert_vs_naive_cpu']:.2f}× CPU.")
    return "\n".join(lines)
