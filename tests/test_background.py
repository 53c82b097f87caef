"""The background proxy, through the real CLI and real proxy children: `start`, `status`, `stop`;
two starts at once; a dead serve's pid file; the port taken by another program, named; the idle
stop; a crash healed in the background; and the rotating output file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from background_helpers import Machine, alive, ask, make_machine, serve_processes, wait_until
from conftest import MASTER_KEY, PoeStandin

pytestmark = pytest.mark.proxy


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def machine(tmp_path: Path, poe: PoeStandin):
    made = make_machine(tmp_path, poe)
    yield made
    made.cleanup()


def test_start_status_and_stop(machine: Machine) -> None:
    before = machine.cli("status")
    assert before.returncode == 3
    assert f"not running (nothing on {machine.url})" in before.stdout

    started = machine.cli("start")
    assert started.returncode == 0, started.stderr + started.stdout
    record = machine.record()
    pid, child = record["pid"], record["child_pid"]
    assert f"started the background proxy on {machine.url} (pid {pid})" in started.stdout
    assert "it stops by itself after 30 min without requests ([proxy] stop_when_idle)" in started.stdout
    assert f"its output: {machine.run_dir / 'serve.log'}" in started.stdout
    assert alive(pid) and alive(child) and pid != child
    assert (machine.run_dir / "serve.pid").read_text() == f"{pid}\n"

    code, facts = machine.status()
    assert code == 0
    assert facts["state"] == "running" and facts["mode"] == "background"
    assert (facts["pid"], facts["proxy_pid"]) == (pid, child)
    assert facts["requests"] == 0 and facts["last_request_at"] is None
    assert facts["stop_when_idle_seconds"] == 1800 and facts["uptime_seconds"] >= 0

    assert ask(machine.url).status_code == 200
    code, facts = machine.status()
    assert facts["requests"] == 1 and facts["last_request_at"] > time.time() - 60
    shown = machine.cli("status")
    assert shown.returncode == 0
    assert f"running in the background on {machine.url}" in shown.stdout
    assert f"pid        {pid} (serve), proxy {child}" in shown.stdout
    assert "requests   1 served, 0 in flight, last " in shown.stdout

    again = machine.cli("start")
    assert again.returncode == 0 and f"already running in the background on {machine.url} (pid {pid})" in again.stdout
    foreground = machine.cli("serve", timeout=60)
    assert foreground.returncode == 2
    assert f"a claude-poe-tui proxy already runs on port {machine.port} (pid {pid}, background)" in foreground.stderr

    stopped = machine.cli("stop")
    assert stopped.returncode == 0
    assert f"stopped the proxy on {machine.url} (pid {pid}) in " in stopped.stdout
    assert not alive(pid) and not alive(child)
    assert not (machine.run_dir / "serve.pid").exists() and not (machine.run_dir / "serve.json").exists()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", machine.port))  # the port is free
    assert machine.cli("status").returncode == 3
    assert "no proxy was running" in machine.cli("stop").stdout

    log = machine.log()
    assert "proxy | claude-poe-tui: proxy ready" in log and "stopping the proxy" in log and log.rstrip().endswith("stopped")
    assert MASTER_KEY not in log and "poe-test-key" not in log
    assert oct((machine.run_dir / "serve.log").stat().st_mode & 0o777) == "0o600"


def test_three_starts_at_the_same_moment_leave_exactly_one_proxy(machine: Machine) -> None:
    starts = [machine.popen("start") for _ in range(3)]
    results = [(p.wait(240), *p.communicate()) for p in starts]
    assert [code for code, _, _ in results] == [0, 0, 0], results
    outputs = [out for _, out, _ in results]
    pid = machine.record()["pid"]
    assert sum(f"started the background proxy on {machine.url} (pid {pid})" in out for out in outputs) == 1
    assert sum(f"already running in the background on {machine.url} (pid {pid})" in out for out in outputs) == 2
    assert serve_processes(machine.config) == [pid]


def test_a_killed_serve_leaves_a_stale_pid_file_which_is_found_explained_and_replaced(machine: Machine) -> None:
    assert machine.cli("start").returncode == 0
    record = machine.record()
    os.kill(record["pid"], signal.SIGKILL)  # no chance to clean up its files
    wait_until(lambda: not alive(record["child_pid"]), 20, "the proxy child to follow its serve")
    assert (machine.run_dir / "serve.pid").exists()

    status = machine.cli("status")
    assert status.returncode == 3
    assert f"removed a stale pid file: pid {record['pid']} no longer runs" in status.stdout
    assert not (machine.run_dir / "serve.pid").exists() and not (machine.run_dir / "serve.json").exists()
    assert "stale" not in machine.cli("status").stdout  # said once, then gone

    restarted = machine.cli("start")
    assert restarted.returncode == 0 and "started the background proxy" in restarted.stdout
    assert machine.record()["pid"] != record["pid"]


def test_a_pid_file_naming_a_living_unrelated_process_is_still_stale(machine: Machine) -> None:
    """Pids are reused: only the lock a serve holds says it lives."""
    machine.run_dir.mkdir(parents=True)
    (machine.run_dir / "serve.pid").write_text(f"{os.getpid()}\n")
    (machine.run_dir / "serve.json").write_text('{"pid": %d, "mode": "background"}' % os.getpid())
    code, facts = machine.status()
    assert code == 3 and facts["state"] == "stopped" and facts["stale_pid"] == os.getpid()
    assert not (machine.run_dir / "serve.pid").exists()
    assert "no proxy was running" in machine.cli("stop").stdout  # and nothing was signalled: we live


def test_the_port_taken_by_another_program_is_named(machine: Machine, tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-m", "http.server", str(machine.port), "--bind", "127.0.0.1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        wait_until(lambda: listening(machine.port), 20, "the web server to listen")
        code, facts = machine.status()
        assert code == 3 and facts["state"] == "foreign"
        assert facts["port_owner"].startswith("used by python") and f"(pid {other.pid}: " in facts["port_owner"]
        assert "http.server" in facts["port_owner"]
        shown = machine.cli("status").stdout
        assert f"not running: port {machine.port} is used by python" in shown
        start = machine.cli("start")
        assert start.returncode == 2
        assert f"something that is not a claude-poe-tui proxy answers on {machine.url} (used by python" in start.stderr
        assert f"pid {other.pid}" in start.stderr
    finally:
        other.terminate()
        other.wait(10)


def test_a_silent_program_on_the_port_is_named_when_the_proxy_cannot_bind(machine: Machine) -> None:
    """A listener that never answers HTTP looks free to a probe; the serve's bind names it."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", machine.port))
        squatter.listen()
        start = machine.cli("start", "--timeout", "60")
    assert start.returncode == 2
    assert "the background proxy did not start:" in start.stderr
    # Named by its process (this test's: python, or pytest when started as `pytest`) and its pid.
    assert f"port {machine.port} on 127.0.0.1 is already in use (used by " in start.stderr
    assert f"(pid {os.getpid()}: " in start.stderr
    assert serve_processes(machine.config) == []


