"""Poe's bot catalog: a tolerant parser, case-insensitive lookup, the cache, default mappings."""

from __future__ import annotations

import json
from pathlib import Path

from claude_poe_tui.claude_code.defaults import CLAUDE_CODE_DEFAULT_MODELS, default_mappings, model_family_version
from claude_poe_tui.poe.catalog import (
    Catalog,
    Reasoning,
    claude_family_version,
    load_cache,
    parse_bot,
    save_cache,
)
from poe_standin import CATALOG


def test_the_standin_catalog_parses_fully() -> None:
    catalog = Catalog.from_entries(CATALOG)
    assert len(catalog) == len(CATALOG)
    gemini = catalog.get("Gemini-2.5-Pro")
    assert gemini is not None
    assert (gemini.owned_by, gemini.context_window, gemini.max_output_tokens) == ("Google", 1048576, 65536)
    assert gemini.prompt_price == 0.00000087 and gemini.completion_price == 0.0000070
    assert gemini.reasoning == Reasoning("thinking_budget", min_budget=128, max_budget=32768)
    gpt5 = catalog.get("GPT-5")
    assert gpt5.reasoning == Reasoning("reasoning_effort", efforts=("minimal", "low", "medium", "high"))
    assert catalog.get("GPT-4o").reasoning is None
    assert catalog.get("Claude-Haiku-4.5").is_claude and not gpt5.is_claude


def test_lookup_ignores_case_as_poe_does() -> None:
    catalog = Catalog.from_entries(CATALOG)
    assert catalog.get("claude-sonnet-4.5").id == "Claude-Sonnet-4.5"
    assert "GEMINI-2.5-PRO" in catalog
    assert catalog.get("Claude-Sonnet-9") is None


def test_close_matches_are_suggested() -> None:
    catalog = Catalog.from_entries(CATALOG)
    assert catalog.suggest("Claude-Sonet-4.5")[0] == "Claude-Sonnet-4.5"
    assert catalog.suggest("gpt5")[0] == "GPT-5"
    assert catalog.suggest("completely-different") == []


def test_search_matches_every_word() -> None:
    catalog = Catalog.from_entries(CATALOG)
    assert [b.id for b in catalog.search("openai gpt")] == ["GPT-5", "GPT-4o"]
    assert [b.id for b in catalog.search("claude opus")] == ["Claude-Opus-4.5"]


def test_the_parser_takes_what_it_understands() -> None:
    assert parse_bot({"owned_by": "x"}) is None  # no id: not a bot
    assert parse_bot("GPT-5") is None
    odd = parse_bot({
        "id": "Odd-Bot",
        "context_window": 8192,  # a bare number
        "pricing": {"prompt": "not a number", "completion": None},
        "reasoning": "yes",
        "parameters": {"reasoning_effort": {"enum": ["low", "high"]}},  # a mapping, not a list
    })
    assert odd.context_window == 8192 and odd.max_output_tokens is None
    assert odd.prompt_price is None and odd.completion_price is None
    assert odd.reasoning == Reasoning("reasoning_effort", efforts=("low", "high"))
    bare = parse_bot({"id": "Bare", "context_length": "32000", "parameters": [{"name": "thinking_budget",
                                                                               "schema": {"maximum": 8000}}]})
    assert bare.context_window == 32000
    assert bare.reasoning == Reasoning("thinking_budget", min_budget=None, max_budget=8000)
    flag_only = parse_bot({"id": "Flag", "reasoning": {"budget": None, "supports_reasoning_effort": True}})
    assert flag_only.reasoning == Reasoning("reasoning_effort")


def test_cache_round_trip_keeps_the_fetch_time(tmp_path: Path) -> None:
    path = tmp_path / "state" / "poe-models.json"
    save_cache(path, CATALOG, "http://poe.test/v1", fetched_at=1_700_000_000.0)
    cached = load_cache(path)
    assert cached is not None and len(cached) == len(CATALOG)
    assert cached.fetched_at == 1_700_000_000.0 and cached.source == "http://poe.test/v1"
    assert cached.get("gpt-5").reasoning.parameter == "reasoning_effort"
    assert cached.age_seconds(now=1_700_000_060.0) == 60.0


def test_a_broken_cache_is_no_cache(tmp_path: Path) -> None:
    assert load_cache(tmp_path / "missing.json") is None
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert load_cache(broken) is None
    broken.write_text(json.dumps({"fetched_at": 1, "data": "nope"}))
    assert load_cache(broken) is None


def test_claude_family_versions() -> None:
    assert claude_family_version("Claude-Opus-4.5") == ("opus", (4, 5))
    assert claude_family_version("claude-sonnet-5") == ("sonnet", (5,))
    assert claude_family_version("Claude-Sonnet-4.5-Reasoning") is None
    assert model_family_version("claude-haiku-4-5-20251001") == ("haiku", (4, 5))
    assert model_family_version("claude-opus-4-8") == ("opus", (4, 8))
    assert model_family_version("gpt-5") is None


def test_default_mappings_offline_follow_claude_codes_defaults() -> None:
    mappings = default_mappings(None)
    assert [(m.name, m.poe_model) for m in mappings] == [
        ("claude-opus-4-8", "Claude-Opus-4.8"),
        ("claude-sonnet-5", "Claude-Sonnet-5"),
        ("claude-haiku-4-5-20251001", "Claude-Haiku-4.5"),
    ]
    assert [m.name for m in mappings] == list(CLAUDE_CODE_DEFAULT_MODELS.values())


def test_default_mappings_use_the_bots_poe_has() -> None:
    # The stand-in has Opus 4.5 and Sonnet 4.5 (older than Claude Code's defaults) and Haiku 4.5.
    mappings = {m.family: m for m in default_mappings(Catalog.from_entries(CATALOG))}
    assert (mappings["opus"].name, mappings["opus"].poe_model, mappings["opus"].exact) == (
        "claude-opus-4-5", "Claude-Opus-4.5", False)
    assert (mappings["sonnet"].name, mappings["sonnet"].poe_model) == ("claude-sonnet-4-5", "Claude-Sonnet-4.5")
    assert (mappings["haiku"].name, mappings["haiku"].poe_model, mappings["haiku"].exact) == (
        "claude-haiku-4-5-20251001", "Claude-Haiku-4.5", True)


def test_default_mappings_prefer_the_exact_bot_in_poes_spelling() -> None:
    entries = [{"id": "claude-opus-4.8", "owned_by": "Anthropic"}, {"id": "Claude-Opus-4.9", "owned_by": "Anthropic"},
               {"id": "Claude-Sonnet-5", "owned_by": "Anthropic"}]
    mappings = {m.family: m for m in default_mappings(Catalog.from_entries(entries))}
    assert (mappings["opus"].name, mappings["opus"].poe_model) == ("claude-opus-4-8", "claude-opus-4.8")
    assert mappings["sonnet"].exact
    # No Haiku bot at all: the default name stays, for `doctor` to flag.
    assert (mappings["haiku"].poe_model, mappings["haiku"].exact) == ("Claude-Haiku-4.5", False)
