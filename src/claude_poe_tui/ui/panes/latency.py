"""Latency: per model, p50/p95/p99 and time to first token, errors, tokens per second, Poe points
per request and per hour, over time."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Sparkline, Static

from claude_poe_tui.control.points import ModelPoints
from claude_poe_tui.requestlog.stats import NO_MODEL, NO_MODEL_LABEL
from claude_poe_tui.ui.columns import Column
from claude_poe_tui.ui.fitted_table import FittedTable

COLUMNS = (
    Column("model", "model", priority=100, min_width=14),
    Column("requests", "requests", priority=90, short_title="reqs"),
    Column("errors", "errors", priority=85, short_title="errs"),
    Column("error_pct", "error %", priority=50, short_title="err %"),
    Column("p50", "p50 ms", priority=80, short_title="p50"),
    Column("p95", "p95 ms", priority=70, short_title="p95"),
    Column("p99", "p99 ms", priority=40, short_title="p99"),
    Column("ttft_p50", "ttft p50", priority=75),
    Column("ttft_p95", "ttft p95", priority=30),
    Column("tps", "tok/s", priority=60),
    Column("per_request", "pts/req", priority=45),
    Column("per_hour", "pts/h", priority=35),
)
NO_MODEL_CAPTION = f"{NO_MODEL_LABEL}: model discovery (GET /v1/models) and requests refused before routing"
TALL_CHARTS_FROM = 34  # pane height from which each chart gets 3 lines instead of 1


def model_label(model: str) -> str:
    return NO_MODEL_LABEL if model == NO_MODEL else model


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _points(value: float | None, estimated: bool) -> str:
    if value is None:
        return "-"
    figure = f"{value:,.0f}" if value >= 10 or value == 0 else f"{value:,.1f}"
    return f"~{figure}" if estimated else figure


def points_caption(points: ModelPoints | None) -> str:
    """One model's Poe points over the window, for the line above the charts: ``~12,345 pts ·
    ~2,345/req · ~14,000/h`` (``~``: partly estimated)."""
    if points is None:
        return ""
    est = points.estimated
    return (f"{_points(points.points, est)} pts · {_points(points.per_request, est)}/req · "
            f"{_points(points.per_hour, est)}/h")


class LatencyPane(Vertical):
    HELP = (
        "Per model name Claude Code asked for, over the last window: requests, errors, latency "
        "percentiles, time to first token (streamed requests) and output tokens per second. The "
        "charts follow the selected model, one bar per time bucket. Requests that name no model "
        "(Claude Code's model discovery) or were refused before they were routed (a wrong key) count "
        "under '(no model)'. pts/req and pts/h are Poe points per "
        "request and per hour over the window (~: partly estimated); the line above the charts "
        "says them for the selected model whatever the width."
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
        self.points: dict[str, ModelPoints] | None = None

    def compose(self) -> ComposeResult:
        yield FittedTable(COLUMNS, id="latency-table", zebra_stripes=True)
        with Vertical(id="latency-charts"):
            yield Static("", id="latency-title", classes="chart-title")
            for chart, label in (("latency", "p50 ms"), ("requests", "requests"), ("errors", "errors")):
                with Horizontal(classes="chart-row"):
                    yield Static(label, classes="chart-label")
                    yield Sparkline([], id=f"chart-{chart}")

    @property
    def table(self) -> FittedTable:
        return self.query_one("#latency-table", FittedTable)

    def on_resize(self, event: events.Resize) -> None:
        # Charts are one line each on a small terminal, so six models stay in view at 80x24.
        self.set_class(event.size.height >= TALL_CHARTS_FROM, "tall-charts")

    def show(self, summary: dict[str, dict[str, Any]], series: dict[str, list[dict[str, Any]]], window: str,
             points: dict[str, ModelPoints] | None = None) -> None:
        """New figures: rows are updated in place (no flicker, cursor kept). ``points``: per model, Poe
        points of the window (None where no points are kept, such as a remote gateway)."""
        self.summary, self.series, self.window_label, self.points = summary, series, window, points
        rows = []
        for model in sorted(summary):
            figures = summary[model]
            requests = figures.get("requests", 0)
            errors = figures.get("errors", 0)
            spent = (points or {}).get(model)
            rows.append((model, {
                "model": Text(model_label(model), style="dim" if model == NO_MODEL else ""),
                "requests": f"{requests:,}",
                "errors": Text(f"{errors:,}", style="bold red" if errors else ""),
                "error_pct": f"{(100.0 * errors / requests) if requests else 0:.1f}",
                "p50": _ms(figures.get("p50_ms")),
                "p95": _ms(figures.get("p95_ms")),
                "p99": _ms(figures.get("p99_ms")),
                "ttft_p50": _ms(figures.get("ttft_p50_ms")),
                "ttft_p95": _ms(figures.get("ttft_p95_ms")),
                "tps": "-" if figures.get("tokens_per_second") is None else f"{figures['tokens_per_second']:.1f}",
                "per_request": _points(spent.per_request, spent.estimated) if spent else "-",
                "per_hour": _points(spent.per_hour, spent.estimated) if spent else "-",
            }))
        self.table.set_rows(rows)
        if self.selected not in summary:
            self.selected = next(iter(sorted(summary)), None)
        self._show_charts()

    @on(DataTable.RowHighlighted, "#latency-table")
    def _select(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value is not None:
            self.selected = str(event.row_key.value)
            self._show_charts()

    def _show_charts(self) -> None:
        buckets = self.series.get(self.selected or "", [])
        if self.selected is None:
            title = "no requests yet"
        elif self.selected == NO_MODEL:
            title = f"{NO_MODEL_CAPTION}, last {self.window_label}"
        else:
            title = f"{self.selected}: last {self.window_label}"
            caption = points_caption((self.points or {}).get(self.selected))
            if caption:
                title += f" · {caption}"
        self.query_one("#latency-title", Static).update(Text(title))
        self.query_one("#chart-latency", Sparkline).data = [b.get("p50_ms") or 0 for b in buckets]
        self.query_one("#chart-requests", Sparkline).data = [b.get("requests", 0) for b in buckets]
        self.query_one("#chart-errors", Sparkline).data = [b.get("errors", 0) for b in buckets]

    def action_next_window(self) -> None:
        self.post_message(self.WindowChange())

    class WindowChange(Message):
        """Cycle the statistics window (the App owns the statistics)."""
