"""Per-frame flag bits (``frames/flags`` in a store, ``FramePlan.flags`` in the synchronizer).

Defined once here, without heavy imports, so the store reader can name them without loading the
numba kernels of ``fusion.sync``. Flagged frames are never bridged over a gap.
"""

from __future__ import annotations

FLAG_EGO_GAP_TIME = 1  #: the frame time is not covered by ego samples (range or gap > max_gap_ns)
FLAG_EGO_GAP_SWEEP = 2  #: a matched LiDAR sweep interval is not covered by ego samples
FLAG_IMU_GAP = 4  #: IMU given, and the frame time is not covered by IMU samples

#: bit index -> name (stored in the ``frames`` group attributes as ``flag_bits``).
FLAG_NAMES = {0: "ego_gap_time", 1: "ego_gap_sweep", 2: "imu_gap"}
