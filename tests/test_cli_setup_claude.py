"""``claude-poe-tui claude``: Claude Code started with the proxy behind it.

A stand-in Claude Code (a script that records what it was given and calls the proxy) pins the
mechanics; the real Claude Code CLI then completes a one-tool task through the real proxy and the
stand-in Poe, with nothing set but the config's location and a home of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cli_setup_helpers import Sandbox, make_sandbox
from conftest import MASTER_KEY, POE_KEY, PoeStandin, RunningProxy, free_port, write_config

FAKE_CLAUDE = """#!{python}
import json, os, sys, urllib.request
record = {{"argv": sys.argv[1:], "env": {{k: v for k, v in os.environ.items()
                                        if k.startswith(("ANTHROPIC_", "CLAUDE_CODE_", "DISABLE_"))}}}}
request = urllib.request.Request(
    os.environ["ANTHROPIC_BASE_URL"] + "/v1/messages",
    data=json.dumps({{"model": os.environ["ANTHROPIC_DEFAULT_SONNET_MODEL"], "max_tokens": 50,
                     "messages": [{{"role": "user", "content": "Hi"}}]}}).encode(),
    headers={{"authorization": "Bearer " + os.environ["ANTHROPIC_AUTH_TOKEN"], "anthropic-version": "2023-06-01",
             "content-type": "application/json"}})
with urllib.request.urlopen(request, timeout=60) as response:
    record["reply"] = json.load(response)["content"][0]["text"]
with open({record!r}, "w") as handle:
    json.dump(record, handle)
