"""Editing ``[budget]``: points per Claude Code session, per day, and the balance to keep.

Each field takes a number of points (``50000``, ``50,000``, ``50k``, ``1.5M``) or nothing for no
limit. Anything else is refused in place; a number the config refuses (0 or less) is refused by
the config itself when it is saved, in its own words (file, line, key).
"""

from __future__ import annotations

import re

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from claude_poe_tui.config.model import BudgetSettings

FIELDS = (
    ("session_points", "Points per Claude Code session",
     "One session (x-claude-code-session-id); its next request is refused once it has spent this."),
    ("daily_points", "Points per day",
     "Every request together, per calendar day (local time); starts again at midnight."),
    ("min_balance", "Balance to keep",
     "Requests are refused once Poe's balance falls under this; the dashboard warns too."),
)
_NUMBER = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*([kKmM]?)\s*$")


def parse_points(text: str) -> float | None:
    """``50,000`` / ``50_000`` / ``50k`` / ``1.5M`` -> points; empty -> ``None`` (no limit);
    :class:`ValueError` for anything else."""
    cleaned = text.strip().replace(",", "").replace("_", "")
    if not cleaned:
        return None
    match = _NUMBER.match(cleaned)
    if match is None:
        raise ValueError(f"{text.strip()!r} is not a number of points (such as 50000, 50k or 1.5M)")
    value = float(match.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    return float(int(value)) if value == int(value) else value


def _shown(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if value == int(value) else f"{value:,}"


class BudgetEditorScreen(ModalScreen[dict[str, float | None] | None]):
    """Returns every budget (``None``: no limit), or ``None`` when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="budget.cancel")]

    def __init__(self, budget: BudgetSettings, config_name: str) -> None:
        super().__init__(classes="dialog-screen")
        self.budget = budget
        self.config_name = config_name

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="budget-editor"):
            yield Static("Budgets", classes="dialog-title")
            yield Static(f"Saved as [budget] in {self.config_name}, comments kept. Empty: no limit. "
                         "Budgets count the points known when a request arrives, so a refusal can come "
                         "one request late.", classes="dialog-text", markup=False)
            for name, label, about in FIELDS:
                yield Label(label)
                yield Input(_shown(getattr(self.budget, name)), placeholder="no limit", id=f"budget-{name}")
                yield Static(about, classes="hint", markup=False)
            yield Static("", id="budget-message", classes="dialog-message")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (enter)", variant="primary", id="budget-save")
                yield Button("Cancel (esc)", id="budget-cancel")

    def on_mount(self) -> None:
        self.query_one(f"#budget-{FIELDS[0][0]}", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def values(self) -> dict[str, float | None]:
        """What the fields say; :class:`ValueError` naming the field that is not a number."""
        out = {}
        for name, label, _ in FIELDS:
            try:
                out[name] = parse_points(self.query_one(f"#budget-{name}", Input).value)
            except ValueError as exc:
                raise ValueError(f"{label}: {exc}") from None
        return out

    def _accept(self) -> None:
        message = self.query_one("#budget-message", Static)
        try:
            values = self.values()
        except ValueError as exc:
            message.update(str(exc))
            message.add_class("error")
            return
        self.dismiss(values)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self._accept()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "budget-save":
            self._accept()
        else:
            self.dismiss(None)
