"""The dashboard over the background proxy, with Textual's Pilot and real processes: it attaches,
restarts, stops and starts the background proxy from the keyboard, and quitting leaves it running.
And the session's one owner of state: a refresh that probed before a stop cannot undo it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from background_helpers import Machine, alive, ask, make_machine, wait_until
from claude_poe_tui.config import load_config
from claude_poe_tui.paths import StatePaths
from claude_poe_tui.proxy.parent import session as session_module
from claude_poe_tui.proxy.parent.process import ProxyState
from claude_poe_tui.proxy.parent.session import ProxySession, SessionMode
from claude_poe_tui.ui.app import PoeTuiApp
from conftest import PoeStandin
from test_dashboard_models import wait_for

pytestmark = pytest.mark.proxy


@pytest.fixture
def machine(tmp_path: Path, poe: PoeStandin):
    made = make_machine(tmp_path, poe)
    yield made
    made.cleanup()


def running(app: PoeTuiApp) -> bool:
    return app.session is not None and app.session.state is ProxyState.RUNNING


async def test_the_dashboard_attaches_to_the_background_proxy_and_controls_it(machine: Machine) -> None:
    assert machine.cli("start").returncode == 0
    first = machine.record()
    app = PoeTuiApp(machine.config, state_paths=StatePaths(machine.box.state))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: running(app), what="attached")
        session = app.session
        assert session.mode is SessionMode.ATTACHED and session.view.background and session.can_control
        assert session.pid == first["child_pid"]

        # r: the serve starts a new child on the same port (and reads the config again).
        machine.config.write_text(machine.config.read_text().replace('name = "gemini"', 'name = "gemini-2"'))
        await pilot.press("r")
        await wait_for(pilot, lambda: running(app) and session.pid not in (None, first["child_pid"]), what="a restart")
        assert machine.record()["pid"] == first["pid"] and not alive(first["child_pid"])
        assert ask(machine.url, "gemini-2").status_code == 200

        # s: the background proxy stops (the serve too), and the dashboard says so.
        await pilot.press("s")
        await wait_for(pilot, lambda: session.state is ProxyState.STOPPED, what="stopped")
        assert not alive(first["pid"]) and machine.cli("status").returncode == 3
        # (the dashboard hears of the state after the session, which changes in another thread)
        await wait_for(pilot, lambda: "stopped" in str(app.status.render()), timeout=10, what="shown stopped")

        # s again: the background proxy, again; not a proxy of the dashboard's own.
        await pilot.press("s")
        await wait_for(pilot, lambda: running(app), timeout=180, what="started again")
        second = machine.record()
        assert second["pid"] != first["pid"] and second["mode"] == "background"
        assert session.mode is SessionMode.ATTACHED and session.pid == second["child_pid"]
        await pilot.press("ctrl+q")

    # Quitting leaves the background proxy running.
    assert alive(second["pid"]) and alive(second["child_pid"])
    assert machine.cli("status").returncode == 0 and ask(machine.url).status_code == 200


def test_a_refresh_that_probed_before_a_stop_cannot_undo_it(machine: Machine, monkeypatch) -> None:
    assert machine.cli("start").returncode == 0
    config = load_config(machine.config)
    session = ProxySession(config, StatePaths(machine.box.state))
    session.connect(None)
    assert session.state is ProxyState.RUNNING and session.view.background

    probed, release = threading.Event(), threading.Event()
    real_probe = session_module.probe_proxy

    def slow_probe(*args, **kwargs):
        answer = real_probe(*args, **kwargs)  # the proxy still answers: "ours, running"
        if threading.current_thread().name == "refresh":
            probed.set()
            release.wait(60)  # ...and the answer arrives late
        return answer

    monkeypatch.setattr(session_module, "probe_proxy", slow_probe)
    refresh = threading.Thread(target=session.refresh, name="refresh")
    refresh.start()
    assert probed.wait(30)
    session.stop()  # the background proxy stops while that refresh holds an old answer
    assert session.state is ProxyState.STOPPED
    release.set()
    refresh.join(30)
    assert session.state is ProxyState.STOPPED and session.attached is None, "a stale refresh undid the stop"
    assert session.mode is SessionMode.ATTACHED  # still watching for the background proxy to come back

    monkeypatch.setattr(session_module, "probe_proxy", real_probe)
    assert machine.cli("start").returncode == 0  # e.g. the `claude` launcher starts it again
    session.refresh()
    assert session.state is ProxyState.RUNNING and session.pid == machine.record()["child_pid"]
    wait_until(lambda: session.uptime is not None, 5, "an uptime")
