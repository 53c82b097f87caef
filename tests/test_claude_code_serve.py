"""The real Claude Code CLI through `claude-poe-tui serve`, set up the way the README says.

`serve` runs in the foreground; Claude Code gets its environment from `claude-poe-tui env`, and
completes a task that needs one tool call, once on a Claude bot (Poe's untranslated
`/v1/messages`) and once on a non-Claude bot (Poe's chat completions, translated by LiteLLM).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import POE_KEY, PoeStandin, write_config

MODELS = (
    ("claude-sonnet-4-5-20250929", "Claude-Sonnet-4.5"),
    ("claude-opus-4-5-20251101", "Claude-Opus-4.5"),
    ("claude-haiku-4-5-20251001", "GPT-4o"),
    ("gpt-5", "GPT-5"),
)


class Serve:
    """`claude-poe-tui serve` as a user runs it, its output collected."""

    def __init__(self, config: Path, env: dict[str, str]):
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "claude_poe_tui", "serve", "--config", str(config)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if "claude-poe-tui: ready in" in line:
                self.ready.set()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(30)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, poe: PoeStandin) -> Iterator[tuple[dict[str, str], Serve]]:
    root = tmp_path_factory.mktemp("serve-claude")
    config = write_config(root / "config", poe_base_url=poe.base_url, models=MODELS)
    env = {**os.environ, "CLAUDE_POE_TUI_STATE_DIR": str(root / "state")}
    serve = Serve(config, env)
    try:
        assert serve.ready.wait(120), "\n".join(serve.lines)
        printed = subprocess.run([sys.executable, "-m", "claude_poe_tui", "env", "--config", str(config),
                                  "--shell", "sh"], env=env, capture_output=True, text=True, check=True).stdout
        claude_env = {}
        for line in printed.splitlines():  # what `eval "$(claude-poe-tui env)"` would set
            name, _, value = line.removeprefix("export ").partition("=")
            claude_env[name] = shlex.split(value)[0] if value else ""
        yield claude_env, serve
    finally:
        assert serve.stop() == 0, "\n".join(serve.lines)
    assert "claude-poe-tui: stopping the proxy (streams in flight get up to 30 s)" in serve.lines


@pytest.mark.proxy
@pytest.mark.claude_code
@pytest.mark.parametrize(("model", "bot", "poe_path"), [
    ("claude-sonnet-4-5-20250929", "Claude-Sonnet-4.5", "/v1/messages"),
    ("gpt-5", "GPT-5", "/v1/chat/completions"),
])
def test_real_claude_code_completes_a_tool_task_through_serve(
    tmp_path: Path, served: tuple[dict[str, str], Serve], poe: PoeStandin, claude_code_bin: Path,
    model: str, bot: str, poe_path: str,
) -> None:
    claude_env, serve = served
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {
        "HOME": str(home),
        "PATH": f"{claude_code_bin.parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "LANG": "C.UTF-8",
        **claude_env,
        "ANTHROPIC_MODEL": model,
    }
    poe.clear()
    target = work / "hello.txt"
    prompt = f'Please use the Write tool with {json.dumps({"file_path": str(target), "content": f"hi from {bot}"})}'
    done = subprocess.run([str(claude_code_bin), "-p", prompt, "--allowedTools", "Write", "--output-format", "json"],
                          env=env, cwd=work, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr + "\n".join(serve.lines[-30:])
    result = json.loads(done.stdout)
    assert result["is_error"] is False, result
    assert result["result"].startswith("Tool result received:"), result
    assert target.read_text() == f"hi from {bot}"

    turns = [r for r in poe.requests() if r["body"].get("model") == bot]
    assert len(turns) >= 2  # the tool call, then the answer to its result
    assert {t["path"] for t in turns} == {poe_path}
    assert all(t["headers"]["authorization"] == f"Bearer {POE_KEY}" for t in turns)  # Poe got the Poe key
    if poe_path == "/v1/messages":
        last = turns[-1]["body"]["messages"][-1]["content"]
        assert any(block.get("type") == "tool_result" for block in last)
        assert "anthropic-beta" in turns[-1]["headers"]  # Claude Code's betas reach Poe
    else:
        assert any(message["role"] == "tool" for message in turns[-1]["body"]["messages"])
