"""The real Claude Code CLI, set up by `claude-poe-tui env`, in front of a Poe that enforces limits.

The stand-in runs with ``--strict``: it refuses ``max_tokens`` above a bot's output limit, prompts
above its window and thinking blocks it did not sign, as real upstreams do. Claude Code gets its
variables from `claude-poe-tui env` with Poe's catalog cached (as `init` leaves it), and runs
against `claude-poe-tui serve`:

* its window for every model it may send (each mapping's name, its picker id, the slots) is the one
  :func:`window_plan` chose, and no larger than the bot's (``claude -p /context --model ID``);
* a default run (the Opus slot, which Claude Code would run with 1M context) sends no
  ``context-1m`` beta to a 200k bot;
* gateway model discovery reaches the proxy, and ``/model`` (in tmux) shows the mappings.

and, with the gateway's side of the same issue: a GPT-4o turn succeeds though Claude Code asks for
32,000 output tokens, a session resumed from GPT-5 on a Claude bot sends no foreign thinking, and
every mapping is listed with Poe's names.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from claude_code_helpers import Serve, claude_env_from_cli, claude_environment, claude_home, run_claude
from claude_poe_tui.claude_code.picker import picker_models
from claude_poe_tui.claude_code.windows import window_plan
from claude_poe_tui.claude_code.wiring import claude_code_env
from claude_poe_tui.config import load_config
from claude_poe_tui.poe.catalog import load_cache
from claude_poe_tui.poe.client import refresh_catalog
from conftest import MASTER_KEY, PoeStandin, read_records, start_standin, write_config
from poe_standin import foreign_thinking

MODELS = (
    ("claude-sonnet-4-5-20250929", "Claude-Sonnet-4.5"),
    ("claude-opus-4-5-20251101", "Claude-Opus-4.5"),
    ("claude-haiku-4-5-20251001", "Claude-Haiku-4.5"),
    ("gpt-5", "GPT-5"),
    ("gemini", "Gemini-2.5-Pro"),
    ("gpt-4o", "GPT-4o"),
)

pytestmark = [pytest.mark.proxy, pytest.mark.claude_code]


@dataclass
class Served:
    claude_env: dict[str, str]
    serve: Serve
    config_path: Path
    state: Path

    @property
    def request_log(self) -> Path:
        return self.state / "requests.jsonl"


@pytest.fixture(scope="module")
def strict_poe() -> Iterator[PoeStandin]:
    standin = start_standin("--strict")
    yield standin
    standin.process.terminate()
    standin.process.wait(10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, strict_poe: PoeStandin) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("claude-windows")
    config = write_config(root / "config", poe_base_url=strict_poe.base_url, models=MODELS)
    state = root / "state"
    refresh_catalog(strict_poe.base_url, state / "poe-models.json")  # the cache `init` leaves
    env = {**os.environ, "CLAUDE_POE_TUI_STATE_DIR": str(state)}
    serve = Serve(config, env)
    try:
        assert serve.ready.wait(120), "\n".join(serve.lines)
        yield Served(claude_env_from_cli(config, env), serve, config, state)
    finally:
        assert serve.stop() == 0, "\n".join(serve.lines)


def poe_turns(poe: PoeStandin, bot: str) -> list[dict]:
    return [r for r in poe.requests() if isinstance(r["body"], dict) and r["body"].get("model") == bot]


def result_of(done: subprocess.CompletedProcess[str]) -> dict:
    assert done.returncode == 0 or done.stdout.startswith("{"), done.stdout + done.stderr
    return json.loads(done.stdout)


# --- context windows --------------------------------------------------------------------------


def context_window_seen(binary: Path, root: Path, claude_env: dict[str, str], model: str | None) -> tuple[str, int]:
    """Claude Code's ``/context``: the model it runs and the window it counts against."""
    args = ["-p", "/context", *(["--model", model] if model else [])]
    done = run_claude(binary, root, claude_env, *args, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = re.search(r"\*\*Model:\*\* (\S+)", done.stdout)
    tokens = re.search(r"\*\*Tokens:\*\* [\d.]+[km]? / ([\d.]+)([km]?) ", done.stdout)
    assert shown and tokens, done.stdout
    window = float(tokens.group(1)) * {"k": 1_000, "m": 1_000_000, "": 1}[tokens.group(2)]
    return shown.group(1), round(window)


def test_claude_code_s_window_fits_every_bot(tmp_path: Path, served: Served, claude_code_bin: Path) -> None:
    config = load_config(served.config_path)
    plan = window_plan(config, load_cache(served.state / "poe-models.json"))
    assert served.claude_env["CLAUDE_CODE_MAX_CONTEXT_TOKENS"] == "128000"  # gpt-4o is the smallest non-claude-
    expected = {m.model: m for m in plan.models}
    for model_id, window in sorted(expected.items()):
        shown, seen = context_window_seen(claude_code_bin, tmp_path / model_id, served.claude_env, model_id)
        assert shown == model_id
        assert abs(seen - window.claude_code_window) <= window.claude_code_window * 0.01, (model_id, seen, window)
        assert window.bot_window is not None and seen <= window.bot_window * 1.01, (model_id, seen, window)
    for slot, name in (("opus", "claude-opus-4-5-20251101"), ("haiku", "claude-haiku-4-5-20251001"), (None, None)):
        shown, seen = context_window_seen(claude_code_bin, tmp_path / f"slot-{slot}", served.claude_env, slot)
        assert shown == (name or "claude-opus-4-5-20251101")  # the default is the Opus slot, without [1m]
        assert seen == 200_000


def test_a_claude_name_on_a_smaller_bot_lowers_the_auto_compact_window(
    tmp_path: Path, served: Served, claude_code_bin: Path
) -> None:
    """claude- names ignore CLAUDE_CODE_MAX_CONTEXT_TOKENS: a 128k bot behind one caps every window."""
    other = write_config(tmp_path / "config", poe_base_url="http://127.0.0.1:9/v1",
                         models=(("claude-opus-4-5-20251101", "Claude-Opus-4.5"), ("claude-haiku-4-5-20251001", "GPT-4o")))
    env = claude_code_env(load_config(other), MASTER_KEY, load_cache(served.state / "poe-models.json"))
    env["ANTHROPIC_BASE_URL"] = served.claude_env["ANTHROPIC_BASE_URL"]
    assert env["CLAUDE_CODE_AUTO_COMPACT_WINDOW"] == "128000"
    assert context_window_seen(claude_code_bin, tmp_path / "haiku", env, "haiku") == ("claude-haiku-4-5-20251001", 128_000)
    assert context_window_seen(claude_code_bin, tmp_path / "opus", env, "opus") == ("claude-opus-4-5-20251101", 128_000)
    without = {k: v for k, v in env.items() if k != "CLAUDE_CODE_AUTO_COMPACT_WINDOW"}  # what the variable buys
    assert context_window_seen(claude_code_bin, tmp_path / "bare", without, "haiku")[1] == 200_000


def test_a_default_run_sends_no_context_1m_beta_to_a_200k_bot(
    tmp_path: Path, served: Served, strict_poe: PoeStandin, claude_code_bin: Path
) -> None:
    strict_poe.clear()
    done = run_claude(claude_code_bin, tmp_path, served.claude_env, "-p", "Say hi", "--output-format", "json")
    result = result_of(done)
    assert result["is_error"] is False and result["result"] == "Hello from Claude-Opus-4.5.", result
    turns = poe_turns(strict_poe, "Claude-Opus-4.5")
    assert turns, strict_poe.requests()
    for turn in turns:
        betas = turn["headers"].get("anthropic-beta", "")
        assert "context-1m" not in betas, betas
    records = [r for r in read_records(served.request_log) if r.get("session") == result["session_id"]]
    assert {r["model"] for r in records if r["poe_model"] == "Claude-Opus-4.5"} == {"claude-opus-4-5-20251101"}


def test_without_the_variables_claude_code_would_send_it(tmp_path: Path, served: Served, strict_poe: PoeStandin,
                                                          claude_code_bin: Path) -> None:
    """The test above can fail: the same run without CLAUDE_CODE_DISABLE_1M_CONTEXT sends the beta."""
    strict_poe.clear()
    bare = {k: v for k, v in served.claude_env.items() if k != "CLAUDE_CODE_DISABLE_1M_CONTEXT"}
    run_claude(claude_code_bin, tmp_path, bare, "-p", "Say hi", "--output-format", "json")
    betas = [t["headers"].get("anthropic-beta", "") for t in poe_turns(strict_poe, "Claude-Opus-4.5")]
    assert betas and all("context-1m" in b for b in betas)


# --- the model picker -------------------------------------------------------------------------


def discovered(home: Path) -> dict:
    path = home / ".claude" / "cache" / "gateway-models.json"
    deadline = time.monotonic() + 10
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert path.exists(), "Claude Code never cached the proxy's model list"
    return json.loads(path.read_text())


def test_model_discovery_reaches_the_proxy(tmp_path: Path, served: Served, claude_code_bin: Path) -> None:
    done = run_claude(claude_code_bin, tmp_path, served.claude_env, "-p", "Say hi", "--output-format", "json")
    assert result_of(done)["is_error"] is False
    cache = discovered(tmp_path / "home")  # written only after GET /v1/models?limit=1000 answered
    assert cache["baseUrl"] == served.claude_env["ANTHROPIC_BASE_URL"]
    assert {m["id"] for m in cache["models"]} >= {n for n, _ in MODELS if n.startswith("claude-")}


def test_model_discovery_lists_every_mapping_with_poe_s_names(tmp_path: Path, served: Served,
                                                              claude_code_bin: Path) -> None:
    run_claude(claude_code_bin, tmp_path, served.claude_env, "-p", "/context")
    config = load_config(served.config_path)
    wanted = [{"id": e.id, "display_name": e.display_name}
              for e in picker_models(config, load_cache(served.state / "poe-models.json"))]
    assert discovered(tmp_path / "home")["models"] == wanted


@dataclass
class PickerScreen:
    text: str


@pytest.fixture(scope="module")
def model_picker(tmp_path_factory: pytest.TempPathFactory, served: Served, claude_code_bin: Path) -> Iterator[PickerScreen]:
    """Claude Code run interactively in tmux, `/model` typed, the screen captured."""
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux is not installed")
    root = tmp_path_factory.mktemp("picker")
    home, work = claude_home(root)
    env = claude_environment(claude_code_bin, home, served.claude_env, TERM="xterm-256color")
    command = "env -i " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()) + f" {shlex.quote(str(claude_code_bin))}"
    session = f"cpt-picker-{os.getpid()}"
    socket = str(root / "tmux.sock")

    def tmux_run(*args: str) -> str:
        return subprocess.run([tmux, "-S", socket, *args], capture_output=True, text=True, check=True).stdout

    def screen() -> str:
        return tmux_run("capture-pane", "-p", "-J", "-t", session)

    def wait_for(text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = screen()
            if text in shown:
                return shown
            time.sleep(0.25)
        raise AssertionError(f"{text!r} never appeared; the screen:\n{screen()}")

    tmux_run("new-session", "-d", "-s", session, "-x", "220", "-y", "50", "-c", str(work), command)
    try:
        wait_for("? for shortcuts", 90)
        discovered(home)  # the list is read when /model opens: let discovery finish first
        tmux_run("send-keys", "-t", session, "/model")
        time.sleep(0.5)
        tmux_run("send-keys", "-t", session, "Enter")
        yield PickerScreen(wait_for("Select model", 30))
        tmux_run("send-keys", "-t", session, "Escape")
    finally:
        subprocess.run([tmux, "-S", socket, "kill-server"], capture_output=True)


def test_the_picker_shows_each_slot_with_poe_s_name_and_limits(model_picker: PickerScreen) -> None:
    for name, description in (
        ("Claude Opus 4.5 (Poe)", "Poe bot Claude-Opus-4.5 · 200k context · 64k output"),
        ("Claude Sonnet 4.5 (Poe)", "Poe bot Claude-Sonnet-4.5 · 200k context · 64k output"),
        ("Claude Haiku 4.5 (Poe)", "Poe bot Claude-Haiku-4.5 · 200k context · 64k output"),
    ):
        assert re.search(re.escape(name) + r"\s+" + re.escape(description), model_picker.text), model_picker.text


def test_the_picker_shows_every_mapping(model_picker: PickerScreen) -> None:
    for name in ("GPT-5 (Poe)", "Gemini 2.5 Pro (Poe)", "GPT-4o (Poe)"):
        assert re.search(re.escape(name) + r"\s+From gateway", model_picker.text), model_picker.text


# --- what the gateway must do -----------------------------------------------------------------


def test_a_gpt_4o_turn_succeeds_though_claude_code_asks_for_32000_tokens(
    tmp_path: Path, served: Served, strict_poe: PoeStandin, claude_code_bin: Path
) -> None:
    strict_poe.clear()
    done = run_claude(claude_code_bin, tmp_path, served.claude_env, "-p", "Say hi", "--output-format", "json",
                      ANTHROPIC_MODEL="gpt-4o")
    result = result_of(done)
    assert result["is_error"] is False and result["result"] == "Hello from GPT-4o.", result
    turns = poe_turns(strict_poe, "GPT-4o")
    assert turns and all((t["body"].get("max_completion_tokens") or t["body"]["max_tokens"]) <= 16384 for t in turns)


def test_a_session_resumed_from_gpt_5_on_a_claude_bot_sends_no_foreign_thinking(
    tmp_path: Path, served: Served, strict_poe: PoeStandin, claude_code_bin: Path
) -> None:
    """GPT-5 reasons (reasoning_effort): its turns come back as thinking blocks with no signature.
    Resumed on a Claude bot, none of them may reach Poe's /v1/messages (Anthropic answers 400)."""
    first = result_of(run_claude(claude_code_bin, tmp_path, served.claude_env, "-p", "Hello there",
                                 "--output-format", "json", "--model", "gpt-5"))
    assert first["is_error"] is False and first["result"] == "Hello from GPT-5.", first
    transcript = next((tmp_path / "home" / ".claude" / "projects").rglob(f"{first['session_id']}.jsonl"))
    assert '"signature":""' in transcript.read_text()  # the translated reasoning, unsigned
    strict_poe.clear()
    second = result_of(run_claude(claude_code_bin, tmp_path, served.claude_env, "-p", "And again",
                                  "--output-format", "json", "--resume", first["session_id"],
                                  "--model", "claude-sonnet-4-5-20250929"))
    assert second["is_error"] is False and second["result"] == "Hello from Claude-Sonnet-4.5.", second
    turns = poe_turns(strict_poe, "Claude-Sonnet-4.5")
    assert turns
    for turn in turns:  # each carried only thinking Poe's Claude route signed: none was refused
        assert foreign_thinking(turn["body"]["messages"]) is None, turn["body"]["messages"]
