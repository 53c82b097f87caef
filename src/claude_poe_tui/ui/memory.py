"""Keeping the dashboard's memory and its pauses flat while it runs for days.

Two things about Textual and CPython that cost the dashboard under steady traffic:

- ``StylesCache.get_inner_outer`` (textual 8) is an ``lru_cache`` on an instance method, so its
  keys hold up to 1024 widgets' style caches, each with the rendered lines of its widget, long
  after the widget was removed: every help screen, toast and dialog shown. Measured at
  200 requests/s with a key every 0.4 s: +110 retained lines a second, ~0.2 MiB/s. The cache maps
  two colours to two styles and refills in microseconds, so emptying it now and then frees them.
- A full garbage collection walks every tracked object; with the dashboard's widgets and history
  that took 60-100 ms, and a key pressed meanwhile waited for it.
"""

from __future__ import annotations

import gc

from textual._styles_cache import StylesCache


def forget_removed_widgets() -> None:
    """Drop the style caches Textual still holds for widgets that are gone."""
    clear = getattr(StylesCache.get_inner_outer, "cache_clear", None)
    if clear is not None:  # a later Textual may no longer cache there
        clear()


def freeze_long_lived_objects() -> None:
    """Leave what exists now (the widgets, the loaded history, the imports) out of every later
    garbage collection.

    Frozen objects are still freed by reference counting when dropped; only the cycle detector
    skips them, and it finds the short-lived cycles of new messages and renders as before.
    """
    gc.collect()
    gc.freeze()
