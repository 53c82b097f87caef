"""What Claude Code is told about each mapping: picker ids and names, windows, the variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_poe_tui.claude_code.picker import (
    models_page,
    picker_alias,
    picker_models,
    resolve_picker_id,
)
from claude_poe_tui.claude_code.windows import claude_code_window, window_plan
from claude_poe_tui.claude_code.wiring import OWNED_VARIABLES, claude_code_env, launch_environment, tokens_text
from claude_poe_tui.config import load_config
from claude_poe_tui.poe.catalog import Catalog, bot_limits, parse_bot
from conftest import DEFAULT_MODELS, write_config
from poe_standin import CATALOG

STANDIN = Catalog.from_entries(CATALOG)


def config_of(tmp_path: Path, models: tuple[tuple[str, str], ...], extra: str = ""):
    return load_config(write_config(tmp_path, poe_base_url="http://127.0.0.1:9/v1", port=4777, models=models,
                                    extra=extra), environ={})


@pytest.mark.parametrize(("name", "alias"), [
    ("claude-sonnet-4-5", "claude-sonnet-4-5"),
    ("Claude-Custom", "Claude-Custom"),  # Claude Code keeps /^(claude|anthropic)/i
    ("claudette", "claudette"),
    ("anthropic-x", "anthropic-x"),
    ("gpt-5", "anthropic-poe-gpt-5"),
    ("gemini", "anthropic-poe-gemini"),
    ("my-claude", "anthropic-poe-my-claude"),
])
def test_picker_alias(name: str, alias: str) -> None:
    assert picker_alias(name) == alias
    assert resolve_picker_id(alias, [name]) == name
    assert resolve_picker_id(name, [name]) == name


def test_an_alias_resolves_only_to_the_mapping_it_was_made_for() -> None:
    assert resolve_picker_id("anthropic-poe-gpt-5", ["claude-x"]) is None
    assert resolve_picker_id("anthropic-poe-claude-x", ["claude-x"]) is None  # claude-x needs no alias
    assert resolve_picker_id("gpt-5", ["anthropic-poe-gpt-5"]) is None


def test_every_mapping_gets_a_picker_entry_with_poe_s_name(tmp_path: Path) -> None:
    config = config_of(tmp_path, DEFAULT_MODELS + (("gpt-4o", "GPT-4o"),))
    entries = picker_models(config, STANDIN)
    assert [(e.id, e.name, e.display_name) for e in entries] == [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929", "Claude Sonnet 4.5 (Poe)"),
        ("claude-opus-4-5-20251101", "claude-opus-4-5-20251101", "Claude Opus 4.5 (Poe)"),
        # two mappings on one bot: the label says which is which
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001", "GPT-4o (Poe) · claude-haiku-4-5-20251001"),
        ("anthropic-poe-gpt-5", "gpt-5", "GPT-5 (Poe)"),
        ("anthropic-poe-gemini", "gemini", "Gemini 2.5 Pro (Poe)"),
        ("anthropic-poe-gpt-4o", "gpt-4o", "GPT-4o (Poe) · gpt-4o"),
    ]
    offline = picker_models(config, None)
    assert offline[3].display_name == "GPT-5 (Poe)" and offline[0].display_name == "Claude-Sonnet-4.5 (Poe)"


def test_a_mapping_named_like_an_alias_wins_over_the_alias(tmp_path: Path) -> None:
    config = config_of(tmp_path, (("gpt-5", "GPT-5"), ("anthropic-poe-gpt-5", "GPT-4o")))
    assert [(e.id, e.name) for e in picker_models(config, STANDIN)] == [("anthropic-poe-gpt-5", "anthropic-poe-gpt-5")]


def test_the_models_page_has_anthropic_s_shape(tmp_path: Path) -> None:
    config = config_of(tmp_path, (("claude-sonnet-4-5", "Claude-Sonnet-4.5"), ("gpt-5", "GPT-5")))
    page = models_page(picker_models(config, STANDIN), "2026-11-30T12:00:00Z")
    assert page == {
        "data": [
            {"type": "model", "id": "claude-sonnet-4-5", "display_name": "Claude Sonnet 4.5 (Poe)",
             "created_at": "2026-11-30T12:00:00Z"},
            {"type": "model", "id": "anthropic-poe-gpt-5", "display_name": "GPT-5 (Poe)",
             "created_at": "2026-11-30T12:00:00Z"},
        ],
        "has_more": False,
        "first_id": "claude-sonnet-4-5",
        "last_id": "anthropic-poe-gpt-5",
    }
    assert models_page([], "x") == {"data": [], "has_more": False, "first_id": None, "last_id": None}


# --- limits and windows -----------------------------------------------------------------------


def test_catalog_entries_carry_display_names_and_limits() -> None:
    bot = parse_bot({"id": "X", "metadata": {"display_name": " X Bot "}, "context_window": {"context_length": "9000"}})
    assert bot is not None and bot.display_name == "X Bot" and bot.label == "X Bot" and bot.context_window == 9000
    assert parse_bot({"id": "Y", "metadata": "junk"}).label == "Y"  # type: ignore[union-attr]
    assert bot_limits(STANDIN, "gpt-4o") == bot_limits(STANDIN, "GPT-4o")
    assert (bot_limits(STANDIN, "GPT-4o").context_window, bot_limits(STANDIN, "GPT-4o").max_output_tokens) == (128000, 16384)
    mine = bot_limits(STANDIN, "GPT-4o", context_window=100000)
    assert (mine.context_window, mine.context_source, mine.max_output_tokens, mine.output_source) == (
        100000, "config", 16384, "catalog")
    assert bot_limits(None, "GPT-4o") == bot_limits(STANDIN, "No-Such-Bot")
    assert bot_limits(None, "GPT-4o").context_window is None


def test_claude_bots_lose_1m_context_and_other_names_get_their_window(tmp_path: Path) -> None:
    config = config_of(tmp_path, (("claude-opus-4-5", "Claude-Opus-4.5"), ("claude-sonnet-4-5", "Claude-Sonnet-4.5"),
                                  ("gpt-5", "GPT-5"), ("gemini", "Gemini-2.5-Pro")))
    plan = window_plan(config, STANDIN)
    assert plan.variables == {"CLAUDE_CODE_DISABLE_1M_CONTEXT": "1", "CLAUDE_CODE_MAX_CONTEXT_TOKENS": "400000"}
    assert {m.model: m.claude_code_window for m in plan.models} == {
        "claude-opus-4-5": 200000, "claude-sonnet-4-5": 200000,
        "gpt-5": 400000, "gemini": 400000,  # one number for every name not starting claude-: the smallest
        "anthropic-poe-gpt-5": 400000, "anthropic-poe-gemini": 400000,
    }
    assert all(m.fits for m in plan.models) and not plan.too_small_to_tell


def test_a_claude_name_on_a_smaller_bot_caps_every_window(tmp_path: Path) -> None:
    config = config_of(tmp_path, DEFAULT_MODELS)  # claude-haiku-4-5-20251001 -> GPT-4o (128k)
    plan = window_plan(config, STANDIN)
    assert plan.variables == {"CLAUDE_CODE_DISABLE_1M_CONTEXT": "1", "CLAUDE_CODE_MAX_CONTEXT_TOKENS": "400000",
                              "CLAUDE_CODE_AUTO_COMPACT_WINDOW": "128000"}
    assert {m.claude_code_window for m in plan.models} == {128000}
    assert all(m.fits for m in plan.models)


def test_config_limits_win_and_tiny_windows_are_named(tmp_path: Path) -> None:
    extra = "[[models]]\nname = \"small\"\npoe_model = \"GPT-5\"\ncontext_window = 50000\n"
    config = config_of(tmp_path, (("claude-sonnet-4-5", "Claude-Sonnet-4.5"),), extra)
    plan = window_plan(config, STANDIN)
    # A name not starting claude- takes any window through CLAUDE_CODE_MAX_CONTEXT_TOKENS...
    assert plan.variables == {"CLAUDE_CODE_DISABLE_1M_CONTEXT": "1", "CLAUDE_CODE_MAX_CONTEXT_TOKENS": "50000"}
    assert {m.model: m.claude_code_window for m in plan.models}["anthropic-poe-small"] == 50000
    assert not plan.too_small_to_tell
    # ...a claude- name only through the auto-compact window, which is never under 100,000: the
    # proxy's own "prompt is too long" is what guards that bot
    extra = "[[models]]\nname = \"claude-small\"\npoe_model = \"GPT-5\"\ncontext_window = 50000\n"
    plan = window_plan(config_of(tmp_path, (), extra), STANDIN)
    assert plan.variables["CLAUDE_CODE_AUTO_COMPACT_WINDOW"] == "100000"
    assert [(m.model, m.claude_code_window, m.bot_window) for m in plan.too_small_to_tell] == [
        ("claude-small", 100000, 50000)]


def test_1m_context_stays_only_when_every_bot_takes_it(tmp_path: Path) -> None:
    assert window_plan(config_of(tmp_path, (("gemini", "Gemini-2.5-Pro"),)), STANDIN).variables == {
        "CLAUDE_CODE_MAX_CONTEXT_TOKENS": "1048576"}
    assert window_plan(config_of(tmp_path, (("gemini", "Gemini-2.5-Pro"),)), None).variables == {
        "CLAUDE_CODE_DISABLE_1M_CONTEXT": "1"}  # unknown window: no 1M
    assert window_plan(config_of(tmp_path, ()), STANDIN).variables == {"CLAUDE_CODE_DISABLE_1M_CONTEXT": "1"}


def test_claude_code_s_window_rules() -> None:
    off = {"CLAUDE_CODE_DISABLE_1M_CONTEXT": "1"}
    assert claude_code_window("claude-opus-4-8[1m]", {}) == 1_000_000
    assert claude_code_window("claude-opus-4-8[1m]", off) == 200_000
    assert claude_code_window("gpt-5", {"CLAUDE_CODE_MAX_CONTEXT_TOKENS": "400000"}) == 400_000
    assert claude_code_window("Claude-Foo", {"CLAUDE_CODE_MAX_CONTEXT_TOKENS": "400000"}) == 200_000
    assert claude_code_window("gpt-5", {"CLAUDE_CODE_AUTO_COMPACT_WINDOW": "5"}) == 100_000
    assert claude_code_window("gpt-5", {"CLAUDE_CODE_MAX_CONTEXT_TOKENS": "2000000",
                                        "CLAUDE_CODE_AUTO_COMPACT_WINDOW": "3000000"}) == 1_000_000


# --- the variables ----------------------------------------------------------------------------


def test_the_variables_with_the_catalog(tmp_path: Path) -> None:
    config = config_of(tmp_path, DEFAULT_MODELS, '[claude_code]\nsubagent = "gpt-5"\n')
    env = claude_code_env(config, "sk-m", STANDIN)
    assert env == {
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:4777",
        "ANTHROPIC_AUTH_TOKEN": "sk-m",
        "ANTHROPIC_API_KEY": "",
        "ANTHROPIC_DEFAULT_OPUS_MODEL": "claude-opus-4-5-20251101",
        "ANTHROPIC_DEFAULT_OPUS_MODEL_NAME": "Claude Opus 4.5 (Poe)",
        "ANTHROPIC_DEFAULT_OPUS_MODEL_DESCRIPTION": "Poe bot Claude-Opus-4.5 · 200k context · 64k output",
        "ANTHROPIC_DEFAULT_SONNET_MODEL": "claude-sonnet-4-5-20250929",
        "ANTHROPIC_DEFAULT_SONNET_MODEL_NAME": "Claude Sonnet 4.5 (Poe)",
        "ANTHROPIC_DEFAULT_SONNET_MODEL_DESCRIPTION": "Poe bot Claude-Sonnet-4.5 · 200k context · 64k output",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-haiku-4-5-20251001",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL_NAME": "GPT-4o (Poe)",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL_DESCRIPTION": "Poe bot GPT-4o · 128k context · 16k output",
        "CLAUDE_CODE_SUBAGENT_MODEL": "gpt-5",
        "CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_1M_CONTEXT": "1",
        "CLAUDE_CODE_MAX_CONTEXT_TOKENS": "400000",
        "CLAUDE_CODE_AUTO_COMPACT_WINDOW": "128000",
    }
    assert "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC" not in env  # it would switch model discovery off
    assert set(env) - set(OWNED_VARIABLES) == {"ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY"}


def test_the_launcher_drops_what_the_config_does_not_set() -> None:
    shell = {"PATH": "/bin", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "ANTHROPIC_DEFAULT_HAIKU_MODEL": "old",
             "CLAUDE_CODE_MAX_RETRIES": "3"}
    merged = launch_environment(shell, {"ANTHROPIC_BASE_URL": "http://x", "DISABLE_TELEMETRY": "1"})
    assert merged == {"PATH": "/bin", "CLAUDE_CODE_MAX_RETRIES": "3", "ANTHROPIC_BASE_URL": "http://x",
                      "DISABLE_TELEMETRY": "1"}


@pytest.mark.parametrize(("count", "text"), [(200000, "200k"), (1048576, "1.05M"), (16384, "16k"), (65536, "66k"),
                                             (1_000_000, "1M"), (512, "512")])
def test_tokens_text(count: int, text: str) -> None:
    assert tokens_text(count) == text
