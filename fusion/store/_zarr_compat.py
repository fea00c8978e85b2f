"""The zarr internals fusion uses, in one module: a zarr upgrade touches this file only.

Tested with zarr 3.1.6 (``pyproject.toml`` pins ``zarr>=3.1.6,<3.2``). zarr declares everything
under ``zarr.core`` private; everything else fusion needs comes from zarr's public modules
(``zarr``, ``zarr.storage``, ``zarr.buffer``, ``zarr.abc``, ``zarr.codecs``, ``zarr.errors``).
Each name below is here because zarr 3.1 offers no public path to it; the comment says why.
"""

from __future__ import annotations

# The typed form of the public ``config=`` argument of zarr.create_array / AsyncArray (zarr's own annotation).
from zarr.core.array_spec import ArrayConfigParams

# The node metadata classes: zarr.create_hierarchy takes them and Group/Array.metadata return them, but
# no public module re-exports them (create_hierarchy's own docstring example imports zarr.core.group).
from zarr.core.group import ConsolidatedMetadata, GroupMetadata
from zarr.core.metadata.v2 import ArrayV2Metadata
from zarr.core.metadata.v3 import ArrayV3Metadata

# Runs a coroutine on zarr's own event loop (stores such as FsspecStore are bound to it); zarr has no public runner.
from zarr.core.sync import sync

__all__ = [
    "ArrayConfigParams",
    "ArrayV2Metadata",
    "ArrayV3Metadata",
    "ConsolidatedMetadata",
    "GroupMetadata",
    "sync",
]
