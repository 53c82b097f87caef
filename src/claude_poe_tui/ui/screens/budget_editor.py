"""Editing budgets: ``[budget]`` (points per Claude Code session, per day, the balance to keep), or
one team member's ``daily_points`` / ``session_points`` in their ``[[clients]]`` entry.

Each field takes a number of points (``50000``, ``50,000``, ``50k``, ``1.5M``) or nothing for no
limit. Anything else is refused in place; a number the config refuses (0 or less) is refused by
the config itself when it is saved, in its own words (file, line, key), in the dialog, which
stays open with what was typed.
"""

from __future__ import annotations

import re

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


FIELDS = (
    ("session_points", "Points per Claude Code session",
     "One session (x-claude-code-session-id); its next request is refused once it has spent this."),
    ("daily_points", "Points per day",
     "Every request together, per calendar day (local time); starts again at midnight."),
    ("min_balance", "Balance to keep",
     "Requests are refused once Poe's balance falls under this; the dashboard warns too."),
)
MEMBER_FIELDS = (
    ("daily_points", "Points per day",
     "This member's requests together, per calendar day (local time); [budget] still counts for everyone."),
    ("session_points", "Points per Claude Code session",
     "One session of this member; its next request is refused once it has spent this."),
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


class BudgetEditorScreen(ModalScreen[None]):
    """Posts :class:`Save` with every field's value (``None``: no limit) and stays open: the App
    calls :meth:`refused` (the reason shows here, the values stay to be corrected) or dismisses it.

    ``source`` is what the fields show at first (``BudgetSettings``, a ``ClientToken``: read by the
    fields' names).
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="budget.cancel")]

    class Save(Message):
        """Save these values; ``editor.member`` says whose they are (``None``: [budget])."""

        def __init__(self, editor: BudgetEditorScreen, values: dict[str, float | None]) -> None:
            super().__init__()
            self.editor = editor
            self.values = values

    def __init__(self, source: object, config_name: str, *, fields: tuple[tuple[str, str, str], ...] = FIELDS,
                 member: str | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.source = source
        self.config_name = config_name
        self.fields = fields
        self.member = member
        self.saving = False

    def compose(self) -> ComposeResult:
        if self.member is None:
            title, where, empty = "Budgets", "as [budget]", "no limit"
        else:
            title = f"Budgets of member {self.member}"
            where, empty = f"to the [[clients]] entry named {self.member!r}", "no limit of their own"
        with VerticalScroll(classes="dialog", id="budget-editor"):
            yield Static(title, classes="dialog-title", markup=False)
            yield Static(f"Saved {where} in {self.config_name}, comments kept. Empty: {empty}. "
                         "Budgets count the points known when a request arrives, so a refusal can come "
                         "one request late.", classes="dialog-text", markup=False)
            for name, label, about in self.fields:
                yield Label(label)
                yield Input(_shown(getattr(self.source, name, None)), placeholder="no limit", id=f"budget-{name}")
                yield Static(about, classes="hint", markup=False)
            yield Static("", id="budget-message", classes="dialog-message", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (enter)", variant="primary", id="budget-save")
                yield Button("Cancel (esc)", id="budget-cancel")

    def on_mount(self) -> None:
        self.query_one(f"#budget-{self.fields[0][0]}", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def values(self) -> dict[str, float | None]:
        """What the fields say; :class:`ValueError` naming the field that is not a number."""
        out = {}
        for name, label, _ in self.fields:
            try:
                out[name] = parse_points(self.query_one(f"#budget-{name}", Input).value)
            except ValueError as exc:
                raise ValueError(f"{label}: {exc}") from None
        return out

    def _say(self, words: str, *, error: bool) -> None:
        message = self.query_one("#budget-message", Static)
        message.update(words)
        message.set_class(error, "error")
        # Below the fields: on a small terminal it would be out of sight (scrolled to once laid out).
        self.call_after_refresh(message.scroll_visible)

    def refused(self, reason: str) -> None:
        """The save was refused (nothing written): say why here; the fields keep what was typed."""
        self.saving = False
        self._say(reason, error=True)

    def _accept(self) -> None:
        if self.saving:
            return
        try:
            values = self.values()
        except ValueError as exc:
            self._say(str(exc), error=True)
            return
        self.saving = True
        self._say("Saving…", error=False)
        self.post_message(self.Save(self, values))

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self._accept()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "budget-save":
            self._accept()
        else:
            self.dismiss(None)
