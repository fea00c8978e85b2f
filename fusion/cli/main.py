"""The ``fusion`` console script.

Subcommands live in their own modules and are imported lazily, so
``fusion --help`` stays fast and a heavy dependency of one command (opencv,
dask) never slows down another. Every deliberate error (``FusionError``,
``CalibrationError``), every usage mistake (a bad option value) and every
``OSError`` on a file (read-only folder, no space, a path under a file, ...)
is printed as one ``error:`` line naming the option or path, with exit
status 2; a traceback only ever means a bug in fusion.
"""

from __future__ import annotations

import errno
import importlib
import importlib.util
import os
import sys
from typing import Any

import click

from calibration.errors import CalibrationError
from fusion.errors import FusionError

# name -> (module, attribute, one-line help shown by `fusion --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("fusion.cli.demo", "demo", "Generate a small synthetic drive log and convert it (the main job)."),
    "inspect": ("fusion.cli.inspect", "inspect", "Summarise bags (topics, rates, latency, anomalies) or a store."),
    "convert": ("fusion.cli.convert", "convert", "Read, synchronize and write bags into a Zarr v3 store."),
    "validate": ("fusion.cli.validate", "validate", "Check a store for completeness and consistency."),
    "config": ("fusion.cli.config", "config", "Write the config discovery makes of a log (init), to edit."),
    "calib": ("fusion.cli.calib", "calib", "Extract a rig from bags; draw LiDAR on camera images to check it."),
    "synth": ("fusion.cli.synth", "synth", "Write a synthetic drive log with ground truth."),
    "annotate": ("fusion.cli.annotate", "annotate", "Import and export 3D cuboid annotations."),
    "export": ("fusion.cli.export", "export", "Export frames: points, vendor package, KITTI, nuScenes, ROS 2 MCAP."),
    "preview": ("fusion.cli.preview", "preview", "MP4 of a store: cameras, LiDAR, boxes, bird's-eye view, sync."),
    "bench": ("fusion.cli.bench", "bench", "Measure throughput and memory of every stage."),
    "warmup": ("fusion.cli.warmup", "warmup", "Compile and cache the conversion kernels (run once after install)."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (mod, _, _) in COMMANDS.items() if importlib.util.find_spec(mod) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr, _ = entry
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        command: click.Command = getattr(module, attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fusion")
def cli() -> None:
    """fusion: rosbags in, synchronized and calibrated Zarr v3 datasets out.

    \b
    Example:
      fusion demo                      # generate a sample log, convert it, summarise
      fusion inspect drive.bag         # what is in a bag, and how well it is timed
      fusion convert drive.bag -o drive.zarr --config configs/synthetic.yaml
    """


def os_error_message(exc: OSError) -> str:
    """One line for an ``OSError``: the path(s) it names and the system's reason, no Python words."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    if not paths:
        return f"{reason} ({type(exc).__name__})" if not exc.strerror else reason
    if exc.errno == errno.EEXIST and os.path.isfile(paths[0]):
        return f"{paths[0]} is a file, not a folder"
    hint = {
        errno.EACCES: "the folder is not writable (or the file not readable) for this user",
        errno.EROFS: "the file system is read-only",
        errno.ENOSPC: "the disk is full",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EEXIST: "it already exists",
        errno.EISDIR: "it is a folder, not a file",
    }.get(exc.errno or 0)
    return f"{' -> '.join(paths)}: {reason}" + (f" ({hint})" if hint else "")


def usage_message(exc: click.UsageError) -> str:
    """A click usage error on one line, with the command's help hint."""
    msg = " ".join(exc.format_message().split())
    ctx = exc.ctx
    if ctx is not None and ctx.command_path:
        msg += f" (see {ctx.command_path} --help)"
    return msg


def _quiet_shutdown() -> None:
    """After Ctrl-C, objects cut off half-way (an event loop zarr was creating, a thread pool) may fail in
    their finalizers while the interpreter exits; the one line already said what happened, so those
    "Exception ignored in ..." tracebacks are not printed."""
    sys.unraisablehook = lambda _unraisable: None


#: OpenBLAS's thread pool for every CLI process unless the user sized it: the CLI's matrices are
#: 3x3 to 15x15 (poses, the ego filter), where threads do not pay; starting the pools of numpy's and
#: scipy's OpenBLAS cost each ``fusion`` process ≈ 0.1 CPU-s (measured: issue 23, docs/ARCHITECTURE.md).
BLAS_THREADS_ENV = ("OPENBLAS_NUM_THREADS",)
#: The variables :func:`single_threaded_blas` set in this process (not the user's).
SET_BY_CLI: list[str] = []


def single_threaded_blas() -> None:
    """Size BLAS to one thread (``OPENBLAS_NUM_THREADS=1``) unless set; before numpy is imported."""
    for name in BLAS_THREADS_ENV:
        if name not in os.environ:
            os.environ[name] = "1"
            SET_BY_CLI.append(name)


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI, turning deliberate errors into one line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "numpy" not in sys.modules:  # imported already (the CLI called from Python): too late, and not ours
        single_threaded_blas()
    try:
        return cli.main(args=args, standalone_mode=False)
    except click.exceptions.Abort as exc:  # click turns Ctrl-C inside a command into Abort
        cause = exc.__cause__ or exc.__context__
        message = getattr(cause, "message", None)
        click.echo(message(args) if callable(message) else "interrupted", err=True)
        _quiet_shutdown()
        sys.exit(130)
    except click.UsageError as exc:
        click.echo(f"error: {usage_message(exc)}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (FusionError, CalibrationError) as exc:
        click.echo(f"error: {exc}", err=True)
        if os.environ.get("FUSION_DEBUG"):
            raise
        sys.exit(2)
    except OSError as exc:
        click.echo(f"error: {os_error_message(exc)}", err=True)
        if os.environ.get("FUSION_DEBUG"):
            raise
        sys.exit(2)
    except KeyboardInterrupt as exc:
        message = getattr(exc, "message", None)
        click.echo(message(args) if callable(message) else "interrupted", err=True)
        _quiet_shutdown()
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
