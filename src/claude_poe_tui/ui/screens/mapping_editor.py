"""Adding or editing one mapping: the model name, the Poe bot (searchable catalog) and the route."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, Input, Label, OptionList, Select, Static

from claude_poe_tui.config.load import mapping_problem
from claude_poe_tui.config.model import ModelMapping, Route, Thinking, is_claude_bot

MATCHES_SHOWN = 8
ROUTE_CHOICES = [
    ("auto: messages for Claude bots, chat for the rest", Route.AUTO.value),
    ("messages: Poe's Anthropic endpoint, untranslated", Route.MESSAGES.value),
    ("chat: Poe's chat completions, translated", Route.CHAT.value),
]
THINKING_CHOICES = [
    ("auto: Claude Code's thinking becomes the bot's own reasoning setting", Thinking.AUTO.value),
    ("off: the bot is never asked to think", Thinking.OFF.value),
]


class BotSuggester(Suggester):
    """Completes a bot name typed in any case to the catalog's spelling."""

    def __init__(self, bots: list[str]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.bots = bots

    async def get_suggestion(self, value: str) -> str | None:
        needle = value.lower()
        if not needle:
            return None
        return next((bot for bot in self.bots if bot.lower().startswith(needle)), None)


class MappingEditorScreen(ModalScreen[ModelMapping | None]):
    """Returns the new mapping, or ``None`` when cancelled. Invalid input is refused in place."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="editor.cancel"),
        Binding("ctrl+s", "save", "Save", id="editor.save"),
    ]

    def __init__(self, mapping: ModelMapping | None, taken_names: set[str], bots: list[str] | None) -> None:
        super().__init__(classes="dialog-screen")
        self.original = mapping
        self.taken = {name: 0 for name in taken_names}
        self.bots = bots

    def compose(self) -> ComposeResult:
        title = "Edit mapping" if self.original else "Add a mapping"
        with Vertical(classes="dialog", id="mapping-editor"):
            yield Static(title, classes="dialog-title")
            yield Label("Model name Claude Code asks for")
            yield Input(
                self.original.name if self.original else "",
                placeholder="claude-sonnet-4-5-20250929",
                id="name",
            )
            yield Label("Poe bot that answers it (type to search Poe's catalog)")
            yield Input(
                self.original.poe_model if self.original else "",
                placeholder="Claude-Sonnet-4.5",
                id="bot",
                suggester=BotSuggester(self.bots) if self.bots else None,
            )
            yield OptionList(id="bot-matches", markup=False)
            yield Label("Route")
            yield Select(
                ROUTE_CHOICES,
                value=(self.original.route if self.original else Route.AUTO).value,
                allow_blank=False,
                id="route",
            )
            yield Label("Thinking")
            yield Select(
                THINKING_CHOICES,
                value=(self.original.thinking if self.original else Thinking.AUTO).value,
                allow_blank=False,
                id="thinking",
            )
            yield Static("", id="editor-message", classes="dialog-message")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="save")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()
        self._show_matches(self.query_one("#bot", Input).value)

    # -- the searchable catalog --

    @on(Input.Changed, "#bot")
    def _bot_changed(self, event: Input.Changed) -> None:
        self._show_matches(event.value)
        self._check(final=False)

    @on(Input.Changed, "#name")
    def _name_changed(self) -> None:
        self._check(final=False)

    def _show_matches(self, text: str) -> None:
        matches = self.query_one("#bot-matches", OptionList)
        matches.clear_options()
        if self.bots is None:
            matches.add_option("Poe's catalog is not loaded: type the bot name")
            matches.disabled = True
            return
        found = self._matching(text)
        matches.border_title = f"{len(found)} in Poe's catalog (tab, then ↑↓ enter to pick)" if found else "no match"
        matches.add_options(found[:MATCHES_SHOWN])
        if len(found) > MATCHES_SHOWN:
            matches.add_option(f"… {len(found) - MATCHES_SHOWN} more: keep typing")
        matches.disabled = not found

    @on(OptionList.OptionSelected, "#bot-matches")
    def _pick(self, event: OptionList.OptionSelected) -> None:
        label = str(event.option.prompt)
        if self.bots and label in self.bots:
            bot_input = self.query_one("#bot", Input)
            bot_input.value = label
            bot_input.focus()

    # -- validation and result --

    def _current(self) -> tuple[str, str, Route, Thinking]:
        name = self.query_one("#name", Input).value.strip()
        bot = self.query_one("#bot", Input).value.strip()
        route = Route(self.query_one("#route", Select).value)
        thinking = Thinking(self.query_one("#thinking", Select).value)
        return name, bot, route, thinking

    def _check(self, final: bool) -> ModelMapping | None:
        name, bot, route, thinking = self._current()
        message = self.query_one("#editor-message", Static)
        message.remove_class("error", "warning")
        if not final and (not name or not bot):
            message.update("")
            return None
        problem = mapping_problem(name, bot, self.taken)
        if problem is not None:
            field, reason = problem
            label = "Model name" if field == "name" else "Poe bot"
            message.update(Text(f"{label} {reason}"))
            message.add_class("error")
            return None
        notes = []
        if self.bots is not None and bot.lower() not in {b.lower() for b in self.bots}:
            notes.append(f"'{bot}' is not in Poe's catalog: check the spelling (requests would fail with 404)")
        if route is Route.MESSAGES and not is_claude_bot(bot):
            notes.append("the messages route is for Claude bots; Poe may refuse other bots there")
        message.update(Text("; ".join(notes)))
        if notes:
            message.add_class("warning")
        return ModelMapping(name, bot, route, thinking)

    def action_save(self) -> None:
        mapping = self._check(final=True)
        if mapping is not None:
            self.dismiss(mapping)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "name":
            self.query_one("#bot", Input).focus()
            return
        # Enter on a partial bot name completes it to the best catalog match first.
        typed = event.value.strip()
        if self.bots and typed and typed.lower() not in {b.lower() for b in self.bots}:
            best = self._best_match(typed)
            if best is not None:
                event.input.value = best
                event.input.cursor_position = len(best)
                return
        self.action_save()

    def _matching(self, typed: str) -> list[str]:
        """Catalog bots containing ``typed``, those starting with it first."""
        needle = typed.strip().lower()
        found = [bot for bot in self.bots or [] if needle in bot.lower()]
        found.sort(key=lambda bot: (not bot.lower().startswith(needle), bot.lower()))
        return found

    def _best_match(self, typed: str) -> str | None:
        return next(iter(self._matching(typed)), None)

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()
