"""Poe's catalog kept fresh in the background: fetched when missing or older than 24 h, never waited for."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import anthropic
import httpx
import pytest

from claude_code_helpers import Serve
from claude_poe_tui.poe.catalog import CATALOG_MAX_AGE, load_cache, save_cache
from claude_poe_tui.poe.client import refresh_catalog
from claude_poe_tui.poe.refresh import refresh_catalog_in_background
from conftest import MASTER_KEY, OFFLINE_POE, PoeStandin, start_standin, write_config
from poe_standin import CATALOG


def catalog_fetches(poe: PoeStandin) -> int:
    return sum(1 for r in poe.requests() if r["method"] == "GET" and r["path"] == "/v1/models")


def fetched_long_ago(cache: Path, poe: PoeStandin, age: float) -> None:
    """Poe's catalog in ``cache`` as fetched ``age`` seconds ago."""
    refresh_catalog(poe.base_url, cache)
    payload = json.loads(cache.read_text())
    payload["fetched_at"] = time.time() - age
    cache.write_text(json.dumps(payload))
    poe.clear()


def test_a_fresh_cache_is_left_alone(tmp_path: Path, poe_clean: PoeStandin) -> None:
    cache = tmp_path / "poe-models.json"
    fetched_long_ago(cache, poe_clean, CATALOG_MAX_AGE - 60)
    assert refresh_catalog_in_background(poe_clean.base_url, cache, then=pytest.fail) is None
    assert catalog_fetches(poe_clean) == 0


def test_a_missing_cache_is_fetched_and_applied(tmp_path: Path, poe_clean: PoeStandin) -> None:
    cache, applied, said = tmp_path / "poe-models.json", [], []
    thread = refresh_catalog_in_background(poe_clean.base_url, cache, then=applied.append, say=said.append)
    assert thread is not None
    thread.join(30)
    assert catalog_fetches(poe_clean) == 1
    assert [len(c) for c in applied] == [len(CATALOG)]
    assert said == [f"Poe's catalog refreshed in the background: {len(CATALOG)} bots"]
    cached = load_cache(cache)
    assert cached is not None and not cached.is_stale() and cached.get("Gemini-2.5-Pro").display_name == "Gemini 2.5 Pro"


def test_a_stale_cache_is_fetched_and_applied_only_if_it_changed(tmp_path: Path, poe_clean: PoeStandin) -> None:
    cache, applied, said = tmp_path / "poe-models.json", [], []
    fetched_long_ago(cache, poe_clean, CATALOG_MAX_AGE + 60)
    thread = refresh_catalog_in_background(poe_clean.base_url, cache, then=applied.append, say=said.append)
    assert thread is not None
    thread.join(30)
    assert applied == [] and said == [f"Poe's catalog checked: {len(CATALOG)} bots, unchanged"]
    assert not load_cache(cache).is_stale()  # type: ignore[union-attr]

    save_cache(cache, CATALOG[:2], poe_clean.base_url, fetched_at=time.time() - CATALOG_MAX_AGE - 60)
    refresh_catalog_in_background(poe_clean.base_url, cache, then=applied.append).join(30)  # type: ignore[union-attr]
    assert [len(c) for c in applied] == [len(CATALOG)]


def test_failures_are_reported_never_raised(tmp_path: Path, poe_clean: PoeStandin) -> None:
    said: list[str] = []
    cache = tmp_path / "poe-models.json"
    refresh_catalog_in_background(OFFLINE_POE, cache, then=pytest.fail, say=said.append, timeout=2).join(30)  # type: ignore[union-attr]
    assert len(said) == 1 and said[0].startswith("could not refresh Poe's catalog (")
    assert said[0].endswith("the proxy keeps using no catalog (no thinking parameters for non-Claude bots)")
    assert not cache.exists()

    def broken(_catalog) -> None:
        raise RuntimeError("the proxy is stopping")

    said.clear()
    refresh_catalog_in_background(poe_clean.base_url, cache, then=broken, say=said.append).join(30)  # type: ignore[union-attr]
    assert said == [f"Poe's catalog refreshed ({len(CATALOG)} bots) but not applied: the proxy is stopping"]
    assert load_cache(cache) is not None


@pytest.mark.proxy
def test_serve_is_ready_before_the_catalog_arrives_then_uses_it(tmp_path: Path) -> None:
    """A fresh install: no cache. `serve` is ready at once; when Poe's (slow) catalog arrives the
    proxy starts asking Gemini to think with its own `thinking_budget`."""
    slow_poe = start_standin()
    httpx.post(f"{slow_poe.url}/_standin/models_delay", json={"seconds": 8}).raise_for_status()
    slow_poe.clear()
    try:
        config = write_config(tmp_path / "config", poe_base_url=slow_poe.base_url, models=(("gemini", "Gemini-2.5-Pro"),))
        state = tmp_path / "state"
        serve = Serve(config, {**os.environ, "CLAUDE_POE_TUI_STATE_DIR": str(state)})
        try:
            assert serve.ready.wait(120), "\n".join(serve.lines)
            deadline = time.monotonic() + 5
            while catalog_fetches(slow_poe) == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert catalog_fetches(slow_poe) == 1  # asked for after start, answered 8 s later: ready did not wait
            assert not (state / "poe-models.json").exists()
            url = next(line.split("export ANTHROPIC_BASE_URL=")[1].split()[0] for line in serve.lines
                       if "export ANTHROPIC_BASE_URL=" in line)
            client = anthropic.Anthropic(base_url=url, api_key=MASTER_KEY, max_retries=0)

            def ask() -> dict:
                slow_poe.clear()
                client.messages.create(model="gemini", max_tokens=4000, messages=[{"role": "user", "content": "Hi"}],
                                       thinking={"type": "enabled", "budget_tokens": 2048})
                return next(r["body"] for r in slow_poe.requests() if r["path"] == "/v1/chat/completions")

            assert "thinking_budget" not in ask()  # no catalog yet: the bot's parameter is unknown
            deadline = time.monotonic() + 60
            while not any("Poe's catalog refreshed in the background" in line for line in serve.lines):
                assert time.monotonic() < deadline, "\n".join(serve.lines)
                time.sleep(0.2)
            assert json.loads((state / "poe-models.json").read_text())["data"]
            assert ask()["thinking_budget"] == 2048
        finally:
            assert serve.stop() == 0, "\n".join(serve.lines)
    finally:
        slow_poe.process.terminate()
        slow_poe.process.wait(10)
