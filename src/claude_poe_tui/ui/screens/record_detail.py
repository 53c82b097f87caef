"""One request with all its fields."""

from __future__ import annotations

import dataclasses
import time

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from claude_poe_tui.requestlog.record import RequestRecord


def record_table(record: RequestRecord) -> Table:
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column("field", style="bold cyan", no_wrap=True)
    table.add_column("value", overflow="fold")
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        if field.name == "ts":
            value = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value)) + f" ({value:.3f})"
        table.add_row(field.name, Text("-" if value is None else str(value)))
    speed = record.output_tokens_per_second
    table.add_row("tokens/s", "-" if speed is None else f"{speed:.1f}")
    return table


class RecordDetailScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close", id="detail.close")]

    def __init__(self, record: RequestRecord) -> None:
        super().__init__(classes="dialog-screen")
        self.record = record

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide"):
            yield Static(Text(f"Request {self.record.id}"), classes="dialog-title")
            yield Static(record_table(self.record))
