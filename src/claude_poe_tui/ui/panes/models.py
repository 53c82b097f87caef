"""Models: which Poe bot answers each model name Claude Code asks for."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from claude_poe_tui.config.model import Config, ModelMapping, Route, Thinking
from claude_poe_tui.control.mappings import MappingEdit
from claude_poe_tui.ui.columns import Column
from claude_poe_tui.ui.fitted_table import FittedTable
from claude_poe_tui.ui.messages import MappingChange
from claude_poe_tui.ui.screens.confirm import ConfirmScreen
from claude_poe_tui.ui.screens.mapping_editor import MappingEditorScreen

COLUMNS = (
    Column("index", "#", priority=55),
    Column("name", "Claude Code asks for", priority=100, short_title="asks for", min_width=16),
    Column("bot", "Poe bot", priority=95, min_width=12),
    Column("route", "Route", priority=70, min_width=8),
    Column("thinking", "Thinking", priority=60, short_title="think"),
    Column("fallbacks", "Fallbacks", priority=80, min_width=9, max_width=40),
    Column("catalog", "In Poe's catalog", priority=75, short_title="catalog"),
    Column("slot", "Claude Code slot", priority=40, short_title="slot"),
)


class ModelsPane(Vertical):
    """The mapping table. Changes are saved to the TOML and applied to the proxy at once."""

    HELP = (
        "Each row maps a model name Claude Code asks for to the Poe bot that answers it. Claude bots "
        "use Poe's Anthropic-compatible endpoint (route 'messages': thinking, tools and caching "
        "intact); other bots go through chat completions (route 'chat'). Fallbacks are other mapped "
        "names tried in order when the bot fails before answering. Bots not in Poe's catalog are "
        "flagged. The line under the table shows the selected mapping in full."
    )
    BINDINGS = [
        Binding("a", "add", "Add", id="models.add", tooltip="Map another model name to a Poe bot"),
        Binding("enter,e", "edit", "Edit", id="models.edit", tooltip="Change the selected mapping"),
        Binding("d,delete", "delete", "Delete", id="models.delete", tooltip="Remove the selected mapping"),
        Binding("shift+up,K", "move(-1)", "Move up", id="models.move_up", tooltip="Move the mapping up"),
        Binding("shift+down,J", "move(1)", "Move down", id="models.move_down", tooltip="Move the mapping down"),
    ]

    def __init__(self) -> None:
        super().__init__(id="models-pane")
        self.mappings: list[ModelMapping] = []
        self.known_bots: dict[str, str] | None = None  # lower-case id -> id, once the catalog is in
        self.catalog_note = "Poe catalog: loading…"
        self.slots: dict[str, str] = {}  # model name -> "opus"/"sonnet"/"haiku" slot it fills
        self.read_only: str | None = None  # why the mappings cannot be edited here (a remote gateway)
        self.names_only = False  # a remote gateway's names, without the rest of its mappings
        self.remote_note: str | None = None  # a remote gateway's mappings, editable: where they are written

    def compose(self) -> ComposeResult:
        yield FittedTable(COLUMNS, id="models-table", zebra_stripes=True)
        yield Static(id="models-detail", classes="detail")
        yield Static(id="models-hint", classes="hint")

    @property
    def table(self) -> FittedTable:
        return self.query_one("#models-table", FittedTable)

    def show_config(self, config: Config, *, select: int | None = None) -> None:
        """Show ``config``'s mappings; ``select`` puts the cursor on that row (an edited mapping)."""
        self.mappings = list(config.models)
        self.slots = {}
        for slot in ("opus", "sonnet", "haiku", "subagent"):
            chosen = getattr(config.claude_code, slot) or next(
                (m.name for m in config.models if slot in m.name.lower()), ""
            )
            if chosen:
                self.slots.setdefault(chosen, slot)
        self._refresh(select)

    def show_remote(self, url: str, names: list[str], bots: dict[str, str]) -> None:
        """A remote gateway's mappings, read-only: its names (status page) and the bots that answered them."""
        self.read_only = (f"Read-only: these are the mappings of {url}. Edit them on its machine (its dashboard, "
                          "or its config.toml): the gateway applies them without a restart.")
        self.mappings = [ModelMapping(name, bots.get(name, "?")) for name in names]
        self.names_only = True
        self.remote_note = None
        self.slots = {}
        self.catalog_note = ""
        self.refresh_bindings()
        self._refresh()

    def show_remote_mappings(self, url: str, config: str, mappings: list[ModelMapping], why_not: str | None,
                             *, select: int | None = None) -> None:
        """A remote gateway's mappings in full, as its config file says; editable unless ``why_not``."""
        where = f"{url} ({config} on its machine)" if config else url
        if why_not:
            self.read_only = f"Read-only: these are the mappings of {where}: {why_not}. Edit them on its machine."
            self.remote_note = None
        else:
            self.read_only = None
            self.remote_note = (f"The mappings of {where}. Changes are written to its config file and its serve "
                                "applies them within a couple of seconds, without a restart.")
        self.mappings = list(mappings)
        self.names_only = False
        self.slots = {}
        self.catalog_note = ""
        self.refresh_bindings()
        self._refresh(select)

    def show_catalog(self, bot_ids: list[str] | None, note: str) -> None:
        self.known_bots = {bot.lower(): bot for bot in bot_ids} if bot_ids is not None else None
        self.catalog_note = note
        self._refresh()

    def _catalog_cell(self, mapping: ModelMapping) -> Text:
        if self.known_bots is None or self.names_only:
            return Text("?", style="dim")
        if mapping.poe_model.lower() in self.known_bots:
            return Text("✓ yes", style="green")
        return Text("✗ no", style="bold red")

    @staticmethod
    def _route_cell(mapping: ModelMapping) -> Text:
        text = Text(mapping.effective_route.value)
        if mapping.route is Route.AUTO:
            text.append(" (auto)", style="dim")
        return text

    @staticmethod
    def _thinking_cell(mapping: ModelMapping) -> Text:
        if mapping.thinking is Thinking.OFF:
            return Text("off", style="yellow")
        return Text("auto", style="dim")

    def _cells(self, index: int, mapping: ModelMapping) -> dict[str, Text | str]:
        if self.names_only:  # only the name and the bot that last answered it are known
            return {"index": str(index + 1), "name": Text(mapping.name),
                    "bot": Text(mapping.poe_model, style="dim" if mapping.poe_model == "?" else ""),
                    "route": Text("?", style="dim"), "thinking": Text("?", style="dim"),
                    "fallbacks": Text("?", style="dim"), "catalog": Text("?", style="dim"), "slot": ""}
        return {
            "index": str(index + 1),
            "name": Text(mapping.name),
            "bot": Text(mapping.poe_model),
            "route": self._route_cell(mapping),
            "thinking": self._thinking_cell(mapping),
            "fallbacks": Text(", ".join(mapping.fallbacks)) if mapping.fallbacks else Text("-", style="dim"),
            "catalog": self._catalog_cell(mapping),
            "slot": self.slots.get(mapping.name, ""),
        }

    def _refresh(self, select: int | None = None) -> None:
        self.table.set_rows([(str(i), self._cells(i, m)) for i, m in enumerate(self.mappings)], cursor=select)
        if self.read_only:
            hint = Text(self.read_only)
        elif self.remote_note:
            hint = Text(self.remote_note)
        else:
            hint = Text("No mappings yet: press a to map a Claude Code model name to a Poe bot.    ") if not self.mappings else Text()
            hint.append(self.catalog_note)
        self.query_one("#models-hint", Static).update(hint)
        self._show_detail()

    def detail_text(self, index: int) -> Text:
        """The selected mapping in full, whatever columns the width left out."""
        mapping = self.mappings[index]
        if self.names_only:
            text = Text()
            text.append(mapping.name, style="bold")
            if mapping.poe_model == "?":
                text.append(" · no request for it yet, so the bot that answers it is not known here", style="dim")
            else:
                text.append(" → ")
                text.append(mapping.poe_model, style="bold")
                text.append(" (the bot that last answered it)", style="dim")
            return text
        text = Text()
        text.append(mapping.name, style="bold")
        text.append(" → ")
        text.append(mapping.poe_model, style="bold")
        text.append(" · route ")
        text.append_text(self._route_cell(mapping))
        text.append(" · thinking ")
        text.append_text(self._thinking_cell(mapping))
        if mapping.fallbacks:
            text.append(" · falls back to ")
            text.append(" → ".join(mapping.fallbacks))
        else:
            text.append(" · no fallbacks", style="dim")
        if self.known_bots is not None:
            known = mapping.poe_model.lower() in self.known_bots
            text.append(" · in Poe's catalog" if known else " · not in Poe's catalog",
                        style="" if known else "bold red")
        slot = self.slots.get(mapping.name)
        if slot:
            text.append(f" · Claude Code's {slot} slot")
        return text

    def _show_detail(self) -> None:
        index = self._selected()
        self.query_one("#models-detail", Static).update(self.detail_text(index) if index is not None else "")

    @on(DataTable.RowHighlighted, "#models-table")
    def _row_highlighted(self) -> None:
        self._show_detail()

    def _selected(self) -> int | None:
        if not self.mappings:
            return None
        return min(self.table.cursor_row, len(self.mappings) - 1)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A remote gateway's mappings are read-only: the editing keys are shown disabled (the hint says why).
        if self.read_only and action in ("add", "edit", "delete", "move"):
            return None
        return True

    def _refuse_read_only(self) -> bool:
        if self.read_only:
            self.notify(self.read_only, severity="warning", timeout=8)
            return True
        return False

    def action_add(self) -> None:
        if self._refuse_read_only():
            return

        def done(result: ModelMapping | None) -> None:
            if result is not None:
                self.post_message(MappingChange(MappingEdit.add(result)))

        self.app.push_screen(MappingEditorScreen(None, self._others(None), self._bot_list()), done)

    @on(DataTable.RowSelected, "#models-table")
    def _row_chosen(self) -> None:
        # The focused table takes `enter` itself (its select binding) and says so with RowSelected.
        self.action_edit()

    def action_edit(self) -> None:
        if self._refuse_read_only():
            return
        index = self._selected()
        if index is None:
            self.action_add()
            return

        def done(result: ModelMapping | None) -> None:
            if result is not None and result != self.mappings[index]:
                self.post_message(MappingChange(MappingEdit.update(index, result)))

        screen = MappingEditorScreen(self.mappings[index], self._others(index), self._bot_list())
        self.app.push_screen(screen, done)

    def action_delete(self) -> None:
        if self._refuse_read_only():
            return
        index = self._selected()
        if index is None:
            return
        mapping = self.mappings[index]

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self.post_message(MappingChange(MappingEdit.delete(index)))

        question = f"Delete the mapping {mapping.name} → {mapping.poe_model}?\nClaude Code requests for it will be refused."
        self.app.push_screen(ConfirmScreen(question, confirm_label="Delete"), done)

    def action_move(self, step: int) -> None:
        if self._refuse_read_only():
            return
        index = self._selected()
        if index is None:
            return
        to = index + step
        if 0 <= to < len(self.mappings):
            self.post_message(MappingChange(MappingEdit.move(index, to)))
            self.table.move_cursor(row=to)

    def _others(self, index: int | None) -> dict[int, ModelMapping]:
        """The other mappings by their row: the editor refuses their names and offers them as fallbacks."""
        return {i: m for i, m in enumerate(self.mappings) if i != index}

    def _bot_list(self) -> list[str] | None:
        return sorted(self.known_bots.values(), key=str.lower) if self.known_bots is not None else None
