"""Adding or editing one mapping: the model name, the Poe bot (searchable catalog), the route,
thinking and fallbacks.

The dialog scrolls: on a small terminal (80x24) its lower fields are below the fold, and tab
brings each into view as it takes the focus.
"""

from __future__ import annotations

import re

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, Input, Label, OptionList, Select, Static

from claude_poe_tui.config.load import fallback_cycle, mapping_problem
from claude_poe_tui.config.model import MAPPING_LIMIT_KEYS, ModelMapping, Route, Thinking, is_claude_bot

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
_SEPARATORS = re.compile(r"[,\s]+")


def parse_fallbacks(text: str) -> tuple[str, ...]:
    """``gpt-5, gemini`` (commas or spaces) as names, in order."""
    return tuple(name for name in _SEPARATORS.split(text.strip()) if name)


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


class NamesSuggester(Suggester):
    """Completes the last name of a list (``gpt-5, gem`` → ``gpt-5, gemini``)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.names = names

    async def get_suggestion(self, value: str) -> str | None:
        head, _, last = value.rpartition(",")
        last = last.lstrip()
        if not last:
            return None
        found = next((name for name in self.names if name.lower().startswith(last.lower())), None)
        if found is None:
            return None
        prefix = value[: len(value) - len(last)]
        return prefix + found


class MappingEditorScreen(ModalScreen[ModelMapping | None]):
    """Returns the new mapping, or ``None`` when cancelled. Invalid input is refused in place.

    ``others`` are the other mappings by their row: their names cannot be taken again (the error
    names the row that has it), and they are what this one may fall back to.
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="editor.cancel"),
        Binding("ctrl+s", "save", "Save", id="editor.save"),
    ]

    def __init__(self, mapping: ModelMapping | None, others: dict[int, ModelMapping], bots: list[str] | None) -> None:
        super().__init__(classes="dialog-screen")
        self.original = mapping
        self.others = dict(others)
        self.taken = {other.name: row for row, other in self.others.items()}
        self.bots = bots

    def compose(self) -> ComposeResult:
        title = "Edit mapping" if self.original else "Add a mapping"
        original = self.original
        with VerticalScroll(classes="dialog", id="mapping-editor"):
            yield Static(title, classes="dialog-title")
            yield Label("Model name Claude Code asks for")
            yield Input(original.name if original else "", placeholder="claude-sonnet-4-5-20250929", id="name")
            yield Label("Poe bot that answers it (type to search Poe's catalog)")
            yield Input(
                original.poe_model if original else "",
                placeholder="Claude-Sonnet-4.5",
                id="bot",
                suggester=BotSuggester(self.bots) if self.bots else None,
            )
            yield OptionList(id="bot-matches", markup=False)
            yield Label("Route")
            yield Select(ROUTE_CHOICES, value=(original.route if original else Route.AUTO).value,
                         allow_blank=False, id="route")
            yield Label("Thinking")
            yield Select(THINKING_CHOICES, value=(original.thinking if original else Thinking.AUTO).value,
                         allow_blank=False, id="thinking")
            yield Label("Fallbacks: other mapped names, tried in order when this bot fails")
            names = sorted(other.name for other in self.others.values())
            yield Input(
                ", ".join(original.fallbacks) if original else "",
                placeholder=("e.g. " + ", ".join(names[:2])) if names else "(no other mappings yet)",
                id="fallbacks",
                suggester=NamesSuggester(names) if names else None,
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
    @on(Input.Changed, "#fallbacks")
    def _field_changed(self) -> None:
        self._check(final=False)

    def _show_matches(self, text: str) -> None:
        matches = self.query_one("#bot-matches", OptionList)
        matches.clear_options()
        if self.bots is None:
            matches.add_option("Poe's catalog is not loaded: type the bot name")
            matches.disabled = True
            return
        found = self._matching(text)
        matches.border_title = f"{len(found)} in Poe's catalog (tab, then enter picks)" if found else "no match"
        matches.add_options(found[:MATCHES_SHOWN])
        if len(found) > MATCHES_SHOWN:
            matches.add_option(f"… {len(found) - MATCHES_SHOWN} more: keep typing")
        matches.disabled = not found
        if found:
            # The best match is highlighted from the start, so enter picks it without a ↓ first.
            matches.highlighted = 0

    @on(OptionList.OptionSelected, "#bot-matches")
    def _pick(self, event: OptionList.OptionSelected) -> None:
        label = str(event.option.prompt)
        if self.bots and label in self.bots:
            bot_input = self.query_one("#bot", Input)
            bot_input.value = label
            bot_input.focus()

    # -- validation and result --

    def _current(self) -> ModelMapping:
        name = self.query_one("#name", Input).value.strip()
        bot = self.query_one("#bot", Input).value.strip()
        route = Route(self.query_one("#route", Select).value)
        thinking = Thinking(self.query_one("#thinking", Select).value)
        fallbacks = parse_fallbacks(self.query_one("#fallbacks", Input).value)
        kept = {}
        if self.original is not None:  # what the editor does not show stays as the user wrote it
            kept = {key: getattr(self.original, key) for key in MAPPING_LIMIT_KEYS}
        return ModelMapping(name, bot, route, thinking, fallbacks, **kept)

    def fallback_problem(self, mapping: ModelMapping) -> str | None:
        """What is wrong with the fallbacks (or with a rename that others' fallbacks rely on)."""
        others = {other.name: other for other in self.others.values()}
        for position, fallback in enumerate(mapping.fallbacks):
            if fallback == mapping.name:
                return f"Fallbacks: '{fallback}' is this mapping itself"
            if fallback not in others:
                return f"Fallbacks: '{fallback}' is not a mapped model name"
            if fallback in mapping.fallbacks[:position]:
                return f"Fallbacks: '{fallback}' is listed twice"
        cycle = fallback_cycle(mapping.name, {**others, mapping.name: mapping})
        if cycle:
            return "Fallbacks go round in a circle: " + " → ".join(cycle)
        if self.original is not None and mapping.name != self.original.name:
            relying = [row for row, other in sorted(self.others.items()) if self.original.name in other.fallbacks]
            if relying:
                rows = ", ".join(f"{self.others[row].name} (row {row + 1})" for row in relying)
                return (f"Model name: {rows} fall{'s' if len(relying) == 1 else ''} back to "
                        f"'{self.original.name}'; change that first, or keep the name")
        return None

    def _check(self, final: bool) -> ModelMapping | None:
        mapping = self._current()
        message = self.query_one("#editor-message", Static)
        message.remove_class("error", "warning")
        if not final and (not mapping.name or not mapping.poe_model):
            message.update("")
            return None
        problem = mapping_problem(mapping.name, mapping.poe_model, self.taken)
        if problem is not None:
            field, reason = problem
            reason = reason.replace("[[models]] entry", "row")  # the rows the user sees
            label = "Model name" if field == "name" else "Poe bot"
            message.update(Text(f"{label} {reason}"))
            message.add_class("error")
            return None
        fallback_problem = self.fallback_problem(mapping)
        if fallback_problem is not None:
            message.update(Text(fallback_problem))
            message.add_class("error")
            return None
        notes = []
        bot = mapping.poe_model
        if self.bots is not None and bot.lower() not in {b.lower() for b in self.bots}:
            notes.append(f"'{bot}' is not in Poe's catalog: check the spelling (requests would fail with 404)")
        if mapping.route is Route.MESSAGES and not is_claude_bot(bot):
            notes.append("the messages route is for Claude bots; Poe may refuse other bots there")
        message.update(Text("; ".join(notes)))
        if notes:
            message.add_class("warning")
        return mapping

    def action_save(self) -> None:
        mapping = self._check(final=True)
        if mapping is not None:
            self.dismiss(mapping)
        else:
            self.query_one("#editor-message", Static).scroll_visible(animate=False)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "name":
            self.query_one("#bot", Input).focus()
            return
        if event.input.id == "bot":
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
