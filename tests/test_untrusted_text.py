"""Text from Poe, from the proxy's output or from a user's file is shown as written, never read as markup.

A Poe error message with ``[/bold]`` in it used to crash the dashboard when its request was opened
in Logs, and ``[proxy] master_key`` in a config error lost its ``[proxy]``.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

from rich.console import Console

from textual.widgets import DataTable, Static
from textual.widgets._toast import Toast

from claude_poe_tui.config.model import ModelMapping
from claude_poe_tui.paths import StatePaths
from claude_poe_tui.requestlog.feed import FeedFigures
from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.ui.app import PoeTuiApp
from claude_poe_tui.ui.panes.keys import KeysPane
from claude_poe_tui.ui.panes.latency import LatencyPane
from claude_poe_tui.ui.panes.logs import LogsPane
from claude_poe_tui.ui.panes.models import ModelsPane
from claude_poe_tui.ui.panes.output import OutputPane
from claude_poe_tui.ui.screens.confirm import ConfirmScreen
from claude_poe_tui.ui.screens.crash import CrashScreen
from claude_poe_tui.ui.screens.prompt import PromptScreen
from claude_poe_tui.ui.screens.record_detail import RecordDetailScreen
from conftest import OFFLINE_POE, write_config

# A closing tag with no opening one raises MarkupError; the others would vanish or restyle text.
HOSTILE = "[/bold] [red]not red[/red] [proxy] master_key [link=x]y[/link]"


def hostile_record() -> RequestRecord:
    return RequestRecord(
        ts=1_800_000_000.0, id="req-[/bold]", session="[b]session", method="POST", path="/v1/messages",
        model="[/i]model", poe_model="[/bold]Bot", route="chat", stream=True, status=429,
        error_type="rate_limit_error", error_message=f"Poe (bot GPT-5): {HOSTILE}", latency_ms=12.0,
        ttft_ms=None, input_tokens=None, output_tokens=None, answered_model="[/u]answer",
        failed=[{"model": "[/s]first", "poe_model": "[/bold]Failed", "status": 529, "error_type": "[/x]overloaded"}],
        agent_id="[/bold]agent", parent_agent_id="[red]parent", member="[/bold]alice",
    )


def plain(widget) -> str:
    """What ``widget`` shows, as text (a Rich renderable is printed the way the screen draws it)."""
    shown = widget.render()
    renderable = getattr(shown, "_renderable", None)  # a RichVisual wraps a Rich Table
    if renderable is None:
        return str(shown)
    console = Console(width=400, file=io.StringIO(), record=True)
    console.print(renderable)
    return console.export_text()


def dashboard(tmp_path: Path) -> PoeTuiApp:
    # The config lives in a folder whose name looks like markup: paths show in Keys and in errors.
    config = write_config(tmp_path / "conf [/bold] [x]", poe_base_url=OFFLINE_POE)
    return PoeTuiApp(config, state_paths=StatePaths(tmp_path / "state"), start_proxy=False)


async def test_text_from_poe_the_proxy_and_user_files_shows_as_written(tmp_path: Path) -> None:
    app = dashboard(tmp_path)
    async with app.run_test(size=(160, 45), notifications=True) as pilot:
        record = hostile_record()
        figures = FeedFigures(window="1h", requests=1, errors=1,
                              summary={record.model: {"requests": 1, "errors": 1}}, series={record.model: []})

        # Logs: the row, then its details (this crashed with MarkupError).
        app.action_pane("logs")
        logs = app.query_one(LogsPane)
        logs.add_records([record])
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RecordDetailScreen)
        detail = "\n".join(plain(s) for s in app.screen.query(Static))
        assert HOSTILE in detail and "req-[/bold]" in detail and "[/bold]Bot" in detail
        for shown in ("[/u]answer", "[/s]first → [/bold]Failed: 529 [/x]overloaded", "subagent [/bold]agent, started by [red]parent",
                      "[/bold]alice"):
            assert shown in detail, shown
        await pilot.press("escape")
        # The row's short form of the fallbacks, and the line under the table.
        assert str(logs.table.get_row_at(0)[3]) == "[/bold]Bot (after [/bold]Failed 529)"
        selected = plain(logs.query_one("#logs-selected"))
        assert "after [/bold]Failed 529" in selected and HOSTILE in selected and "[/bold]agent" in selected

        # The filter typed by the user echoes in the status line.
        await pilot.press("slash", *"[/bold]")
        await pilot.pause()
        assert "filter: [/bold]" in plain(logs.query_one("#logs-status"))
        await pilot.press("escape")

        # Latency: the model name in the table and the chart title.
        app.action_pane("latency")
        app._show_figures(figures, now=True)
        await pilot.pause()
        latency = app.query_one(LatencyPane)
        assert plain(latency.query_one("#latency-title")).startswith("[/i]model")
        assert str(latency.query_one(DataTable).get_row_at(0)[0]) == "[/i]model"

        # Models: bot names and the catalog's note come from Poe.
        app.action_pane("models")
        models = app.query_one(ModelsPane)
        models.show_catalog(["[/bold]Bot"], f"Poe catalog: {HOSTILE}")
        await pilot.pause()
        assert HOSTILE in plain(models.query_one("#models-hint"))

        # Mapping names, bots and fallbacks come from the user's file; the line under the table too.
        hostile_config = dataclasses.replace(app.config, models=(
            ModelMapping("[/b]name", "[/bold]Bot", fallbacks=("[x]fallback",)),))
        models.show_config(hostile_config)
        await pilot.pause()
        assert str(models.table.cells_at(0)["fallbacks"]) == "[x]fallback"
        assert "[/b]name → [/bold]Bot" in plain(models.query_one("#models-detail"))
        assert "falls back to [x]fallback" in plain(models.query_one("#models-detail"))

        # Keys: where each key comes from names the user's paths.
        app.action_pane("keys")
        keys = app.query_one(KeysPane)
        await pilot.pause()
        where = str(keys.query_one(DataTable).get_row_at(0)[2])
        assert "conf [/bold] [x]" in where
        assert "conf [/bold] [x]" in plain(keys.query_one("#keys-selected"))

        # The proxy's output, as events (a traceback folded under it, then unfolded), and its crash dialog.
        output = app.query_one(OutputPane)
        output.add_lines([HOSTILE, "Traceback (most recent call last):", f"  File {HOSTILE}", f"Error: {HOSTILE}"])
        app.action_pane("output")
        await pilot.pause()
        view = output.view
        view.action_toggle()
        await pilot.pause()
        drawn = "\n".join(strip.text for event in view.events for strip in view._lines(event, 400))
        assert drawn.count(HOSTILE) >= 3, drawn
        app.push_screen(CrashScreen(f"the proxy exited: {HOSTILE}", [HOSTILE]))
        await pilot.pause()
        assert any(HOSTILE in plain(s) for s in app.screen.query(Static))
        await pilot.press("escape")

        # Dialogs that quote mapping names and paths from the config.
        app.push_screen(ConfirmScreen(f"Delete {HOSTILE}?"))
        await pilot.pause()
        assert any(HOSTILE in plain(s) for s in app.screen.query(Static))
        await pilot.press("n")
        app.push_screen(PromptScreen(f"New {HOSTILE}", f"Stored in {HOSTILE}"))
        await pilot.pause()
        assert sum(HOSTILE in plain(s) for s in app.screen.query(Static)) == 2
        await pilot.press("escape")

        # Notifications carry config errors and Poe's messages.
        app.notify(f"config.toml:3: {HOSTILE}", title="The config cannot be used", severity="error")
        await pilot.pause(0.3)
        toasts = [plain(t) for t in app.screen.query(Toast)]
        assert any(HOSTILE in t for t in toasts), toasts
