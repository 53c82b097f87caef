"""Changing the ``[[models]]`` list of a config file, as the dashboard's Models pane asks.

An edit is a :class:`MappingEdit` (an action from :class:`MappingAction` and what it needs); it is
applied through :class:`~claude_poe_tui.config.edit.ConfigEditor`, so the user's comments and
order survive and an edit that would make the config invalid is refused with nothing written.
The result says what happened, in words, and which row the changed mapping now sits on.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from claude_poe_tui.config.edit import ConfigEditor
from claude_poe_tui.config.model import Config, ModelMapping


class MappingAction(enum.Enum):
    ADD = "add"
    UPDATE = "update"
    DELETE = "delete"
    MOVE = "move"


@dataclass(frozen=True)
class MappingEdit:
    """One change to the list. ``index`` is the row acted on (not for ADD), ``mapping`` the new
    mapping (ADD, UPDATE), ``to`` where a MOVE puts it."""

    action: MappingAction
    index: int | None = None
    mapping: ModelMapping | None = None
    to: int | None = None

    def __post_init__(self) -> None:
        needs = {
            MappingAction.ADD: ("mapping",),
            MappingAction.UPDATE: ("index", "mapping"),
            MappingAction.DELETE: ("index",),
            MappingAction.MOVE: ("index", "to"),
        }[MappingAction(self.action)]
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"{self.action.value} needs {', '.join(missing)}")

    @classmethod
    def add(cls, mapping: ModelMapping) -> MappingEdit:
        return cls(MappingAction.ADD, mapping=mapping)

    @classmethod
    def update(cls, index: int, mapping: ModelMapping) -> MappingEdit:
        return cls(MappingAction.UPDATE, index=index, mapping=mapping)

    @classmethod
    def delete(cls, index: int) -> MappingEdit:
        return cls(MappingAction.DELETE, index=index)

    @classmethod
    def move(cls, index: int, to: int) -> MappingEdit:
        return cls(MappingAction.MOVE, index=index, to=to)


@dataclass(frozen=True)
class MappingEdited:
    config: Config
    """The config as saved."""
    what: str
    """What was done, for the user: ``added gpt-5 → GPT-5``."""
    row: int | None
    """The row the edited mapping is on now (the row after a deletion); None when the list is empty."""


def edit_mapping_list(mappings: list[ModelMapping], edit: MappingEdit) -> MappingListEdited:
    """``edit`` applied to a list in memory (a remote gateway's, which checks and writes it);
    :class:`IndexError` for a row that is not there."""
    out = list(mappings)
    action = edit.action
    if action is MappingAction.ADD:
        assert edit.mapping is not None
        out.append(edit.mapping)
        what, row = f"added {edit.mapping.name} → {edit.mapping.poe_model}", len(out) - 1
    elif action is MappingAction.UPDATE:
        assert edit.mapping is not None and edit.index is not None
        out[edit.index] = edit.mapping
        what, row = f"updated {edit.mapping.name} → {edit.mapping.poe_model}", edit.index
    elif action is MappingAction.DELETE:
        assert edit.index is not None
        what, row = f"deleted {out.pop(edit.index).name}", edit.index
    elif action is MappingAction.MOVE:
        assert edit.index is not None and edit.to is not None
        to = max(0, min(edit.to, len(out) - 1))
        moved = out.pop(edit.index)
        out.insert(to, moved)
        what, row = f"moved {moved.name} to row {to + 1}", to
    else:  # an enum member added without a branch here
        raise ValueError(f"unknown mapping action {action!r}")
    row = None if not out else min(max(row, 0), len(out) - 1)
    return MappingListEdited(out, what, row)


@dataclass(frozen=True)
class MappingListEdited:
    mappings: list[ModelMapping]
    what: str
    row: int | None


def apply_mapping_edit(config_path: Path, edit: MappingEdit) -> MappingEdited:
    """Apply ``edit`` to the file and save it; :class:`~claude_poe_tui.errors.ConfigError` (nothing
    written) when the result would not be a valid config or the file changed meanwhile."""
    editor = ConfigEditor.open(config_path)
    action = edit.action
    if action is MappingAction.ADD:
        assert edit.mapping is not None
        editor.add_model(edit.mapping)
        what, row = f"added {edit.mapping.name} → {edit.mapping.poe_model}", None
    elif action is MappingAction.UPDATE:
        assert edit.mapping is not None and edit.index is not None
        editor.update_model(edit.index, edit.mapping)
        what, row = f"updated {edit.mapping.name} → {edit.mapping.poe_model}", edit.index
    elif action is MappingAction.DELETE:
        assert edit.index is not None
        what, row = f"deleted {editor.models()[edit.index].name}", edit.index
        editor.delete_model(edit.index)
    elif action is MappingAction.MOVE:
        assert edit.index is not None and edit.to is not None
        name = editor.models()[edit.index].name
        editor.move_model(edit.index, edit.to)
        what, row = f"moved {name} to row {edit.to + 1}", edit.to
    else:  # an enum member added without a branch here
        raise ValueError(f"unknown mapping action {action!r}")
    config = editor.save()
    count = len(config.models)
    if action is MappingAction.ADD:
        row = count - 1
    row = None if count == 0 else min(max(row or 0, 0), count - 1)
    return MappingEdited(config, what, row)
