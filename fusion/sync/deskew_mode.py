"""The deskew modes (``deskew:`` in the config, ``--deskew``), without the deskew kernels.

``"off"`` (points as recorded), ``"frame"`` (to the frame reference time) and ``"sweep_end"`` (to
the latest point time, as KISS-ICP / FAST-LIO do); :mod:`fusion.sync.deskew` implements them. Kept
apart so that reading a config imports no numba (a ``--dask`` driver never deskews).
"""

from __future__ import annotations

from typing import Literal, get_args

DeskewMode = Literal["off", "frame", "sweep_end"]
DESKEW_MODES: tuple[DeskewMode, ...] = get_args(DeskewMode)
