"""A proxy that heals itself, with real children: a killed child is started again with backoff on
the port we keep, requests sent meanwhile wait instead of failing, the message names the cause and
this run's last lines; a stop waits for the drain, then kills; a host beyond loopback needs a long
master key and is warned about."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from claude_poe_tui.config import load_config, resolve_secrets
from claude_poe_tui.errors import UserError
from claude_poe_tui.paths import StatePaths
from claude_poe_tui.proxy.parent.process import (
    Backoff,
    OutputLine,
    ProxyProcess,
    ProxyState,
    StateChanged,
    exposure_warning,
)
from claude_poe_tui.proxy.protocol import DRAIN_MARGIN_SECONDS, DRAIN_SECONDS_ENV
from conftest import PoeStandin, write_config
from test_proxy_process import ask, pid_alive, wait_until

LONG_MASTER_KEY = "sk-exposed-" + "k" * 40


def set_proxy_keys(config_path: Path, **settings: str) -> Path:
    """Add keys to the [proxy] table of a config written by ``write_config``."""
    lines = "".join(f"\n{key} = {value}" for key, value in settings.items())
    text = config_path.read_text().replace('master_key = "env:LITELLM_MASTER_KEY"',
                                           'master_key = "env:LITELLM_MASTER_KEY"' + lines, 1)
    config_path.write_text(text)
    return config_path


def healing_proxy(tmp_path: Path, poe: PoeStandin, **settings: str) -> ProxyProcess:
    config_path = set_proxy_keys(write_config(tmp_path / "config", poe_base_url=poe.base_url), **settings)
    config = load_config(config_path)
    return ProxyProcess(config, resolve_secrets(config), StatePaths(tmp_path / "state"), restart_on_crash=True)


def test_backoff_doubles_up_to_30_s_and_starts_over_after_a_stable_run() -> None:
    backoff = Backoff()
    assert [backoff.next_delay(0.5) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.next_delay(120.0) == 1  # the child served two minutes: a new series
    assert backoff.next_delay(3.0) == 2


@pytest.mark.proxy
def test_a_killed_child_comes_back_and_a_request_sent_meanwhile_is_answered(tmp_path: Path, poe: PoeStandin) -> None:
    proxy = healing_proxy(tmp_path, poe)
    began = time.monotonic()
    proxy.start()
    try:
        proxy.wait_ready(120)
        first_start = time.monotonic() - began
        old = proxy.pid
        os.kill(old, signal.SIGKILL)
        killed = time.monotonic()
        answer = ask(proxy.url)  # no child serves now: it waits on the socket we keep
        recovered = time.monotonic() - killed
        assert answer.status_code == 200
        wait_until(lambda: proxy.state is ProxyState.RUNNING, 60, "the new child never reported ready")
        assert proxy.pid != old and not pid_alive(old)
        assert proxy.crashes == 1
        # 1 s of backoff and a new child's start: never a failure, never much more than a start.
        print(f"first start {first_start:.1f} s; answered {recovered:.1f} s after the kill")
        assert recovered < 1.0 + first_start * 1.5 + 5.0
    finally:
        proxy.stop()
    assert proxy.state is ProxyState.STOPPED


@pytest.mark.proxy
def test_the_backoff_grows_on_repeated_crashes_and_each_message_is_about_its_own_run(
    tmp_path: Path, poe: PoeStandin
) -> None:
    proxy = healing_proxy(tmp_path, poe)
    failures: list[StateChanged] = []
    runs: dict[int, list[str]] = {}  # child pid -> its output lines, as they arrived
    current: list[int] = []

    def listen(event) -> None:
        if isinstance(event, OutputLine):
            if event.text.startswith("claude-poe-tui: proxy child started (pid "):
                current.append(int(event.text.rsplit(" ", 1)[1].rstrip(")")))
                runs[current[-1]] = []
            if current:
                runs[current[-1]].append(event.text)
        elif event.state is ProxyState.FAILED:
            failures.append(event)

    proxy.add_listener(listen)
    config_path = proxy.config.path
    proxy.config_source = lambda: (load_config(config_path), resolve_secrets(load_config(config_path)))
    proxy.start()
    try:
        proxy.wait_ready(120)
        # As the dashboard does to a running serve: the file changes, the child is told, not us.
        config_path.write_text(config_path.read_text().replace('name = "gemini"', 'name = "gemini-renamed"'))
        for round_, expected_delay in enumerate((1, 2, 4), start=1):
            pid = proxy.pid
            time.sleep(1.2)  # the last line is then a while old: the message says how old
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: len(failures) == round_, 15, f"crash {round_} was not noticed")
            failure = failures[-1]
            assert failure.restarting_in == expected_delay
            assert failure.detail.startswith(f"the proxy (pid {pid}) was killed by SIGKILL ")
            assert failure.cause.endswith(f"; starting it again in {expected_delay} s")
            assert failure.detail.startswith(failure.cause + ". Its last output, ")
            said = failure.detail.split(". Its last output, ", 1)[1]
            assert said.split(" before it ended: ", 1)[0].endswith(" s")
            shown = said.split(" before it ended: ", 1)[1].split(" | ")
            this_run = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in runs[pid]]
            this_run = [line for line in this_run if line]
            assert shown == this_run[-len(shown):] and "claude-poe-tui: proxy ready" in shown
            assert all(str(other) not in failure.detail for other in runs if other != pid)
            began = time.monotonic()
            wait_until(lambda: proxy.state is ProxyState.RUNNING and proxy.pid != pid, 120, "no restart")
            assert time.monotonic() - began >= expected_delay - 0.2  # it waited its backoff first
        assert ask(proxy.url).status_code == 200
        assert ask(proxy.url, "gemini-renamed").status_code == 200  # a restart reads the file again
        assert proxy.crashes == 3
    finally:
        proxy.stop()


@pytest.mark.proxy
def test_a_stop_passes_the_drain_to_the_child_and_kills_it_after_the_drain(tmp_path: Path, poe: PoeStandin) -> None:
    proxy = healing_proxy(tmp_path, poe, drain_seconds="1")
    proxy.start()
    try:
        proxy.wait_ready(120)
        pid = proxy.pid
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert f"{DRAIN_SECONDS_ENV}=1".encode() in environ
        assert proxy.stop_timeout == 1 + DRAIN_MARGIN_SECONDS
        os.kill(pid, signal.SIGSTOP)  # a child that cannot finish: SIGTERM stays pending
        began = time.monotonic()
        proxy.stop()
        took = time.monotonic() - began
    finally:
        proxy.stop()
    assert 1 + DRAIN_MARGIN_SECONDS - 0.5 <= took < 1 + DRAIN_MARGIN_SECONDS + 8
    assert not pid_alive(pid) and proxy.state is ProxyState.STOPPED


def test_a_stop_never_restarts_and_a_pending_restart_is_cancelled(tmp_path: Path, poe: PoeStandin) -> None:
    """The timer that would restart a crashed child does nothing once a stop came first."""
    proxy = healing_proxy(tmp_path, poe)
    crashed = subprocess.Popen([sys.executable, "-c", "pass"])
    crashed.wait()
    proxy._process = crashed
    proxy._served_once = True
    with proxy._lock:
        proxy._schedule_restart(crashed, 0.3)
    proxy.stop()
    time.sleep(0.6)
    assert proxy.pid == crashed.pid and proxy.state is ProxyState.STOPPED


# --- exposure -------------------------------------------------------------------------------------


def exposed_config(tmp_path: Path, poe: PoeStandin, master_key: str) -> Path:
    config_path = write_config(tmp_path / "config", poe_base_url=poe.base_url,
                               dotenv={"POE_API_KEY": "poe-test-key-0123456789", "LITELLM_MASTER_KEY": master_key})
    config_path.write_text(config_path.read_text().replace('host = "127.0.0.1"', 'host = "0.0.0.0"'))
    return config_path


def test_a_host_beyond_loopback_with_a_short_master_key_is_refused_everywhere(tmp_path: Path, poe: PoeStandin) -> None:
    config_path = exposed_config(tmp_path, poe, "sk-short-but-not-tiny-0123456")  # 29 characters
    config = load_config(config_path)
    process = ProxyProcess(config, resolve_secrets(config), StatePaths(tmp_path / "state"))
    with pytest.raises(UserError, match="at least 32 characters; it has 29"):
        process.start()
    assert process.state is ProxyState.STOPPED and process.pid is None
    env = {**os.environ, "CLAUDE_POE_TUI_STATE_DIR": str(tmp_path / "state")}
    for command in ("serve", "start"):
        done = subprocess.run([sys.executable, "-m", "claude_poe_tui", "--config", str(config_path), command],
                              capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 2, done.stderr
        assert 'host = "0.0.0.0"' in done.stderr and "at least 32 characters" in done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "state" / "run" / str(config.proxy.port) / "serve.pid").exists()


def test_loopback_needs_no_long_key_and_other_hosts_get_a_warning(tmp_path: Path, poe: PoeStandin) -> None:
    short = load_config(write_config(tmp_path / "loop", poe_base_url=poe.base_url))
    assert exposure_warning(short, resolve_secrets(short)) is None
    for host in ("localhost", "::1", "127.0.0.2"):
        config = load_config(write_config(tmp_path / host.replace(":", "_"), poe_base_url=poe.base_url))
        config = dataclasses.replace(config, proxy=dataclasses.replace(config.proxy, host=host))
        assert exposure_warning(config, resolve_secrets(config)) is None, host
    exposed = load_config(exposed_config(tmp_path / "wide", poe, LONG_MASTER_KEY))
    warning = exposure_warning(exposed, resolve_secrets(exposed))
    assert warning and f"0.0.0.0:{exposed.proxy.port}" in warning and "reachable from other machines" in warning


@pytest.mark.proxy
def test_serve_on_an_exposed_host_warns_at_every_start(tmp_path: Path, poe: PoeStandin) -> None:
    config_path = exposed_config(tmp_path, poe, LONG_MASTER_KEY)
    env = {**os.environ, "CLAUDE_POE_TUI_STATE_DIR": str(tmp_path / "state")}
    serve = subprocess.Popen([sys.executable, "-m", "claude_poe_tui", "--config", str(config_path), "serve", "--quiet"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    try:
        for line in serve.stdout:
            lines.append(line)
            if "ready in" in line:
                break
        serve.send_signal(signal.SIGTERM)
        rest, _ = serve.communicate(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()
    said = "".join(lines)
    assert "ready in" in said, said
    assert "warning: the proxy listens on 0.0.0.0:" in said and "reachable from other machines" in said
    assert serve.returncode == 0 and "stopped" in rest
    assert LONG_MASTER_KEY not in said + rest


async def test_the_dashboard_refuses_an_exposed_host_with_a_short_key_and_says_why(
    tmp_path: Path, poe: PoeStandin
) -> None:
    from claude_poe_tui.ui.app import PoeTuiApp

    config_path = exposed_config(tmp_path, poe, "sk-short-0123456789")
    app = PoeTuiApp(config_path, state_paths=StatePaths(tmp_path / "state"))
    async with app.run_test(size=(140, 40)) as pilot:
        deadline = time.monotonic() + 30
        while app.session is None or app.session.state is not ProxyState.FAILED:
            assert time.monotonic() < deadline, "the dashboard did not refuse"
            await pilot.pause(0.1)
        assert "at least 32 characters; it has 19" in app.session.detail
        assert app.status.state is ProxyState.FAILED and app.session.pid is None
        await pilot.press("ctrl+q")
