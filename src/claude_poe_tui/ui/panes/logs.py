"""Logs: every request, live. Scrolling up pauses following; ``end`` resumes it."""

from __future__ import annotations

import collections
import itertools
import time
from collections.abc import Iterable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Static

from claude_poe_tui.control.points import points_text
from claude_poe_tui.points.model import PointsKind, PointsLine
from claude_poe_tui.requestlog.describe import failed_before, target, without_model
from claude_poe_tui.requestlog.feed import RECENT_KEPT
from claude_poe_tui.requestlog.query import RecordQuery, parse_query
from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.ui.columns import Column
from claude_poe_tui.ui.request_table import RequestTable
from claude_poe_tui.ui.screens.record_detail import RecordDetailScreen
from claude_poe_tui.wording import counted

ROWS_KEPT = RECENT_KEPT  # the pane's memory bound; older requests stay in the log file
POINTS_KEPT = 2 * ROWS_KEPT  # points lines by request id (a line may come before its request's row)


def _status_cell(record: RequestRecord) -> Text:
    style = "green" if record.status < 400 else ("yellow" if record.status < 500 else "bold red")
    return Text(str(record.status), style=style)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


# Streaming is left to the details (enter): Claude Code streams nearly everything. When the pane is
# narrow the least useful columns go first (route, then the Poe bot): what a request cost in time,
# tokens and points, and why it failed, stay on screen.
COLUMNS = (
    Column("time", "time", priority=100),
    Column("status", "status", priority=95),
    Column("model", "model", priority=85, min_width=11),
    Column("bot", "Poe bot", priority=60, min_width=10, max_width=60),
    Column("route", "route", priority=40),
    Column("ms", "ms", priority=80),
    Column("ttft", "ttft ms", priority=78, short_title="ttft"),
    Column("tokens", "tokens", priority=76),
    Column("points", "points", priority=70, short_title="pts"),
    Column("error", "error", priority=90, min_width=11, max_width=160),
)


def bot_cell(record: RequestRecord) -> str | Text:
    """The bot that answered, and in short the ones that failed before it:
    ``GPT-5 (after Claude-Opus-4.8 429)``."""
    failed = failed_before(record)
    if not failed:
        return record.poe_model or "-"
    text = Text(record.poe_model or "-")
    text.append(" (after ", style="dim")
    text.append(", ".join(failed), style="yellow")
    text.append(")", style="dim")
    return text


POINTS_STYLES = {PointsKind.EXACT: "", PointsKind.AMBIGUOUS: "yellow", PointsKind.ESTIMATED: "dim"}


def points_cell(line: PointsLine | None) -> str | Text:
    """``1,234`` exact, ``≈1,234`` ambiguous, ``~12`` estimated, ``-`` never reached Poe."""
    if line is None:
        return "-"
    return Text(points_text(line), style=POINTS_STYLES[line.kind])


def record_row(record: RequestRecord, points: PointsLine | None = None) -> tuple[str | Text, ...]:
    tokens = "-" if record.output_tokens is None else f"{record.input_tokens or 0}/{record.output_tokens}"
    return (
        time.strftime("%H:%M:%S", time.localtime(record.ts)),
        _status_cell(record),
        record.model or Text(f"{record.method} {record.path}", style="dim"),  # e.g. Claude Code's model discovery
        bot_cell(record),
        record.route or "-",
        _ms(record.latency_ms),
        _ms(record.ttft_ms),
        tokens,
        points_cell(points),
        Text(f"{record.error_type}: {record.error_message or ''}"[:120], style="red") if record.error_type else "",
    )


def selected_text(record: RequestRecord, points: PointsLine | None = None) -> Text:
    """The cursor's request in one (wrapping) line, whatever columns the width left out."""
    text = Text("▸ ", style="bold")
    where = target(record)
    text.append(where or f"{record.method} {record.path} ({without_model(record)})")
    if points is not None:
        text.append(" · ")
        text.append_text(Text(f"{points_text(points)} points", style=POINTS_STYLES[points.kind]))
        if points.kind is not PointsKind.EXACT:
            text.append(f" ({points.kind.value})", style="dim")
    if record.error_type or record.error_message:
        text.append(" · ")
        text.append(f"{record.error_type or 'error'}: {record.error_message or ''}", style="red")
    if record.agent_id:
        text.append(f" · subagent {record.agent_id}", style="dim")
    if record.member:
        text.append(f" · member {record.member}", style="dim")
    return text


