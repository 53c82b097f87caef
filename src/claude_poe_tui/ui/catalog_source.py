"""The Poe bot ids the Models pane offers and checks mappings against."""

from __future__ import annotations

from claude_poe_tui.config.model import Config
from claude_poe_tui.paths import StatePaths
from claude_poe_tui.poe.catalog import load_cache
from claude_poe_tui.poe.client import PoeError, catalog_or_cache

CACHE_MAX_AGE = 24 * 3600


def load_bot_ids(config: Config, state: StatePaths, refresh: bool = False) -> tuple[list[str] | None, str]:
    """``(bot ids or None, a note for the user)``: the cache when fresh, else Poe (cache as fallback)."""
    cached = load_cache(state.catalog_cache)
    if cached is not None and not refresh and (cached.age_seconds() or 0) < CACHE_MAX_AGE:
        return [bot.id for bot in cached.bots], f"Poe catalog: {len(cached)} bots (cached)"
    failures: list[PoeError] = []
    catalog = catalog_or_cache(config.poe.base_url, state.catalog_cache, on_error=failures.append)
    if catalog is None:
        return None, f"Poe catalog unavailable ({failures[0] if failures else 'no answer'}); bots are not checked"
    if failures:
        return [bot.id for bot in catalog.bots], f"Poe catalog: cached copy (refresh failed: {failures[0]})"
    return [bot.id for bot in catalog.bots], f"Poe catalog: {len(catalog)} bots"
