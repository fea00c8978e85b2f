"""Time alignment: per-track keyframe boxes → boxes at every frame time.

Per track (boxes in one frame, usually the world): linear centre, slerp rotation (with the
hemisphere check), linear size, between the two keyframes around each frame time. A frame
time equal to a keyframe time returns that keyframe unchanged (``source = "labelled"``);
others are ``"interpolated"``. Frame times before the first / after the last keyframe are
filled only within ``max_extrapolation_ns`` (default 0: never), extrapolating the nearest
segment (a single-keyframe track is held constant). Label, score, visibility and attributes
of an interpolated box come from the keyframe at or before it.

Velocity (``velocity_mps``, in the keyframes' frame — the world on import — m/s): a label's
own velocity wins. An interpolated box gets the interpolated keyframe velocity when both
bracketing keyframes have one, else the derivative of the interpolated centre, i.e. the
bracketing segment's ``(P1 − P0) / (t1 − t0)`` (extrapolated boxes: the nearest segment's).
With ``derive_velocity=True`` a labelled box without a velocity also gets one (a copy, still
``"labelled"``): the centre difference of its neighbouring keyframes
``(P[k+1] − P[k−1]) / (t[k+1] − t[k−1])`` (the time-weighted mean of the two segment
velocities; the single segment at the first / last keyframe). A single-keyframe track has no
derivable velocity (``None``). Static objects get 0 (up to the label noise / Δt). The velocity
is what the point counter uses to move a box to each LiDAR point's time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibration.rotation import slerp_xyzw
from fusion.annotations.model import Cuboid

F64 = NDArray[np.float64]


def keyframe_velocities(keyframes: Sequence[Cuboid]) -> list[F64 | None]:
    """Velocity of a track at each of its keyframes, in their frame, m/s (``keyframes`` time-sorted).

    The label's own ``velocity_mps`` if it has one, else ``(P[k+1] − P[k−1]) / (t[k+1] − t[k−1])``
    (one-sided at the ends); ``None`` for a single keyframe without a velocity.
    """
    n = len(keyframes)
    out: list[F64 | None] = []
    for k, key in enumerate(keyframes):
        if key.velocity_mps is not None or n < 2:
            out.append(key.velocity_mps)
            continue
        a, b = keyframes[max(k - 1, 0)], keyframes[min(k + 1, n - 1)]
        out.append((b.center_m - a.center_m) / ((b.time_ns - a.time_ns) * 1e-9))
    return out


def interpolate_track(
    keyframes: Sequence[Cuboid], frame_times_ns: ArrayLike, max_extrapolation_ns: int = 0,
    *, derive_velocity: bool = False,
) -> list[Cuboid | None]:
    """Boxes of one track at ``frame_times_ns`` (``None`` where the track is not defined).

    Args:
        keyframes: The track's labels, one frame, distinct times (any order).
        frame_times_ns: (F,) int64 query times.
        max_extrapolation_ns: How far beyond the first/last keyframe boxes are still produced.
        derive_velocity: Give labelled boxes without a velocity the derived one (module
            docstring); otherwise a frame time equal to a keyframe time returns the keyframe
            object itself. Interpolated boxes always carry a velocity (two keyframes or more).

    Raises:
        ValueError: if keyframes mix frames or repeat a time.
    """
    keys = sorted(keyframes, key=lambda b: b.time_ns)
    ft = np.asarray(frame_times_ns, dtype=np.int64)
    out: list[Cuboid | None] = [None] * ft.size
    if not keys:
        return out
    if len({k.frame for k in keys}) != 1:
        frames = sorted({k.frame for k in keys})
        raise ValueError(f"track {keys[0].track_id!r}: keyframes are in different frames {frames}")
    kt = np.array([k.time_ns for k in keys], dtype=np.int64)
    if np.any(np.diff(kt) == 0):
        raise ValueError(f"track {keys[0].track_id!r}: two keyframes at the same time")
    ext = int(max_extrapolation_ns)
    inside = (ft >= kt[0] - ext) & (ft <= kt[-1] + ext)
    exact = np.searchsorted(kt, ft, side="left")
    P = np.stack([k.center_m for k in keys])
    Q = np.stack([k.rotation_xyzw for k in keys])
    S = np.stack([k.size_lwh_m for k in keys])
    if kt.size == 1:
        for f in np.flatnonzero(inside):
            k = keys[0]
            out[f] = k if ft[f] == kt[0] else replace(k, time_ns=int(ft[f]), source="interpolated")
        return out
    i0 = np.clip(np.searchsorted(kt, ft, side="right") - 1, 0, kt.size - 2)
    i1 = i0 + 1
    dt = (kt[i1] - kt[i0]).astype(np.float64)
    alpha = (ft - kt[i0]).astype(np.float64) / dt
    centers = (1 - alpha)[:, None] * P[i0] + alpha[:, None] * P[i1]
    sizes = np.maximum((1 - alpha)[:, None] * S[i0] + alpha[:, None] * S[i1], 0.0)
    rots = slerp_xyzw(Q[i0], Q[i1], alpha)
    seg_vel = (P[i1] - P[i0]) / (dt[:, None] * 1e-9)
    labelled = [replace(k, velocity_mps=v) if k.velocity_mps is None else k
                for k, v in zip(keys, keyframe_velocities(keys))] if derive_velocity else keys
    for f in np.flatnonzero(inside):
        e = int(exact[f])
        if e < kt.size and kt[e] == ft[f]:
            out[f] = labelled[e]
            continue
        a, b = keys[int(i0[f])], keys[int(i1[f])]
        src = a if ft[f] >= a.time_ns else b  # before the first keyframe: take the first
        if a.velocity_mps is not None and b.velocity_mps is not None:
            vel = (1 - alpha[f]) * a.velocity_mps + alpha[f] * b.velocity_mps
        else:
            vel = seg_vel[f]
        out[f] = replace(
            src, center_m=centers[f], size_lwh_m=sizes[f], rotation_xyzw=rots[f], velocity_mps=vel,
            time_ns=int(ft[f]), source="interpolated", num_lidar_points=None, num_radar_points=None,
        )
    return out


def interpolate_to_frames(
    keyframes: Sequence[Cuboid], frame_times_ns: ArrayLike, max_extrapolation_ns: int = 0,
    *, derive_velocity: bool = False,
) -> list[list[Cuboid]]:
    """All tracks at every frame time: ``result[f]`` is the list of boxes at ``frame_times_ns[f]``
    (tracks in sorted ``track_id`` order); ``derive_velocity`` as in :func:`interpolate_track`."""
    ft = np.asarray(frame_times_ns, dtype=np.int64)
    by_track: dict[str, list[Cuboid]] = {}
    for b in keyframes:
        by_track.setdefault(b.track_id, []).append(b)
    frames: list[list[Cuboid]] = [[] for _ in range(ft.size)]
    for track_id in sorted(by_track):
        for f, box in enumerate(interpolate_track(by_track[track_id], ft, max_extrapolation_ns,
                                                   derive_velocity=derive_velocity)):
            if box is not None:
                frames[f].append(box)
    return frames
