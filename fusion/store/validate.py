"""`validate_store`: completeness, format version, consistency and integrity of a fusion store.

Every check appends one precise problem (naming the array, row and values) instead of stopping
at the first, so ``fusion validate`` lists everything wrong at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fusion import kinds
from fusion.errors import FusionError, StoreCorruptError
from fusion.store import digests
from fusion.store import layout as lay
from fusion.store.checks import open_problems, report_problems
from fusion.store.guard import ADVICE
from fusion.store.integrity import arrays, chunk_problems, metadata_problems
from fusion.store.state import StoreState, check_root, open_root
from fusion.sync.stamps import REASON_REPUBLISHED


@dataclass(frozen=True)
class ValidationResult:
    """Outcome of :func:`validate_store`: ``ok`` iff ``problems`` is empty."""

    url: str
    problems: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    #: Nothing readable as a fusion store is there (no store, or a Zarr store without ``fusion_format``).
    not_a_store: bool = False

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (``fusion validate --json``)."""
        return {"url": self.url, "ok": self.ok, "problems": list(self.problems), "checked": dict(self.checked)}


#: Default largest share of a topic's messages that may be skipped before ``fusion validate`` objects.
MAX_SKIPPED_SHARE = 0.5
#: Skip reasons that lose no data (a scan re-published complete by a later message): not counted in that share.
NOT_A_LOSS = (REASON_REPUBLISHED,)


def _check_report(report: dict[str, Any], problems: list[str], max_skipped_share: float) -> None:
    """A selected sensor that stored nothing, and topics whose skipped share (but for :data:`NOT_A_LOSS`)
    exceeds ``max_skipped_share``."""
    for topic, t in sorted((report.get("topics") or {}).items()):
        in_bag, stored = int(t.get("in_bag", 0)), int(t.get("stored", 0))
        skipped: dict[str, int] = dict(t.get("skipped") or {})
        n_skipped = sum(int(v) for k, v in skipped.items() if k not in NOT_A_LOSS)
        main = max(sorted(skipped.items()), key=lambda kv: kv[1])[0] if skipped else None
        because = f"; main reason: {main} ({skipped[main]})" if main else ""
        who = f"sensor {t.get('sensor')} ({topic})" if t.get("sensor") else topic
        if t.get("sensor") and t.get("kind") != "ego" and stored == 0:
            problems.append(f"{who}: nothing stored (0 of {in_bag} message(s)){because}")
        elif in_bag and n_skipped / in_bag > max_skipped_share:
            problems.append(f"{who}: {n_skipped} of {in_bag} message(s) skipped "
                            f"({100 * n_skipped / in_bag:.0f} % > {100 * max_skipped_share:g} %){because}")


def validate_store(url: Any, *, max_skipped_share: float = MAX_SKIPPED_SHARE, quick: bool = False,
                   progress: Callable[[int, int], None] | None = None, **storage_options: Any) -> ValidationResult:
    """Check a store; never raises for a bad store (problems are returned).

    Checks, in order: the root document and format version; every node's ``zarr.json`` (valid
    JSON, equal to the consolidated copy the reader uses); the invariants ``fusion.open`` checks
    (array dtypes/row shapes against the format, time columns, offsets, frame order, IMU ranges,
    every frame's sensor indices); each kind's own checks; the report (present, counts = stream
    lengths and ego poses); and, unless ``quick``, every stored chunk (exists, CRC32C, decodes),
    streamed shard by shard in bounded memory.

    Args:
        url: Local directory, ``*.zip`` or ``s3://bucket/key``.
        max_skipped_share: Largest share (0..1) of a topic's messages the report may list as
            skipped; more is a problem. A selected sensor that stored nothing is always one.
        quick: Metadata and open-time arrays only; chunks are checked for existence, not read.
        progress: ``progress(done, total)`` in decoded bytes while chunks are scanned.
        **storage_options: Remote options.
    """
    problems: list[str] = []
    try:
        location, root = open_root(url, storage_options)
    except StoreCorruptError as exc:
        return ValidationResult(str(url), [str(exc).removesuffix(f"; {ADVICE}")])
    except FusionError as exc:
        return ValidationResult(str(url), [str(exc)], not_a_store=True)
    attrs = dict(root.attrs)
    try:
        check_root(location.url, attrs, allow_incomplete=False)
    except FusionError as exc:
        problems.append(str(exc))
        if "fusion_format" not in attrs:
            return ValidationResult(location.url, problems, not_a_store=True)
        if not str(attrs["fusion_format"]).startswith(f"{lay.SUPPORTED_MAJOR}."):
            return ValidationResult(location.url, problems)
    checked: dict[str, int] = {}
    meta, keys = metadata_problems(root.store)
    problems.extend(meta)
    try:
        st = StoreState(location, root)
    except FusionError as exc:  # an open-time array is damaged: the chunk scan below names it
        st = None
        if quick:
            problems.append(str(exc).removeprefix(f"{location.url}: ").removesuffix(f"; {ADVICE}"))
    if st is not None:
        try:
            problems.extend(_structure(st, max_skipped_share))
        except FusionError as exc:  # a damaged array read by a check (ego, a kind's column): named below too
            problems.append(str(exc).removeprefix(f"{location.url}: ").removesuffix(f"; {ADVICE}"))
        checked = {"frames": int(st.times_ns.shape[0]), "streams": len(st.streams)}
    entries = list(arrays(root))
    problems.extend(digests.problems([(e.path, e.array) for e in entries], str(attrs.get("fusion_format", ""))))
    problems.extend(chunk_problems(entries, keys, quick=quick, progress=progress))
    checked["arrays"] = len(entries)
    checked["bytes"] = sum(e.nbytes for e in entries) if not quick else 0
    return ValidationResult(location.url, list(dict.fromkeys(problems)), checked)


def _structure(st: StoreState, max_skipped_share: float) -> list[str]:
    """Open-time invariants, kind checks, the report against the arrays."""
    problems = open_problems(st)
    if "frames/time_ns" not in st.root:
        problems.append("frames/time_ns: missing (the conversion never wrote its frame table)")
    for s in st.streams.values():
        if s.kind in kinds.KINDS:  # a kind this fusion does not know gets the common checks only
            try:
                problems.extend(kinds.get(s.kind).validate(s))
            except FusionError as exc:
                problems.append(str(exc).removeprefix(f"{st.location.url}: ").removesuffix(f"; {ADVICE}"))
    if lay.REPORT not in st.root:
        if st.attrs.get("input_fingerprint"):  # written by a conversion, which always writes one
            problems.append("report: missing (the conversion report was deleted)")
        return problems
    try:
        report = st.report
    except FusionError as exc:
        problems.append(str(exc).removeprefix(f"{st.location.url}: ").removesuffix(f"; {ADVICE}"))
        return problems
    problems.extend(report_problems(st, report))
    _check_report(report, problems, max_skipped_share)
    return problems