class LogsPane(Vertical):
    HELP = (
        "Every request through the proxy, newest at the bottom, followed live. Moving up pauses "
        "following and counts new requests; end (or G) resumes. / filters: model:NAME bot:NAME "
        "status:5xx route:chat error:TYPE session:ID agent:ID member:NAME and free words. The Poe "
        "bot column names the bot that answered and, after it, those that failed first. Enter "
        "opens a request with all its fields. Points are Poe's: 12 exact (Poe's history has one entry "
        "for it), ≈12 ambiguous (concurrent requests to one bot share Poe's entries: their total is Poe's, "
        "the split a guess), ~12 estimated (from the catalog's price, until Poe's history says), - for "
        "a request that never reached Poe."
    )
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="logs.filter",
                tooltip="model:… bot:… status:… route:… error:… session:… agent:… member:… or words"),
        Binding("end,G", "follow", "Follow", id="logs.follow", tooltip="Jump to the newest and keep following"),
        Binding("enter", "open", "Details", id="logs.open", tooltip="All fields of the selected request"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="logs.clear_filter"),
    ]

    def __init__(self) -> None:
        super().__init__(id="logs-pane")
        self.records: collections.deque[tuple[int, RequestRecord]] = collections.deque(maxlen=ROWS_KEPT)
        self.query = parse_query("")
        self.unseen = 0
        self._keys = itertools.count()
        self._selected_record: RequestRecord | None = None
        self._selected_points: PointsLine | None = None
        self.points: collections.OrderedDict[str, PointsLine] = collections.OrderedDict()
        """Points by request id, as the proxy's points store says (bounded; older rows show ``-``)."""
        self._by_id: dict[str, tuple[int, RequestRecord]] = {}  # request id -> its row (key, record)
        self.points_note: str | None = None  # why no points show (a remote gateway keeps its own)

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter: model:sonnet status:5xx agent:… words  (enter applies, esc clears)",
                    id="logs-filter")
        yield RequestTable(COLUMNS, self.row, max_rows=ROWS_KEPT, id="logs-table")
        yield Static(id="logs-selected", classes="detail")
        yield Static(id="logs-status")

    def on_mount(self) -> None:
        self._show_status()

    @property
    def table(self) -> RequestTable:
        return self.query_one("#logs-table", RequestTable)

    def row(self, record: RequestRecord) -> tuple[str | Text, ...]:
        return record_row(record, self.points.get(record.id))

    # -- feeding --

    def add_points(self, lines: Iterable[PointsLine], *, reset: bool = False) -> None:
        """Points new or changed (estimate, then Poe's figure): the rows they belong to are redrawn."""
        if reset:
            self.points.clear()
        changed = []
        for line in lines:
            self.points.pop(line.id, None)
            self.points[line.id] = line
            row = self._by_id.get(line.id)
            if row is not None:
                changed.append(row)
        while len(self.points) > POINTS_KEPT:
            self.points.popitem(last=False)
        if changed or reset:
            self.table.redraw(self._by_id.values() if reset else changed)
            self._show_selected()

    def add_records(self, records: list[RequestRecord]) -> None:
        records = records[-ROWS_KEPT:]  # older ones would be dropped again at once
        matching = []
        if len(self.records) + len(records) > ROWS_KEPT:
            for _, old in itertools.islice(self.records, len(self.records) + len(records) - ROWS_KEPT):
                self._by_id.pop(old.id, None)
        for record in records:
            key = next(self._keys)
            self.records.append((key, record))
            if record.id:
                self._by_id[record.id] = (key, record)
            if self.query.matches(record):
                matching.append((key, record))
        if not matching:
            return
        self.table.add_rows(matching)
        if not self.following:
            self.unseen += len(matching)
        self._show_status()

    @property
    def following(self) -> bool:
        return self.table.following

    @on(RequestTable.Highlighted, "#logs-table")
    def _moved(self, event: RequestTable.Highlighted) -> None:
        if event.at_end:
            self.unseen = 0
        self._show_status()

    def _show_selected(self) -> None:
        table = self.table
        selected = self.query_one("#logs-selected", Static)
        if not table.row_count:
            selected.update("")
            return
        record = table.record_at(min(table.cursor_row, table.row_count - 1))
        points = self.points.get(record.id)
        if record is not self._selected_record or points is not self._selected_points:
            self._selected_record, self._selected_points = record, points
            selected.update(selected_text(record, points))

    def _show_status(self) -> None:
        self._show_selected()
        status = self.query_one("#logs-status", Static)
        shown = self.table.row_count
        filtered = f" · filter: {self.query.text}" if not self.query.empty else ""
        if self.following:
            status.update(Text(f"following · {counted(shown, 'request')} shown{filtered}"))
            status.remove_class("paused")
        else:
            status.update(Text(f"paused · {counted(self.unseen, 'new request')} · end resumes following{filtered}"))
            status.add_class("paused")

    # -- actions --

    def action_follow(self) -> None:
        self.unseen = 0
        self.table.move_cursor(self.table.row_count - 1)
        self.table.focus()
        self._show_status()

    def action_filter(self) -> None:
        box = self.query_one("#logs-filter", Input)
        box.add_class("visible")
        box.focus()

    def filter_by(self, text: str) -> None:
        """Show only the requests ``text`` matches (as typed after /), the filter box showing it."""
        box = self.query_one("#logs-filter", Input)
        with box.prevent(Input.Changed):
            box.value = text
        box.add_class("visible")
        self._apply_query(parse_query(text))
        self.table.focus()

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
        self.unseen = 0
        self.table.clear()
        self.table.add_rows([(key, record) for key, record in self.records if query.matches(record)])
        self._show_status()

    @on(RequestTable.Selected, "#logs-table")
    def _row_chosen(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        table = self.table
        if table.row_count:
            record = table.record_at(table.cursor_row)
            self.app.push_screen(RecordDetailScreen(record, self.points.get(record.id), points_note=self.points_note))
