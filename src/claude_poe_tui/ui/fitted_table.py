"""A DataTable whose columns fit its width: the least useful go first when it is narrow.

Rows are given as cells by column key; the table measures them, asks
:func:`~claude_poe_tui.ui.columns.fit_columns` which columns fit, and builds its columns at those
widths. It fits again when its size changes or its contents would fit differently, so a column
never stays wide after its widest cell has gone (a revealed key, masked again). Cells are shown as
plain text (never markup), cut with … where the column is narrower than they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual import events
from textual.widgets import DataTable

from claude_poe_tui.ui.columns import Column, FittedColumn, cell_width, fit_columns

Cell = str | Text
Row = tuple[str, Mapping[str, Cell]]  # (row key, cells by column key)


def as_text(cell: Cell) -> Text:
    text = cell.copy() if isinstance(cell, Text) else Text(str(cell))
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


class FittedTable(DataTable):
    def __init__(self, columns: Sequence[Column], *, id: str | None = None, zebra_stripes: bool = False) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=zebra_stripes)
        self.spec = list(columns)
        self.rows_given: list[Row] = []
        self.fitted: list[FittedColumn] = []
        self._shown: list[Row] = []
        self._last_width = 0

    @property
    def shown_columns(self) -> list[str]:
        """The keys of the columns on screen now."""
        return [fitted.key for fitted in self.fitted]

    def cells_at(self, row: int) -> Mapping[str, Cell]:
        """Every cell of ``row``, those of columns left out included."""
        return self.rows_given[row][1]

    def _available(self) -> int:
        width = self.size.width or self.app.size.width
        if len(self.rows_given) + 1 > (self.size.height or 10**6):  # a vertical scrollbar will show
            width -= self.styles.scrollbar_size_vertical
        return max(width, 1)

    def set_rows(self, rows: Sequence[Row], *, cursor: int | None = None) -> None:
        """Show ``rows``; the cursor stays on its row number (or goes to ``cursor``)."""
        self.rows_given = list(rows)
        self._fit(cursor=cursor)

    def _fit(self, cursor: int | None = None) -> None:
        widths: dict[str, int] = {}
        for _, cells in self.rows_given:
            for key, cell in cells.items():
                widths[key] = max(widths.get(key, 0), cell_width(cell))
        self._last_width = self._available()
        fitted = fit_columns(self.spec, widths, self._last_width, padding=2 * self.cell_padding)
        same_layout = [(f.key, f.title, f.width) for f in fitted] == [(f.key, f.title, f.width) for f in self.fitted]
        same_rows = [key for key, _ in self.rows_given] == [key for key, _ in self._shown]
        if same_layout and same_rows and cursor is None:
            for (key, cells), (_, before) in zip(self.rows_given, self._shown):
                for column in fitted:
                    cell = cells.get(column.key, "")
                    if cell != before.get(column.key, ""):
                        self.update_cell(key, column.key, as_text(cell))
            self._shown = list(self.rows_given)
            return
        row = self.cursor_row if cursor is None else cursor
        self.clear(columns=True)
        self.fitted = fitted
        for column in fitted:
            self.add_column(column.title, width=column.width, key=column.key)
        for key, cells in self.rows_given:
            self.add_row(*(as_text(cells.get(column.key, "")) for column in fitted), key=key)
        self._shown = list(self.rows_given)
        if self.rows_given:
            self.move_cursor(row=max(0, min(row, len(self.rows_given) - 1)), animate=False)

    def on_resize(self, event: events.Resize) -> None:
        if self._available() != self._last_width:
            self._fit()
