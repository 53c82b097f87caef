"""Snapshots of every pane and dialog at two sizes (pytest-textual-snapshot; `--snapshot-update` to accept).

80x24 is the smallest supported terminal: every pane keeps its most useful columns, the key bar
wraps, and dialogs scroll. 120x34 is a roomy one.

Everything shown is made deterministic: a fixed folder, a fixed port, a fresh catalog cache, a
request log with fixed records and a fixed clock, the points files beside it (written as the proxy
writes them: exact, ambiguous and estimated figures, a balance, budgets), and no proxy started. The folder is shared by
every checkout on the machine (its path shows on screen), so a lock keeps runs from overlapping.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from claude_poe_tui.control.status import StatusReport
from claude_poe_tui.paths import StatePaths
from claude_poe_tui.points.budget import BudgetLimits
from claude_poe_tui.points.model import PointsKind
from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.ui.app import PoeTuiApp
from claude_poe_tui.ui.panes.output import OutputPane
from claude_poe_tui.ui.messages import StatusRead
from claude_poe_tui.ui.screens.crash import CrashScreen
from points_helpers import append_lines, line_for, write_summary

SIZES = {"120x34": (120, 34), "80x24": (80, 24)}
ROOT = Path("/tmp/claude-poe-tui-screens")
LOCK = Path("/tmp/claude-poe-tui-screens.lock")
CONFIG = """\
# Snapshot config
[proxy]
port = 4567
master_key = "env:LITELLM_MASTER_KEY"

[poe]
api_key = "env:POE_API_KEY"
base_url = "http://127.0.0.1:9/v1"

[[models]]
name = "claude-opus-4-8"
poe_model = "Claude-Opus-4.8"

[[models]]
name = "claude-sonnet-5"
poe_model = "Claude-Sonnet-5"
fallbacks = ["claude-opus-4-8"]

[[models]]
name = "claude-haiku-4-5-20251001"
poe_model = "GPT-5"
thinking = "off"

[[models]]
name = "gemini"
poe_model = "Gemini-9-Ultra"

