"""Sessions: per Claude Code session its requests, bots, Poe points, first and last time; the budgets
and how close each is; low-balance notices."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from claude_poe_tui.config.model import BudgetSettings
from claude_poe_tui.control.config import BUDGET_KEYS
from claude_poe_tui.control.sessions import NO_SESSION, SessionRow
from claude_poe_tui.points.budget import BudgetLimits
from claude_poe_tui.ui.columns import Column
from claude_poe_tui.ui.fitted_table import FittedTable
from claude_poe_tui.ui.messages import EditMemberBudgets
from claude_poe_tui.ui.status_bar import format_points
from claude_poe_tui.wording import counted

COLUMNS = (
    Column("session", "session", priority=100, min_width=10, max_width=38),
    Column("last", "last", priority=90),
    Column("requests", "requests", priority=85, short_title="reqs"),
    Column("points", "points", priority=95),
    Column("budget", "budget", priority=65, short_title="bdgt"),
    Column("bots", "bots", priority=80, min_width=12, max_width=60),
    Column("errors", "errors", priority=60, short_title="errs"),
    Column("first", "first", priority=50),
    Column("member", "member", priority=40),
)
GAUGE_CELLS = 10


def when(ts: float | None, now: float, *, full: bool = False) -> str:
    """``14:05:09`` today, ``11-28 14:05`` before; ``full``: the whole date and time."""
    if ts is None:
        return "-"
    if full:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
    if time.strftime("%Y-%m-%d", time.localtime(ts)) == time.strftime("%Y-%m-%d", time.localtime(now)):
        return time.strftime("%H:%M:%S", time.localtime(ts))
    return time.strftime("%m-%d %H:%M", time.localtime(ts))


def session_points_text(row: SessionRow) -> Text:
    if row.points is None:
        return Text("-", style="dim")
    if row.points_estimated:
        return Text(f"~{format_points(row.points)}", style="dim")
    if row.points_ambiguous:
        return Text(f"≈{format_points(row.points)}", style="yellow")
    return Text(format_points(row.points))


def share_style(share: float) -> str:
    return "bold red" if share >= 0.9 else ("yellow" if share >= 0.7 else "green")


def gauge(share: float) -> Text:
    filled = max(0, min(GAUGE_CELLS, round(share * GAUGE_CELLS)))
    text = Text("▕", style="dim")
    text.append("█" * filled, style=share_style(share))
    text.append("░" * (GAUGE_CELLS - filled), style="dim")
    text.append("▏", style="dim")
    return text


def budget_lines(budget: BudgetSettings | None, summary: dict[str, Any] | None, rows: list[SessionRow],
                 *, remote: str | None = None) -> Text:
    """How close each budget is, what the proxy counts with when that differs, and the balance's notices."""
    text = Text()
    counted = (summary or {}).get("budget")
    # What the proxy counts with (its points summary), read as the proxy reads it.
    running = BudgetLimits.from_json(counted) if isinstance(counted, dict) else None
    if remote is not None:
        if not summary:
            text.append(f"Points and budgets of {remote} are counted on its machine; it has sent no points "
                        "summary (points off there, or none counted yet).", style="dim")
            return text
        # The gateway's own budgets, as it counts with them (they are set in its config, on its machine).
        budget = running or BudgetLimits()
    summary = summary or {}
    budget = budget or BudgetSettings()
    today = summary.get("today") or {}
    spent = float(today.get("points") or 0.0)
    about = "~" if today.get("estimated_requests") else ""
    balance = summary.get("balance") or {}
    live = balance.get("live") if balance.get("live") is not None else balance.get("points")
    parts: list[Text] = []
    if budget.daily_points is not None:
        share = spent / budget.daily_points
        part = Text("today ")
        part.append(f"{about}{format_points(spent)}", style=share_style(share))
        part.append(f"/{format_points(budget.daily_points)} ")
        part.append_text(gauge(share))
        part.append(f" {share:.0%}")
        parts.append(part)
    if budget.session_points is not None:
        sessions = [row for row in rows if row.session != NO_SESSION and row.points is not None]
        part = Text(f"per session {format_points(budget.session_points)}")
        if sessions:
            top = max(sessions, key=lambda row: row.points or 0.0)
            share = (top.points or 0.0) / budget.session_points
            part.append(f": most {'~' if top.points_estimated else ''}{format_points(top.points or 0.0)} ")
            part.append_text(gauge(share))
            part.append(f" {share:.0%}")
        parts.append(part)
    if budget.min_balance is not None:
        part = Text(f"keep {format_points(budget.min_balance)}: ")
        if isinstance(live, (int, float)):
            low = live < budget.min_balance
            part.append(f"balance {'~' if balance.get('live_estimated') else ''}{format_points(float(live))}",
                        style="bold red" if low else "green")
            if low:
                part.append(" (under it: requests are refused)", style="bold red")
        else:
            part.append("balance not known yet", style="dim")
        parts.append(part)
    if parts:
        text.append("Budgets  ", style="bold")
        for index, part in enumerate(parts):
            if index:
                text.append("  ·  ", style="dim")
            text.append_text(part)
    elif remote is not None:
        text.append(f"No budgets on {remote}.", style="dim")
    else:
        text.append("No budgets: b sets points per session, per day and a balance to keep ([budget]).", style="dim")
    text.append_text(member_budget_line(summary))
    if running is not None and remote is None:
        counted_with = {name: getattr(running, name) for name in BUDGET_KEYS}
        configured = {name: getattr(budget, name) for name in counted_with}
        if counted_with != configured:
            differ = ", ".join(f"{name} {'no limit' if value is None else format_points(value)}"
                               for name, value in counted_with.items() if value != configured[name])
            text.append("\nThe proxy still counts with the budgets it started with (", style="yellow")
            text.append(differ, style="yellow")
            text.append("): restart it (r) to use these.", style="yellow")
    for alert in summary.get("alerts") or []:
        if isinstance(alert, dict) and isinstance(alert.get("message"), str):
            text.append("\n⚠ ", style="bold red")
            text.append(alert["message"], style="bold red")
    history = summary.get("history") or {}
    if summary and history.get("error") and not history.get("ok"):
        text.append("\nPoints are estimated: ", style="yellow")
        text.append(str(history["error"]), style="yellow")
    return text


