"""The Logs pane's table: requests as rows, drawn only where they are on screen.

A ``DataTable`` re-measures and re-lays-out all of its rows whenever rows come or go; with 5000
requests kept and a few hundred arriving a second, keys waited behind that work (p95 ~250 ms,
see benchmarks/bench_dashboard.py). This widget uses Textual's line API the way toolong does:
rows live in a bounded deque, ``render_line`` draws the few lines the screen shows, and drawn
rows are cached by their key. Adding rows costs the rows added, whatever the table holds.

Columns have priorities (ui/columns.py): when the pane is narrow the least useful go first, so
an 80-column terminal still shows the timings, tokens and error; enter shows everything.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.ui.columns import Column, fit_columns

Cell = str | Text
RowFormatter = Callable[[RequestRecord], tuple[Cell, ...]]
GAP = 2  # spaces between columns


class RequestTable(ScrollView, can_focus=True):
    """Rows of requests with a header line, a row cursor and following of the newest row.

    ``following`` is the table's own state, changed the moment the cursor moves: a key that moves
    the cursor up must stop the next batch of rows from pulling it back down, whatever messages
    are still queued.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "request-table--header",
        "request-table--cursor",
        "request-table--even-row",
    }
    DEFAULT_CSS = """
    RequestTable { background: $surface; }
    RequestTable > .request-table--header { text-style: bold; background: $panel; }
    RequestTable > .request-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
    RequestTable:blur > .request-table--cursor { background: $block-cursor-blurred-background; text-style: none; }
    RequestTable > .request-table--even-row { background: $surface-lighten-1 20%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("enter", "select", "Select", show=False),
    ]

    class Highlighted(Message):
        """The cursor moved to ``row`` (an index into the rows shown); ``at_end``: the newest row.

        ``at_end`` is decided when the cursor moves: by the time the message is handled, newer
        rows may have arrived.
        """

        def __init__(self, table: RequestTable, row: int, at_end: bool) -> None:
            super().__init__()
            self.table = table
            self.row = row
            self.at_end = at_end

        @property
        def control(self) -> RequestTable:
            return self.table

    class Selected(Highlighted):
        """Enter (or a click on the cursor row) on ``row``."""

    def __init__(self, columns: Iterable[Column], format_row: RowFormatter, *, max_rows: int, id: str | None = None,
                 max_column_width: int = 40, max_last_column_width: int = 160) -> None:
        super().__init__(id=id)
        self.columns = list(columns)
        self.format_row = format_row
        default_max = [max_column_width] * (len(self.columns) - 1) + [max_last_column_width]
        self._max_widths = [c.max_width if c.max_width is not None else m for c, m in zip(self.columns, default_max)]
        self.rows: collections.deque[tuple[int, RequestRecord]] = collections.deque(maxlen=max_rows)
        self.cursor_row = 0
        self.following = True  # the cursor stays on the newest row as rows arrive
        self._widths = [0] * len(self.columns)  # the widest cell of each column (titles aside)
        self._lines: LRUCache[tuple[int, int, int, int], Strip] = LRUCache(1024)  # (row key, fit, stripe, version)
        self._versions: dict[int, int] = {}  # row key -> how many times its content changed
        self._layout = 0  # bumped when a column's content gets wider
        self._fit_for: tuple[int, int] | None = None  # (layout, width) the columns were fitted for
        self._fit = 0  # bumped when the fitted columns change: cached lines are stale
        self._shown: list[tuple[int, str, int]] = [(i, c.title, len(c.title)) for i, c in enumerate(self.columns)]

    # -- contents --

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def record_at(self, row: int) -> RequestRecord:
        return self.rows[row][1]

    def get_row_at(self, row: int) -> tuple[Cell, ...]:
        return self.format_row(self.rows[row][1])

    def add_rows(self, rows: Iterable[tuple[int, RequestRecord]]) -> int:
        """Append rows (``(key, record)``); the oldest go when more than ``max_rows`` are held.

        Returns how many old rows were dropped. When following, the cursor moves to the newest row;
        otherwise it stays on its request.
        """
        before = len(self.rows)
        added = 0
        for key, record in rows:
            self.rows.append((key, record))
            self._measure(record)
            added += 1
        dropped = before + added - len(self.rows)
        if dropped:
            self.cursor_row = max(0, self.cursor_row - dropped)
            self.scroll_to(y=max(0, self.scroll_y - dropped), animate=False, immediate=True, force=True)
        self._resize()
        if self.following:
            self.move_cursor(len(self.rows) - 1)
        self.refresh()
        return dropped

    def clear(self) -> None:
        self.rows.clear()
        self.cursor_row = 0
        self.following = True
        self._widths = [0] * len(self.columns)
        self._layout += 1
        self._resize()
        self.scroll_to(0, 0, animate=False, immediate=True, force=True)
        self.refresh()

    def redraw(self, rows: Iterable[tuple[int, RequestRecord]] = ()) -> None:
        """Draw these rows (``(key, record)``) again: what ``format_row`` makes of them has changed
        (their points). Only they are drawn anew; the others stay cached."""
        for key, record in rows:
            self._measure(record)
            self._versions[key] = self._versions.get(key, 0) + 1
        if len(self._versions) > 2 * (self.rows.maxlen or 0):
            self._versions.clear()
            self._lines.clear()
        self._resize()
        self.refresh()

    def _measure(self, record: RequestRecord) -> None:
        for index, cell in enumerate(self.format_row(record)):
            width = min(cell_len(cell.plain if isinstance(cell, Text) else cell), self._max_widths[index])
            if width > self._widths[index]:
                self._widths[index] = width
                self._layout += 1

    def _resize(self) -> None:
        self._fit_columns()
        width = 1 + sum(width + GAP for _, _, width in self._shown)
        self.virtual_size = Size(width, len(self.rows) + 1)  # + the header line

    def _fit_columns(self) -> None:
        """Fit the columns to the width (see ui/columns.py): the least useful go first."""
        width = self.scrollable_content_region.width or self.app.size.width
        if self._fit_for == (self._layout, width):
            return
        self._fit_for = (self._layout, width)
        content = {column.key: self._widths[i] for i, column in enumerate(self.columns)}
        index = {column.key: i for i, column in enumerate(self.columns)}
        fitted = fit_columns(self.columns, content, width - 1, padding=GAP)  # 1: the leading space
        shown = [(index[f.key], f.title, f.width) for f in fitted]
        if shown != self._shown:
            self._shown = shown
            self._fit += 1

    @property
    def shown_columns(self) -> list[str]:
        """The keys of the columns on screen now."""
        return [self.columns[i].key for i, _, _ in self._shown]

    def on_resize(self) -> None:
        self._resize()
        self.refresh()

    # -- the cursor --

    def move_cursor(self, row: int) -> None:
        if not self.rows:
            self.cursor_row = 0
            self.following = True
            return
        row = max(0, min(row, len(self.rows) - 1))
        changed = row != self.cursor_row
        self.cursor_row = row
        self.following = row == len(self.rows) - 1
        self._scroll_to_cursor()
        self.refresh()
        if changed:
            self.post_message(self.Highlighted(self, row, row == len(self.rows) - 1))

    def _scroll_to_cursor(self) -> None:
        body = max(1, self.scrollable_content_region.height - 1)
        top = round(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True, force=True)
        elif self.cursor_row >= top + body:
            self.scroll_to(y=self.cursor_row - body + 1, animate=False, immediate=True, force=True)

    def action_cursor(self, step: int) -> None:
        self.move_cursor(self.cursor_row + step)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor_row + direction * max(1, self.scrollable_content_region.height - 2))

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self.rows) - 1)

    def action_select(self) -> None:
        if self.rows:
            self.post_message(self.Selected(self, self.cursor_row, self.cursor_row == len(self.rows) - 1))

    def on_click(self, event: events.Click) -> None:
        row = round(self.scroll_y) + event.y - 1
        if event.y >= 1 and 0 <= row < len(self.rows):
            if row == self.cursor_row:
                self.action_select()
            else:
                self.move_cursor(row)

    # -- drawing --

    def _cells_line(self, cells: tuple[Cell, ...], base: Style) -> list[Segment]:
        line = Text(" ", no_wrap=True, overflow="ellipsis")
        for index, _, width in self._shown:
            cell = cells[index]
            text = cell.copy() if isinstance(cell, Text) else Text(cell)
            text.truncate(width, overflow="ellipsis", pad=True)
            line.append_text(text)
            line.append(" " * GAP)
        return [Segment(s.text, base + s.style if s.style else base) for s in line.render(self.app.console)
                if s.text != "\n"]

    def _header(self) -> tuple[Cell, ...]:
        titles: list[Cell] = [""] * len(self.columns)
        for index, title, _ in self._shown:
            titles[index] = title
        return tuple(titles)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        self._fit_columns()
        scroll_x = round(self.scroll_x)
        base = self.rich_style
        if y == 0:
            strip = Strip(self._cells_line(self._header(), base + self.get_component_rich_style("request-table--header")))
            return strip.crop_extend(scroll_x, scroll_x + width, base)
        row = round(self.scroll_y) + y - 1
        if row >= len(self.rows):
            return Strip.blank(width, base)
        key, record = self.rows[row]
        if row == self.cursor_row:  # drawn afresh: its style goes under every cell's own
            style = base + self.get_component_rich_style("request-table--cursor")
            return Strip(self._cells_line(self.format_row(record), style)).crop_extend(scroll_x, scroll_x + width, style)
        cache_key = (key, self._fit, row % 2, self._versions.get(key, 0))
        strip = self._lines.get(cache_key)
        if strip is None:
            style = base + self.get_component_rich_style("request-table--even-row") if row % 2 else base
            strip = Strip(self._cells_line(self.format_row(record), style))
            self._lines[cache_key] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines.clear()
