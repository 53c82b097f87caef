"""Snapshots of each pane at a fixed size (pytest-textual-snapshot; `--snapshot-update` to accept).

Everything shown is made deterministic: a fixed folder, a fixed port, a fresh catalog cache, a
request log with fixed records and a fixed clock, and no proxy started.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from claude_poe_tui.paths import StatePaths
from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.ui.app import PoeTuiApp

SIZE = (120, 34)
ROOT = Path("/tmp/claude-poe-tui-snapshots")
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

[[models]]
name = "claude-haiku-4-5-20251001"
poe_model = "GPT-5"
thinking = "off"

[[models]]
name = "gemini"
poe_model = "Gemini-9-Ultra"
"""
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
            ts=NOW - 600 + index * 25, id=f"req-{index:03d}", session="session-1", method="POST",
            path="/v1/messages", model=model, poe_model=bot, route=route, stream=ttft is not None,
            status=status, error_type="rate_limit_error" if failed else None,
            error_message="Poe (bot Claude-Sonnet-5): slow down" if failed else None,
            latency_ms=latency + index, ttft_ms=ttft, input_tokens=None if failed else 1200 + index,
            output_tokens=None if failed else 80 + index,
        ))
    return out


@pytest.fixture
def snapshot_app(monkeypatch: pytest.MonkeyPatch):
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
    (state / "requests.jsonl").write_text("".join(r.to_json() + "\n" for r in records()))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr("claude_poe_tui.ui.app.current_time", lambda: NOW, raising=False)

    def make() -> PoeTuiApp:
        return PoeTuiApp(config_dir / "config.toml", state_paths=StatePaths(state), start_proxy=False)

    yield make
    monkeypatch.delenv("TZ")
    time.tzset()


async def settle(pilot) -> None:
    """Let the catalog load and the request log's history reach the panes before the picture.

    The request log's worker follows the file for as long as the app runs, so it is waited for
    by what it shows, not by its end.
    """
    app = pilot.app
    finite = [w for w in app.workers if w.group != "request-log"]
    if finite:  # (an empty list would mean every worker to Textual)
        await app.workers.wait_for_complete(finite)
    deadline = time.monotonic() + 30
    while not app.request_history_shown:
        assert time.monotonic() < deadline, "the request log's history never reached the panes"
        await pilot.pause(0.05)
    await pilot.pause()


def test_models_pane(snap_compare, snapshot_app) -> None:
    assert snap_compare(snapshot_app(), terminal_size=SIZE, run_before=settle)


def test_mapping_editor(snap_compare, snapshot_app) -> None:
    async def open_editor(pilot) -> None:
        await settle(pilot)
        await pilot.press("down", "down", "enter")

    assert snap_compare(snapshot_app(), terminal_size=SIZE, run_before=open_editor)


def test_keys_pane(snap_compare, snapshot_app) -> None:
    async def keys(pilot) -> None:
        await settle(pilot)
        await pilot.press("2")

    assert snap_compare(snapshot_app(), terminal_size=SIZE, run_before=keys)


def test_logs_pane(snap_compare, snapshot_app) -> None:
    async def logs(pilot) -> None:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)

    assert snap_compare(snapshot_app(), terminal_size=SIZE, run_before=logs)


def test_latency_pane(snap_compare, snapshot_app) -> None:
    async def latency(pilot) -> None:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)

    assert snap_compare(snapshot_app(), terminal_size=SIZE, run_before=latency)


def test_proxy_output_pane(snap_compare, snapshot_app) -> None:
    async def output(pilot) -> None:
        await settle(pilot)
        await pilot.press("5")

    assert snap_compare(snapshot_app(), terminal_size=SIZE, run_before=output)


def test_help_screen(snap_compare, snapshot_app) -> None:
    async def show_help(pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")

    assert snap_compare(snapshot_app(), terminal_size=SIZE, run_before=show_help)
