"""The dashboard at 80x24, the smallest supported terminal, and the Models, Keys, Logs and Proxy
output behaviours that go with it: columns by priority, a wrapping key bar, dialogs that scroll,
the mapping editor (rows named right, the picker, the cursor after an add, fallbacks), fallbacks
and subagents in Logs, copying that says where the key went."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from textual.widgets import Input, OptionList
from textual.widgets._toast import Toast

from claude_poe_tui.paths import StatePaths
from claude_poe_tui.requestlog.feed import FeedFigures
from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.ui.app import PoeTuiApp
from claude_poe_tui.ui.key_bar import KeyBar, layout_entries
from claude_poe_tui.ui.panes.latency import LatencyPane
from claude_poe_tui.ui.panes.output import OutputPane
from claude_poe_tui.ui.screens.mapping_editor import MappingEditorScreen
from claude_poe_tui.ui.screens.record_detail import RecordDetailScreen, record_fields
from conftest import MASTER_KEY, OFFLINE_POE, POE_KEY, write_config
from test_dashboard_models import wait_for

SMALL = (80, 24)
CATALOG = ["Claude-Opus-4.8", "Claude-Sonnet-5", "GPT-5", "GPT-4o", "Gemini-2.5-Pro", "Gemini-2.5-Flash"]
MODELS = (("claude-opus-4-8", "Claude-Opus-4.8"), ("claude-sonnet-5", "Claude-Sonnet-5"),
          ("claude-haiku-4-5-20251001", "GPT-5"), ("gemini", "Gemini-2.5-Pro"))


def dashboard(tmp_path: Path, records: list[RequestRecord] = (), extra_models: str = "") -> PoeTuiApp:
    config = write_config(tmp_path / "config", poe_base_url=OFFLINE_POE, models=MODELS, extra=extra_models)
    state = tmp_path / "state"
    state.mkdir(parents=True, exist_ok=True)
    entries = [{"id": bot, "object": "model", "owned_by": "x"} for bot in CATALOG]
    (state / "poe-models.json").write_text(json.dumps({"version": 1, "fetched_at": time.time(), "source": "",
                                                       "data": entries}))
    (state / "requests.jsonl").write_text("".join(r.to_json() + "\n" for r in records))
    return PoeTuiApp(config, state_paths=StatePaths(state), start_proxy=False)


def request(n: int, model: str, **fields) -> RequestRecord:
    base = dict(ts=time.time() - 100 + n, id=f"req-{n}", session="sess-1", method="POST", path="/v1/messages",
                model=model, poe_model="Claude-Sonnet-5", route="messages", stream=True, status=200,
                error_type=None, error_message=None, latency_ms=900.0 + n, ttft_ms=300.0, input_tokens=1000,
                output_tokens=50)
    return RequestRecord(**{**base, **fields})


FALLBACK = request(99, "claude-sonnet-5", poe_model="GPT-5", answered_model="gpt-5", route="chat",
                   agent_id="agent-7", parent_agent_id="agent-main",
                   failed=[{"model": "claude-sonnet-5", "poe_model": "Claude-Sonnet-5", "status": 529,
                            "error_type": "overloaded_error"}])


async def settled(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.request_history_shown, timeout=30, what="the request log's history")
    await wait_for(pilot, lambda: "bots" in str(app.query_one("#models-hint").render()), timeout=30, what="the catalog")
    await pilot.pause()


# -- every pane at 80x24 --

async def test_each_pane_keeps_its_most_useful_columns_at_80x24(tmp_path: Path) -> None:
    names = ["claude-opus-4-8", "claude-sonnet-5", "claude-haiku-4-5-20251001", "gemini", "gpt-5", "-"]
    records = [request(n, names[n % 6], error_type="rate_limit_error", error_message="slow down", status=429)
               if n % 5 == 0 else request(n, names[n % 6]) for n in range(30)]
    app = dashboard(tmp_path, records)
    async with app.run_test(size=SMALL) as pilot:
        await settled(pilot)
        models = app.query_one("#models-table")
        assert {"name", "bot", "route", "thinking", "fallbacks", "catalog"} <= set(models.shown_columns)

        await pilot.press("3")
        await pilot.pause()
        logs = app.query_one("#logs-table")
        assert {"time", "status", "model", "ms", "ttft", "tokens", "error"} <= set(logs.shown_columns)
        assert "route" not in logs.shown_columns, "the least useful column goes first"
        assert logs.virtual_size.width <= logs.scrollable_content_region.width, "no sideways scrolling"

        await pilot.press("4")
        await pilot.pause()
        latency = app.query_one("#latency-table")
        await wait_for(pilot, lambda: latency.row_count == 6, timeout=5, what="six models in Latency")
        assert latency.size.height >= 1 + 6, "header and six models fit above the charts"
        assert {"model", "requests", "errors", "p50", "ttft_p50"} <= set(latency.shown_columns)
        assert latency.virtual_size.width <= latency.size.width

        await pilot.press("2")
        await pilot.pause()
        keys = app.query_one("#keys-table")
        assert "origin" in keys.shown_columns, "where each key comes from stays on screen"

        bar = app.query_one(KeyBar)
        lines = bar.keys_text().plain.split("\n")
        assert len(lines) <= 2 and all(len(line) <= SMALL[0] for line in lines)
        assert "Check Poe key" in bar.keys_text().plain and "palette" in bar.keys_text().plain


def test_the_key_bar_wraps_between_entries() -> None:
    assert layout_entries([10, 10, 10], 40) == [[0, 1, 2]]
    assert layout_entries([10, 10, 10], 25) == [[0, 1], [2]]
    # More than two lines' worth: the rest is left to ? and ctrl+p, with room kept for "…".
    assert layout_entries([10, 10, 10, 10, 10], 20) == [[0, 1], [2]]


async def test_a_revealed_key_gives_its_width_back_once_masked(tmp_path: Path) -> None:
    app = dashboard(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("2", "down")
        await pilot.pause()
        table = app.query_one("#keys-table")

        def widths() -> dict[str, int]:
            return {f.key: f.width for f in table.fitted}

        masked = widths()
        await pilot.press("v")
        await pilot.pause()
        assert widths()["value"] > masked["value"] and "origin" in widths()
        assert MASTER_KEY in str(app.query_one("#keys-selected").render()), "the whole key shows under the table"
        await pilot.press("v")
        await pilot.pause()
        assert widths() == masked, "the column is narrow again and 'config says' has its width back"


# -- dialogs scroll --

async def test_tab_brings_each_field_of_the_mapping_editor_into_view(tmp_path: Path) -> None:
    app = dashboard(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await settled(pilot)
        await pilot.press("a")
        editor = app.screen
        assert isinstance(editor, MappingEditorScreen)
        dialog = editor.query_one("#mapping-editor")
        visited = []
        for _ in range(8):
            await pilot.press("tab")
            await pilot.pause()
            focused = app.focused
            visited.append(focused.id)
            assert dialog.region.contains_region(focused.region), f"{focused.id} is off screen"
            if focused.id == "save":
                break
        assert {"route", "thinking", "fallbacks", "save"} <= set(visited)
        assert dialog.max_scroll_y > 0, "at 80x24 the editor is taller than the screen: it scrolls"


# -- the mapping editor --

async def test_a_taken_name_names_the_row_that_has_it(tmp_path: Path) -> None:
    app = dashboard(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await settled(pilot)
        await pilot.press("a", *"gemini", "enter", *"GPT-4o", "ctrl+s")
        message = str(app.screen.query_one("#editor-message").render())
        assert "'gemini' is already mapped by row 4" in message


async def test_the_catalog_picker_takes_enter_at_once(tmp_path: Path) -> None:
    app = dashboard(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await settled(pilot)
        await pilot.press("a", *"gem", "enter", *"gemini-2.5", "tab")
        editor = app.screen
        assert isinstance(app.focused, OptionList)
        await pilot.press("enter")  # no ↓ first
        assert editor.query_one("#bot", Input).value == "Gemini-2.5-Flash"
        assert app.focused.id == "bot"


async def test_after_an_add_the_cursor_is_on_the_new_row(tmp_path: Path) -> None:
    app = dashboard(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await settled(pilot)
        table = app.query_one("#models-table")
        await pilot.press("down")
        await pilot.press("a", *"gpt-4o", "enter", *"GPT-4o", "ctrl+s")
        await wait_for(pilot, lambda: len(app.config.models) == 5, what="the mapping saved")
        await pilot.pause()
        assert table.cursor_row == 4
        await pilot.press("e")
        assert isinstance(app.screen, MappingEditorScreen) and app.screen.original.name == "gpt-4o"


async def test_fallbacks_and_thinking_are_edited_and_shown(tmp_path: Path) -> None:
    app = dashboard(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await settled(pilot)
        await pilot.press("down", "e")
        editor = app.screen
        fallbacks = editor.query_one("#fallbacks", Input)
        fallbacks.value = "nope"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, MappingEditorScreen), "an unknown fallback is refused in place"
        assert "'nope' is not a mapped model name" in str(editor.query_one("#editor-message").render())
        fallbacks.value = "claude-sonnet-5"
        await pilot.press("ctrl+s")
        assert "this mapping itself" in str(editor.query_one("#editor-message").render())
        fallbacks.value = "gemini, claude-opus-4-8"
        editor.query_one("#thinking").value = "off"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.config.models[1].fallbacks == ("gemini", "claude-opus-4-8"),
                       what="the fallbacks saved")
        text = app.config_path.read_text()
        assert 'fallbacks = ["gemini", "claude-opus-4-8"]' in text and 'thinking = "off"' in text
        cells = app.query_one("#models-table").cells_at(1)
        assert str(cells["fallbacks"]) == "gemini, claude-opus-4-8" and str(cells["thinking"]) == "off"
        detail = str(app.query_one("#models-detail").render())
        assert "falls back to gemini → claude-opus-4-8" in detail and "thinking off" in detail
        # A fallback loop is refused before it reaches the file.
        await pilot.press("up", "up", "e")
        app.screen.query_one("#fallbacks", Input).value = "claude-sonnet-5"
        await pilot.press("ctrl+s")
        assert "round in a circle: claude-opus-4-8 → claude-sonnet-5 → claude-opus-4-8" in str(
            app.screen.query_one("#editor-message").render())


# -- Logs: who answered, who failed first, which subagent asked --

async def test_logs_show_the_fallback_story_in_the_row_and_all_of_it_in_the_details(tmp_path: Path) -> None:
    app = dashboard(tmp_path, [request(1, "claude-opus-4-8"), FALLBACK])
    async with app.run_test(size=(140, 40)) as pilot:
        await settled(pilot)
        await pilot.press("3")
        table = app.query_one("#logs-table")
        await wait_for(pilot, lambda: table.row_count == 2, timeout=10, what="two rows")
        assert "bot" in table.shown_columns
        assert str(table.get_row_at(1)[3]) == "GPT-5 (after Claude-Sonnet-5 529)"
        assert "after Claude-Sonnet-5 529" in str(app.query_one("#logs-selected").render())
        await pilot.press("enter")
        assert isinstance(app.screen, RecordDetailScreen)
    fields = {label: value.plain for label, value in record_fields(FALLBACK)}
    assert fields["answered as"] == "gpt-5 (a fallback)" and fields["Poe bot"] == "GPT-5"
    assert fields["failed before"] == "1. claude-sonnet-5 → Claude-Sonnet-5: 529 overloaded_error"
    assert fields["asked by"] == "subagent agent-7, started by agent-main"
    assert "v" not in fields, "the schema version is for the reader, not for people"


async def test_the_logs_filter_takes_agent_and_session_terms(tmp_path: Path) -> None:
    app = dashboard(tmp_path, [request(1, "claude-opus-4-8", session="other"), FALLBACK])
    async with app.run_test(size=SMALL) as pilot:
        await settled(pilot)
        await pilot.press("3", "slash", *"agent:agent-7", "enter")
        table = app.query_one("#logs-table")
        assert table.row_count == 1 and table.record_at(0).id == "req-99"
        await pilot.press("slash", *"session:other", "enter")
        assert table.row_count == 1 and table.record_at(0).id == "req-1"


async def test_latency_names_requests_that_had_no_model(tmp_path: Path) -> None:
    app = dashboard(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("4")
        app._show_figures(FeedFigures("1h", {"-": {"requests": 3, "errors": 3}}, {"-": []}, 3, 3), now=True)
        await pilot.pause()
        title = str(app.query_one(LatencyPane).query_one("#latency-title").render())
        assert title == "(no model): model discovery (GET /v1/models) and requests refused before routing, last 1h"
        assert str(app.query_one("#latency-table").cells_at(0)["model"]) == "(no model)"


# -- the proxy's output --

async def test_proxy_output_is_one_line_per_event_and_enter_unfolds(tmp_path: Path) -> None:
    app = dashboard(tmp_path)
    long = "INFO: ready " + "word " * 20
    lines = ["INFO: started", "ERROR: it failed", "Traceback (most recent call last):",
             '  File "x.py", line 1, in f', "    g()", "RuntimeError: 429", long]
    async with app.run_test(size=SMALL) as pilot:
        pane = app.query_one(OutputPane)
        pane.add_lines(lines)
        await pilot.press("5")
        await pilot.pause()
        view = pane.view
        assert [event.summary for event in view.events] == [
            "INFO: started", "ERROR: it failed  ⟶ RuntimeError: 429", long.rstrip()]
        # Wrapped to the pane as it is now (the long line takes two lines at 80 columns, one at
        # 160), under a hanging indent; the traceback folded into its event's one line.
        assert view.virtual_size.height == 1 + 1 + 2
        await pilot.press("up", "enter")
        assert view.events[1].number in view.expanded
        assert view.virtual_size.height == 1 + 1 + 4 + 2
        await pilot.press("enter")
        assert view.virtual_size.height == 4
        await pilot.resize_terminal(160, 30)
        await pilot.pause()
        assert view.virtual_size.height == 3


# -- copying says where the key went --

@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
async def test_copy_in_tmux_lands_in_its_buffer_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    socket = tmp_path / "tmux.sock"
    subprocess.run(["tmux", "-S", str(socket), "new-session", "-d", "-s", "copy", "sleep 300"], check=True)
    try:
        pid = subprocess.run(["tmux", "-S", str(socket), "display", "-p", "#{pid}"], capture_output=True,
                             text=True, check=True).stdout.strip()
        monkeypatch.setenv("TMUX", f"{socket},{pid},0")
        app = dashboard(tmp_path)
        async with app.run_test(size=SMALL, notifications=True) as pilot:
            await pilot.press("2", "c")
            await app.workers.wait_for_complete()
            await pilot.pause(0.3)
            toasts = [str(toast.render()) for toast in app.screen.query(Toast)]
            assert any("copied into tmux's paste buffer" in toast for toast in toasts), toasts
        shown = subprocess.run(["tmux", "-S", str(socket), "show-buffer"], capture_output=True, text=True)
        assert shown.stdout == POE_KEY
    finally:
        subprocess.run(["tmux", "-S", str(socket), "kill-server"], capture_output=True)


async def test_copy_with_nothing_but_the_terminal_says_it_may_not_have_arrived(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TMUX", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    app = dashboard(tmp_path)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await pilot.press("2", "c")
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        toasts = [str(toast.render()) for toast in app.screen.query(Toast)]
        assert any("may not have reached the clipboard" in toast for toast in toasts), toasts
        assert not any("copied to the clipboard" in toast for toast in toasts)


async def test_late_timers_and_proxy_events_after_the_dashboard_closed_are_dropped(tmp_path: Path) -> None:
    """A tick of the 1 s timer, or a message from the proxy's or a worker's thread, can arrive while
    the dashboard exits and its widgets are gone; it must not raise (it did: NoMatches on StatusBar)."""
    from claude_poe_tui.proxy.parent.process import ProxyState, StateChanged
    from claude_poe_tui.ui.messages import ProxyEventArrived
    from claude_poe_tui.ui.status_bar import StatusBar

    config = write_config(tmp_path / "config", poe_base_url=OFFLINE_POE)
    app = PoeTuiApp(config, state_paths=StatePaths(tmp_path / "state"), start_proxy=False)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert not app.closing
        await app.query_one(StatusBar).remove()  # as when the dashboard's widgets go on exit
        assert app.closing
        app._tick()
        app.post_message(ProxyEventArrived(StateChanged(ProxyState.FAILED, "gone", restarting_in=1.0, cause="gone")))
        await pilot.pause(1.2)  # a real tick of the timer too
