"""``?``: every key binding of the dashboard, by pane, with what it does."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.keys import format_key
from textual.screen import ModalScreen
from textual.widgets import Static


def _keys(binding: Binding) -> str:
    """``question_mark,slash`` as people type them: ``? / /``; enter stays a word (⏎ reads poorly)."""
    return " / ".join(key if key == "enter" else format_key(key) for key in (k.strip() for k in binding.key.split(",")))


def binding_table(sections: list[tuple[str, str, list[Binding]]]) -> Table:
    table = Table(show_header=False, box=None, padding=(0, 2), expand=True)
    table.add_column("key", style="bold cyan", no_wrap=True)
    table.add_column("what", ratio=1)
    for title, about, bindings in sections:
        table.add_row(Text(title, style="bold underline"), Text(about, style="dim"))
        for binding in bindings:
            description = binding.description or binding.action
            if binding.tooltip:
                description += f": {binding.tooltip}"
            table.add_row(_keys(binding), description)
        table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close")]

    def __init__(self, sections: list[tuple[str, str, list[Binding]]]) -> None:
        super().__init__(classes="dialog-screen")
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide", id="help"):
            yield Static("Help: every key, by pane  (esc closes; ctrl+p opens the command palette)", classes="dialog-title")
            yield Static(binding_table(self.sections))
