"""The dashboard with Textual's Pilot: the proxy reaching running, mapping edits landing in the TOML
with the user's comments and served by the proxy, bad edits refused, and quitting cleanly."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from claude_poe_tui.paths import StatePaths
from claude_poe_tui.proxy.parent.process import ProxyState
from claude_poe_tui.ui.app import PoeTuiApp
from claude_poe_tui.ui.screens.mapping_editor import MappingEditorScreen
from conftest import MASTER_KEY, PoeStandin, write_config

USER_COMMENT = "# My own note about why sonnet maps here."


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 90.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def make_config(tmp_path: Path, poe: PoeStandin) -> Path:
    path = write_config(tmp_path / "config", poe_base_url=poe.base_url,
                        models=(("claude-sonnet-4-5-20250929", "Claude-Sonnet-4.5"),))
    text = path.read_text().replace("[[models]]", f"{USER_COMMENT}\n[[models]]", 1)
    path.write_text(text)
    return path


def ask(url: str, model: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/messages",
        json={"model": model, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"},
        timeout=60,
    )


@pytest.mark.proxy
async def test_add_a_mapping_and_the_proxy_serves_it(tmp_path: Path, poe: PoeStandin) -> None:
    config_path = make_config(tmp_path, poe)
    app = PoeTuiApp(config_path, state_paths=StatePaths(tmp_path / "state"))
    async with app.run_test(size=(140, 40)) as pilot:
        # The session's state changes in the proxy's thread before the dashboard hears of it: wait
        # for what the user sees.
        await wait_for(pilot, lambda: app.session is not None and app.session.state is ProxyState.RUNNING
                       and "running" in str(app.status.render()), what="the status line to say running")
        child_pid = app.session.pid

        await pilot.press("a")
        assert isinstance(app.screen, MappingEditorScreen)
        await pilot.press(*"claude-opus-4-5-20251101")
        await pilot.press("enter")  # to the bot field
        await pilot.press(*"gemini-2.5")
        await pilot.press("enter")  # completes to the catalog's Gemini-2.5-Pro
        assert app.screen.query_one("#bot").value == "Gemini-2.5-Pro"
        await pilot.press("enter")  # saves
        await wait_for(pilot, lambda: len(app.config.models) == 2, what="the config to be saved")

        text = config_path.read_text()
        assert USER_COMMENT in text and "# claude-poe-tui config written by the tests" in text
        assert 'name = "claude-opus-4-5-20251101"' in text and 'poe_model = "Gemini-2.5-Pro"' in text
        table = app.query_one("#models-table")
        assert [str(table.cells_at(1)[key]) for key in ("name", "bot")] == ["claude-opus-4-5-20251101", "Gemini-2.5-Pro"]
        assert table.cursor_row == 1, "the cursor is on the mapping just added"

        answer = ask(app.session.url, "claude-opus-4-5-20251101")
        assert answer.status_code == 200
        assert answer.json()["content"][0]["text"] == "Hello from Gemini-2.5-Pro."
        assert app.session.pid == child_pid, "a mapping change does not restart the proxy"

        await pilot.press("ctrl+q")
    assert app.session.state is ProxyState.STOPPED
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(child_pid, 0)


@pytest.mark.proxy
async def test_a_bad_edit_is_refused_in_place(tmp_path: Path, poe: PoeStandin) -> None:
    config_path = make_config(tmp_path, poe)
    before = config_path.read_text()
    app = PoeTuiApp(config_path, state_paths=StatePaths(tmp_path / "state"), start_proxy=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("a")
        await pilot.press(*"claude-sonnet-4-5-20250929")  # already mapped
        await pilot.press("enter")
        await pilot.press(*"GPT-5")
        await pilot.press("ctrl+s")
        editor = app.screen
        assert isinstance(editor, MappingEditorScreen), "the editor stays open on invalid input"
        message = str(editor.query_one("#editor-message").render())
        assert "already mapped" in message
        name_input = editor.query_one("#name")
        name_input.value = "has spaces in it"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, MappingEditorScreen)
        assert "without spaces" in str(editor.query_one("#editor-message").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, MappingEditorScreen)
    assert config_path.read_text() == before


async def test_delete_asks_first_and_keeps_other_comments(tmp_path: Path, poe: PoeStandin) -> None:
    config_path = write_config(tmp_path / "config", poe_base_url=poe.base_url)
    app = PoeTuiApp(config_path, state_paths=StatePaths(tmp_path / "state"), start_proxy=False)
    async with app.run_test(size=(140, 40)) as pilot:
        count = len(app.config.models)
        await pilot.press("d")
        await pilot.press("n")  # cancelled
        assert len(app.config.models) == count
        await pilot.press("d")
        await pilot.press("y")
        await wait_for(pilot, lambda: len(app.config.models) == count - 1, what="the deletion")
        assert "claude-sonnet-4-5-20250929" not in config_path.read_text()
        assert "# claude-poe-tui config written by the tests" in config_path.read_text()
        await pilot.press("shift+down")  # moves the (new) first mapping down
        await wait_for(pilot, lambda: app.config.models[1].name == "claude-opus-4-5-20251101", what="the move")


async def test_an_unknown_bot_is_flagged(tmp_path: Path, poe: PoeStandin) -> None:
    config_path = write_config(tmp_path / "config", poe_base_url=poe.base_url,
                               models=(("claude-x", "Claude-Sonnet-9"), ("gpt-5", "GPT-5")))
    app = PoeTuiApp(config_path, state_paths=StatePaths(tmp_path / "state"), start_proxy=False)
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.query_one("#models-table")
        await wait_for(pilot, lambda: "bots" in str(app.query_one("#models-hint").render()), what="the catalog")
        assert str(table.cells_at(0)["catalog"]) == "✗ no"
        assert str(table.cells_at(1)["catalog"]) == "✓ yes"
        assert "not in Poe's catalog" in str(app.query_one("#models-detail").render())
