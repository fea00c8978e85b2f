"""`validate_store`: completeness, format version and internal consistency of a fusion store.

Every check appends one precise problem (naming the array, row and values) instead of stopping
at the first, so ``fusion validate`` lists everything wrong at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import zarr

from fusion import kinds
from fusion.errors import FusionError
from fusion.store import layout as lay
from fusion.store.state import StoreState, check_root, open_root


@dataclass(frozen=True)
class ValidationResult:
    """Outcome of :func:`validate_store`: ``ok`` iff ``problems`` is empty."""

    url: str
    problems: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (``fusion validate --json``)."""
        return {"url": self.url, "ok": self.ok, "problems": list(self.problems), "checked": dict(self.checked)}


def _first_bad(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


def _check_stream(name: str, s: Any, problems: list[str], report_counts: dict[str, Any]) -> None:
    where = f"streams/{name}"
    g: zarr.Group = s.group
    m = s.count

    def rows(col: str) -> int:
        node = g[col]
        return int(node.shape[0]) if isinstance(node, zarr.Array) else -1

    for col in lay.TIME_COLUMNS:
        if col not in g:
            problems.append(f"{where}/{col}: missing")
        elif rows(col) != m:
            problems.append(f"{where}/{col}: {rows(col)} rows, expected {m} (one per message)")
    if int(s.attrs.get("count", m)) != m:
        problems.append(f"{where}: attribute count={s.attrs.get('count')} but time_ns has {m} messages")
    if name in report_counts and int(report_counts[name]) != m:
        problems.append(f"{where}: {m} messages stored but the report counts {report_counts[name]}")
    off = s.offsets
    if off is not None:
        if off.shape[0] != m + 1:
            problems.append(f"{where}/offsets: length {off.shape[0]}, expected messages+1 = {m + 1}")
        if off.size and off[0] != 0:
            problems.append(f"{where}/offsets[0] = {off[0]}, expected 0")
        dec = np.diff(off) < 0
        if dec.any():
            i = _first_bad(dec)
            problems.append(
                f"{where}/offsets: not monotonic at message {i} "
                f"(offsets[{i}]={off[i]} > offsets[{i + 1}]={off[i + 1]}); "
                f"{int(dec.sum())} decreasing step(s)"
            )
        # offsets[0] == 0, monotonic and offsets[-1] == rows together imply every offset is in range
        by_rows: dict[int, list[str]] = {}
        for col in s.point_columns():
            by_rows.setdefault(rows(col), []).append(col)
        for n, cols in sorted(by_rows.items()):
            if off.size and int(off[-1]) != n:
                problems.append(f"{where}/offsets[-1] = {int(off[-1])} but {where}/{{{', '.join(cols)}}} "
                                f"{'has' if len(cols) == 1 else 'have'} {n} rows")
    if s.kind in kinds.KINDS:  # a kind this fusion does not know gets the common checks only
        problems.extend(kinds.get(s.kind).validate(s))


def _check_frames(st: StoreState, problems: list[str]) -> None:
    t = st.times_ns
    f = t.shape[0]
    if "frames/time_ns" not in st.root:
        problems.append("frames/time_ns: missing (the conversion never wrote its frame table)")
        return
    bad = np.diff(t) <= 0
    if bad.any():
        i = _first_bad(bad) + 1
        problems.append(f"frames/time_ns: not strictly increasing at frame {i} ({t[i]} after {t[i - 1]}); "
                        f"{int(bad.sum())} violation(s)")
    for arr, shape, what in ((st.ego_T_world_base, (f, 4, 4), "ego_T_world_base"), (st.flags, (f,), "flags"),
                             (st.imu_range, (f, 2), "imu_range")):
        if arr.shape != shape:
            problems.append(f"frames/{what}: shape {arr.shape}, expected {shape}")
    imu = st.imu_stream
    r = st.imu_range
    if r.shape == (f, 2) and f:
        n_imu = st.streams[imu].count if imu in st.streams else 0
        if imu is not None and imu not in st.streams:
            problems.append(f"frames: attribute imu_stream={imu!r} names no stream")
        out = (r[:, 0] < 0) | (r[:, 0] > r[:, 1]) | (r[:, 1] > n_imu)
        if out.any():
            i = _first_bad(out)
            problems.append(f"frames/imu_range[{i}] = {r[i].tolist()} is not a range within [0, {n_imu}] "
                            f"(IMU stream {imu!r}); {int(out.sum())} bad frame(s)")
    for name, (index, dt, valid) in st.matches.items():
        where = f"frames/sensors/{name}"
        if name not in st.streams:
            problems.append(f"{where}: no stream streams/{name}")
            continue
        if not (index.shape == dt.shape == valid.shape == (f,)):
            problems.append(
                f"{where}: index/dt_ns/valid shapes {index.shape}/{dt.shape}/{valid.shape}, expected ({f},)"
            )
            continue
        m = st.streams[name].count
        out = (index < -1) | (index >= m)
        if out.any():
            i = _first_bad(out)
            problems.append(f"{where}/index[{i}] = {index[i]} out of range [-1, {m}) ({int(out.sum())} bad frame(s))")
        incons = valid != (index >= 0)
        if incons.any():
            i = _first_bad(incons)
            problems.append(f"{where}/valid[{i}] = {bool(valid[i])} inconsistent with index {index[i]} "
                            f"({int(incons.sum())} frame(s))")


#: Default largest share of a topic's messages that may be skipped before ``fusion validate`` objects.
MAX_SKIPPED_SHARE = 0.5


def _check_report(report: dict[str, Any], problems: list[str], max_skipped_share: float) -> None:
    """A selected sensor that stored nothing, and topics whose skipped share exceeds ``max_skipped_share``."""
    for topic, t in sorted((report.get("topics") or {}).items()):
        in_bag, stored = int(t.get("in_bag", 0)), int(t.get("stored", 0))
        skipped: dict[str, int] = dict(t.get("skipped") or {})
        n_skipped = sum(int(v) for v in skipped.values())
        main = max(sorted(skipped.items()), key=lambda kv: kv[1])[0] if skipped else None
        because = f"; main reason: {main} ({skipped[main]})" if main else ""
        who = f"sensor {t.get('sensor')} ({topic})" if t.get("sensor") else topic
        if t.get("sensor") and t.get("kind") != "ego" and stored == 0:
            problems.append(f"{who}: nothing stored (0 of {in_bag} message(s)){because}")
        elif in_bag and n_skipped / in_bag > max_skipped_share:
            problems.append(f"{who}: {n_skipped} of {in_bag} message(s) skipped "
                            f"({100 * n_skipped / in_bag:.0f} % > {100 * max_skipped_share:g} %){because}")


def validate_store(url: Any, *, max_skipped_share: float = MAX_SKIPPED_SHARE,
                   **storage_options: Any) -> ValidationResult:
    """Check a store; never raises for a bad store (problems are returned).

    Args:
        url: Local directory, ``*.zip`` or ``s3://bucket/key``.
        max_skipped_share: Largest share (0..1) of a topic's messages the report may list as
            skipped; more is a problem. A selected sensor that stored nothing is always one.
        **storage_options: Remote options.
    """
    problems: list[str] = []
    try:
        location, root = open_root(url, storage_options, consolidated=False)
    except FusionError as exc:
        return ValidationResult(str(url), [str(exc)])
    attrs = dict(root.attrs)
    try:
        check_root(location.url, attrs, allow_incomplete=False)
    except FusionError as exc:
        problems.append(str(exc))
        if "fusion_format" not in attrs or not str(attrs["fusion_format"]).startswith(f"{lay.SUPPORTED_MAJOR}."):
            return ValidationResult(location.url, problems)
    try:
        st = StoreState(location, root)
        counts = dict(st.report.get("counts", {}) or {})
        for name, s in st.streams.items():
            _check_stream(name, s, problems, counts)
        _check_frames(st, problems)
        _check_report(st.report, problems, max_skipped_share)
        ego = st.ego
        bad = np.diff(ego["time_ns"]) <= 0
        if bad.any():
            problems.append(f"ego/time_ns: not strictly increasing at row {_first_bad(bad) + 1}")
        checked = {"frames": int(st.times_ns.shape[0]), "streams": len(st.streams)}
    except Exception as exc:  # a damaged store must still give a report, not a traceback
        problems.append(f"cannot read the store consistently: {type(exc).__name__}: {exc}")
        checked = {}
    return ValidationResult(location.url, problems, checked)
