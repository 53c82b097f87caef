"""The Poe bot ids the Models pane offers and checks mappings against."""

from __future__ import annotations

import json
import time

from claude_poe_tui.atomic import atomic_write_text
from claude_poe_tui.config.model import Config
from claude_poe_tui.paths import StatePaths

CACHE_MAX_AGE = 24 * 3600


def load_bot_ids(config: Config, state: StatePaths, refresh: bool = False) -> tuple[list[str] | None, str]:
    """``(bot ids or None, a note for the user)``: from the cache when fresh, else from Poe."""
    cache = state.catalog_cache
    cached = None
    try:
        cached = json.loads(cache.read_text())
    except (OSError, ValueError):
        pass
    if cached and not refresh and time.time() - cached.get("fetched_at", 0) < CACHE_MAX_AGE:
        return [bot["id"] for bot in cached["data"]], f"Poe catalog: {len(cached['data'])} bots (cached)"
    import httpx

    try:
        response = httpx.get(config.poe.base_url.rstrip("/") + "/models", timeout=10.0)
        response.raise_for_status()
        data = [bot for bot in response.json().get("data", []) if isinstance(bot, dict) and "id" in bot]
    except (httpx.HTTPError, ValueError) as exc:
        if cached:
            return [bot["id"] for bot in cached["data"]], f"Poe catalog: cached copy (refresh failed: {exc})"
        return None, f"Poe catalog unavailable ({exc}); bots are not checked"
    atomic_write_text(cache, json.dumps({"fetched_at": time.time(), "data": data}))
    return [bot["id"] for bot in data], f"Poe catalog: {len(data)} bots"
