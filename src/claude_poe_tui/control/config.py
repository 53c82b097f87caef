"""The dashboard's config changes end to end: write the file, then have the proxy serve it.

:class:`ConfigController` is what the dashboard's workers call for a mapping edit, a new key or
new budgets.
Each call writes the file (or refuses, raising :class:`~claude_poe_tui.errors.UserError` with
nothing written), then hands the saved config to ``apply`` (the proxy controller's), and returns a
:class:`ConfigChanged` that says what was done and what the proxy made of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from claude_poe_tui.config.edit import ConfigEditor
from claude_poe_tui.config.model import BudgetSettings, Config
from claude_poe_tui.control.keys import PoolKey, store_dashboard_key, store_pool_key
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

    def store_pool_key(self, config: Config, key: PoolKey, value: str) -> ConfigChanged:
        stored = store_pool_key(config, key, value)
        return ConfigChanged(stored.config, stored.what, self.apply(stored.config))

    def set_budgets(self, values: Mapping[str, float | None]) -> ConfigChanged:
        """Write ``[budget]`` (``None``: remove the line, no limit); :class:`~claude_poe_tui.errors.ConfigError`
        in the config's own words (file, line, key) with nothing written when one is refused (0 or less)."""
        config = apply_budget_edit(self.config_path, values)
        return ConfigChanged(config, budget_words(config.budget), self.apply(config))

    def set_member_budgets(self, member: str, values: Mapping[str, float | None]) -> ConfigChanged:
        """Write one member's ``daily_points`` / ``session_points`` in their ``[[clients]]`` entry, as
        :meth:`set_budgets` does ``[budget]``; the running proxy counts with them from its reload."""
        config = apply_member_budget_edit(self.config_path, member, values)
        return ConfigChanged(config, member_budget_words(config, member), self.apply(config))


BUDGET_KEYS = ("session_points", "daily_points", "min_balance")


MEMBER_BUDGET_KEYS = ("daily_points", "session_points")


def _points(value: float) -> int | float:
    """As a person writes it in TOML: ``50000``, not ``50000.0``."""
    return int(value) if float(value).is_integer() else float(value)


def apply_budget_edit(config_path: Path, values: Mapping[str, float | None]) -> Config:
    editor = ConfigEditor.open(config_path)
    for name in BUDGET_KEYS:
        if name not in values:
            continue
        value = values[name]
        if value is None:
            editor.remove_value("budget", name)
        else:
            editor.set_value("budget", name, _points(value))
    return editor.save()


def apply_member_budget_edit(config_path: Path, member: str, values: Mapping[str, float | None]) -> Config:
    """Set ``daily_points`` / ``session_points`` (``None``: remove the line, no limit of their own) in
    the ``[[clients]]`` entry named ``member``; its other lines (the key among them) and every comment
    stay as written. Validated by the loader before the file is replaced (atomically, its mode
    kept): a value it refuses raises its :class:`~claude_poe_tui.errors.ConfigError` (file, line,
    key) and nothing is written."""
    editor = ConfigEditor.open(config_path)
    editor.set_entry_values("clients", member, {name: None if values[name] is None else _points(values[name])
                                                for name in MEMBER_BUDGET_KEYS if name in values})
    return editor.save()


def budget_words(budget: BudgetSettings) -> str:
    """``budgets: session_points 50,000, daily_points no limit, min_balance 20,000``."""
    return "budgets: " + ", ".join(f"{name} {_limit_words(getattr(budget, name))}" for name in BUDGET_KEYS)


def _limit_words(value: float | None) -> str:
    return "no limit" if value is None else f"{value:,.0f}"


def member_budget_words(config: Config, member: str) -> str:
    """``alice's budgets: daily_points 1,000, session_points no limit`` (never the member's key)."""
    client = next((c for c in config.clients if c.name == member), None)
    return f"{member}'s budgets: " + ", ".join(
        f"{name} {_limit_words(getattr(client, name, None))}" for name in MEMBER_BUDGET_KEYS)
