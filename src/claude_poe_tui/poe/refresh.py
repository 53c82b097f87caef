"""Keeping the cached Poe catalog fresh without anyone waiting for it.

The proxy reads the catalog from the cache (which bots take ``thinking_budget`` or
``reasoning_effort``, their windows, their display names). A fresh install has no cache and an old
one may miss new bots, so a long-running ``serve`` fetches it in a background thread when it is
missing or older than :data:`CATALOG_MAX_AGE`, then lets the caller apply it (a hot reload).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from claude_poe_tui.poe.catalog import CATALOG_MAX_AGE, Catalog, load_cache
from claude_poe_tui.poe.client import PoeError, refresh_catalog

REFRESH_TIMEOUT = 30.0


def refresh_catalog_in_background(
    base_url: str,
    cache_path: Path,
    *,
    then: Callable[[Catalog], object] | None = None,
    say: Callable[[str], object] | None = None,
    max_age: float = CATALOG_MAX_AGE,
    timeout: float = REFRESH_TIMEOUT,
) -> threading.Thread | None:
    """Fetch Poe's catalog into ``cache_path`` on a daemon thread if the cache is missing or stale.

    Returns the thread, or ``None`` when the cache is fresh (nothing to do). ``then`` runs on that
    thread with the new catalog when it differs from the cached one; ``say`` hears one line about
    the outcome. Neither may raise into the thread: failures are reported through ``say``.
    """
    cached = load_cache(cache_path)
    if cached is not None and not cached.is_stale(max_age):
        return None

    def report(message: str) -> None:
        if say is not None:
            say(message)

    def work() -> None:
        try:
            catalog = refresh_catalog(base_url, cache_path, timeout=timeout)
        except (PoeError, OSError) as exc:
            kept = "the cached copy" if cached is not None else "no catalog (no thinking parameters for non-Claude bots)"
            report(f"could not refresh Poe's catalog ({exc}); the proxy keeps using {kept}")
            return
        if cached is not None and cached.bots == catalog.bots:
            report(f"Poe's catalog checked: {len(catalog)} bots, unchanged")
            return
        if then is not None:
            try:
                then(catalog)
            except Exception as exc:  # a stopping proxy, a failed reload: the cache is still written
                report(f"Poe's catalog refreshed ({len(catalog)} bots) but not applied: {exc}")
                return
        report(f"Poe's catalog refreshed in the background: {len(catalog)} bots")

    thread = threading.Thread(target=work, name="poe-catalog-refresh", daemon=True)
    thread.start()
    return thread
