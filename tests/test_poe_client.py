"""The Poe client against the stand-in over loopback: catalog, balance, history, and its errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from claude_poe_tui.errors import UserError
from claude_poe_tui.poe.catalog import load_cache
from claude_poe_tui.poe.client import (
    PoeAuthError,
    PoeClient,
    PoeUnreachable,
    catalog_or_cache,
    poe_root,
    refresh_catalog,
)
from conftest import POE_KEY, PoeStandin, free_port, start_standin


def test_root_is_the_base_url_without_v1() -> None:
    assert poe_root("https://api.poe.com/v1") == "https://api.poe.com"
    assert poe_root("https://api.poe.com/v1/") == "https://api.poe.com"
    assert poe_root("http://gateway.local/poe") == "http://gateway.local/poe"


def test_catalog_needs_no_key(poe: PoeStandin) -> None:
    catalog = PoeClient(poe.base_url).catalog()
    assert catalog.get("gemini-2.5-pro").reasoning.max_budget == 32768
    assert catalog.source == poe.base_url


def test_balance_checks_the_key(poe_clean: PoeStandin) -> None:
    assert PoeClient(poe_clean.base_url, POE_KEY).balance() > 0
    upstream = [r for r in poe_clean.requests() if r["path"] == "/usage/current_balance"][-1]
    assert upstream["headers"]["authorization"] == f"Bearer {POE_KEY}"


def test_a_bad_key_says_where_it_came_from(poe: PoeStandin) -> None:
    client = PoeClient(poe.base_url, "wrong-key-123456789", key_origin="$POE_API_KEY")
    with pytest.raises(PoeAuthError) as caught:
        client.balance()
    message = str(caught.value)
    assert message.startswith("Poe rejected the Poe API key (from $POE_API_KEY): Invalid API key")
    assert "wrong-key" not in message  # never the key itself
    assert isinstance(caught.value, UserError)


def test_unreachable_poe_names_the_url() -> None:
    base = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(PoeUnreachable, match=r"cannot reach Poe at http://127.0.0.1:\d+/usage/current_balance"):
        PoeClient(base, POE_KEY, timeout=2).balance()
    with pytest.raises(PoeUnreachable, match=r"/v1/models"):
        PoeClient(base, timeout=2).catalog()


def test_refresh_writes_the_cache_and_falls_back_to_it(poe: PoeStandin, tmp_path: Path) -> None:
    cache = tmp_path / "poe-models.json"
    fresh = refresh_catalog(poe.base_url, cache)
    assert load_cache(cache).get("GPT-5") == fresh.get("GPT-5")
    problems: list[str] = []
    offline = catalog_or_cache(f"http://127.0.0.1:{free_port()}/v1", cache, timeout=2, on_error=lambda e: problems.append(str(e)))
    assert offline is not None and len(offline) == len(fresh)
    assert problems and "cannot reach Poe" in problems[0]


@pytest.fixture(scope="module")
def spent_standin() -> Iterator[PoeStandin]:
    """A stand-in of our own with 130 GPT-4o queries and 20 GPT-5 ones in its history."""
    standin = start_standin()
    try:
        with httpx.Client(headers={"authorization": f"Bearer {POE_KEY}"}) as client:
            for index in range(150):
                bot = "GPT-4o" if index < 130 else "GPT-5"
                client.post(f"{standin.base_url}/chat/completions",
                            json={"model": bot, "messages": [{"role": "user", "content": "Hi"}]}).raise_for_status()
        yield standin
    finally:
        standin.process.terminate()
        standin.process.wait(10)


def test_points_history_pages_through_everything(spent_standin: PoeStandin) -> None:
    history = PoeClient(spent_standin.base_url, POE_KEY).points_history()
    assert history.complete and len(history.entries) == 150
    assert len({e.query_id for e in history.entries}) == 150  # no page read twice
    per_bot = history.spent_per_bot()
    assert [(bot, queries) for bot, _, queries in per_bot] == [("GPT-4o", 130), ("GPT-5", 20)]
    assert per_bot[0][1] == 130 * 13  # the stand-in charges 10 + 3 output tokens for "Hello from GPT-4o."
    assert history.total_points == sum(points for _, points, _ in per_bot)
    assert history.since is not None and history.since > 1_600_000_000
    pages = [r for r in spent_standin.requests() if r["path"] == "/usage/points_history"]
    assert "starting_after=" in pages[-1]["query"] and "limit=100" in pages[-1]["query"]


def test_points_history_stops_at_the_page_limit(spent_standin: PoeStandin) -> None:
    history = PoeClient(spent_standin.base_url, POE_KEY).points_history(max_pages=1)
    assert not history.complete and len(history.entries) == 100
