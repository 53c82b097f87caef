"""Models: which Poe bot answers each model name Claude Code asks for."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from claude_poe_tui.config.model import Config, ModelMapping, Route
from claude_poe_tui.ui.messages import MappingChange
from claude_poe_tui.ui.screens.confirm import ConfirmScreen
from claude_poe_tui.ui.screens.mapping_editor import MappingEditorScreen


class ModelsPane(Vertical):
    """The mapping table. Changes are saved to the TOML and applied to the proxy at once."""

    HELP = (
        "Each row maps a model name Claude Code asks for to the Poe bot that answers it. Claude bots "
        "use Poe's Anthropic-compatible endpoint (route 'messages': thinking, tools and caching "
        "intact); other bots go through chat completions (route 'chat'). Bots not in Poe's catalog "
        "are flagged."
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

    def compose(self) -> ComposeResult:
        table: DataTable[Text | str] = DataTable(id="models-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("#", "Claude Code asks for", "Poe bot", "Route", "In Poe's catalog", "Claude Code slot")
        yield table
        yield Static(id="models-hint", classes="hint")

    @property
    def table(self) -> DataTable:
        return self.query_one("#models-table", DataTable)

    def show_config(self, config: Config) -> None:
        self.mappings = list(config.models)
        self.slots = {}
        for slot in ("opus", "sonnet", "haiku", "subagent"):
            chosen = getattr(config.claude_code, slot) or next(
                (m.name for m in config.models if slot in m.name.lower()), ""
            )
            if chosen:
                self.slots.setdefault(chosen, slot)
        self._refresh()

    def show_catalog(self, bot_ids: list[str] | None, note: str) -> None:
        self.known_bots = {bot.lower(): bot for bot in bot_ids} if bot_ids is not None else None
        self.catalog_note = note
        self._refresh()

    def _catalog_cell(self, mapping: ModelMapping) -> Text:
        if self.known_bots is None:
            return Text("?", style="dim")
        if mapping.poe_model.lower() in self.known_bots:
            return Text("✓ yes", style="green")
        return Text("✗ unknown bot", style="bold red")

    def _refresh(self) -> None:
        table = self.table
        row = table.cursor_row
        table.clear()
        for index, mapping in enumerate(self.mappings):
            route = mapping.effective_route.value + (" (auto)" if mapping.route is Route.AUTO else "")
            table.add_row(
                str(index + 1),
                Text(mapping.name),
                Text(mapping.poe_model),
                route,
                self._catalog_cell(mapping),
                self.slots.get(mapping.name, ""),
                key=str(index),
            )
        if self.mappings:
            table.move_cursor(row=min(row, len(self.mappings) - 1))
        hint = "a add · enter edit · d delete · shift+↑/↓ reorder" if self.mappings else (
            "No mappings yet: press a to map a Claude Code model name to a Poe bot."
        )
        self.query_one("#models-hint", Static).update(Text(f"{hint}    {self.catalog_note}"))

    def _selected(self) -> int | None:
        if not self.mappings:
            return None
        return self.table.cursor_row

    def action_add(self) -> None:
        def done(result: ModelMapping | None) -> None:
            if result is not None:
                self.post_message(MappingChange("add", mapping=result))

        self.app.push_screen(MappingEditorScreen(None, self._names_except(None), self._bot_list()), done)

    @on(DataTable.RowSelected, "#models-table")
    def _row_chosen(self) -> None:
        # The focused table takes `enter` itself (its select binding) and says so with RowSelected.
        self.action_edit()

    def action_edit(self) -> None:
        index = self._selected()
        if index is None:
            self.action_add()
            return

        def done(result: ModelMapping | None) -> None:
            if result is not None and result != self.mappings[index]:
                self.post_message(MappingChange("update", index=index, mapping=result))

        screen = MappingEditorScreen(self.mappings[index], self._names_except(index), self._bot_list())
        self.app.push_screen(screen, done)

    def action_delete(self) -> None:
        index = self._selected()
        if index is None:
            return
        mapping = self.mappings[index]

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self.post_message(MappingChange("delete", index=index))

        question = f"Delete the mapping {mapping.name} → {mapping.poe_model}?\nClaude Code requests for it will be refused."
        self.app.push_screen(ConfirmScreen(question, confirm_label="Delete"), done)

    def action_move(self, step: int) -> None:
        index = self._selected()
        if index is None:
            return
        to = index + step
        if 0 <= to < len(self.mappings):
            self.post_message(MappingChange("move", index=index, to=to))
            self.table.move_cursor(row=to)

    def _names_except(self, index: int | None) -> set[str]:
        return {m.name for i, m in enumerate(self.mappings) if i != index}

    def _bot_list(self) -> list[str] | None:
        return sorted(self.known_bots.values(), key=str.lower) if self.known_bots is not None else None
