"""``models`` and ``balance``: Poe's catalog and points, through the real CLI and the stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cli_setup_helpers import Sandbox, make_sandbox
from conftest import MASTER_KEY, POE_KEY, PoeStandin, free_port, start_standin, write_config
from poe_standin import CATALOG


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return make_sandbox(tmp_path)


def test_models_lists_the_catalog_and_caches_it(box: Sandbox, poe: PoeStandin) -> None:
    write_config(box.config.parent, poe_base_url=poe.base_url)
    done = box.run("models")
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()
    assert rows[0].split() == ["BOT", "OWNER", "CONTEXT", "MAX", "OUT", "IN", "$/M", "OUT", "$/M", "REASONING", "MAPPED", "AS"]
    by_bot = {row.split()[0]: row for row in rows[1:] if row.strip()}
    assert by_bot["Gemini-2.5-Pro"].split()[:7] == ["Gemini-2.5-Pro", "Google", "1.0M", "66k", "0.87", "7.00", "budget"]
    assert "effort minimal/low/medium/high" in by_bot["GPT-5"] and by_bot["GPT-5"].endswith("gpt-5")
    assert by_bot["GPT-4o"].split()[-2:] == ["-", "claude-haiku-4-5-20251001"]
    assert f"{len(CATALOG)} bots from {poe.base_url}" in done.stdout
    assert json.loads((box.state / "poe-models.json").read_text())["source"] == poe.base_url


def test_models_json_and_search(box: Sandbox, poe: PoeStandin) -> None:
    write_config(box.config.parent, poe_base_url=poe.base_url)
    done = box.run("models", "--json", "--search", "claude opus")
    assert done.returncode == 0, done.stderr
    (bot,) = json.loads(done.stdout)
    assert bot == {
        "id": "Claude-Opus-4.5", "owned_by": "Anthropic", "context_window": 200000, "max_output_tokens": 64000,
        "usd_per_million_input_tokens": 4.3, "usd_per_million_output_tokens": 21.0,
        "reasoning": {"parameter": "thinking_budget", "min_budget": 1024, "max_budget": 63999, "efforts": []},
        "mapped_as": ["claude-opus-4-5-20251101"],
    }
    nothing = box.run("models", "--search", "no-such-bot")
    assert nothing.returncode == 1 and "no bot matches 'no-such-bot'" in nothing.stdout


def test_models_offline_shows_the_cache_and_says_so(box: Sandbox, poe: PoeStandin) -> None:
    write_config(box.config.parent, poe_base_url=f"http://127.0.0.1:{free_port()}/v1")
    none_cached = box.run("models")
    assert none_cached.returncode == 2
    assert "cannot reach Poe at" in none_cached.stderr and "no cached list at" in none_cached.stderr
    write_config(box.config.parent, poe_base_url=poe.base_url)
    assert box.run("models").returncode == 0
    write_config(box.config.parent, poe_base_url=f"http://127.0.0.1:{free_port()}/v1")
    offline = box.run("models", "--json")
    assert offline.returncode == 0
    assert "cannot reach Poe at" in offline.stderr and "showing the list cached" in offline.stderr
    assert len(json.loads(offline.stdout)) == len(CATALOG)


@pytest.fixture(scope="module")
def spending_poe() -> Iterator[PoeStandin]:
    """A stand-in of our own: 3 GPT-4o queries and 1 GPT-5 query spent, 13 points each."""
    standin = start_standin()
    try:
        for bot in ("GPT-4o", "GPT-4o", "GPT-5", "GPT-4o"):
            httpx.post(f"{standin.base_url}/chat/completions", headers={"authorization": f"Bearer {POE_KEY}"},
                       json={"model": bot, "messages": [{"role": "user", "content": "Hi"}]}).raise_for_status()
        yield standin
    finally:
        standin.process.terminate()
        standin.process.wait(10)


def test_balance_shows_points_and_spending_per_bot(box: Sandbox, spending_poe: PoeStandin) -> None:
    write_config(box.config.parent, poe_base_url=spending_poe.base_url)
    done = box.run("balance", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["balance"] == 1_000_000 - 4 * 13
    assert report["spent"]["total_points"] == 52 and report["spent"]["queries"] == 4 and report["spent"]["complete"]
    assert report["spent"]["per_bot"] == [{"bot": "GPT-4o", "points": 39, "queries": 3},
                                          {"bot": "GPT-5", "points": 13, "queries": 1}]
    text = box.run("balance").stdout
    assert text.splitlines()[0] == f"Points balance: 999,948  (Poe key from POE_API_KEY in {box.dotenv})"
    assert "Spent 52 points in 4 queries since " in text
    assert [line.split()[:2] for line in text.splitlines()[2:]] == [["GPT-4o", "39"], ["GPT-5", "13"]]
    # One query reads "1 query", as doctor's spending section (the same code) does.
    assert [line.split("points")[-1].strip() for line in text.splitlines()[2:]] == ["3 queries", "1 query"]


def test_balance_with_a_rejected_key(box: Sandbox, spending_poe: PoeStandin) -> None:
    write_config(box.config.parent, poe_base_url=spending_poe.base_url,
                 dotenv={"POE_API_KEY": "expired-key-4242", "LITELLM_MASTER_KEY": MASTER_KEY})
    done = box.run("balance")
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"claude-poe-tui: error: Poe rejected the Poe API key (from POE_API_KEY in {box.dotenv}): Invalid API key")


def test_balance_from_the_environment_key(box: Sandbox, spending_poe: PoeStandin) -> None:
    write_config(box.config.parent, poe_base_url=spending_poe.base_url, dotenv={})
    missing = box.run("balance")
    assert missing.returncode == 2 and "POE_API_KEY is not set" in missing.stderr
    done = box.run("balance", env=box.env(POE_API_KEY=POE_KEY))
    assert done.returncode == 0 and "(Poe key from the environment ($POE_API_KEY))" in done.stdout
