"""The proxy's own output (LiteLLM's log lines, keys redacted), bounded."""

from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import RichLog, Static

OUTPUT_LINES_SHOWN = 2000
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def plain(line: str) -> str:
    """LiteLLM colours some lines; the dashboard shows them plain."""
    return _ANSI.sub("", line)


class OutputPane(Vertical):
    HELP = "What the LiteLLM proxy prints: start-up, warnings, errors. Keys are never shown."

    def __init__(self) -> None:
        super().__init__(id="output-pane")

    def compose(self) -> ComposeResult:
        yield RichLog(id="output-log", max_lines=OUTPUT_LINES_SHOWN, wrap=True, markup=False, highlight=False)
        yield Static("The proxy's own output. Request-by-request traffic is in Logs (3).", classes="hint")

    def add_lines(self, lines: list[str]) -> None:
        log = self.query_one("#output-log", RichLog)
        for line in lines:
            log.write(plain(line))
