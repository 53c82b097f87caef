"""One request with all its fields, in words: which bot answered, which failed before it, which
subagent asked, timings, tokens and Poe points."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from claude_poe_tui.control.points import points_words
from claude_poe_tui.points.model import PointsLine
from claude_poe_tui.requestlog.describe import without_model
from claude_poe_tui.requestlog.record import RequestRecord

INTERNAL = {"v"}  # the record's schema version: for the reader, not for people
# Fields the lines below say in words; any other field is listed as it is, so nothing is hidden.
SAID = {
    "ts", "id", "status", "method", "path", "model", "answered_model", "poe_model", "route", "failed", "stream",
    "latency_ms", "ttft_ms", "input_tokens", "output_tokens", "error_type", "error_message", "session",
    "agent_id", "parent_agent_id", "member", "poe_key", "max_tokens_lowered",
}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def _failed_lines(failed: list[Any]) -> Text:
    text = Text()
    for number, entry in enumerate(failed, 1):
        if number > 1:
            text.append("\n")
        if not isinstance(entry, dict):
            text.append(f"{number}. {entry}")
            continue
        name = entry.get("model") or "?"
        bot = entry.get("poe_model") or "?"
        text.append(f"{number}. {name} → {bot}: ")
        text.append(str(entry.get("status", "?")), style="bold red")
        if entry.get("error_type"):
            text.append(f" {entry['error_type']}")
    return text


def record_fields(record: RequestRecord, points: PointsLine | None = None,
                  points_note: str | None = None) -> list[tuple[str, Text]]:
    """``(label, value)`` lines for one request; values from the log are plain text, never markup."""
    rows: list[tuple[str, Text]] = []

    def add(label: str, value: Any, style: str = "") -> None:
        rows.append((label, value if isinstance(value, Text) else Text("-" if value is None else str(value), style=style)))

    add("when", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.ts)) + f" ({record.ts:.3f})")
    add("request id", record.id)
    add("status", record.status, "green" if record.status < 400 else "bold red")
    add("request", f"{record.method} {record.path}")
    add("model asked", record.model or f"(none: {without_model(record)})")
    if record.answered_model and record.answered_model != record.model:
        add("answered as", f"{record.answered_model} (a fallback)")
    add("Poe bot", record.poe_model or "-")
    if record.failed:
        add("failed before", _failed_lines(record.failed))
    add("route", record.route)
    add("streamed", "-" if record.stream is None else ("yes" if record.stream else "no"))
    add("latency", _ms(record.latency_ms))
    add("first token", _ms(record.ttft_ms))
    tokens = "-"
    if record.input_tokens is not None or record.output_tokens is not None:
        tokens = f"{record.input_tokens or 0:,} in / {record.output_tokens or 0:,} out"
    speed = record.output_tokens_per_second
    if speed is not None:
        tokens += f" ({speed:.1f} tokens/s)"
    add("tokens", tokens)
    if points is not None:
        add("points", points_words(points))
    elif record.poe_model and points_note:
        add("points", points_note, "dim")
    elif record.poe_model:
        add("points", "not known here (no line in the points store beside the request log for this request)", "dim")
    else:
        add("points", "none: it never reached Poe")
    if record.max_tokens_lowered:
        asked, sent = (list(record.max_tokens_lowered) + [None, None])[:2]
        add("max_tokens", f"lowered from {asked} to {sent}, the bot's maximum output")
    if record.error_type or record.error_message:
        add("error", f"{record.error_type or 'error'}: {record.error_message or ''}", "red")
    add("session", record.session)
    if record.agent_id:
        asked_by = f"subagent {record.agent_id}"
        if record.parent_agent_id:
            asked_by += f", started by {record.parent_agent_id}"
        add("asked by", asked_by)
    elif record.parent_agent_id:
        add("asked by", f"an agent started by {record.parent_agent_id}")
    else:
        add("asked by", "the main agent" if record.session else "-")
    if record.member:
        add("member", record.member)
    if record.poe_key:
        add("Poe key", record.poe_key)
    for field in dataclasses.fields(record):
        if field.name not in SAID and field.name not in INTERNAL:
            add(field.name, getattr(record, field.name))
    return rows


def record_table(record: RequestRecord, points: PointsLine | None = None, points_note: str | None = None) -> Table:
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column("field", style="bold cyan", no_wrap=True)
    table.add_column("value", overflow="fold")
    for label, value in record_fields(record, points, points_note):
        table.add_row(label, value)
    return table


class RecordDetailScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close", id="detail.close")]

    def __init__(self, record: RequestRecord, points: PointsLine | None = None, *,
                 points_note: str | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.record = record
        self.points = points
        self.points_note = points_note

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide", id="record-detail"):
            yield Static(Text(f"Request {self.record.id}"), classes="dialog-title")
            yield Static(record_table(self.record, self.points, self.points_note))
