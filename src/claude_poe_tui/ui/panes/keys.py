"""Keys: the Poe key and the master key, masked, with where each comes from."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from claude_poe_tui.config.model import Config
from claude_poe_tui.control.keys import CheckOutcome, PoeKeyCheck, PoolKey, describe_pool
from claude_poe_tui.keys import KeyKind, describe_keys, mask
from claude_poe_tui.ui.columns import Column
from claude_poe_tui.ui.fitted_table import FittedTable
from claude_poe_tui.ui.messages import EditMemberBudgets
from claude_poe_tui.ui.screens.confirm import ConfirmScreen
from claude_poe_tui.ui.screens.prompt import PromptScreen
from claude_poe_tui.wording import counted

COLUMNS = (
    Column("key", "key", priority=100),
    Column("value", "value", priority=80, min_width=12),
    Column("origin", "comes from", priority=90, min_width=24),
    Column("config", "config says", priority=50, min_width=12),
)
# With a pool of Poe keys or team members: whether each pool key is in use, from the proxy's status page.
TEAM_COLUMNS = (*COLUMNS[:2], Column("pool", "in the pool", priority=95, short_title="pool", min_width=12,
                                     max_width=60), *COLUMNS[2:])
REMOTE_NOTE = ("The keys of a remote gateway are set on its machine. Shown here: the master key this "
               "dashboard uses, the pool keys the gateway has taken out (and why) and its members, from "
               "its status page.")

if TYPE_CHECKING:
    from claude_poe_tui.control.status import StatusReport


@dataclass(frozen=True)
class KeyRow:
    """One line of the table: a key (Poe, a pool key, the master key) or a member (name only)."""

    id: str
    label: str
    value: str | None
    """The key itself (None: not set, or not ours to see)."""
    masked: str
    origin: str
    config: str
    kind: KeyKind | None = None
    pool: PoolKey | None = None
    member: bool = False


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
        "tmux's buffer, the clipboard (through a clipboard tool), or a request to the terminal. "
        "With a pool ([poe] api_keys) each pool key has a row, and 'in the pool' says whether the "
        "proxy uses it or took it out (Poe refused it: 401, 402) and why; members ([[clients]]) are "
        "listed by name, and enter on one edits their budgets."
    )
    BINDINGS = [
        Binding("v", "reveal", "Reveal", id="keys.reveal", tooltip="Show or mask the selected key"),
        Binding("c", "copy", "Copy", id="keys.copy", tooltip="Copy the selected key to the clipboard"),
        Binding("R,enter", "replace", "Replace", id="keys.replace", tooltip="Type or paste a new value"),
        Binding("g", "generate", "New master key", id="keys.generate", tooltip="Generate a new master key"),
        Binding("k", "check", "Check Poe key", id="keys.check",
                tooltip="Ask Poe: balance and points per bot (the selected pool key, with a pool)"),
    ]

    class StoreKey(Message):
        """Store ``value`` as the ``kind`` key, or as pool key ``pool`` (the App writes it and restarts the proxy)."""

        def __init__(self, kind: KeyKind, value: str, pool: PoolKey | None = None) -> None:
            super().__init__()
            self.kind = kind
            self.value = value
            self.pool = pool

    class CheckPoeKey(Message):
        """Ask Poe whether the key works (the App does it in a worker); ``pool``: that key of the pool."""

        def __init__(self, pool: PoolKey | None = None) -> None:
            super().__init__()
            self.pool = pool

    class CopyKey(Message):
        """Copy ``value`` (the App tries tmux, a clipboard tool, then OSC 52, in a worker)."""

        def __init__(self, label: str, value: str) -> None:
            super().__init__()
            self.label = label
            self.value = value

    def __init__(self) -> None:
        super().__init__(id="keys-pane")
        self.rows: list[KeyRow] = []
        self.revealed: set[str] = set()
        self.status: StatusReport | None = None
        self.remote: str | None = None  # the gateway's URL when this dashboard shows a remote one
        self._config: Config | None = None
        self._remote_key: KeyRow | None = None
        self.check_result: Text = Text("Press k to check the Poe key against Poe (shows your points).", style="dim")

    def compose(self) -> ComposeResult:
        yield FittedTable(COLUMNS, id="keys-table")
        yield Static(id="keys-selected", classes="detail")
        yield Static(id="keys-detail")

    @property
    def table(self) -> FittedTable:
        return self.query_one("#keys-table", FittedTable)

    # -- what is shown --

    def show_config(self, config: Config) -> None:
        if config.poe.api_keys and self.check_result.plain.startswith("Press k to check the Poe key"):
            self.check_result = Text("Press k to check the selected pool key against Poe (shows its points).",
                                     style="dim")
        self._config = config
        self._refresh()

    def show_remote(self, url: str, key: str, key_name: str, key_origin: str) -> None:
        """A remote gateway: the master key this dashboard reaches it with; the rest from its status page."""
        self.remote = url
        self._remote_key = KeyRow("master", "master key", key, mask(key), key_origin, f"--key-env {key_name}",
                                  KeyKind.MASTER)
        self.check_result = Text(REMOTE_NOTE, style="dim")
        self.refresh_bindings()
        self._refresh()

    def show_status(self, report: StatusReport | None) -> None:
        """The proxy's status page: which pool keys are out, and the members (a remote gateway's too)."""
        self.status = report
        self._refresh()

    def show_check(self, result: Text | PoeKeyCheck) -> None:
        self.check_result = check_text(result) if isinstance(result, PoeKeyCheck) else result
        self._refresh()

    def _build_rows(self) -> list[KeyRow]:
        rows: list[KeyRow] = []
        if self.remote is not None:
            if self._remote_key is not None:
                rows.append(self._remote_key)
            report = self.status
            if report is not None and report.ok:
                for name in report.keys_out:
                    rows.append(KeyRow(f"pool:{name}", f"Poe key {name}", None, "(on the gateway)",
                                       "the gateway's machine", f"env:{name}"))
                for member in report.members:
                    rows.append(KeyRow(f"member:{member}", f"member {member}", None, "-", "the gateway's [[clients]]",
                                       "-", member=True))
            return rows
        config = self._config
        if config is None:
            return rows
        infos = {info.kind: info for info in describe_keys(config)}
        if config.poe.api_keys:
            for key in describe_pool(config):
                rows.append(KeyRow(f"pool:{key.env_name}", f"Poe key {key.index + 1} of the pool", key.value,
                                   key.masked, key.where,
                                   key.raw if key.raw.startswith("env:") else "(the key itself)", KeyKind.POE, key))
        else:
            info = infos[KeyKind.POE]
            rows.append(KeyRow("poe", info.kind.label, info.value, info.masked, info.where(),
                               info.raw if info.env_name else "(the key itself)", KeyKind.POE))
        info = infos[KeyKind.MASTER]
        rows.append(KeyRow("master", info.kind.label, info.value, info.masked, info.where(),
                           info.raw if info.env_name else "(the key itself)", KeyKind.MASTER))
        for client in config.clients:
            rows.append(KeyRow(f"member:{client.name}", f"member {client.name}", None, "-",
                               "[[clients]] in the config", client.key if client.key.startswith("env:") else "(a token)",
                               member=True))
        return rows

    def _pool_cell(self, row: KeyRow) -> Text:
        if row.pool is None and not row.id.startswith("pool:"):
            return Text("-", style="dim") if row.member else Text("")
        name = row.pool.env_name if row.pool is not None else row.id[len("pool:"):]
        report = self.status
        if report is None or not report.ok:
            return Text("? (the proxy is not answering)" if self.remote is None else "?", style="dim")
        reason = report.keys_out.get(name)
        if reason is not None:
            return Text(f"out: {reason}", style="bold red")
        return Text("in use", style="green")

    def _value_cell(self, row: KeyRow) -> Text:
        if row.member:
            return Text("-", style="dim")
        if row.value is None:
            return Text(row.masked if row.masked.startswith("(on") else "(not set)",
                        style="dim" if self.remote else "bold red")
        if row.id in self.revealed:
            return Text(row.value, style="bold yellow")
        return Text(row.masked)

    def _refresh(self) -> None:
        self.rows = self._build_rows()
        team = self.remote is not None or any(row.pool is not None or row.member for row in self.rows)
        table = self.table
        table.spec = list(TEAM_COLUMNS if team else COLUMNS)
        rows = []
        for row in self.rows:
            rows.append((row.id, {
                "key": Text(row.label),
                "value": self._value_cell(row),
                "pool": self._pool_cell(row),
                "origin": Text(row.origin),
                "config": Text(row.config),
            }))
        table.set_rows(rows)
        self._show_selected()
        self.query_one("#keys-detail", Static).update(self.check_result)

    def _show_selected(self) -> None:
        """The selected row in full: a revealed value, where it comes from, what the config says, the pool."""
        row = self._selected()
        selected = self.query_one("#keys-selected", Static)
        if row is None:
            selected.update("")
            return
        text = Text()
        text.append(row.label, style="bold")
        if row.member:
            text.append(": a team member's token, from ")
            text.append(row.origin)
            text.append(f" ({row.config})", style="dim")
            if self.remote is None:
                text.append(" · enter: their budgets (daily_points, session_points)", style="dim")
        else:
            text.append(": ")
            text.append_text(self._value_cell(row))
            text.append(" from ")
            text.append(row.origin)
            setting = (f"[poe] api_keys[{row.pool.index}]" if row.pool is not None
                       else row.kind.config_key if row.kind is not None and self.remote is None else "")
            if setting:
                text.append(f" ({setting} = ", style="dim")
                text.append(row.config, style="dim")
                text.append(")", style="dim")
        pool = self._pool_cell(row)
        if pool.plain and pool.plain != "-":
            text.append(" · ")
            text.append_text(pool)
        selected.update(text)

    @on(DataTable.RowHighlighted, "#keys-table")
    def _highlighted(self) -> None:
        self._show_selected()

    def _selected(self) -> KeyRow | None:
        if not self.rows:
            return None
        return self.rows[min(self.table.cursor_row, len(self.rows) - 1)]

    # -- actions --

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A remote gateway's keys are set on its machine: only reveal and copy (the key used here) stay enabled.
        if self.remote is not None and action in ("replace", "generate", "check"):
            return None
        return True

    def _refuse_remote(self) -> bool:
        if self.remote is not None:
            self.notify(f"The keys of {self.remote} are set on its machine: change them there "
                        "(its .env, then restart its serve).", severity="warning")
            return True
        return False

    def action_reveal(self) -> None:
        row = self._selected()
        if row is not None and row.value is not None:
            self.revealed ^= {row.id}
            self._refresh()

    def action_copy(self) -> None:
        row = self._selected()
        if row is None or row.value is None:
            self.notify("That key is not set here." if row is None or not row.member
                        else "Members' tokens are not shown: copy them from where they are set.", severity="warning")
            return
        self.post_message(self.CopyKey(row.label[:1].upper() + row.label[1:], row.value))

    @on(DataTable.RowSelected, "#keys-table")
    def _row_chosen(self) -> None:
        # The focused table takes `enter` itself (its select binding) and says so with RowSelected.
        self.action_replace()

    def action_replace(self) -> None:
        row = self._selected()
        if row is None or self._refuse_remote():
            return
        if row.member:
            # A member's token is theirs to keep (set where [[clients]] says); what the dashboard edits
            # of a member is their budgets.
            self.post_message(EditMemberBudgets(row.id.removeprefix("member:")))
            return
        config = self._config
        assert config is not None and row.kind is not None
        if row.pool is not None:
            name = row.pool.env_name if row.pool.raw.startswith("env:") else None
            where = f"{name} in {config.dotenv_path}" if name else "the config"
            explanation = (f"Paste the Poe API key for pool key {row.pool.index + 1}. It is stored as {where}; "
                           "the proxy restarts to use it.")
        else:
            info = {i.kind: i for i in describe_keys(config)}[row.kind]
            where = f"{info.env_name} in {info.dotenv_path}" if info.env_name else "the config"
            if row.kind is KeyKind.POE:
                explanation = f"Paste your Poe API key (https://poe.com/api_key). It is stored as {where}."
            else:
                explanation = (f"The token Claude Code must send (ANTHROPIC_AUTH_TOKEN). Stored as {where}; "
                               "update Claude Code's settings afterwards (claude-poe-tui claude-settings).")

        def done(value: str | None) -> None:
            if value:
                self.post_message(self.StoreKey(row.kind, value, row.pool))

        self.app.push_screen(PromptScreen(f"New {row.label}", explanation), done)

    def action_generate(self) -> None:
        if self._refuse_remote():
            return

        def done(confirmed: bool | None) -> None:
            if confirmed:
                from claude_poe_tui.keys import generate_master_key

                self.post_message(self.StoreKey(KeyKind.MASTER, generate_master_key()))

        question = ("Generate a new master key?\nThe proxy restarts with it, and Claude Code must use the "
                    "new one: run `claude-poe-tui claude-settings` or eval `claude-poe-tui env` again.")
        self.app.push_screen(ConfirmScreen(question, confirm_label="Generate"), done)

    def action_check(self) -> None:
        if self._refuse_remote():
            return
        row = self._selected()
        pool = row.pool if row is not None else None
        if pool is None and self._config is not None and self._config.poe.api_keys:
            pool = describe_pool(self._config)[0]
        self.show_check(Text("Asking Poe…", style="italic"))
        self.post_message(self.CheckPoeKey(pool))
