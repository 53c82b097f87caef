"""The dashboard over live traffic and the proxy's life, with Textual's Pilot and real proxy children.

A request sent through the proxy shows up in Logs, in Latency and in the status bar; Logs pauses
when scrolled up, counts what arrives, filters and opens a request; the proxy is stopped, started
and restarted from the keyboard; a crash is named and healed by itself; a running `serve` is
attached to and left running; and a dashboard killed with SIGKILL leaves no proxy behind.
"""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from claude_poe_tui.paths import StatePaths
from claude_poe_tui.proxy.parent.process import ProxyState
from claude_poe_tui.proxy.parent.session import SessionMode
from claude_poe_tui.ui.app import PoeTuiApp
from claude_poe_tui.ui.panes.output import OutputPane
from claude_poe_tui.ui.screens.crash import CrashScreen
from claude_poe_tui.ui.screens.record_detail import RecordDetailScreen
from conftest import PoeStandin, RunningProxy, start_proxy, write_config
from test_dashboard_models import ask, wait_for
from test_proxy_process import pid_alive as alive

pytestmark = pytest.mark.proxy


def running(app: PoeTuiApp) -> bool:
    return app.session is not None and app.session.state is ProxyState.RUNNING


def shown_as(app: PoeTuiApp, state: ProxyState) -> bool:
    """The session's state changes in the proxy's thread before the dashboard hears of it: this is
    the state the status line shows."""
    return app.session is not None and app.session.state is state and app.status.state is state


async def test_requests_appear_in_logs_latency_and_the_status_bar(tmp_path: Path, poe_clean: PoeStandin) -> None:
    config_path = write_config(tmp_path / "config", poe_base_url=poe_clean.base_url)
    app = PoeTuiApp(config_path, state_paths=StatePaths(tmp_path / "state"))
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_for(pilot, lambda: shown_as(app, ProxyState.RUNNING), what="the proxy shown running")
        status = str(app.status.render())
        assert "running" in status and app.session.url in status and "0 requests" in status

        assert ask(app.session.url, "claude-sonnet-4-5-20250929").status_code == 200
        assert ask(app.session.url, "gpt-5").status_code == 200
        poe_clean.fault(429, message="slow down", retry_after="3")
        assert ask(app.session.url, "gpt-5").status_code == 429

        logs = app.query_one("#logs-table")
        await wait_for(pilot, lambda: logs.row_count == 3, timeout=15, what="three requests in Logs")
        await pilot.press("3")
        rows = [logs.get_row_at(i) for i in range(3)]
        assert [str(r[1]) for r in rows] == ["200", "200", "429"]
        assert [(r[2], r[3], r[4]) for r in rows] == [
            ("claude-sonnet-4-5-20250929", "Claude-Sonnet-4.5", "messages"),
            ("gpt-5", "GPT-5", "chat"),
            ("gpt-5", "GPT-5", "chat"),
        ]
        assert "rate_limit_error" in str(rows[2][-1]) and "slow down" in str(rows[2][-1])
        await wait_for(pilot, lambda: "3 requests" in str(app.status.render())
                       and "1 error " in str(app.status.render()), timeout=5, what="the status bar's counts")

        await pilot.press("4")
        latency = app.query_one("#latency-table")
        await wait_for(pilot, lambda: latency.row_count == 2, timeout=5, what="two models in Latency")
        gpt = latency.cells_at(latency.get_row_index("gpt-5"))
        assert str(gpt["requests"]) == "2" and str(gpt["errors"]) == "1" and str(gpt["error_pct"]) == "50.0"
        assert str(gpt["p50"]) != "-"  # a p50 latency
        await pilot.press("w")  # 1h -> 6h
        await wait_for(pilot, lambda: "in 6h" in str(app.status.render()), timeout=5, what="the 6h window")
        assert str(latency.cells_at(latency.get_row_index("gpt-5"))["requests"]) == "2"

        # Open one request: all its fields, never a prompt.
        await pilot.press("3", "up")
        await pilot.press("enter")
        assert isinstance(app.screen, RecordDetailScreen)
        assert app.screen.record.model == "gpt-5" and app.screen.record.status == 200
        await pilot.press("escape")
        assert not isinstance(app.screen, RecordDetailScreen)

        # Scrolled up: following pauses and new requests are counted; G resumes.
        pane_status = app.query_one("#logs-status")
        assert "paused" in str(pane_status.render())
        assert ask(app.session.url, "claude-sonnet-4-5-20250929").status_code == 200
        await wait_for(pilot, lambda: "1 new request ·" in str(pane_status.render()), timeout=15,
                       what="the new-request count")
        assert logs.cursor_row == 1
        await pilot.press("G")
        assert logs.cursor_row == 3 and "following" in str(pane_status.render())

        # Filter: only the failure, then everything again.
        await pilot.press("slash", *"status:4xx", "enter")
        assert logs.row_count == 1 and str(logs.get_row_at(0)[1]) == "429"
        await pilot.press("slash", *"model:claude", "enter")  # replaces the filter
        assert logs.row_count == 2
        await pilot.press("escape")
        assert logs.row_count == 4

        child = app.session.pid
        await pilot.press("ctrl+q")
    assert not alive(child), "quitting stops the proxy the dashboard started"


