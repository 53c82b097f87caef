"""The dashboard's config changes end to end: write the file, then have the proxy serve it.

:class:`ConfigController` is what the dashboard's workers call for a mapping edit or a new key.
Each call writes the file (or refuses, raising :class:`~claude_poe_tui.errors.UserError` with
nothing written), then hands the saved config to ``apply`` (the proxy controller's), and returns a
:class:`ConfigChanged` that says what was done and what the proxy made of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from claude_poe_tui.config.model import Config
from claude_poe_tui.control.keys import store_dashboard_key
from claude_poe_tui.control.mappings import MappingEdit, apply_mapping_edit
from claude_poe_tui.keys import KeyKind


@dataclass(frozen=True)
class ConfigChanged:
    config: Config
    what: str
    """What was done: ``added gpt-5 → GPT-5``."""
    outcome: str
    """What the proxy made of it: ``applied to the proxy``, ``proxy restarted``, ``saved``."""
    row: int | None = None
    """For a mapping edit: the row the mapping is on now."""

    def message(self, file_name: str) -> str:
        return f"{self.what}. Saved {file_name}; {self.outcome}."


class ConfigController:
    def __init__(self, config_path: Path, apply: Callable[[Config], str]) -> None:
        self.config_path = Path(config_path)
        self.apply = apply

    def edit_mapping(self, edit: MappingEdit) -> ConfigChanged:
        edited = apply_mapping_edit(self.config_path, edit)
        return ConfigChanged(edited.config, edited.what, self.apply(edited.config), edited.row)

    def store_key(self, config: Config, kind: KeyKind, value: str) -> ConfigChanged:
        stored = store_dashboard_key(config, kind, value)
        return ConfigChanged(stored.config, stored.what, self.apply(stored.config))
