"""Which table columns fit a width, and how wide each is: columns have priorities.

A table knows the width each column's content wants. When they do not all fit, columns first
take their short titles (the least useful first, until they fit), then shrinkable columns (a ``min_width``) give up width down to that
minimum, and then the least useful columns go, lowest ``priority`` first, until the rest fit; any
width left over goes back to the shrunk columns, shared out evenly. What is left out is the
table's business to show elsewhere (the Models and Keys panes show the selected row in full).

Plain Python (no Textual), so it is tested by itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    priority: int = 50
    """Higher stays longer when the width runs out."""
    short_title: str | None = None
    """Used when the full titles do not all fit."""
    min_width: int | None = None
    """The column may shrink to this (its content then ends in …); None: never shrinks."""
    max_width: int | None = None
    """Never wider than this, whatever the content."""


@dataclass(frozen=True)
class FittedColumn:
    column: Column
    title: str
    width: int

    @property
    def key(self) -> str:
        return self.column.key


def fit_columns(columns: Sequence[Column], content_widths: Mapping[str, int], available: int,
                *, padding: int = 2) -> list[FittedColumn]:
    """The columns to show at ``available`` cells, in their order, with widths.

    ``content_widths``: the widest cell of each column (titles are measured here); ``padding``:
    the cells each column takes besides its content (gaps, cell padding).
    """
    def natural(column: Column, title: str) -> int:
        width = max(len(title), content_widths.get(column.key, 0))
        return min(width, column.max_width) if column.max_width is not None else width

    entries = [(column, column.title, natural(column, column.title)) for column in columns]

    def total(chosen) -> int:
        return sum(width + padding for _, _, width in chosen)

    # Short titles, the least useful column's first, until everything fits.
    for index in sorted(range(len(entries)), key=lambda i: (entries[i][0].priority, -i)):
        if total(entries) <= available:
            return [FittedColumn(column, title, width) for column, title, width in entries]
        column = entries[index][0]
        if column.short_title:
            entries[index] = (column, column.short_title, natural(column, column.short_title))
    if total(entries) <= available:
        return [FittedColumn(column, title, width) for column, title, width in entries]
    short = entries

    def least(column: Column, width: int) -> int:
        return min(width, column.min_width) if column.min_width is not None else width

    shown = list(short)
    while len(shown) > 1 and sum(least(c, w) + padding for c, _, w in shown) > available:
        # The least useful goes; of equals, the one furthest right.
        drop = min(range(len(shown)), key=lambda i: (shown[i][0].priority, -i))
        shown.pop(drop)
    widths = {c.key: least(c, w) for c, _, w in shown}
    wanted = {c.key: w for c, _, w in shown}
    spare = available - sum(width + padding for width in widths.values())
    # Width left over is shared out evenly among the shrunk columns (the one wanting least is
    # satisfied first), so one long column (an error message) cannot starve the others.
    hungry = sorted((c for c, _, _ in shown if wanted[c.key] > widths[c.key]),
                    key=lambda c: (wanted[c.key] - widths[c.key], -c.priority))
    while hungry and spare > 0:
        share = max(1, spare // len(hungry))
        column = hungry.pop(0)
        grow = min(wanted[column.key] - widths[column.key], share, spare)
        widths[column.key] += grow
        spare -= grow
    return [FittedColumn(column, title, widths[column.key]) for column, title, _ in shown]


def cell_width(value: object) -> int:
    """How many cells a table cell takes (a Rich Text or a string), as the screen counts them."""
    plain = getattr(value, "plain", None)
    text = plain if isinstance(plain, str) else str(value)
    try:
        from rich.cells import cell_len
    except ImportError:  # pragma: no cover - rich comes with textual
        return len(text)
    return cell_len(text)
