"""What the dashboard leaves behind as screens and toasts come and go: nothing that grows."""

from __future__ import annotations

import gc
from pathlib import Path

from textual._styles_cache import StylesCache
from textual.widgets import Static

from claude_poe_tui.ui.memory import forget_removed_widgets
from conftest import offline_dashboard


def style_caches() -> int:
    gc.unfreeze()  # the dashboard freezes what it has once history is shown; count that too
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, StylesCache))


async def test_help_is_built_once_and_removed_widgets_are_let_go(tmp_path: Path) -> None:
    app = offline_dashboard(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = app.screen
        assert "every key" in str(help_screen.query_one(".dialog-title").render())
        await pilot.press("escape")
        await pilot.pause()
        counts = []
        for _ in range(10):
            await pilot.press("question_mark")
            await pilot.pause()
            assert app.screen is help_screen
            await pilot.press("escape")
            await pilot.pause()
            counts.append(style_caches())
        before = counts[-1]
        assert counts[-1] - counts[1] <= 1, counts  # not one set of widgets per `?`

        # Widgets shown and removed (as toasts and dialogs are) stay reachable from Textual's
        # colour cache, with their rendered lines, until it is emptied.
        shown = [Static(f"note {index}", classes="hint") for index in range(10)]
        await app.screen.mount_all(shown)
        await pilot.pause()
        for widget in shown:
            await widget.remove()
        del shown, widget
        # The screen remembers its last list of children until they change again.
        await app.screen.mount(Static("the last one", classes="hint"))
        await pilot.pause()
        assert style_caches() >= before + 10
        forget_removed_widgets()
        assert style_caches() <= before + 1
