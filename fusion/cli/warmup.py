"""``fusion warmup``: compile the conversion kernels now (``tools/install.sh`` runs it)."""

from __future__ import annotations

import click


@click.command(
    "warmup",
    epilog="""\b
Examples:
  fusion warmup          # once after installing; rerunning only loads the cache
""",
)
def warmup() -> None:
    """Compile and cache the numba kernels a conversion uses, so the first conversion runs at full speed."""
    from fusion.warmup import warmup as run

    res = run()
    where = res.cache_dir or "next to the installed sources"
    click.echo(f"fusion kernels compiled and cached ({where}) in {res.seconds:.1f} s")