[budget]
session_points = 50000
daily_points = 200000
min_balance = 20000
"""
BUDGET = BudgetLimits(session_points=50000, daily_points=200000, min_balance=20000)
CATALOG = ["Claude-Opus-4.8", "Claude-Sonnet-5", "Claude-Haiku-4.5", "GPT-5", "GPT-4o", "Gemini-2.5-Pro"]
NOW = 1_795_000_000.0


def records() -> list[RequestRecord]:
    out = []
    plan = [
        ("claude-sonnet-5", "Claude-Sonnet-5", "messages", 200, 820.0, 310.0),
        ("claude-haiku-4-5-20251001", "GPT-5", "chat", 200, 450.0, 120.0),
        ("claude-sonnet-5", "Claude-Sonnet-5", "messages", 429, 35.0, None),
        ("claude-opus-4-8", "Claude-Opus-4.8", "messages", 200, 2400.0, 900.0),
        ("claude-sonnet-5", "Claude-Sonnet-5", "messages", 200, 1010.0, 420.0),
    ]
    for index, (model, bot, route, status, latency, ttft) in enumerate(plan * 4):
        failed = status >= 400
        out.append(RequestRecord(
            ts=NOW - 600 + index * 25, id=f"req-{index:03d}", session="session-1" if index % 3 else "session-2",
            method="POST",
            path="/v1/messages", model=model, poe_model=bot, route=route, stream=ttft is not None,
            status=status, error_type="rate_limit_error" if failed else None,
            error_message="Poe (bot Claude-Sonnet-5): slow down" if failed else None,
            latency_ms=latency + index, ttft_ms=ttft, input_tokens=None if failed else 1200 + index,
            output_tokens=None if failed else 80 + index,
        ))
    # A fallback answered after the first bot failed, for a subagent; then a request with a wrong key.
    out.append(RequestRecord(
        ts=NOW - 60, id="req-fallback", session="session-1", method="POST", path="/v1/messages",
        model="claude-sonnet-5", poe_model="Claude-Opus-4.8", route="messages", stream=True, status=200,
        error_type=None, error_message=None, latency_ms=3100.0, ttft_ms=2200.0, input_tokens=1500,
        output_tokens=120, answered_model="claude-opus-4-8",
        failed=[{"model": "claude-sonnet-5", "poe_model": "Claude-Sonnet-5", "status": 529,
                 "error_type": "overloaded_error"}],
        agent_id="agent-explore-2", parent_agent_id="agent-main", max_tokens_lowered=[32000, 16384],
    ))
    out.append(RequestRecord(
        ts=NOW - 30, id="req-401", session=None, method="POST", path="/v1/messages", model=None, poe_model=None,
        route=None, stream=None, status=401, error_type="authentication_error",
        error_message="wrong master key ([proxy] master_key, from LITELLM_MASTER_KEY)", latency_ms=0.4,
        ttft_ms=None, input_tokens=None, output_tokens=None,
    ))
    return out


PROXY_OUTPUT = [
    "claude-poe-tui: LiteLLM loaded in 3.1 s",
    "INFO:     Started server process [4242]",
    "19:20:01 - LiteLLM Proxy:ERROR: proxy_server.py:3990 - anthropic_response(): Exception occured - "
    "litellm.RateLimitError: PoeException - slow down, you are sending requests too fast",
    "Traceback (most recent call last):",
    '  File "/venv/lib/litellm/main.py", line 10, in acompletion',
    "    return await completion()",
    '  File "/venv/lib/litellm/llms/poe.py", line 20, in completion',
    '    raise RateLimitError("slow down")',
    "litellm.exceptions.RateLimitError: litellm.RateLimitError: PoeException - slow down",
    "Received Model Group=claude-sonnet-5",
    'INFO:     127.0.0.1:5555 - "POST /v1/messages?beta=true HTTP/1.1" 429 Too Many Requests',
    "claude-poe-tui proxy ready",
]


def write_points(log: Path) -> None:
    """Exact figures for the older requests, ambiguous for a few, estimates for the newest; a summary."""
    lines = []
    for index, record in enumerate(records()):
        if not record.poe_model:
            continue  # refused before routing: never reached Poe
        kind = PointsKind.EXACT if index < 14 else PointsKind.AMBIGUOUS if index < 18 else PointsKind.ESTIMATED
        points = 0.0 if record.status >= 400 else 1200.0 + 37 * index
        lines.append(line_for(record, points, kind, at=NOW - 5,
                              query_ids=(f"q{index:03d}",) if kind is not PointsKind.ESTIMATED else ()))
    append_lines(log, lines)
    write_summary(log, now=NOW, balance=987_654, budget=BUDGET)


@pytest.fixture
def snapshot_app(monkeypatch: pytest.MonkeyPatch):
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield from _snapshot_app(monkeypatch)


@pytest.fixture(params=list(SIZES))
def size(request) -> tuple[int, int]:
    return SIZES[request.param]


def _snapshot_app(monkeypatch: pytest.MonkeyPatch):
    shutil.rmtree(ROOT, ignore_errors=True)
    config_dir = ROOT / "config"
    state = ROOT / "state"
    config_dir.mkdir(parents=True)
    state.mkdir(parents=True)
    (config_dir / "config.toml").write_text(CONFIG)
    (config_dir / ".env").write_text("POE_API_KEY=poe-snapshot-key-1234\nLITELLM_MASTER_KEY=sk-snapshot-master-abcd\n")
    os.chmod(config_dir / ".env", 0o600)
    entries = [{"id": bot, "object": "model", "owned_by": "x"} for bot in CATALOG]
    (state / "poe-models.json").write_text(json.dumps({"version": 1, "fetched_at": time.time(), "source": "", "data": entries}))
    log = state / "requests.jsonl"
    log.write_text("".join(r.to_json() + "\n" for r in records()))
    write_points(log)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr("claude_poe_tui.ui.app.current_time", lambda: NOW, raising=False)

    def make() -> PoeTuiApp:
        return PoeTuiApp(config_dir / "config.toml", state_paths=StatePaths(state), start_proxy=False)

    yield make
    monkeypatch.delenv("TZ")
    time.tzset()


async def settle(pilot) -> None:
    """Let the catalog load and the request log's history and points reach the panes before the picture.

    The request log's worker follows the file for as long as the app runs, so it is waited for
    by what it shows, not by its end.
    """
    app = pilot.app
    finite = [w for w in app.workers if w.group != "request-log"]
    if finite:  # (an empty list would mean every worker to Textual)
        await app.workers.wait_for_complete(finite)
    deadline = time.monotonic() + 30
    while not (app.request_history_shown and app.points_shown):
        assert time.monotonic() < deadline, "the request log's history (or its points) never reached the panes"
        await pilot.pause(0.05)
    await pilot.pause()


def test_models_pane(snap_compare, snapshot_app, size) -> None:
    assert snap_compare(snapshot_app(), terminal_size=size, run_before=settle)


def test_mapping_editor(snap_compare, snapshot_app, size) -> None:
    async def open_editor(pilot) -> None:
        await settle(pilot)
        await pilot.press("down", "enter")

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=open_editor)


def test_mapping_editor_tabbed_to_save(snap_compare, snapshot_app, size) -> None:
    """Tab goes through every field to Save, and the dialog scrolls each into view."""
    async def tab_to_save(pilot) -> None:
        await settle(pilot)
        await pilot.press("a")
        await pilot.press(*"gpt-4o-mini", "tab", *"GPT-4o", "tab", "tab", "tab", "tab", *"gemini", "tab")
        await pilot.pause()
        assert pilot.app.focused.id == "save"
        # Scrolling the field into view is animated: on a busy machine it may still be moving.
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.2)

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=tab_to_save)


def test_delete_confirmation(snap_compare, snapshot_app, size) -> None:
    async def delete(pilot) -> None:
        await settle(pilot)
        await pilot.press("d")

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=delete)


def test_keys_pane(snap_compare, snapshot_app, size) -> None:
    async def keys(pilot) -> None:
        await settle(pilot)
        await pilot.press("2")

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=keys)


def test_keys_pane_revealed_then_masked(snap_compare, snapshot_app, size) -> None:
    """A revealed key widens its column; masked again, the column gives the width back."""
    async def keys(pilot) -> None:
        await settle(pilot)
        await pilot.press("2", "down", "v", "v", "up")

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=keys)


def test_key_prompt(snap_compare, snapshot_app, size) -> None:
    async def replace(pilot) -> None:
        await settle(pilot)
        await pilot.press("2", "R")

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=replace)


def test_logs_pane(snap_compare, snapshot_app, size) -> None:
    async def logs(pilot) -> None:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("up")  # onto the request a fallback answered

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=logs)


def test_record_detail(snap_compare, snapshot_app, size) -> None:
    async def detail(pilot) -> None:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("up", "enter")

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=detail)


def test_latency_pane(snap_compare, snapshot_app, size) -> None:
    async def latency(pilot) -> None:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=latency)


async def _with_output(pilot) -> None:
    await settle(pilot)
    pane = pilot.app.query_one(OutputPane)
    pane.grouper.clock = lambda: NOW
    pane.add_lines(PROXY_OUTPUT)
    await pilot.press("5")
    await pilot.pause()


def test_proxy_output_pane(snap_compare, snapshot_app, size) -> None:
    assert snap_compare(snapshot_app(), terminal_size=size, run_before=_with_output)


def test_proxy_output_unfolded(snap_compare, snapshot_app, size) -> None:
    async def unfold(pilot) -> None:
        await _with_output(pilot)
        await pilot.press("up", "up", "enter")

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=unfold)


def test_crash_screen(snap_compare, snapshot_app, size) -> None:
    async def crash(pilot) -> None:
        await settle(pilot)
        pilot.app.push_screen(CrashScreen("the proxy exited with code 1: OSError: [Errno 98] address in use",
                                          PROXY_OUTPUT))
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=crash)


def test_help_screen(snap_compare, snapshot_app, size) -> None:
    async def show_help(pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=show_help)


def test_sessions_pane(snap_compare, snapshot_app, size) -> None:
    """Per session: requests, points, the session budget's share, bots, first and last; budgets above."""
    async def sessions(pilot) -> None:
        await settle(pilot)
        await pilot.press("6")
        await pilot.pause(0.2)
        await pilot.press("down")

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=sessions)


