"""The compiler: pure functions from our config to the Router's and the gateway's, pinned by a golden output."""

from __future__ import annotations

from pathlib import Path

import yaml

from claude_poe_tui.compiler import compile_gateway_settings, compile_router_config, render_yaml
from claude_poe_tui.config import parse_config

CONFIG = """\
[proxy]
port = 4000
master_key = "env:LITELLM_MASTER_KEY"
request_timeout = 300

[poe]
api_key = "env:POE_API_KEY"
base_url = "https://api.poe.com/v1/"

[[models]]
name = "claude-sonnet-4-5-20250929"
poe_model = "Claude-Sonnet-4.5"
fallbacks = ["claude-opus-4-5-20251101", "claude-haiku-4-5-20251001"]

[[models]]
name = "claude-haiku-4-5-20251001"
poe_model = "GPT-5"

[[models]]
name = "claude-opus-4-5-20251101"
poe_model = "Claude-Opus-4.5"
route = "chat"
"""

GOLDEN = {
    "model_list": [
        {
            "model_name": "claude-sonnet-4-5-20250929",
            "litellm_params": {
                "model": "poe/Claude-Sonnet-4.5",
                "api_base": "https://api.poe.com/v1",
                "api_key": "os.environ/POE_API_KEY",
                "timeout": 300.0,
            },
            "model_info": {"poe_tui_mapping": "claude-sonnet-4-5-20250929", "poe_tui_route": "messages"},
        },
        {
            "model_name": "claude-haiku-4-5-20251001",
            "litellm_params": {
                "model": "poe/GPT-5",
                "api_base": "https://api.poe.com/v1",
                "api_key": "os.environ/POE_API_KEY",
                "timeout": 300.0,
            },
            "model_info": {"poe_tui_mapping": "claude-haiku-4-5-20251001", "poe_tui_route": "chat"},
        },
        {
            "model_name": "claude-opus-4-5-20251101",
            "litellm_params": {
                "model": "poe/Claude-Opus-4.5",
                "api_base": "https://api.poe.com/v1",
                "api_key": "os.environ/POE_API_KEY",
                "timeout": 300.0,
            },
            "model_info": {"poe_tui_mapping": "claude-opus-4-5-20251101", "poe_tui_route": "chat"},
        },
    ],
    "router_settings": {
        "num_retries": 0,
        "disable_cooldowns": True,
        "fallbacks": [{"claude-sonnet-4-5-20250929": ["claude-opus-4-5-20251101", "claude-haiku-4-5-20251001"]}],
    },
}


def test_golden_output() -> None:
    config = parse_config(CONFIG, Path("/cfg/config.toml"), environ={})
    assert compile_router_config(config) == GOLDEN


def test_never_the_seed_openai_form() -> None:
    compiled = compile_router_config(parse_config(CONFIG, Path("/c.toml"), environ={}))
    for entry in compiled["model_list"]:
        assert "custom_llm_provider" not in entry["litellm_params"]
        assert entry["litellm_params"]["model"].startswith("poe/")


def test_literal_keys_never_reach_the_compiled_config() -> None:
    text = CONFIG.replace('"env:POE_API_KEY"', '"poe-literal-secret"').replace(
        '"env:LITELLM_MASTER_KEY"', '"sk-literal-master"'
    )
    config = parse_config(text, Path("/c.toml"), environ={})
    rendered = render_yaml(compile_router_config(config)) + repr(compile_gateway_settings(config, "/log"))
    assert "poe-literal-secret" not in rendered and "sk-literal-master" not in rendered
    assert "os.environ/CLAUDE_POE_TUI_POE_API_KEY" in rendered
    assert "CLAUDE_POE_TUI_MASTER_KEY" in rendered


def test_rendered_yaml_is_what_litellm_reads() -> None:
    compiled = compile_router_config(parse_config(CONFIG, Path("/c.toml"), environ={}))
    assert yaml.safe_load(render_yaml(compiled)) == compiled


def test_gateway_settings_carry_the_mapping_table() -> None:
    config = parse_config(CONFIG, Path("/c.toml"), environ={})
    gateway = compile_gateway_settings(config, "/state/requests.jsonl")
    assert [(m["name"], m["route"]) for m in gateway["models"]] == [
        ("claude-sonnet-4-5-20250929", "messages"),
        ("claude-haiku-4-5-20251001", "chat"),
        ("claude-opus-4-5-20251101", "chat"),
    ]
    assert gateway["master_key_env"] == "LITELLM_MASTER_KEY"
    assert gateway["request_log"]["path"] == "/state/requests.jsonl"


def test_gateway_settings_carry_each_bots_limits_from_the_config_or_the_catalog() -> None:
    from claude_poe_tui.poe.catalog import Catalog

    text = CONFIG.replace('poe_model = "GPT-5"', 'poe_model = "GPT-5"\nmax_output_tokens = 8000')
    config = parse_config(text, Path("/c.toml"), environ={})
    catalog = Catalog.from_entries([
        {"id": "Claude-Sonnet-4.5", "context_window": {"context_length": 200000, "max_output_tokens": 64000}},
        {"id": "GPT-5", "context_window": {"context_length": 400000, "max_output_tokens": 128000}},
    ])
    models = {m["name"]: m for m in compile_gateway_settings(config, None, catalog)["models"]}
    assert (models["claude-sonnet-4-5-20250929"]["context_window"], models["claude-sonnet-4-5-20250929"]["max_output_tokens"]) == (200000, 64000)
    assert (models["claude-haiku-4-5-20251001"]["context_window"], models["claude-haiku-4-5-20251001"]["max_output_tokens"]) == (400000, 8000)
    assert models["claude-opus-4-5-20251101"]["context_window"] is None  # not in the catalog, not in the config
    assert models["claude-sonnet-4-5-20250929"]["fallbacks"] == ["claude-opus-4-5-20251101", "claude-haiku-4-5-20251001"]
