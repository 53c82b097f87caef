"""The proxy's own output (keys redacted): one line per event, tracebacks folded under it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from claude_poe_tui.output_events import OutputGrouper, plain
from claude_poe_tui.ui.output_view import OutputView

OUTPUT_EVENTS_SHOWN = 2000

__all__ = ["OutputPane", "plain"]


class OutputPane(Vertical):
    HELP = (
        "What the proxy prints: start-up, warnings, errors, one line per event. A traceback is "
        "folded under the line it belongs to (▸ and its line count): enter unfolds it. Keys are "
        "never shown."
    )

    def __init__(self) -> None:
        super().__init__(id="output-pane")
        self.grouper = OutputGrouper()

    def compose(self) -> ComposeResult:
        yield OutputView(max_events=OUTPUT_EVENTS_SHOWN, id="output-log")
        yield Static(Text("The proxy's own output. Request-by-request traffic is in Logs (3)."), classes="hint")

    @property
    def view(self) -> OutputView:
        return self.query_one("#output-log", OutputView)

    def add_lines(self, lines: list[str]) -> None:
        view = self.view
        for line in lines:
            event, new = self.grouper.feed(line)
            if event is not None:
                view.add(event, new)
