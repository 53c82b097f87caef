"""Keys: the Poe key and the master key, masked, with where each comes from."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from claude_poe_tui.config.model import Config


class KeysPane(Vertical):
    HELP = "The Poe API key and the proxy's master key."
    BINDINGS: list = []

    def __init__(self) -> None:
        super().__init__(id="keys-pane")

    def compose(self) -> ComposeResult:
        table: DataTable[str] = DataTable(id="keys-table", cursor_type="row")
        table.add_columns("key", "value", "from")
        yield table
        yield Static(id="keys-detail")

    def show_config(self, config: Config) -> None:
        pass
