"""Logs: every request, live. Scrolling up pauses following; ``end`` resumes it."""

from __future__ import annotations

import collections
import itertools
import time

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static
from textual.widgets.data_table import CellKey

from claude_poe_tui.requestlog.feed import RECENT_KEPT
from claude_poe_tui.requestlog.query import RecordQuery, parse_query
from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.ui.screens.record_detail import RecordDetailScreen

ROWS_KEPT = RECENT_KEPT  # the pane's memory bound; older requests stay in the log file


def _status_cell(record: RequestRecord) -> Text:
    style = "green" if record.status < 400 else ("yellow" if record.status < 500 else "bold red")
    return Text(str(record.status), style=style)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def record_row(record: RequestRecord) -> tuple[str | Text, ...]:
    tokens = "-" if record.output_tokens is None else f"{record.input_tokens or 0}/{record.output_tokens}"
    return (
        time.strftime("%H:%M:%S", time.localtime(record.ts)),
        _status_cell(record),
        record.model or "-",
        record.poe_model or "-",
        record.route or "-",
        "yes" if record.stream else ("no" if record.stream is not None else "-"),
        _ms(record.latency_ms),
        _ms(record.ttft_ms),
        tokens,
        Text(f"{record.error_type}: {record.error_message or ''}"[:120], style="red") if record.error_type else "",
    )


class LogTable(DataTable):
    """A DataTable that drops its oldest rows in one pass.

    ``DataTable.remove_row`` renumbers every row left (it rebuilds its key -> index map) and, by
    re-setting the hover coordinate, rebuilds the list of ordered rows: two passes over the 5000
    rows for each row removed. Once the pane is full every new request removes one, so at 200
    requests/s that was most of the event loop's time and keys waited behind it. ``remove_oldest``
    does what ``remove_row`` does, once for the whole batch. It uses DataTable's internals
    (textual is pinned to one version).
    """

    def remove_oldest(self, count: int) -> None:
        if count <= 0:
            return
        if count >= self.row_count:
            self.clear()
            return
        locations = self._row_locations
        total = len(locations)
        gone = [locations.get_key(index) for index in range(count)]
        for row_key in gone:
            for column_key in self._data[row_key]:
                self._updated_cells.discard(CellKey(row_key, column_key))
            del self.rows[row_key]
            del self._data[row_key]
            self._new_rows.discard(row_key)
        self._row_locations = type(locations)({locations.get_key(index): index - count
                                               for index in range(count, total)})
        self._require_update_dimensions = True
        self.check_idle()
        self.cursor_coordinate = self.cursor_coordinate
        self.hover_coordinate = self.hover_coordinate
        self._update_count += 1
        self.refresh(layout=True)


class LogsPane(Vertical):
    HELP = (
        "Every request through the proxy, newest at the bottom, followed live. Moving up pauses "
        "following and counts new requests; end (or G) resumes. / filters: model:NAME status:5xx "
        "route:chat error:TYPE and free words. Enter opens a request with all its fields."
    )
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="logs.filter", tooltip="model:… status:… route:… or words"),
        Binding("end,G", "follow", "Follow", id="logs.follow", tooltip="Jump to the newest and keep following"),
        Binding("enter", "open", "Details", id="logs.open", tooltip="All fields of the selected request"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="logs.clear_filter"),
    ]

    def __init__(self) -> None:
        super().__init__(id="logs-pane")
        self.records: collections.deque[tuple[int, RequestRecord]] = collections.deque(maxlen=ROWS_KEPT)
        self.query = parse_query("")
        self.following = True
        self.unseen = 0
        self._keys = itertools.count()
        self._shown: collections.deque[int] = collections.deque()  # row keys in the table, oldest first
        self._moving = False  # our own cursor moves are not the user scrolling up

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter: model:sonnet status:5xx route:chat words…  (enter applies, esc clears)",
                    id="logs-filter")
        table: LogTable[str | Text] = LogTable(id="logs-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("time", "status", "model", "Poe bot", "route", "stream", "ms", "ttft ms", "tokens in/out",
                          "error")
        yield table
        yield Static(id="logs-status")

    def on_mount(self) -> None:
        self._show_status()

    @property
    def table(self) -> LogTable:
        return self.query_one("#logs-table", LogTable)

    # -- feeding --

    def add_records(self, records: list[RequestRecord]) -> None:
        records = records[-ROWS_KEPT:]  # older ones would be dropped again at once
        table = self.table
        added = 0
        for record in records:
            key = next(self._keys)
            self.records.append((key, record))
            if self.query.matches(record):
                table.add_row(*record_row(record), key=str(key))
                self._shown.append(key)
                added += 1
        excess = len(self._shown) - ROWS_KEPT
        if excess > 0:  # the table's oldest rows are the first keys in _shown, in order
            for _ in range(excess):
                self._shown.popleft()
            table.remove_oldest(excess)
        if not added:
            return
        if self.following:
            self._to_end()
        else:
            self.unseen += added
        self._show_status()

    def _to_end(self) -> None:
        table = self.table
        if table.row_count:
            self._moving = True
            table.move_cursor(row=table.row_count - 1, animate=False)
            self._moving = False
        self.unseen = 0

    @on(DataTable.RowHighlighted, "#logs-table")
    def _moved(self, event: DataTable.RowHighlighted) -> None:
        if self._moving:
            return
        at_end = event.cursor_row >= self.table.row_count - 1
        if self.following != at_end:
            self.following = at_end
            if at_end:
                self.unseen = 0
            self._show_status()

    def _show_status(self) -> None:
        status = self.query_one("#logs-status", Static)
        shown = len(self._shown)
        filtered = f" · filter: {self.query.text}" if not self.query.empty else ""
        if self.following:
            status.update(f"following · {shown} requests shown{filtered}")
            status.remove_class("paused")
        else:
            status.update(f"paused · {self.unseen} new requests · end resumes following{filtered}")
            status.add_class("paused")

    # -- actions --

    def action_follow(self) -> None:
        self.following = True
        self._to_end()
        self.table.focus()
        self._show_status()

    def action_filter(self) -> None:
        box = self.query_one("#logs-filter", Input)
        box.add_class("visible")
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#logs-filter", Input)
        box.value = ""
        box.remove_class("visible")
        self._apply_query(parse_query(""))
        self.table.focus()

    @on(Input.Submitted, "#logs-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self._apply_query(parse_query(event.value))
        if not event.value.strip():
            event.input.remove_class("visible")
        self.table.focus()

    @on(Input.Changed, "#logs-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._apply_query(parse_query(event.value))

    def _apply_query(self, query: RecordQuery) -> None:
        self.query = query
        table = self.table
        table.clear()
        self._shown.clear()
        for key, record in self.records:
            if query.matches(record):
                table.add_row(*record_row(record), key=str(key))
                self._shown.append(key)
        self.following = True
        self._to_end()
        self._show_status()

    @on(DataTable.RowSelected, "#logs-table")
    def _row_chosen(self) -> None:
        # The focused table takes `enter` itself (its select binding) and says so with RowSelected.
        self.action_open()

    def action_open(self) -> None:
        table = self.table
        if not table.row_count:
            return
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        wanted = int(row_key.value)
        record = next((r for k, r in self.records if k == wanted), None)
        if record is not None:
            self.app.push_screen(RecordDetailScreen(record))
