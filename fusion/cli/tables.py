"""Tables that fit the terminal: no word is ever broken, long names lose their middle.

Rich squeezes a table that is wider than the console by wrapping cells, which breaks topic names
every few characters. :func:`fit_table` measures the table's natural width first; when it is
wider than the terminal, the cells of the columns marked elidable (topics, sensor names, types)
lose the middle of their longest values (``/camera/fr…/compressed``) until the table fits, and every
column is ``no_wrap``. Output that is not a terminal (a log file, a pipe) is never cut: the whole
table is printed on lines as long as it needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich is imported when a table is drawn: a subcommand's --help does not pay for it
    from rich.table import Table

#: Shortest an elided cell becomes (characters, with the ellipsis).
MIN_ELIDED = 8
#: Columns separated by " │ " plus the outer padding of ``show_edge=False``.
_SEP = 3


@dataclass(frozen=True)
class Column:
    """One column: its header, right-justified (numbers) or not, and whether long values may lose their middle."""

    header: str
    right: bool = False
    elide: bool = False


def elide_middle(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters by replacing its middle with ``…`` (kept whole when it fits).

    The end is favoured (the last segment of a topic name is what tells topics apart).
    """
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head = (width - 1) // 2
    tail = width - 1 - head
    return text[:head] + "…" + text[len(text) - tail:]


def _longest_word(text: str) -> int:
    return max((len(w) for w in text.split()), default=0)


def _natural(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> list[int]:
    widths = [len(c.header) for c in columns]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], max((len(line) for line in cell.split("\n")), default=0))
    return widths


def fitted_widths(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int | None) -> list[int]:
    """Per column the width it is given: natural, or cut on elidable columns until the table fits ``width``.

    Args:
        columns: The columns.
        rows: Cell texts (already formatted).
        width: The terminal's width in characters; None = unlimited.

    Returns:
        One width per column: headers wrap at spaces first (never inside a word), then elidable columns
        lose characters, never below :data:`MIN_ELIDED` or their header's longest word.
    """
    widths = _natural(columns, rows)
    if width is None:
        return widths
    budget = width - _SEP * (len(columns) - 1) - 2
    cells = [max((len(r[i]) for r in rows), default=0) for i in range(len(columns))]
    # 1) headers wrap at word boundaries: a column need not be wider than its cells and its longest word
    for i, c in enumerate(columns):
        if sum(widths) <= budget:
            break
        widths[i] = max(cells[i], _longest_word(c.header))
    floor = [max(MIN_ELIDED, _longest_word(c.header)) if c.elide else w for c, w in zip(columns, widths, strict=True)]
    # 2) elidable cells lose their middle one character at a time, always from the widest such column, so
    #    long names end up about equally short
    excess = sum(widths) - budget
    while excess > 0:
        candidates = [i for i, c in enumerate(columns) if c.elide and widths[i] > floor[i]]
        if not candidates:
            break
        i = max(candidates, key=lambda j: widths[j])
        widths[i] -= 1
        excess -= 1
    return widths


def fit_table(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], con: Any, *, title: str | None = None
) -> Table:
    """A rich table of ``rows`` that fits ``con``'s width when ``con`` is a terminal.

    Args:
        columns: The columns.
        rows: Cell texts, one sequence per row (already formatted with units and rounding).
        con: The rich console the table is printed on.
        title: Optional title above the table.

    Returns:
        The table (print it with ``con.print``).
    """
    limit = int(con.width) if getattr(con, "is_terminal", False) else None
    widths = fitted_widths(columns, rows, limit)
    from rich.table import Table

    table = Table(title=title, show_edge=False)
    for c, w in zip(columns, widths, strict=True):
        # headers may wrap at spaces; cells were cut to ``w`` already, so they never wrap
        table.add_column(c.header, justify="right" if c.right else "left", min_width=w, max_width=w,
                         overflow="fold")  # fmt: skip
    for row in rows:
        table.add_row(*(elide_middle(cell, w) if c.elide else cell
                        for c, cell, w in zip(columns, row, widths, strict=True)))  # fmt: skip
    return table