async def test_stop_start_restart_and_a_crash_from_the_keyboard(tmp_path: Path, poe: PoeStandin) -> None:
    config_path = write_config(tmp_path / "config", poe_base_url=poe.base_url)
    app = PoeTuiApp(config_path, state_paths=StatePaths(tmp_path / "state"))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: running(app), what="the proxy to reach running")
        first = app.session.pid
        await pilot.press("s")
        await wait_for(pilot, lambda: shown_as(app, ProxyState.STOPPED), what="shown stopped")
        assert "stopped" in str(app.status.render()) and not alive(first)
        await pilot.press("s")
        await wait_for(pilot, lambda: running(app), what="running again")
        second = app.session.pid
        assert second != first
        await pilot.press("r")
        await wait_for(pilot, lambda: running(app) and app.session.pid != second, what="a restart")
        third = app.session.pid
        assert ask(app.session.url, "gpt-5").status_code == 200

        os.kill(third, signal.SIGKILL)  # the proxy dies under the dashboard...
        await wait_for(pilot, lambda: app.session.state is ProxyState.FAILED, timeout=15, what="the crash noticed")
        assert f"the proxy (pid {third}) was killed by SIGKILL" in app.session.detail
        assert "; starting it again in 1 s. Its last output" in app.session.detail
        screens: list[object] = []
        # ...and comes back by itself, on the same port: no crash screen to answer.
        await wait_for(pilot, lambda: screens.append(app.screen) or (running(app) and app.session.pid != third),
                       what="running after the crash")
        assert not any(isinstance(screen, CrashScreen) for screen in screens)
        # Running again, the crash is still told: in Proxy output, with its cause.
        crash_lines = [event.summary for event in app.query_one(OutputPane).view.events
                       if f"the proxy (pid {third}) was killed by SIGKILL" in event.summary]
        assert crash_lines and crash_lines[0].endswith("starting it again in 1 s"), crash_lines  # the output is above
        assert ask(app.session.url, "gpt-5").status_code == 200
        last = app.session.pid
        await pilot.press("ctrl+q")
    assert not alive(last)


async def test_attaches_to_a_running_serve_and_leaves_it_running(tmp_path: Path, poe: PoeStandin) -> None:
    serve: RunningProxy = start_proxy(tmp_path / "serve", poe)
    try:
        app = PoeTuiApp(serve.config_path, state_paths=StatePaths(serve.state_dir))
        async with app.run_test(size=(140, 40)) as pilot:
            await wait_for(pilot, lambda: running(app), what="attached")
            assert app.session.mode is SessionMode.ATTACHED
            assert app.session.pid == serve.process.pid
            await wait_for(pilot, lambda: f"attached to serve, pid {serve.process.pid}" in str(app.status.render()),
                           timeout=5, what="the status bar to say so")
            assert "running" in str(app.status.render())
            await pilot.press("s")  # not ours to stop
            assert running(app)
            assert ask(serve.url, "gpt-5").status_code == 200
            logs = app.query_one("#logs-table")
            await wait_for(pilot, lambda: logs.row_count >= 1, timeout=15, what="the serve's request in Logs")
            await pilot.press("ctrl+q")
        assert serve.process.state is ProxyState.RUNNING
        assert httpx.get(f"{serve.url}/health/liveliness", timeout=5).status_code == 200
    finally:
        serve.process.stop()


def test_a_killed_dashboard_leaves_no_proxy_behind(tmp_path: Path, poe: PoeStandin) -> None:
    config_path = write_config(tmp_path / "config", poe_base_url=poe.base_url)
    port = int(next(line for line in config_path.read_text().splitlines() if line.startswith("port")).split("=")[1])
    env = {**os.environ, "CLAUDE_POE_TUI_STATE_DIR": str(tmp_path / "state"), "TERM": "xterm-256color",
           "COLUMNS": "120", "LINES": "40"}
    leader, follower = pty.openpty()
    dashboard = subprocess.Popen([sys.executable, "-m", "claude_poe_tui", "--config", str(config_path)],
                                 stdin=follower, stdout=follower, stderr=follower, env=env, start_new_session=True)
    os.close(follower)
    try:
        deadline = time.monotonic() + 120
        status: dict = {}
        while time.monotonic() < deadline:
            try:
                os.read(leader, 65536)  # keep the terminal drained
            except OSError:
                pass
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/claude-poe-tui/status", timeout=1).json()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        child = status.get("pid")
        assert isinstance(child, int) and alive(child), "the dashboard started its proxy"
        dashboard.kill()  # SIGKILL: no chance to clean up
        dashboard.wait(10)
        deadline = time.monotonic() + 15
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(child), "the proxy child outlived the killed dashboard"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/health/liveliness", timeout=2)
    finally:
        if dashboard.poll() is None:
            dashboard.kill()
        os.close(leader)
