"""Shown when the proxy dies: its last output, and a restart."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, RichLog, Static

from claude_poe_tui.ui.panes.output import plain

LAST_LINES = 30


class CrashScreen(ModalScreen[bool]):
    """Returns ``True`` when the user asks for a restart."""

    BINDINGS = [
        Binding("r", "answer(True)", "Restart", id="crash.restart"),
        Binding("escape", "answer(False)", "Close", id="crash.close"),
    ]

    def __init__(self, reason: str, last_output: list[str]) -> None:
        super().__init__(classes="dialog-screen")
        self.reason = reason
        self.last_output = last_output[-LAST_LINES:]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide"):
            yield Static("The proxy stopped unexpectedly", classes="dialog-title error")
            yield Static(self.reason, classes="dialog-text", markup=False)
            log = RichLog(id="crash-output", wrap=True, markup=False, highlight=False, min_width=20)
            yield log
            with Horizontal(classes="dialog-buttons"):
                yield Button("Restart (r)", variant="primary", id="crash-restart")
                yield Button("Close (esc)", id="crash-close")

    def on_mount(self) -> None:
        log = self.query_one("#crash-output", RichLog)
        for line in self.last_output or ["(no output)"]:
            log.write(plain(line))
        self.query_one("#crash-restart", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "crash-restart")

    def action_answer(self, restart: bool) -> None:
        self.dismiss(restart)