def test_budget_editor(snap_compare, snapshot_app, size) -> None:
    async def budgets(pilot) -> None:
        await settle(pilot)
        await pilot.press("6", "b")

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=budgets)


def test_keys_pane_with_a_pool_and_members(snap_compare, snapshot_app, size) -> None:
    """A pool of three Poe keys, one of which the proxy took out (its status page says why), and a member."""
    config = ROOT / "config" / "config.toml"
    text = config.read_text().replace('api_key = "env:POE_API_KEY"', 'api_keys = ["env:POE_KEY_A", "env:POE_KEY_B", "env:POE_KEY_C"]')
    config.write_text(text + '\n[[clients]]\nname = "alice"\nkey = "env:ALICE_TOKEN"\n')
    (ROOT / "config" / ".env").write_text("POE_KEY_A=poe-pool-key-a-1111\nPOE_KEY_B=poe-pool-key-b-2222\n"
                                          "POE_KEY_C=poe-pool-key-c-3333\nLITELLM_MASTER_KEY=sk-snapshot-master-abcd\n"
                                          "ALICE_TOKEN=alice-token-0123456789\n")

    async def keys(pilot) -> None:
        await settle(pilot)
        pilot.app.post_message(StatusRead(StatusReport(True, {
            "keys_out": {"POE_KEY_B": "Poe answered 401: Invalid API key"},
            "members": ["alice"]})))
        await pilot.press("2", "down")
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=keys)
