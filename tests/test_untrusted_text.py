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


async def test_points_sessions_team_and_remote_text_shows_as_written(tmp_path: Path, monkeypatch) -> None:
    """Text from the points files (bots, sessions, Poe's query ids, the proxy's alerts and history
    errors), the status page (pool keys out and why, members, mapping names) and a remote gateway's
    errors, shown in Logs, Sessions, Keys, Models and the status bar."""
    import time

    from claude_poe_tui.control.remote import RemoteTarget, RequestStream
    from claude_poe_tui.control.status import StatusReport
    from claude_poe_tui.points.budget import BudgetLimits
    from claude_poe_tui.points.model import PointsKind
    from claude_poe_tui.points.summary import read_summary, write_summary
    from claude_poe_tui.ui.messages import RemoteLinkChanged, StatusRead
    from claude_poe_tui.ui.panes.sessions import SessionsPane
    from points_helpers import append_lines, line_for, write_summary as proxy_summary

    now = time.time()
    record = dataclasses.replace(hostile_record(), ts=now - 60, status=200, error_type=None, error_message=None)
    app = dashboard(tmp_path)
    log = app.state_paths.request_log_for("")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(record.to_json() + "\n")
    append_lines(log, [line_for(record, 12.0, PointsKind.AMBIGUOUS, query_ids=("[/bold]q-1", "[red]q-2"))])
    proxy_summary(log, now=now, balance=1_000, budget=BudgetLimits(min_balance=5_000))
    # What the proxy wrote, with hostile text where Poe's or the proxy's words go.
    summary = read_summary(log.with_name("requests.points-summary.json"))
    summary["alerts"].append({"kind": "runs_out_soon", "message": f"Poe said {HOSTILE}"})
    summary["history"] = {"ok": False, "error": f"Poe's history: {HOSTILE}"}
    write_summary(log.with_name("requests.points-summary.json"), summary)

    async with app.run_test(size=(160, 45), notifications=True) as pilot:
        deadline = time.monotonic() + 20
        while not (app.request_history_shown and app.points_shown):
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        # Logs: the row's points, the line under the table, the details with Poe's query ids.
        app.action_pane("logs")
        await pilot.pause()
        logs = app.query_one(LogsPane)
        assert str(logs.table.get_row_at(0)[8]) == "≈12"
        await pilot.press("enter")
        detail = "\n".join(plain(s) for s in app.screen.query(Static))
        assert "[/bold]q-1, [red]q-2" in detail and "requests to [/bold]Bot share" in detail
        await pilot.press("escape")

        # Sessions: the session id, bots and models from the log; the proxy's alerts and history error.
        app.action_pane("sessions")
        await pilot.pause(1.2)
        sessions = app.query_one(SessionsPane)
        sessions.show_sessions(*app._latest_sessions)
        await pilot.pause()
        row = sessions.table.cells_at(0)
        assert str(row["session"]) == "[b]session" and str(row["bots"]) == "[/bold]Bot"
        assert str(row["member"]) == "[/bold]alice"
        selected = plain(sessions.query_one("#sessions-selected"))
        assert "[b]session" in selected and "asked for [/i]model" in selected
        budgets = plain(sessions.query_one("#sessions-budgets"))
        assert f"⚠ Poe said {HOSTILE}" in budgets and f"Poe's history: {HOSTILE}" in budgets
        toasts = [plain(t) for t in app.screen.query(Toast)]
        assert any(f"Poe said {HOSTILE}" in t for t in toasts), toasts

        # Keys: a pool key Poe refused, with the reason the proxy's status page gives, and members.
        app.post_message(StatusRead(StatusReport(True, {"keys_out": {"POE_API_KEY": HOSTILE},
                                                        "members": ["[/bold]alice"]})))
        app.action_pane("keys")
        await pilot.pause()
        keys = app.query_one(KeysPane)
        keys.show_config(dataclasses.replace(app.config, poe=dataclasses.replace(app.config.poe,
                                                                                 api_keys=("env:POE_API_KEY",))))
        await pilot.pause()
        assert str(keys.table.cells_at(0)["pool"]) == f"out: {HOSTILE}"
        assert HOSTILE in plain(keys.query_one("#keys-selected"))

    # A remote gateway: its mapping names, keys out, members (status page) and why it is unreachable.
    monkeypatch.setattr(RequestStream, "start", lambda self: None)
    target = RemoteTarget("http://127.0.0.1:9", "sk-x", "LITELLM_MASTER_KEY", "[/bold] origin")
    remote = PoeTuiApp(tmp_path / "conf" / "config.toml", start_proxy=False, remote=target)
    remote._watch_status = lambda: None
    async with remote.run_test(size=(160, 45)) as pilot:
        remote.post_message(StatusRead(StatusReport(True, {"models": ["[/i]model"], "keys_out": {"[/b]KEY": HOSTILE},
                                                           "members": ["[red]bob"], "started_at": 1.0})))
        await pilot.pause()
        models = remote.query_one(ModelsPane)
        assert str(models.table.cells_at(0)["name"]) == "[/i]model"
        remote.action_pane("keys")
        await pilot.pause()
        keys = remote.query_one(KeysPane)
        cells = {str(keys.table.cells_at(i)["key"]): keys.table.cells_at(i) for i in range(keys.table.row_count)}
        assert str(cells["Poe key [/b]KEY"]["pool"]) == f"out: {HOSTILE}" and "member [red]bob" in cells
        assert str(cells["master key"]["origin"]) == "[/bold] origin"
        remote.post_message(RemoteLinkChanged(False, HOSTILE))
        await pilot.pause()
        assert HOSTILE in str(remote.status.render())
        remote.post_message(StatusRead(StatusReport(False, error=f"no answer ({HOSTILE})")))
        await pilot.pause()
        assert f"no answer ({HOSTILE})" in str(remote.status.render())