def test_the_background_proxy_stops_after_stop_when_idle(tmp_path: Path, poe: PoeStandin) -> None:
    machine = make_machine(tmp_path, poe, proxy_settings='stop_when_idle = "4s"')
    try:
        started = machine.cli("start")
        assert "it stops by itself after 4 s without requests" in started.stdout
        pid = machine.record()["pid"]
        assert machine.record()["stop_when_idle"] == 4
        time.sleep(2.0)
        assert ask(machine.url).status_code == 200
        asked = time.monotonic()
        time.sleep(3.0)
        assert alive(pid), "a request resets the idle time"
        wait_until(lambda: not alive(pid), 15, "the idle stop")
        idle_for = time.monotonic() - asked
        assert 4.0 <= idle_for < 4.0 + 6.0, idle_for
        assert 'no requests for 4 s: stopping ([proxy] stop_when_idle = "4s")' in machine.log()
        assert machine.cli("status").returncode == 3
    finally:
        machine.cleanup()


def test_a_crash_in_the_background_heals_and_says_why(machine: Machine) -> None:
    assert machine.cli("start").returncode == 0
    record = machine.record()
    os.kill(record["child_pid"], signal.SIGKILL)
    assert ask(machine.url).status_code == 200  # waited on the kept port, answered by the new child
    wait_until(lambda: machine.record()["state"] == "running" and machine.record()["child_pid"] != record["child_pid"],
               60, "the new child to report ready")
    code, facts = machine.status()
    assert code == 0 and facts["pid"] == record["pid"] and facts["proxy_pid"] != record["child_pid"]
    log = machine.log()
    assert f"error: the proxy (pid {record['child_pid']}) was killed by SIGKILL" in log
    assert "starting it again in 1 s" in log and "the proxy serves again" in log


def test_the_output_file_rotates_and_stdout_and_stderr_follow(tmp_path: Path) -> None:
    path = tmp_path / "serve.log"
    script = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from claude_poe_tui.proxy.parent.background import RotatingOutput
        out = RotatingOutput(Path({str(path)!r}), max_bytes=300, backups=2)
        for i in range(40):
            out.write_line(f"line {{i:02d}}")
        out.write_line("\\x1b[32mgreen, as LiteLLM prints it\\x1b[0m")
        os.write(2, b"raw stderr after the rotations\\n")
        print("stdout after the rotations", flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == done.stderr == ""  # both went to the file
    files = [path.with_name("serve.log.2"), path.with_name("serve.log.1"), path]
    assert all(f.exists() for f in files) and not path.with_name("serve.log.3").exists()
    assert all(f.stat().st_size <= 300 + 40 for f in files)
    lines = [line for f in files for line in f.read_text().splitlines()]
    numbered = [line.rsplit(" ", 1)[1] for line in lines if " line " in line]
    assert numbered == [f"{i:02d}" for i in range(40 - len(numbered), 40)]  # the newest, in order
    assert "raw stderr after the rotations" in path.read_text()
    assert "green, as LiteLLM prints it" in path.read_text() and "\x1b" not in path.read_text()
    assert "stdout after the rotations" in path.read_text()
