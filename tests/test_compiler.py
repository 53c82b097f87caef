"""The compiler: a pure function from our config to LiteLLM's, pinned by a golden output."""

from __future__ import annotations

from pathlib import Path

import yaml

from claude_poe_tui.compiler import compile_gateway_settings, compile_litellm_config, render_yaml
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
            "model_info": {"supported_endpoints": ["/v1/messages"]},
        },
        {
            "model_name": "claude-haiku-4-5-20251001",
            "litellm_params": {
                "model": "poe/GPT-5",
                "api_base": "https://api.poe.com/v1",
                "api_key": "os.environ/POE_API_KEY",
                "timeout": 300.0,
            },
        },
        {
            "model_name": "claude-opus-4-5-20251101",
            "litellm_params": {
                "model": "poe/Claude-Opus-4.5",
                "api_base": "https://api.poe.com/v1",
                "api_key": "os.environ/POE_API_KEY",
                "timeout": 300.0,
            },
        },
    ],
    "litellm_settings": {
        "drop_params": True,
        "num_retries": 0,
        "request_timeout": 300.0,
        "telemetry": False,
        "callbacks": ["claude_poe_tui.proxy.child.hooks.gateway_hooks"],
        "model_group_settings": {"forward_client_headers_to_llm_api": ["claude-sonnet-4-5-20250929"]},
    },
    "router_settings": {"disable_cooldowns": True, "num_retries": 0},
    "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY", "trusted_proxy_ranges": []},
}


def test_golden_output() -> None:
    config = parse_config(CONFIG, Path("/cfg/config.toml"), environ={})
    assert compile_litellm_config(config) == GOLDEN


def test_never_the_seed_openai_form() -> None:
    compiled = compile_litellm_config(parse_config(CONFIG, Path("/c.toml"), environ={}))
    for entry in compiled["model_list"]:
        assert "custom_llm_provider" not in entry["litellm_params"]
        assert entry["litellm_params"]["model"].startswith("poe/")


def test_literal_keys_never_reach_the_compiled_config() -> None:
    text = CONFIG.replace('"env:POE_API_KEY"', '"poe-literal-secret"').replace(
        '"env:LITELLM_MASTER_KEY"', '"sk-literal-master"'
    )
    config = parse_config(text, Path("/c.toml"), environ={})
    rendered = render_yaml(compile_litellm_config(config)) + repr(compile_gateway_settings(config, "/log"))
    assert "poe-literal-secret" not in rendered and "sk-literal-master" not in rendered
    assert "os.environ/CLAUDE_POE_TUI_POE_API_KEY" in rendered
    assert "os.environ/CLAUDE_POE_TUI_MASTER_KEY" in rendered


def test_rendered_yaml_is_what_litellm_reads() -> None:
    compiled = compile_litellm_config(parse_config(CONFIG, Path("/c.toml"), environ={}))
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
