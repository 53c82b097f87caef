"""The compiler: a pure function from our :class:`Config` to LiteLLM's proxy config.

Why each setting is there (see FACTS about LiteLLM 1.106):

* Every mapping uses LiteLLM's native ``poe/`` provider. The seed's ``custom_llm_provider: openai``
  form sends ``/v1/messages`` to the upstream's ``/v1/responses`` and fails on Poe.
* The ``messages`` route adds ``model_info.supported_endpoints: ["/v1/messages"]``: LiteLLM then
  forwards the Anthropic body untranslated to ``<base>/v1/messages`` (thinking, cache_control and
  tool blocks intact). Those model groups forward the client's headers, so Claude Code's
  ``anthropic-beta`` reaches Poe (LiteLLM filters it otherwise).
* ``disable_cooldowns``: with one deployment per model name, LiteLLM's default cooldown turns one
  upstream failure into 5 s of "No deployments available" for every request.
* ``num_retries: 0``: Claude Code retries on its own, with backoff; retrying here too multiplies
  requests, spends points and hides Poe's answer (429's Retry-After among them).
* No secret is written: keys are ``os.environ/NAME`` references, filled in the child's environment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from claude_poe_tui.config.model import Config, ModelMapping, Route, Thinking
from claude_poe_tui.poe.catalog import Catalog
from claude_poe_tui.secrets import reference_name

HOOKS_CALLBACK = "claude_poe_tui.proxy.child.hooks.gateway_hooks"
# Environment names the child uses when the config holds a key literally (not as env:NAME).
LITERAL_POE_KEY_ENV = "CLAUDE_POE_TUI_POE_API_KEY"
LITERAL_MASTER_KEY_ENV = "CLAUDE_POE_TUI_MASTER_KEY"


@dataclass(frozen=True)
class SecretEnvNames:
    """Which environment variables carry the keys into the proxy child."""

    poe_api_key: str
    master_key: str


def secret_env_names(config: Config) -> SecretEnvNames:
    return SecretEnvNames(
        poe_api_key=reference_name(config.poe.api_key) or LITERAL_POE_KEY_ENV,
        master_key=reference_name(config.proxy.master_key) or LITERAL_MASTER_KEY_ENV,
    )


def compile_litellm_config(config: Config) -> dict[str, Any]:
    """LiteLLM's proxy config (what ``litellm --config`` reads) for ``config``. Pure: no I/O."""
    env = secret_env_names(config)
    model_list: list[dict[str, Any]] = []
    forwarding_groups: list[str] = []
    for mapping in config.models:
        params: dict[str, Any] = {
            "model": f"poe/{mapping.poe_model}",
            "api_base": config.poe.base_url.rstrip("/"),
            "api_key": f"os.environ/{env.poe_api_key}",
            "timeout": config.proxy.request_timeout,
        }
        entry: dict[str, Any] = {"model_name": mapping.name, "litellm_params": params}
        if mapping.effective_route is Route.MESSAGES:
            entry["model_info"] = {"supported_endpoints": ["/v1/messages"]}
            forwarding_groups.append(mapping.name)
        model_list.append(entry)

    litellm_settings: dict[str, Any] = {
        "drop_params": True,
        "num_retries": 0,
        "request_timeout": config.proxy.request_timeout,
        "telemetry": False,
        "callbacks": [HOOKS_CALLBACK],
    }
    if forwarding_groups:
        litellm_settings["model_group_settings"] = {"forward_client_headers_to_llm_api": forwarding_groups}

    return {
        "model_list": model_list,
        "litellm_settings": litellm_settings,
        "router_settings": {"disable_cooldowns": True, "num_retries": 0},
        "general_settings": {
            "master_key": f"os.environ/{env.master_key}",
            # Clients reach the proxy directly, not through a reverse proxy; saying so also
            # silences LiteLLM's start-up warning about its admin UI's sign-in limits.
            "trusted_proxy_ranges": [],
        },
    }


def thinking_spec(mapping: ModelMapping, catalog: Catalog | None) -> dict[str, Any] | None:
    """How the proxy passes Claude Code's thinking to this mapping's bot.

    ``{"mode": "off"}`` drops it; a bot on the chat route that Poe's catalog says can reason gets
    its own parameter (``{"parameter": "thinking_budget", "min_budget": .., "max_budget": ..}`` or
    ``reasoning_effort``); otherwise ``None``: the messages route forwards it untouched, and
    LiteLLM drops it on the chat route.
    """
    if mapping.thinking is Thinking.OFF:
        return {"mode": "off"}
    if mapping.effective_route is not Route.CHAT or catalog is None:
        return None
    bot = catalog.get(mapping.poe_model)
    if bot is None or bot.reasoning is None:
        return None
    return {"mode": "auto", **bot.reasoning.to_json()}


def compile_gateway_settings(
    config: Config, request_log_path: str | None, catalog: Catalog | None = None
) -> dict[str, Any]:
    """What our own layer in the proxy child needs: the mapping table and the request log. Pure.

    ``catalog`` (Poe's bot catalog, from the cache) tells which bots take a thinking parameter.
    """
    return {
        "models": [
            {
                "name": m.name,
                "poe_model": m.poe_model,
                "route": m.effective_route.value,
                "thinking": thinking_spec(m, catalog),
            }
            for m in config.models
        ],
        "master_key_env": secret_env_names(config).master_key,
        "request_timeout": config.proxy.request_timeout,
        "config_path": str(config.path),
        "request_log": None
        if not config.log.enabled or request_log_path is None
        else {
            "path": request_log_path,
            "max_bytes": int(config.log.max_size_mb * 1024 * 1024),
            "backups": config.log.backups,
        },
    }


def render_yaml(data: Any) -> str:
    """A small YAML emitter for the compiled config, so the parent never imports PyYAML."""
    lines: list[str] = []
    _emit(data, 0, lines)
    return "\n".join(lines) + "\n"


def _scalar(value: Any) -> str:
    if isinstance(value, (dict, list)):  # only empty ones reach here
        return "{}" if isinstance(value, dict) else "[]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid YAML double-quoted scalar


def _emit(data: Any, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, (dict, list)) and value:
                lines.append(f"{pad}{key}:")
                _emit(value, indent + 2, lines)
            else:
                lines.append(f"{pad}{key}: {_scalar(value)}")
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, dict) and item:
                sub: list[str] = []
                _emit(item, indent + 2, sub)
                first = sub[0].lstrip()
                lines.append(f"{pad}- {first}")
                lines.extend(sub[1:])
            elif isinstance(item, list) and item:
                lines.append(f"{pad}-")
                _emit(item, indent + 2, lines)
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    else:
        lines.append(f"{pad}{_scalar(data)}")