MEMBERS_SHOWN = 6


def member_budget_line(summary: dict[str, Any]) -> Text:
    """Team members' own daily budgets ([[clients]] daily_points), closest to their limit first."""
    members = (summary.get("budget_status") or {}).get("member_daily_points")
    text = Text()
    if not isinstance(members, dict) or not members:
        return text
    shown = sorted(((name, status) for name, status in members.items() if isinstance(status, dict)),
                   key=lambda item: -float(item[1].get("share") or 0.0))
    text.append("\nMembers today  ", style="bold")
    for index, (name, status) in enumerate(shown[:MEMBERS_SHOWN]):
        share = float(status.get("share") or 0.0)
        if index:
            text.append("  ·  ", style="dim")
        text.append(f"{name} ")
        text.append(f"{'~' if status.get('estimated') else ''}{format_points(float(status.get('spent') or 0.0))}",
                    style=share_style(share))
        text.append(f"/{format_points(float(status.get('limit') or 0.0))} ")
        text.append_text(gauge(share))
        text.append(f" {share:.0%}")
    if len(shown) > MEMBERS_SHOWN:
        text.append(f"  ·  {len(shown) - MEMBERS_SHOWN} more (stats)", style="dim")
    return text


class SessionsPane(Vertical):
    HELP = (
        "Per Claude Code session (x-claude-code-session-id), the most recently active first: its "
        "requests, the Poe bots that answered, its Poe points (~: partly estimated, ≈: partly shared "
        "with concurrent requests), how much of [budget] session_points it has spent, first and last "
        "request. Above the table: how close each budget is and the balance's notices. Enter shows "
        "the session's requests in Logs; b edits the budgets; m edits the budgets of the selected "
        "session's member (their [[clients]] entry)."
    )
    BINDINGS = [
        Binding("enter", "open", "Its requests", id="sessions.open", tooltip="The selected session's requests in Logs"),
        Binding("b", "budgets", "Budgets", id="sessions.budgets",
                tooltip="Edit [budget]: points per session, per day, balance to keep"),
        Binding("m", "member_budgets", "Member's budgets", id="sessions.member_budgets",
                tooltip="Edit the selected session's member's daily_points and session_points ([[clients]])"),
    ]

    class ShowRequests(Message):
        """Show ``session``'s requests in Logs."""

        def __init__(self, session: str) -> None:
            super().__init__()
            self.session = session

    class EditBudgets(Message):
        """Open the budget editor (the App owns the config)."""

    def __init__(self) -> None:
        super().__init__(id="sessions-pane")
        self.rows: list[SessionRow] = []
        self.total = 0
        self.budget: BudgetSettings | None = None
        self.summary: dict[str, Any] | None = None
        self.remote: str | None = None
        self.clock = time.time

    def compose(self) -> ComposeResult:
        yield Static(id="sessions-budgets", classes="detail")
        yield FittedTable(COLUMNS, id="sessions-table", zebra_stripes=True)
        yield Static(id="sessions-selected", classes="detail")
        yield Static(id="sessions-hint", classes="hint")

    def on_mount(self) -> None:
        self._show_budgets()
        self._show_hint()

    @property
    def table(self) -> FittedTable:
        return self.query_one("#sessions-table", FittedTable)

    def show_points(self, budget: BudgetSettings | None, summary: dict[str, Any] | None) -> None:
        self.budget, self.summary = budget, summary
        self._show_budgets()

    def show_sessions(self, rows: list[SessionRow], total: int) -> None:
        self.rows, self.total = rows, total
        now = self.clock()
        share_of = self.budget.session_points if self.budget else None
        cells = []
        for row in rows:
            share = row.budget_share(share_of)
            bots = Text(", ".join(bot for bot, _ in row.bots) or "-")
            cells.append((row.session, {
                "session": Text(row.session, style="dim" if row.session == NO_SESSION else ""),
                "last": when(row.last, now),
                "requests": f"{row.requests:,}",
                "points": session_points_text(row),
                "budget": Text(f"{share:.0%}", style=share_style(share)) if share is not None else Text("-", style="dim"),
                "bots": bots,
                "errors": Text(f"{row.errors:,}", style="bold red" if row.errors else ""),
                "first": when(row.first, now),
                "member": Text(row.member or "-"),
            }))
        self.table.set_rows(cells)
        self._show_selected()
        self._show_budgets()
        self._show_hint()

    def _show_budgets(self) -> None:
        self.query_one("#sessions-budgets", Static).update(
            budget_lines(self.budget, self.summary, self.rows, remote=self.remote))

    def _show_hint(self) -> None:
        hint = Text()
        if not self.rows:
            hint.append("No requests yet. Claude Code names each session in its requests; other clients' requests "
                        f"count under {NO_SESSION}.  ")
        elif self.total > len(self.rows):
            hint.append(f"The {len(self.rows):,} most recently active of {counted(self.total, 'session')}.  ")
        hint.append("enter: the session's requests in Logs" + ("" if self.remote else " · b: budgets"))
        selected = self._selected()
        if selected is not None and selected.member and not self.remote:
            hint.append(f" · m: {selected.member}'s budgets")
        self.query_one("#sessions-hint", Static).update(hint)

    def _selected(self) -> SessionRow | None:
        if not self.rows:
            return None
        return self.rows[min(self.table.cursor_row, len(self.rows) - 1)]

    def _show_selected(self) -> None:
        row = self._selected()
        selected = self.query_one("#sessions-selected", Static)
        if row is None:
            selected.update("")
            return
        text = Text("▸ ", style="bold")
        text.append(row.session, style="bold")
        text.append(f" · {when(row.first, 0, full=True)} → {when(row.last, 0, full=True)}")
        text.append(f" · {counted(row.requests, 'request')}")
        if row.errors:
            text.append(f", {counted(row.errors, 'error')}", style="red")
        if row.subagent_requests:
            text.append(f", {row.subagent_requests:,} from subagents", style="dim")
        if row.points is not None:
            text.append(" · ")
            text.append_text(session_points_text(row))
            text.append(" points")
        if row.bots:
            text.append(" · ")
            for index, (bot, points) in enumerate(row.bots):
                if index:
                    text.append(", ")
                text.append(bot)
                if row.points is not None and points:
                    text.append(f" {format_points(points)}", style="dim")
        if row.models:
            text.append(" · asked for ", style="dim")
            text.append(", ".join(row.models), style="dim")
        if row.member:
            text.append(f" · member {row.member}", style="dim")
        selected.update(text)

    @on(DataTable.RowHighlighted, "#sessions-table")
    def _highlighted(self) -> None:
        self._show_selected()
        self._show_hint()

    @on(DataTable.RowSelected, "#sessions-table")
    def _row_chosen(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        row = self._selected()
        if row is not None:
            self.post_message(self.ShowRequests(row.session))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.remote is not None and action == "budgets":
            return None  # set on the gateway's machine (the line above the table says so)
        return True

    def action_budgets(self) -> None:
        if self.remote is not None:
            self.notify(f"The budgets of {self.remote} are set on its machine ([budget] in its config).",
                        severity="warning")
            return
        self.post_message(self.EditBudgets())

    def action_member_budgets(self) -> None:
        if self.remote is not None:  # enabled, so that the key says so rather than doing nothing
            self.notify(f"Member budgets of {self.remote} are edited in its own config, on its machine "
                        "(daily_points and session_points in its [[clients]] entries).", severity="warning", timeout=8)
            return
        row = self._selected()
        if row is None or not row.member:
            self.notify("Select a session of a team member (the member column): its member's budgets are edited. "
                        "Sessions with the master key have no member budgets; b edits [budget].", timeout=8)
            return
        self.post_message(EditMemberBudgets(row.member))
