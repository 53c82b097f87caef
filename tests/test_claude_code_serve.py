"""The real Claude Code CLI through `claude-poe-tui serve`, set up the way the README says.

`serve` runs in the foreground; Claude Code gets its environment from `claude-poe-tui env`, and
completes a task that needs one tool call, once on a Claude bot (Poe's untranslated
`/v1/messages`) and once on a non-Claude bot (Poe's chat completions, translated by LiteLLM).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from claude_code_helpers import Serve, claude_env_from_cli
from conftest import POE_KEY, PoeStandin, write_config

MODELS = (
    ("claude-sonnet-4-5-20250929", "Claude-Sonnet-4.5"),
    ("claude-opus-4-5-20251101", "Claude-Opus-4.5"),
    ("claude-haiku-4-5-20251001", "GPT-4o"),
    ("gpt-5", "GPT-5"),
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, poe: PoeStandin) -> Iterator[tuple[dict[str, str], Serve]]:
    root = tmp_path_factory.mktemp("serve-claude")
    config = write_config(root / "config", poe_base_url=poe.base_url, models=MODELS)
    env = {**os.environ, "CLAUDE_POE_TUI_STATE_DIR": str(root / "state")}
    serve = Serve(config, env)
    try:
        assert serve.ready.wait(120), "\n".join(serve.lines)
        yield claude_env_from_cli(config, env), serve
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

    turns = [r for r in poe.requests() if (r["body"] or {}).get("model") == bot]  # serve also fetches the catalog
    assert len(turns) >= 2  # the tool call, then the answer to its result
    assert {t["path"] for t in turns} == {poe_path}
    assert all(t["headers"]["authorization"] == f"Bearer {POE_KEY}" for t in turns)  # Poe got the Poe key
    if poe_path == "/v1/messages":
        last = turns[-1]["body"]["messages"][-1]["content"]
        assert any(block.get("type") == "tool_result" for block in last)
        assert "anthropic-beta" in turns[-1]["headers"]  # Claude Code's betas reach Poe
    else:
        assert any(message["role"] == "tool" for message in turns[-1]["body"]["messages"])
