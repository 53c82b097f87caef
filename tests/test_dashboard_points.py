"""Points in the dashboard, with Textual's Pilot: the Logs column and a request's details, Latency's
points per request and per hour, the Sessions pane, the status bar's balance and burn rate, budgets
shown and edited, low-balance notices. The points files are written the way the proxy writes them
(tests/points_helpers.py); the last test runs a real proxy child with a cached catalog."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from textual.widgets import Static
from textual.widgets._toast import Toast

from claude_poe_tui.paths import StatePaths
from claude_poe_tui.points.budget import BudgetLimits
from claude_poe_tui.points.model import PointsKind
from claude_poe_tui.proxy.parent.process import ProxyState
from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.ui.app import PoeTuiApp
from claude_poe_tui.ui.screens.budget_editor import BudgetEditorScreen
from claude_poe_tui.ui.screens.record_detail import RecordDetailScreen
from conftest import MASTER_KEY, OFFLINE_POE, PoeStandin, write_config
from points_helpers import append_lines, line_for, write_summary
from test_dashboard_models import wait_for
from test_untrusted_text import plain

MODELS = (("claude-sonnet-5", "Claude-Sonnet-5"), ("gpt-5", "GPT-5"))
POINTS_COLUMN = 8  # time, status, model, bot, route, ms, ttft, tokens, points, error


def request(n: int, ts: float, model: str | None, bot: str | None, session: str | None, status: int = 200,
            **fields) -> RequestRecord:
    base = dict(ts=ts, id=f"req-{n}", session=session, method="POST", path="/v1/messages", model=model,
                poe_model=bot, route="messages", stream=True, status=status, error_type=None, error_message=None,
                latency_ms=900.0, ttft_ms=300.0, input_tokens=1000, output_tokens=50)
    return RequestRecord(**{**base, **fields})


def dashboard(tmp_path: Path, records: list[RequestRecord], *, extra: str = "") -> tuple[PoeTuiApp, Path]:
    config = write_config(tmp_path / "config", poe_base_url=OFFLINE_POE, models=MODELS, extra=extra)
    state = tmp_path / "state"
    state.mkdir(parents=True, exist_ok=True)
    log = state / "requests.jsonl"
    log.write_text("".join(r.to_json() + "\n" for r in records))
    return PoeTuiApp(config, state_paths=StatePaths(state), start_proxy=False), log


def sample(now: float) -> list[RequestRecord]:
    return [
        request(1, now - 600, "claude-sonnet-5", "Claude-Sonnet-5", "sess-a"),
        request(2, now - 500, "claude-sonnet-5", "Claude-Sonnet-5", "sess-a", agent_id="agent-1"),
        request(3, now - 400, "gpt-5", "GPT-5", "sess-b"),
        request(4, now - 300, None, None, None, status=401, error_type="authentication_error",
                error_message="wrong key", latency_ms=0.5),
    ]


def points_file(log: Path, records: list[RequestRecord], now: float) -> None:
    append_lines(log, [line_for(records[0], 120.0, PointsKind.EXACT, query_ids=("q-1",)),
                       line_for(records[1], 280.0, PointsKind.AMBIGUOUS, query_ids=("q-2", "q-3")),
                       line_for(records[2], 12.0, PointsKind.ESTIMATED)])


async def test_points_show_in_logs_latency_sessions_and_the_status_bar(tmp_path: Path) -> None:
    now = time.time()
    records = sample(now)
    app, log = dashboard(tmp_path, records)
    points_file(log, records, now)
    write_summary(log, now=now, balance=987_654)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_for(pilot, lambda: app.request_history_shown and app.points_shown, timeout=30,
                       what="the history and its points")
        await pilot.press("3")
        table = app.query_one("#logs-table")
        await wait_for(pilot, lambda: table.row_count == 4, timeout=10, what="four requests")
        assert "points" in table.shown_columns
        assert [str(table.get_row_at(i)[POINTS_COLUMN]) for i in range(4)] == ["120", "≈280", "~12", "-"]

        # The line under the table and the details say how each figure is known.
        await pilot.press("up", "up")
        assert "≈280 points (ambiguous)" in plain(app.query_one("#logs-selected"))
        await pilot.press("down", "enter")
        assert isinstance(app.screen, RecordDetailScreen)
        detail = "\n".join(plain(s) for s in app.screen.query(Static))
        assert "~12 points (estimated from the catalog's price and the tokens" in detail
        await pilot.press("escape", "up", "up", "enter")
        detail = "\n".join(plain(s) for s in app.screen.query(Static))
        assert "120 points (exact: Poe's points history (query q-1))" in detail
        await pilot.press("escape")

        # Poe's history says what request 3 cost: the row changes from its estimate.
        append_lines(log, [line_for(records[2], 15.0, PointsKind.EXACT, at=now + 1, query_ids=("q-9",))])
        await wait_for(pilot, lambda: str(table.get_row_at(2)[POINTS_COLUMN]) == "15", timeout=10,
                       what="Poe's figure replacing the estimate")

        # Latency: per model, points per request and per hour over the window (1h).
        await pilot.press("4")
        latency = app.query_one("#latency-table")
        await wait_for(pilot, lambda: latency.row_count == 3, timeout=10, what="three rows in Latency")
        sonnet = latency.cells_at(latency.get_row_index("claude-sonnet-5"))
        assert (str(sonnet["per_request"]), str(sonnet["per_hour"])) == ("200", "400")
        def gpt() -> tuple[str, str]:
            cells = latency.cells_at(latency.get_row_index("gpt-5"))
            return str(cells["per_request"]), str(cells["per_hour"])

        await wait_for(pilot, lambda: gpt() == ("15", "15"), timeout=5, what="Poe's figure in Latency")
        assert "per_request" in latency.shown_columns and "per_hour" in latency.shown_columns
        latency.move_cursor(row=latency.get_row_index("claude-sonnet-5"))
        await pilot.pause()
        assert "400 pts · 200/req · 400/h" in plain(app.query_one("#latency-title"))
        await pilot.press("w")  # 6h: the same points over six hours
        await wait_for(pilot, lambda: str(latency.cells_at(latency.get_row_index("claude-sonnet-5"))["per_hour"]) == "67",
                       timeout=5, what="points per hour over 6h")

        # Sessions: each session's requests, bots, points, first and last time.
        await pilot.press("6")
        sessions = app.query_one("#sessions-table")
        await wait_for(pilot, lambda: sessions.row_count == 3, timeout=10, what="three sessions")
        rows = {str(sessions.cells_at(i)["session"]): sessions.cells_at(i) for i in range(3)}
        assert str(rows["sess-a"]["points"]) == "≈400" and str(rows["sess-a"]["requests"]) == "2"
        assert str(rows["sess-a"]["bots"]) == "Claude-Sonnet-5"
        assert str(rows["sess-b"]["points"]) == "15" and str(rows["sess-b"]["bots"]) == "GPT-5"
        assert str(rows["(no session)"]["points"]) == "-" and str(rows["(no session)"]["errors"]) == "1"
        assert str(rows["sess-a"]["first"]) == time.strftime("%H:%M:%S", time.localtime(now - 600))
        assert str(rows["sess-a"]["last"]) == time.strftime("%H:%M:%S", time.localtime(now - 500 + 0.9))
        sessions.move_cursor(row=[str(sessions.cells_at(i)["session"]) for i in range(3)].index("sess-a"))
        await pilot.pause()
        selected = plain(app.query_one("#sessions-selected"))
        assert "sess-a" in selected and "2 requests" in selected and "1 from subagents" in selected
        assert "Claude-Sonnet-5 400" in selected

        # Enter: the session's requests in Logs.
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one("TabbedContent").active == "logs" and table.row_count == 2
        assert app.query_one("#logs-filter").value == "session:sess-a"

        # The status bar: the balance and the burn rate (the last hour's points).
        status = str(app.status.render())
        assert "balance 987,654" in status and "pts/h" in status


async def test_budgets_show_how_close_they_are_and_are_edited_in_the_config(tmp_path: Path) -> None:
    now = time.time()
    records = sample(now)
    extra = "\n# Budgets: my own note\n[budget]\ndaily_points = 1000  # a day's worth\n"
    app, log = dashboard(tmp_path, records, extra=extra)
    points_file(log, records, now)
    write_summary(log, now=now, balance=987_654, budget=BudgetLimits(daily_points=1000))
    config_path = app.config_path
    async with app.run_test(size=(120, 34), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.request_history_shown and app.points_shown, timeout=30,
                       what="the history and its points")
        await pilot.press("6")
        budgets = app.query_one("#sessions-budgets")
        await wait_for(pilot, lambda: "today" in plain(budgets), timeout=10, what="the budgets")
        assert "today ~412/1,000" in plain(budgets) and "41%" in plain(budgets)

        # b: the editor, with what the config says.
        await pilot.press("b")
        assert isinstance(app.screen, BudgetEditorScreen)
        assert app.screen.query_one("#budget-daily_points").value == "1,000"
        app.screen.query_one("#budget-session_points").value = "50k"
        app.screen.query_one("#budget-daily_points").value = ""
        app.screen.query_one("#budget-min_balance").value = "20,000"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "session_points = 50000" in config_path.read_text(), timeout=10,
                       what="the budgets saved")
        text = config_path.read_text()
        assert "# Budgets: my own note" in text and "min_balance = 20000" in text and "daily_points" not in text
        await wait_for(pilot, lambda: "per session 50,000" in plain(budgets), timeout=10, what="the new budgets shown")
        shown = plain(budgets)
        assert "keep 20,000: balance 987,654" in shown and "today" not in shown
        # The proxy (its summary) still counts with what it started with, and the pane says so.
        assert "still counts with the budgets it started with (session_points no limit, daily_points 1,000" in shown

        # A budget of 0 is refused with the config's own error, in the dialog, which stays open with
        # what was typed; nothing is written.
        before = config_path.read_text()
        await pilot.press("b")
        app.screen.query_one("#budget-session_points").value = "0"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BudgetEditorScreen)
                       and "must be more than 0 points" in plain(app.screen.query_one("#budget-message")),
                       timeout=10, what="the config's refusal")
        refusal = plain(app.screen.query_one("#budget-message"))
        assert "budget.session_points" in refusal and "config.toml:" in refusal
        assert app.screen.query_one("#budget-session_points").value == "0"
        assert config_path.read_text() == before

        # Not a number: refused in the dialog itself.
        app.screen.query_one("#budget-min_balance").value = "lots"
        await pilot.press("enter")
        assert isinstance(app.screen, BudgetEditorScreen)
        assert "Balance to keep: 'lots' is not a number" in plain(app.screen.query_one("#budget-message"))
        await pilot.press("escape")


async def test_a_low_balance_is_announced(tmp_path: Path) -> None:
    now = time.time()
    records = [request(n, now - 3000 + n * 60, "claude-sonnet-5", "Claude-Sonnet-5", "sess-a") for n in range(10)]
    app, log = dashboard(tmp_path, records, extra="\n[budget]\nmin_balance = 20000\n")
    append_lines(log, [line_for(r, 2000.0, PointsKind.EXACT) for r in records])  # 20,000 in the last hour
    write_summary(log, now=now, balance=15_000, budget=BudgetLimits(min_balance=20_000))
    async with app.run_test(size=(120, 34), notifications=True) as pilot:
        await wait_for(pilot, lambda: len(app.screen.query(Toast)) >= 2, timeout=30, what="the notices")
        toasts = [plain(t) for t in app.screen.query(Toast)]
        assert any("under [budget] min_balance (20,000)" in t for t in toasts), toasts
        assert any("runs out in" in t and "20,000 points/h" in t for t in toasts), toasts
        assert "balance 15,000 ⚠" in str(app.status.render())
        await pilot.press("6")
        await pilot.pause()
        budgets = plain(app.query_one("#sessions-budgets"))
        assert "⚠ the Poe balance (15,000 points) is under [budget] min_balance" in budgets
        assert "balance 15,000 (under it: requests are refused)" in budgets


@pytest.mark.proxy
async def test_a_real_proxys_points_reach_logs_sessions_and_the_status_bar(tmp_path: Path, poe: PoeStandin) -> None:
    from claude_poe_tui.poe.catalog import parse_models_response, save_cache

    state = tmp_path / "state"
    state.mkdir()
    # Poe's catalog, cached as `init` caches it: the proxy estimates each request from its prices.
    save_cache(state / "poe-models.json", parse_models_response(httpx.get(f"{poe.base_url}/models").json()),
               source=poe.base_url)
    config = write_config(tmp_path / "config", poe_base_url=poe.base_url, models=(("gpt-4o", "GPT-4o"),))
    app = PoeTuiApp(config, state_paths=StatePaths(state))
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_for(pilot, lambda: app.session is not None and app.session.state is ProxyState.RUNNING,
                       what="the proxy")
        for _ in range(2):
            response = httpx.post(f"{app.session.url}/v1/messages", timeout=30, json={
                "model": "gpt-4o", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
                headers={"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01",
                         "x-claude-code-session-id": "session-real"})
            assert response.status_code == 200
        await pilot.press("3")
        table = app.query_one("#logs-table")
        await wait_for(pilot, lambda: table.row_count == 2, timeout=15, what="two requests")
        # An estimate first (the catalog's price), then Poe's figure once the history is polled (every 15 s).
        await wait_for(pilot, lambda: all(str(table.get_row_at(i)[POINTS_COLUMN]) not in ("-", "~?") for i in range(2)),
                       timeout=15, what="the estimates")
        await wait_for(pilot, lambda: all(str(table.get_row_at(i)[POINTS_COLUMN])[:1].isdigit() for i in range(2)),
                       timeout=60, what="Poe's figures")
        figures = [float(str(table.get_row_at(i)[POINTS_COLUMN]).replace(",", "")) for i in range(2)]
        assert all(f > 0 for f in figures)
        await pilot.press("6")
        sessions = app.query_one("#sessions-table")
        await wait_for(pilot, lambda: any(str(sessions.cells_at(i)["session"]) == "session-real"
                                          and str(sessions.cells_at(i)["points"]) == f"{sum(figures):,.0f}"
                                          for i in range(sessions.row_count)), timeout=15, what="the session's points")
        # The balance Poe gave at its last poll, less what was spent since: Poe's balance now.
        balance = httpx.get(f"{poe.url}/usage/current_balance",
                            headers={"authorization": f"Bearer {poe.key}"}).json()["current_point_balance"]
        await wait_for(pilot, lambda: f"balance {balance:,} " in str(app.status.render()), timeout=15,
                       what="the balance")
        assert f"{sum(figures):,.0f} pts/h" in str(app.status.render())
        await pilot.press("ctrl+q")  # the proxy this dashboard started stops with it


@pytest.mark.proxy
async def test_a_budget_set_in_the_dashboard_refuses_the_sessions_next_request(tmp_path: Path, poe: PoeStandin) -> None:
    from claude_poe_tui.poe.catalog import parse_models_response, save_cache

    state = tmp_path / "state"
    state.mkdir()
    save_cache(state / "poe-models.json", parse_models_response(httpx.get(f"{poe.base_url}/models").json()),
               source=poe.base_url)
    config = write_config(tmp_path / "config", poe_base_url=poe.base_url, models=(("gpt-4o", "GPT-4o"),),
                          extra="\n[budget]\nsession_points = 100000\n")
    app = PoeTuiApp(config, state_paths=StatePaths(state))

    def ask() -> httpx.Response:
        return httpx.post(f"{app.session.url}/v1/messages", timeout=30, json={
            "model": "gpt-4o", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01", "x-claude-code-session-id": "s-budget"})

    def counted_with(name: str):
        return ((app.points_summary or {}).get("budget") or {}).get(name)

    async with app.run_test(size=(140, 40), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.session is not None and app.session.state is ProxyState.RUNNING,
                       what="the proxy")
        await wait_for(pilot, lambda: counted_with("session_points") == 100000, timeout=30, what="the proxy's summary")
        await pilot.press("6", "b")
        app.screen.query_one("#budget-session_points").value = "2"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "session_points = 2\n" in config.read_text(), timeout=30, what="the budget saved")
        # The saved budget reaches the running proxy with the mappings, without a restart.
        await wait_for(pilot, lambda: counted_with("session_points") == 2, timeout=15, what="the new budget applied")
        budgets = app.query_one("#sessions-budgets")
        note = "still counts with the budgets it started with"
        await wait_for(pilot, lambda: note not in plain(budgets), timeout=10, what="no note about an old budget")
        statuses = [ask().status_code for _ in range(3)]
        assert statuses[0] == 200 and statuses[-1] == 402, statuses  # one request late, as documented
        await pilot.press("3")
        table = app.query_one("#logs-table")
        await wait_for(pilot, lambda: table.row_count == 3, timeout=15, what="the requests in Logs")
        refused = table.record_at(2)
        assert refused.status == 402 and "[budget] session_points = 2" in (refused.error_message or "")
        await pilot.press("ctrl+q")


def test_the_status_bar_says_when_poe_gave_an_old_balance() -> None:
    from claude_poe_tui.ui.status_bar import balance_parts

    said = time.mktime((2026, 11, 30, 14, 5, 0, 0, 0, -1))
    summary = {"balance": {"points": 5000, "at": said, "live": 4200.0, "live_estimated": True},
               "burn_rate": {"points_per_hour": 800.0, "estimated": False}, "alerts": []}
    balance, burn = balance_parts(summary, now=said + 60)
    assert balance.plain == "balance ~4,200" and burn.plain == "800 pts/h"
    balance, _ = balance_parts(summary, now=said + 2 * 3600)
    assert balance.plain == "balance ~4,200 (as of 14:05)"
    balance, _ = balance_parts({**summary, "alerts": [{"kind": "runs_out_soon", "message": "x"}]}, now=said + 60)
    assert balance.plain == "balance ~4,200 ⚠"
    assert balance_parts(None) == (None, None)


async def test_sessions_held_back_by_the_redraw_limit_are_drawn_by_the_next_tick(tmp_path: Path) -> None:
    from claude_poe_tui.control.sessions import SessionsTracker

    app, _ = dashboard(tmp_path, [])
    tracker = SessionsTracker()
    async with app.run_test(size=(120, 34)) as pilot:
        await wait_for(pilot, lambda: app.points_shown, timeout=30, what="the (empty) log read")
        app.request_log.close()  # from here on, only these rows reach the pane
        await pilot.pause(0.2)
        await pilot.press("6")
        tracker.add([request(1, time.time() - 5, "gpt-5", "GPT-5", "first")])
        app._latest_sessions = (tracker.rows(None), 1)
        app._show_sessions(now=True)
        tracker.add([request(2, time.time() - 1, "gpt-5", "GPT-5", "second")])
        app._latest_sessions = (tracker.rows(None), 2)
        app._show_sessions()  # within a second of the last drawing: held back, not dropped
        table = app.query_one("#sessions-table")
        assert table.row_count == 1
        await wait_for(pilot, lambda: table.row_count == 2, timeout=5, what="the held rows drawn")