print("fake claude done")
sys.exit(int(os.environ.get("FAKE_CLAUDE_EXIT", "7")))
"""


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return make_sandbox(tmp_path)


@pytest.fixture
def fake_claude(tmp_path: Path) -> tuple[Path, Path]:
    record = tmp_path / "fake-claude-record.json"
    script = tmp_path / "bin" / "claude"
    script.parent.mkdir(exist_ok=True)
    script.write_text(FAKE_CLAUDE.format(python=sys.executable, record=str(record)))
    script.chmod(0o755)
    return script, record


@pytest.mark.proxy
def test_claude_starts_the_background_proxy_passes_everything_and_leaves_it_running(
    box: Sandbox, poe: PoeStandin, fake_claude
) -> None:
    script, record = fake_claude
    port = free_port()
    write_config(box.config.parent, poe_base_url=poe.base_url, port=port,
                 models=(("claude-sonnet-4-5", "Claude-Sonnet-4.5"),))
    try:
        # A variable an older `eval "$(claude-poe-tui env)"` left in the shell must not reach Claude Code.
        done = box.run("claude", "-p", "do the thing", "--config", "not ours",
                       env=box.env(CLAUDE_CODE_BIN=str(script), CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1"))
        assert done.returncode == 7, done.stderr  # Claude Code's own exit code
        assert done.stdout == "fake claude done\n"  # its output untouched; ours is on stderr
        assert f"no proxy on http://127.0.0.1:{port}: starting one in the background" in done.stderr
        assert "it keeps running for the next launch and stops by itself after 30 min without requests " \
               "([proxy] stop_when_idle); `claude-poe-tui stop` stops it now" in done.stderr
        seen = json.loads(record.read_text())
        assert seen["argv"] == ["-p", "do the thing", "--config", "not ours"]
        assert seen["env"] == {
            "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",
            "ANTHROPIC_AUTH_TOKEN": MASTER_KEY,
            "ANTHROPIC_API_KEY": "",
            "ANTHROPIC_DEFAULT_SONNET_MODEL": "claude-sonnet-4-5",
            # from Poe's catalog, fetched while the proxy started
            "ANTHROPIC_DEFAULT_SONNET_MODEL_NAME": "Claude Sonnet 4.5 (Poe)",
            "ANTHROPIC_DEFAULT_SONNET_MODEL_DESCRIPTION": "Poe bot Claude-Sonnet-4.5 · 200k context · 64k output",
            "CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_1M_CONTEXT": "1",
            "CLAUDE_CODE_BIN": str(script),
        }
        assert seen["reply"] == "Hello from Claude-Sonnet-4.5."
        # The proxy stayed for the next launch, which uses it and does not repeat the idle note.
        serve_pid = json.loads((box.state / "run" / str(port) / "serve.json").read_text())["pid"]
        second = box.run("claude", "-p", "again", env=box.env(CLAUDE_CODE_BIN=str(script)))
        assert second.returncode == 7, second.stderr
        assert f"using the proxy already running on http://127.0.0.1:{port}" in second.stderr
        assert "stop_when_idle" not in second.stderr and "starting" not in second.stderr
        assert httpx.get(f"http://127.0.0.1:{port}/claude-poe-tui/status", timeout=5).json()["requests"] == 2
        assert json.loads((box.state / "run" / str(port) / "serve.json").read_text())["pid"] == serve_pid
    finally:
        stopped = box.run("stop")
    assert f"stopped the proxy on http://127.0.0.1:{port} (pid {serve_pid})" in stopped.stdout
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/claude-poe-tui/status", timeout=2)


@pytest.mark.proxy
def test_claude_uses_a_running_proxy_and_leaves_it_running(box: Sandbox, proxy: RunningProxy, fake_claude) -> None:
    script, record = fake_claude
    done = box.run("--config", str(proxy.config_path), "claude", with_config=False,
                   env=box.env(CLAUDE_CODE_BIN=str(script), FAKE_CLAUDE_EXIT="0"))
    assert done.returncode == 0, done.stderr
    assert f"using the proxy already running on {proxy.url} (pid {proxy.process.pid})" in done.stderr
    assert "starting the proxy" not in done.stderr
    assert json.loads(record.read_text())["reply"] == "Hello from Claude-Sonnet-4.5."
    assert httpx.get(f"{proxy.url}/claude-poe-tui/status", timeout=2).json()["pid"] == proxy.process.pid


def test_a_foreign_server_on_the_port_is_an_error(box: Sandbox, poe: PoeStandin, fake_claude) -> None:
    script, record = fake_claude
    write_config(box.config.parent, poe_base_url=poe.base_url, port=int(poe.url.rsplit(":", 1)[1]))
    done = box.run("claude", "-p", "x", env=box.env(CLAUDE_CODE_BIN=str(script)))
    assert done.returncode == 2
    assert f"something that is not a claude-poe-tui proxy answers on {poe.url} (used by python" in done.stderr
    assert f"(pid {poe.process.pid}: " in done.stderr  # the program on the port, named
    assert not record.exists()


def test_missing_claude_code_is_an_error(box: Sandbox, poe: PoeStandin) -> None:
    write_config(box.config.parent, poe_base_url=poe.base_url)
    # PATH holds one empty folder and nothing else: whatever this machine has installed (an
    # `npm install -g` puts `claude` in /usr/bin), there is no `claude` to find. The CLI itself
    # runs from sys.executable's absolute path and needs nothing from PATH to say so.
    empty = box.root / "empty-bin"
    empty.mkdir()
    env = box.env(PATH=str(empty))
    done = box.run("claude", "-p", "x", env=env)
    assert done.returncode == 2
    assert "Claude Code is not installed (no `claude` on PATH): npm install -g @anthropic-ai/claude-code" in done.stderr
    missing = box.run("claude", env=box.env(CLAUDE_CODE_BIN=str(box.root / "nope")))
    assert missing.returncode == 2 and f"$CLAUDE_CODE_BIN={box.root / 'nope'} is not a program" in missing.stderr


# --- the real Claude Code ---------------------------------------------------------------------

@pytest.mark.proxy
@pytest.mark.claude_code
def test_real_claude_code_completes_a_tool_task(tmp_path: Path, poe_clean: PoeStandin, claude_code_bin: Path,
                                               request: pytest.FixtureRequest) -> None:
    """From `init` to a finished task, as a new user would: only the config's location and a home."""
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    config = tmp_path / "conf" / "config.toml"
    env = {
        "HOME": str(home),
        "PATH": f"{claude_code_bin.parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "CLAUDE_POE_TUI_CONFIG": str(config),
        "LANG": "C.UTF-8",
    }
    cli = [sys.executable, "-m", "claude_poe_tui"]
    port = free_port()
    setup = subprocess.run([*cli, "init", "--poe-key", POE_KEY, "--poe-base-url", poe_clean.base_url,
                            "--port", str(port)], env=env, cwd=work, capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
    assert setup.returncode == 0, setup.stderr
    # Whatever happens below, the background proxy the launch starts does not outlive the test.
    request.addfinalizer(lambda: subprocess.run([*cli, "stop"], env=env, capture_output=True, timeout=120))

    target = work / "hello.txt"
    prompt = f'Please use the Write tool with {json.dumps({"file_path": str(target), "content": "hi from Poe"})}'
    done = subprocess.run([*cli, "claude", "-p", prompt, "--allowedTools", "Write", "--output-format", "json"],
                          env=env, cwd=work, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["is_error"] is False, result
    assert result["result"].startswith("Tool result received:")
    assert target.read_text() == "hi from Poe"

    messages = [r for r in poe_clean.requests() if r["path"] == "/v1/messages"]
    turns = [r for r in messages if r["body"].get("tools")]  # the agent's turns; the others title the session
    assert len(turns) >= 2  # the tool call, then the answer to its result
    assert {t["body"]["model"] for t in turns} == {"Claude-Opus-4.5"}  # Claude Code's default slot, mapped
    assert {m["body"]["model"] for m in messages if m not in turns} <= {"Claude-Haiku-4.5"}  # the Haiku slot
    assert all(t["headers"]["authorization"] == f"Bearer {POE_KEY}" for t in turns)  # Poe got the Poe key
    last = turns[-1]["body"]["messages"][-1]["content"]
    assert any(block.get("type") == "tool_result" for block in last)
    # The background proxy stays for the next launch until `stop` (or its idle time).
    status = subprocess.run([*cli, "status", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0 and json.loads(status.stdout)["mode"] == "background"
    stop = subprocess.run([*cli, "stop"], env=env, capture_output=True, text=True, timeout=120)
    assert stop.returncode == 0 and "stopped the proxy" in stop.stdout
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/claude-poe-tui/status", timeout=2)
