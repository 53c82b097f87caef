"""The proxy child's lifecycle: start, stop, restart, crash, a busy port, and never left behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from claude_poe_tui.config import load_config, resolve_secrets
from claude_poe_tui.errors import PortInUseError
from claude_poe_tui.paths import StatePaths
from claude_poe_tui.proxy.parent.process import ApplyOutcome, ProxyProcess, ProxyState, StateChanged
from conftest import MASTER_KEY, PoeStandin, free_port, start_proxy, write_config

pytestmark = pytest.mark.proxy


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def wait_until(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)


def ask(url: str, model: str = "claude-haiku-4-5-20251001") -> httpx.Response:
    return httpx.post(
        f"{url}/v1/messages",
        json={"model": model, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"},
        timeout=60,
    )


def test_busy_port_is_a_clear_error_naming_the_port(tmp_path: Path, poe: PoeStandin) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        config_path = write_config(tmp_path, poe_base_url=poe.base_url, port=port)
        config = load_config(config_path)
        process = ProxyProcess(config, resolve_secrets(config), StatePaths(tmp_path / "state"))
        with pytest.raises(PortInUseError, match=f"port {port} on 127.0.0.1 is already in use"):
            process.start()
        assert process.state is ProxyState.STOPPED

        result = subprocess.run(
            [sys.executable, "-m", "claude_poe_tui", "serve", "--config", str(config_path)],
            capture_output=True, text=True, timeout=60,
        )
    assert result.returncode != 0
    assert f"port {port}" in result.stderr and "Traceback" not in result.stderr


def test_stop_ends_the_child_and_frees_the_port(tmp_path: Path, poe: PoeStandin) -> None:
    running = start_proxy(tmp_path, poe)
    events: list[StateChanged] = []
    running.process.add_listener(lambda e: events.append(e) if isinstance(e, StateChanged) else None)
    pid = running.process.pid
    assert ask(running.url).status_code == 200
    running.process.stop()
    assert running.process.state is ProxyState.STOPPED
    assert not pid_alive(pid)
    assert [e.state for e in events] == [ProxyState.STOPPING, ProxyState.STOPPED]
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", running.process.config.proxy.port))


def test_restart_keeps_the_port_so_clients_wait_instead_of_failing(tmp_path: Path, poe: PoeStandin) -> None:
    running = start_proxy(tmp_path, poe)
    try:
        old_pid = running.process.pid
        results: list[int] = []
        restarting = threading.Thread(target=running.process.restart)
        restarting.start()
        wait_until(lambda: running.process.state is not ProxyState.RUNNING, 10, "restart did not begin")
        # Sent while no child serves: queued on our listening socket, answered by the new child.
        results.append(ask(running.url).status_code)
        restarting.join(60)
        running.process.wait_ready(60)
        assert results == [200]
        assert running.process.pid != old_pid and not pid_alive(old_pid)
    finally:
        running.process.stop()


def test_a_crash_is_reported_with_the_last_output(tmp_path: Path, poe: PoeStandin) -> None:
    running = start_proxy(tmp_path, poe)
    try:
        pid = running.process.pid
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: running.process.state is ProxyState.FAILED, 10, "the crash was not noticed")
        detail = running.process.detail
        assert f"the proxy (pid {pid}) was killed by SIGKILL" in detail, detail
        assert "proxy ready" in detail.split("Its last output")[1]  # this run's last line, named
        assert running.process.output, "the proxy's output is kept for the user"
        running.process.restart()
        running.process.wait_ready(60)
        assert ask(running.url).status_code == 200
    finally:
        running.process.stop()


def test_no_proxy_left_behind_when_serve_is_killed(tmp_path: Path, poe: PoeStandin) -> None:
    port = free_port()
    config_path = write_config(tmp_path, poe_base_url=poe.base_url, port=port)
    serve = subprocess.Popen(
        [sys.executable, "-m", "claude_poe_tui", "serve", "--config", str(config_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        for line in serve.stdout:
            if "ready in" in line:
                break
        else:
            pytest.fail("serve never became ready")
        child_pid = httpx.get(f"http://127.0.0.1:{port}/claude-poe-tui/status").json()["pid"]
        assert child_pid != serve.pid and pid_alive(child_pid)
        serve.kill()  # SIGKILL: no chance to clean up
        serve.wait(10)
        wait_until(lambda: not pid_alive(child_pid), 15, "the proxy child outlived its parent")
    finally:
        serve.kill()


def test_ctrl_c_stops_serve_gracefully(tmp_path: Path, poe: PoeStandin) -> None:
    port = free_port()
    config_path = write_config(tmp_path, poe_base_url=poe.base_url, port=port)
    serve = subprocess.Popen(
        [sys.executable, "-m", "claude_poe_tui", "serve", "--config", str(config_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines = []
    for line in serve.stdout:
        lines.append(line)
        if "ready in" in line:
            break
    child_pid = httpx.get(f"http://127.0.0.1:{port}/claude-poe-tui/status").json()["pid"]
    serve.send_signal(signal.SIGINT)
    rest, _ = serve.communicate(timeout=30)
    assert serve.returncode == 0
    assert "stopping the proxy" in rest
    assert not pid_alive(child_pid)
    assert MASTER_KEY not in "".join(lines) + rest


def test_output_never_shows_a_key(tmp_path: Path, poe: PoeStandin) -> None:
    config = load_config(write_config(tmp_path, poe_base_url=poe.base_url))
    process = ProxyProcess(config, resolve_secrets(config), StatePaths(tmp_path / "state"))
    assert process._redact(f"error: key {MASTER_KEY} rejected") == "error: key *** rejected"


def test_mapping_changes_apply_without_a_restart(tmp_path: Path, poe: PoeStandin) -> None:
    from claude_poe_tui.config.edit import ConfigEditor
    from claude_poe_tui.config.model import ModelMapping

    running = start_proxy(tmp_path, poe)
    try:
        pid = running.process.pid
        assert ask(running.url, "brand-new-name").status_code == 404
        editor = ConfigEditor.open(running.config_path)
        editor.add_model(ModelMapping("brand-new-name", "Gemini-2.5-Pro"))
        editor.delete_model(0)  # claude-sonnet-4-5-20250929
        config = editor.save()
        assert running.process.apply(config, resolve_secrets(config)) is ApplyOutcome.RELOADED
        assert running.process.pid == pid
        answer = ask(running.url, "brand-new-name")
        assert answer.status_code == 200 and answer.json()["content"][0]["text"] == "Hello from Gemini-2.5-Pro."
        gone = ask(running.url, "claude-sonnet-4-5-20250929")
        assert gone.status_code == 404 and "brand-new-name" in gone.json()["error"]["message"]
        assert (running.process.run_dir / "control.token").stat().st_mode & 0o777 == 0o600
    finally:
        running.process.stop()


def test_reload_needs_the_control_token_not_the_master_key(proxy) -> None:
    response = httpx.post(
        f"{proxy.url}/claude-poe-tui/reload",
        json={"litellm": {"model_list": []}, "gateway": {"models": []}},
        headers={"x-api-key": MASTER_KEY, "x-claude-poe-tui-control": MASTER_KEY},
    )
    assert response.status_code == 403
    assert ask(proxy.url).status_code == 200  # nothing changed


def test_key_changes_restart_the_proxy(tmp_path: Path, poe: PoeStandin) -> None:
    running = start_proxy(tmp_path, poe)
    try:
        pid = running.process.pid
        env_file = running.config_path.parent / ".env"
        env_file.write_text(env_file.read_text().replace(MASTER_KEY, "sk-rotated-master-key-123456"))
        config = load_config(running.config_path)
        assert running.process.apply(config, resolve_secrets(config)) is ApplyOutcome.RESTARTED
        running.process.wait_ready(60)
        assert running.process.pid != pid
        assert ask(running.url).status_code == 401  # the old key no longer works
    finally:
        running.process.stop()


def test_warm_up_reaches_neither_poe_nor_the_request_log(tmp_path: Path, poe: PoeStandin) -> None:
    """Before ready, the child pays LiteLLM's first-request costs with in-process requests."""
    from claude_poe_tui.proxy.protocol import WARM_LINE

    poe.clear()
    running = start_proxy(tmp_path, poe)
    try:
        output = running.process.output
        assert any(line.startswith(WARM_LINE) for line in output), "\n".join(output)
        # The points service reads the balance at start (free); warm-up itself sends nothing.
        assert [r for r in poe.requests() if not r["path"].startswith("/usage/")] == []
        time.sleep(0.3)  # the writer thread would have written by now
        assert not running.request_log.exists() or running.request_log.read_text() == ""
        assert not [line for line in output if "Traceback" in line or "No connected db" in line]
        assert ask(running.url).status_code == 200
    finally:
        running.process.stop()
