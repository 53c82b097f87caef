"""Latency: per model, p50/p95/p99 and time to first token, errors, tokens per second, over time."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Sparkline, Static

COLUMNS = ("model", "requests", "errors", "error %", "p50 ms", "p95 ms", "p99 ms", "ttft p50", "ttft p95", "tok/s")


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:,.0f}"


class LatencyPane(Vertical):
    HELP = (
        "Per model name Claude Code asked for, over the last window: requests, errors, latency "
        "percentiles, time to first token (streamed requests) and output tokens per second. The "
        "charts follow the selected model, one bar per time bucket."
    )
    BINDINGS = [
        Binding("w", "next_window", "Window", id="latency.window", tooltip="Cycle the window: 15m, 1h, 6h, 24h"),
    ]

    def __init__(self) -> None:
        super().__init__(id="latency-pane")
        self.summary: dict[str, dict[str, Any]] = {}
        self.series: dict[str, list[dict[str, Any]]] = {}
        self.window_label = "1h"
        self.selected: str | None = None

    def compose(self) -> ComposeResult:
        table: DataTable[str | Text] = DataTable(id="latency-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        with Vertical(id="latency-charts"):
            yield Static("", id="latency-title", classes="chart-label")
            yield Static("p50 latency per bucket", classes="chart-label")
            yield Sparkline([], id="chart-latency")
            yield Static("requests per bucket", classes="chart-label")
            yield Sparkline([], id="chart-requests")
            yield Static("errors per bucket", classes="chart-label")
            yield Sparkline([], id="chart-errors")

    @property
    def table(self) -> DataTable:
        return self.query_one("#latency-table", DataTable)

    def show(self, summary: dict[str, dict[str, Any]], series: dict[str, list[dict[str, Any]]], window: str) -> None:
        """New figures: rows are updated in place (no flicker, cursor kept)."""
        self.summary, self.series, self.window_label = summary, series, window
        table = self.table
        present = {str(key.value) for key in table.rows}
        for model in sorted(summary):
            figures = summary[model]
            requests = figures.get("requests", 0)
            errors = figures.get("errors", 0)
            row = (
                Text(model),
                f"{requests:,}",
                Text(f"{errors:,}", style="bold red" if errors else ""),
                f"{(100.0 * errors / requests) if requests else 0:.1f}",
                _ms(figures.get("p50_ms")),
                _ms(figures.get("p95_ms")),
                _ms(figures.get("p99_ms")),
                _ms(figures.get("ttft_p50_ms")),
                _ms(figures.get("ttft_p95_ms")),
                "-" if figures.get("tokens_per_second") is None else f"{figures['tokens_per_second']:.1f}",
            )
            if model in present:
                for column, value in zip(table.columns, row):
                    table.update_cell(model, column, value)
            else:
                table.add_row(*row, key=model)
        for stale in present - set(summary):
            table.remove_row(stale)
        if self.selected not in summary:
            self.selected = next(iter(sorted(summary)), None)
        self._show_charts()

    @on(DataTable.RowHighlighted, "#latency-table")
    def _select(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None:
            self.selected = str(event.row_key.value)
            self._show_charts()

    def _show_charts(self) -> None:
        buckets = self.series.get(self.selected or "", [])
        title = f"{self.selected}: last {self.window_label}" if self.selected else "no requests yet"
        self.query_one("#latency-title", Static).update(Text(title))
        self.query_one("#chart-latency", Sparkline).data = [b.get("p50_ms") or 0 for b in buckets]
        self.query_one("#chart-requests", Sparkline).data = [b.get("requests", 0) for b in buckets]
        self.query_one("#chart-errors", Sparkline).data = [b.get("errors", 0) for b in buckets]

    def action_next_window(self) -> None:
        self.post_message(self.WindowChange())

    class WindowChange(Message):
        """Cycle the statistics window (the App owns the statistics)."""
