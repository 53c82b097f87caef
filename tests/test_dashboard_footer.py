"""The dashboard's footer does not keep the keys of its earlier recomposes alive."""

from __future__ import annotations

import gc

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Button
from textual.widgets._footer import FooterKey

from claude_poe_tui.ui.app import DashboardFooter


class One(Button):
    BINDINGS = [Binding("a", "noop", "Add"), Binding("e", "noop", "Edit")]


class Two(Button):
    BINDINGS = [Binding("v", "noop", "Reveal"), Binding("c", "noop", "Copy"), Binding("g", "noop", "New")]


class FooterApp(App[None]):
    def compose(self) -> ComposeResult:
        yield One("one", id="one")
        yield Two("two", id="two")
        yield DashboardFooter()


async def test_focus_changes_do_not_pile_up_footer_keys() -> None:
    app = FooterApp()
    async with app.run_test() as pilot:
        for turn in range(40):  # each focus change recomposes the footer with other keys
            app.query_one("#one" if turn % 2 else "#two").focus()
            await pilot.pause()
        await pilot.pause(0.1)
        footer = app.query_one(DashboardFooter)
        shown = len(footer.query(FooterKey))
        watchers = getattr(footer, "__watchers", {}).get("compact", [])
        assert len(watchers) <= shown + 3
        gc.collect()
        alive = sum(1 for o in gc.get_objects() if isinstance(o, FooterKey))
        assert alive <= shown + 3
