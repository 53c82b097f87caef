"""Keys: the Poe key and the master key, masked, with where each comes from."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from claude_poe_tui.config.model import Config
from claude_poe_tui.keys import KeyInfo, KeyKind, describe_keys
from claude_poe_tui.ui.screens.confirm import ConfirmScreen
from claude_poe_tui.ui.screens.prompt import PromptScreen


class KeysPane(Vertical):
    HELP = (
        "The Poe API key (what Poe bills) and the master key (what Claude Code sends to this proxy, "
        "as ANTHROPIC_AUTH_TOKEN). Keys are masked; a new key is stored only in the .env beside "
        "the config (mode 0600) and the proxy restarts to use it."
    )
    BINDINGS = [
        Binding("v", "reveal", "Reveal", id="keys.reveal", tooltip="Show or mask the selected key"),
        Binding("c", "copy", "Copy", id="keys.copy", tooltip="Copy the selected key to the clipboard"),
        Binding("R,enter", "replace", "Replace", id="keys.replace", tooltip="Type or paste a new value"),
        Binding("g", "generate", "New master key", id="keys.generate", tooltip="Generate a new master key"),
        Binding("k", "check", "Check Poe key", id="keys.check", tooltip="Ask Poe: balance and points per bot"),
    ]

    class StoreKey(Message):
        """Store ``value`` as the ``kind`` key (the App writes it and restarts the proxy)."""

        def __init__(self, kind: KeyKind, value: str) -> None:
            super().__init__()
            self.kind = kind
            self.value = value

    class CheckPoeKey(Message):
        """Ask Poe whether the key works (the App does it in a worker)."""

    def __init__(self) -> None:
        super().__init__(id="keys-pane")
        self.keys: list[KeyInfo] = []
        self.revealed: set[KeyKind] = set()
        self.check_result: Text = Text("Press k to check the Poe key against Poe (shows your points).", style="dim")

    def compose(self) -> ComposeResult:
        table: DataTable[str | Text] = DataTable(id="keys-table", cursor_type="row")
        table.add_columns("key", "value", "comes from", "config says")
        yield table
        yield Static(id="keys-detail")
        yield Static("v reveal · c copy · enter/R replace · g new master key · k check the Poe key", classes="hint")

    def show_config(self, config: Config) -> None:
        self.keys = describe_keys(config)
        self._refresh()

    def show_check(self, result: Text) -> None:
        self.check_result = result
        self._refresh()

    def _refresh(self) -> None:
        table = self.query_one("#keys-table", DataTable)
        row = table.cursor_row
        table.clear()
        for info in self.keys:
            if info.value is None:
                value = Text("(not set)", style="bold red")
            elif info.kind in self.revealed:
                value = Text(info.value, style="bold yellow")
            else:
                value = Text(info.masked)
            table.add_row(info.kind.label, value, Text(info.where()), Text(info.raw if info.env_name else "(the key itself)"),
                          key=info.kind.value)
        if self.keys:
            table.move_cursor(row=min(row, len(self.keys) - 1))
        self.query_one("#keys-detail", Static).update(self.check_result)

    def _selected(self) -> KeyInfo | None:
        if not self.keys:
            return None
        return self.keys[self.query_one("#keys-table", DataTable).cursor_row]

    def action_reveal(self) -> None:
        info = self._selected()
        if info is not None:
            self.revealed ^= {info.kind}
            self._refresh()

    def action_copy(self) -> None:
        info = self._selected()
        if info is None or info.value is None:
            self.notify("That key is not set.", severity="warning")
            return
        self.app.copy_to_clipboard(info.value)
        self.notify(f"{info.kind.label} copied to the clipboard.")

    @on(DataTable.RowSelected, "#keys-table")
    def _row_chosen(self) -> None:
        # The focused table takes `enter` itself (its select binding) and says so with RowSelected.
        self.action_replace()

    def action_replace(self) -> None:
        info = self._selected()
        if info is None:
            return
        where = f"{info.env_name} in {info.dotenv_path}" if info.env_name else "the config"
        if info.kind is KeyKind.POE:
            explanation = f"Paste your Poe API key (https://poe.com/api_key). It is stored as {where}."
        else:
            explanation = (f"The token Claude Code must send (ANTHROPIC_AUTH_TOKEN). Stored as {where}; "
                           "update Claude Code's settings afterwards (claude-poe-tui claude-settings).")

        def done(value: str | None) -> None:
            if value:
                self.post_message(self.StoreKey(info.kind, value))

        self.app.push_screen(PromptScreen(f"New {info.kind.label}", explanation), done)

    def action_generate(self) -> None:
        def done(confirmed: bool | None) -> None:
            if confirmed:
                from claude_poe_tui.keys import generate_master_key

                self.post_message(self.StoreKey(KeyKind.MASTER, generate_master_key()))

        question = ("Generate a new master key?\nThe proxy restarts with it, and Claude Code must use the "
                    "new one: run `claude-poe-tui claude-settings` or eval `claude-poe-tui env` again.")
        self.app.push_screen(ConfirmScreen(question, confirm_label="Generate"), done)

    def action_check(self) -> None:
        self.show_check(Text("Asking Poe…", style="italic"))
        self.post_message(self.CheckPoeKey())
