"""The compiler: pure functions from our :class:`Config` to what the proxy child runs.

* :func:`compile_router_config`: the ``litellm.Router`` the child builds (its model list and router
  settings), the single source of LiteLLM's behaviour; ``claude-poe-tui compile`` prints it.
* :func:`compile_gateway_settings`: what our own gateway in the child needs (the mapping table,
  limits, the request log); :func:`compile_points_settings`: its points service's settings.

Why each Router setting is there (see FACTS about LiteLLM 1.106):

* Every mapping is a deployment of LiteLLM's native ``poe/`` provider. The seed's
  ``custom_llm_provider: openai`` form sends ``/v1/messages`` to the upstream's ``/v1/responses``.
* ``model_info.poe_tui_route`` says how the child reaches the bot: ``messages`` (Claude bots: the
  body goes to Poe's Anthropic-compatible ``/v1/messages`` as Claude Code sent it) or ``chat``
  (every other bot: translated by LiteLLM to chat completions).
* ``disable_cooldowns``: with one deployment per model name, LiteLLM's default cooldown turns one
  upstream failure into 5 s of "No deployments available" for every request.
* ``num_retries: 0``: Claude Code retries on its own, with backoff; retrying here too multiplies
  requests, spends points and hides Poe's answer (429's Retry-After among them).
* ``fallbacks``: each mapping's ``fallbacks``, in order, tried by the Router when a bot fails
  before answering.
* No secret is written: keys are ``os.environ/NAME`` references, filled in the child's environment.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from claude_poe_tui.config.model import Config, ModelMapping, Route, Thinking
from claude_poe_tui.poe.catalog import Catalog, bot_limits
from claude_poe_tui.proxy.protocol import KEY_INFO_KEY, LIMITS_INFO_KEY, MAPPING_INFO_KEY, ROUTE_INFO_KEY
from claude_poe_tui.secrets import reference_name

# Environment names the child uses when the config holds a key literally (not as env:NAME).
LITERAL_POE_KEY_ENV = "CLAUDE_POE_TUI_POE_API_KEY"
LITERAL_MASTER_KEY_ENV = "CLAUDE_POE_TUI_MASTER_KEY"


@dataclass(frozen=True)
class SecretEnvNames:
    """Which environment variables carry the keys into the proxy child."""

    poe_api_key: str
    master_key: str
    poe_key_pool: tuple[str, ...] = ()
    """``[poe] api_keys``, in order (their own names; ours for literal keys)."""

    @property
    def poe_keys(self) -> tuple[str, ...]:
        """The variables of every Poe key a deployment uses: the pool, else the one key."""
        return self.poe_key_pool or (self.poe_api_key,)


def secret_env_names(config: Config) -> SecretEnvNames:
    from claude_poe_tui.config.load import pool_env_name

    return SecretEnvNames(
        poe_api_key=reference_name(config.poe.api_key) or LITERAL_POE_KEY_ENV,
        master_key=reference_name(config.proxy.master_key) or LITERAL_MASTER_KEY_ENV,
        poe_key_pool=tuple(pool_env_name(raw, i) for i, raw in enumerate(config.poe.api_keys)),
    )


def compile_points_settings(config: Config, request_log_path: str | os.PathLike[str],
                            catalog: Catalog | None = None) -> dict[str, Any]:
    """The ``points`` part of what the proxy child is given (``points.service.PointsSettings``).

    ``catalog``: Poe's catalog (the cached one is fine) for the estimates' prices; without it every
    request is ``estimated`` with no figure until Poe's history has it.
    """
    from claude_poe_tui.points.budget import BudgetLimits
    from claude_poe_tui.points.pricing import PriceTable
    from claude_poe_tui.points.service import PointsSettings

    prices = PriceTable.from_catalog(catalog).prices_json() if catalog is not None else {}
    return PointsSettings(
        request_log=str(request_log_path), poe_base_url=config.poe.base_url,
        api_key_env=secret_env_names(config).poe_api_key, budget=BudgetLimits.from_settings(config.budget, config.clients),
        config_path=str(config.path), prices=prices, models={m.name: m.poe_model for m in config.models},
    ).to_json()


def compile_router_config(config: Config) -> dict[str, Any]:
    """``litellm.Router(**compiled["router_settings"], model_list=compiled["model_list"])``. Pure.

    With a key pool (``[poe] api_keys``) each mapping gets one deployment per key, and the Router
    balances them by use (``usage-based-routing-v2``). With ``[redis] url`` the Router keeps its
    shared state (usage, cooldowns) there; the gateway's own ``rpm``/``tpm`` limits use it too.
    """
    env = secret_env_names(config)
    model_list: list[dict[str, Any]] = []
    for mapping in config.models:
        limits = {k: v for k, v in (("rpm", mapping.rpm), ("tpm", mapping.tpm)) if v}
        for key_env in env.poe_keys:
            params: dict[str, Any] = {
                "model": f"poe/{mapping.poe_model}",
                "api_base": config.poe.base_url.rstrip("/"),
                "api_key": f"os.environ/{key_env}",
                "timeout": config.proxy.request_timeout,
            }
            info: dict[str, Any] = {MAPPING_INFO_KEY: mapping.name, ROUTE_INFO_KEY: mapping.effective_route.value}
            if env.poe_key_pool:
                info[KEY_INFO_KEY] = key_env
            if limits:
                info[LIMITS_INFO_KEY] = limits
            model_list.append({"model_name": mapping.name, "litellm_params": params, "model_info": info})
    router_settings: dict[str, Any] = {"num_retries": 0, "disable_cooldowns": True}
    fallbacks = [{m.name: list(m.fallbacks)} for m in config.models if m.fallbacks]
    if fallbacks:
        router_settings["fallbacks"] = fallbacks
    if len(env.poe_keys) > 1:
        router_settings["routing_strategy"] = "usage-based-routing-v2"
    if config.redis.url:
        name = reference_name(config.redis.url)
        router_settings["redis_url"] = f"os.environ/{name}" if name else config.redis.url
    return {"model_list": model_list, "router_settings": router_settings}


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
    config: Config, request_log_path: str | None, catalog: Catalog | None = None,
    member_tokens: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What our own layer in the proxy child needs: the mapping table, limits and the request log. Pure.

    ``catalog`` (Poe's bot catalog, from the cache) tells which bots take a thinking parameter, and
    each bot's context window and maximum output when the config does not say. ``member_tokens``
    (``[[clients]]``, resolved) travel as SHA-256 digests only: the child compares digests, so a
    member can be added or revoked by a reload, and no token is written to the run folder.
    """
    from claude_poe_tui.claude_code.picker import picker_models

    picker = {entry.name: entry for entry in picker_models(config, catalog)}
    models = []
    for m in config.models:
        limits = bot_limits(catalog, m.poe_model, m.context_window, m.max_output_tokens)
        entry = picker.get(m.name)
        models.append(
            {
                "name": m.name,
                "poe_model": m.poe_model,
                "route": m.effective_route.value,
                "thinking": thinking_spec(m, catalog),
                "context_window": limits.context_window,
                "max_output_tokens": limits.max_output_tokens,
                "fallbacks": list(m.fallbacks),
                # How Claude Code's /model lists it (an alias it keeps), and under what name.
                "picker_id": entry.id if entry else None,
                "display_name": entry.display_name if entry else m.name,
            }
        )
    return {
        "models": models,
        "master_key_env": secret_env_names(config).master_key,
        "members": [{"name": name, "sha256": hashlib.sha256(token.encode("utf-8")).hexdigest()}
                    for name, token in (member_tokens or {}).items()],
        "redis_url": compile_router_config(config)["router_settings"].get("redis_url"),
        "request_timeout": config.proxy.request_timeout,
        "drain_seconds": config.proxy.drain_seconds,
        "workers": config.proxy.workers,
        "max_request_bytes": int(config.proxy.max_request_mb * 1024 * 1024),
        "exposed": not is_loopback(config.proxy.host),
        "config_path": str(config.path),
        "request_log": None
        if not config.log.enabled or request_log_path is None
        else {
            "path": request_log_path,
            "max_bytes": int(config.log.max_size_mb * 1024 * 1024),
            "backups": config.log.backups,
        },
    }


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    import ipaddress

    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


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
