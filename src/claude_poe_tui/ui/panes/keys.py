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
from claude_poe_tui.control.keys import CheckOutcome, PoeKeyCheck
from claude_poe_tui.keys import KeyInfo, KeyKind, describe_keys
from claude_poe_tui.ui.columns import Column
from claude_poe_tui.ui.fitted_table import FittedTable
from claude_poe_tui.ui.screens.confirm import ConfirmScreen
from claude_poe_tui.ui.screens.prompt import PromptScreen
from claude_poe_tui.wording import counted

COLUMNS = (
    Column("key", "key", priority=100),
    Column("value", "value", priority=80, min_width=12),
    Column("origin", "comes from", priority=90, min_width=24),
    Column("config", "config says", priority=50, min_width=12),
)


def check_text(check: PoeKeyCheck) -> Text:
    """Poe's answer about the key, as the pane shows it."""
    if check.outcome is CheckOutcome.NOT_SET:
        return Text(check.message, style="bold red")
    if check.outcome is CheckOutcome.FAILED:
        return Text(f"✗ {check.message}", style="bold red")
    text = Text(f"✓ {check.message}", style="bold green")
    if check.spent:
        text.append("\nPoints spent recently, per bot:", style="bold")
        for bot, points, count in check.spent:
            text.append(f"\n  {bot:<28} {points:>10,} points  {counted(count, 'request'):>14}")
    return text


class KeysPane(Vertical):
    HELP = (
        "The Poe API key (what Poe bills) and the master key (what Claude Code sends to this proxy, "
        "as ANTHROPIC_AUTH_TOKEN). Keys are masked; a new key is stored only in the .env beside "
        "the config (mode 0600) and the proxy restarts to use it. Copying says where the key went: "
        "tmux's buffer, the clipboard (through a clipboard tool), or a request to the terminal."
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

    class CopyKey(Message):
        """Copy ``value`` (the App tries tmux, a clipboard tool, then OSC 52, in a worker)."""

        def __init__(self, label: str, value: str) -> None:
            super().__init__()
            self.label = label
            self.value = value

    def __init__(self) -> None:
        super().__init__(id="keys-pane")
        self.keys: list[KeyInfo] = []
        self.revealed: set[KeyKind] = set()
        self.check_result: Text = Text("Press k to check the Poe key against Poe (shows your points).", style="dim")

    def compose(self) -> ComposeResult:
        yield FittedTable(COLUMNS, id="keys-table")
        yield Static(id="keys-selected", classes="detail")
        yield Static(id="keys-detail")

    def show_config(self, config: Config) -> None:
        self.keys = describe_keys(config)
        self._refresh()

    def show_check(self, result: Text | PoeKeyCheck) -> None:
        self.check_result = check_text(result) if isinstance(result, PoeKeyCheck) else result
        self._refresh()

    def _value_cell(self, info: KeyInfo) -> Text:
        if info.value is None:
            return Text("(not set)", style="bold red")
        if info.kind in self.revealed:
            return Text(info.value, style="bold yellow")
        return Text(info.masked)

    def _refresh(self) -> None:
        rows = []
        for info in self.keys:
            rows.append((info.kind.value, {
                "key": info.kind.label,
                "value": self._value_cell(info),
                "origin": Text(info.where()),
                "config": Text(info.raw if info.env_name else "(the key itself)"),
            }))
        self.query_one("#keys-table", FittedTable).set_rows(rows)
        self._show_selected()
        self.query_one("#keys-detail", Static).update(self.check_result)

    def _show_selected(self) -> None:
        """The selected key in full: a revealed value, where it comes from, what the config says."""
        info = self._selected()
        selected = self.query_one("#keys-selected", Static)
        if info is None:
            selected.update("")
            return
        text = Text()
        text.append(info.kind.label, style="bold")
        text.append(": ")
        text.append_text(self._value_cell(info))
        text.append(" from ")
        text.append(info.where())
        text.append(f" ({info.kind.config_key} = ", style="dim")
        text.append(info.raw if info.env_name else "the key itself", style="dim")
        text.append(")", style="dim")
        selected.update(text)

    @on(DataTable.RowHighlighted, "#keys-table")
    def _highlighted(self) -> None:
        self._show_selected()

    def _selected(self) -> KeyInfo | None:
        if not self.keys:
            return None
        return self.keys[min(self.query_one("#keys-table", DataTable).cursor_row, len(self.keys) - 1)]

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
        self.post_message(self.CopyKey(info.kind.label[:1].upper() + info.kind.label[1:], info.value))

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
