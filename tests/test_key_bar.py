"""The bottom line shows the keys of what has focus, and switching panes mounts no widgets."""

from __future__ import annotations

from pathlib import Path

from textual._styles_cache import StylesCache

from claude_poe_tui.ui.key_bar import KeyBar
from conftest import offline_dashboard


async def test_key_bar_follows_the_focused_pane_without_new_widgets(tmp_path: Path) -> None:
    app = offline_dashboard(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        bar = app.query_one(KeyBar)

        def shown() -> str:
            return bar.keys_text().plain

        await pilot.pause()
        assert "Add" in shown() and "Quit" in shown() and "palette" in shown()
        widgets = len(list(app.screen.walk_children()))
        for key, expected, absent in (("2", "Reveal", "Add"), ("3", "Filter", "Reveal"), ("4", "Window", "Filter"),
                                      ("1", "Add", "Window")):
            await pilot.press(key)
            await pilot.pause()
            assert expected in shown() and absent not in shown(), (key, shown())
            assert expected in str(bar.render())
        # Textual keeps the style caches of up to 1024 widgets in a class-level cache: widgets
        # made per focus change (as its Footer makes) would fill it and live on there.
        cached = StylesCache.get_inner_outer.cache_info().currsize
        for _ in range(8):
            await pilot.press("2", "1")
        await pilot.pause()
        assert len(list(app.screen.walk_children())) == widgets
        assert StylesCache.get_inner_outer.cache_info().currsize == cached


async def test_clicking_an_entry_does_what_its_key_does(tmp_path: Path) -> None:
    app = offline_dashboard(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        shown = app.query_one(KeyBar).keys_text().plain
        assert not app.query_one("#keys-pane").revealed
        await pilot.click(KeyBar, offset=(shown.index("Reveal"), 0))
        await pilot.pause()
        assert app.query_one("#keys-pane").revealed
        await pilot.click(KeyBar, offset=(shown.index("Help"), 0))
        await pilot.pause()
        assert app.screen.query(".dialog-title")
