"""The LiteLLM callback the compiler wires in (``litellm_settings.callbacks``).

Runs inside the proxy child, in the request's own task, so it can tell the gateway what only
LiteLLM knows: the parsed model name and stream flag, and the upstream failure (Poe's
``Retry-After`` header among it). It also refuses model names no mapping covers, before LiteLLM
looks for a deployment.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from litellm.integrations.custom_logger import CustomLogger

from claude_poe_tui.poe.thinking import bot_thinking_params
from claude_poe_tui.proxy.child.gateway import ACTIVE, current_request


def _response_headers(exception: Exception) -> dict[str, str]:
    for candidate in (
        getattr(exception, "litellm_response_headers", None),
        getattr(getattr(exception, "response", None), "headers", None),
        getattr(exception, "headers", None),
    ):
        if candidate:
            try:
                return {str(k).lower(): str(v) for k, v in dict(candidate).items()}
            except (TypeError, ValueError):
                continue
    return {}


def apply_thinking(data: dict, spec: dict[str, Any], route: str) -> None:
    """Claude Code's ``thinking`` as the bot takes it (see compiler.thinking_spec).

    On the chat route LiteLLM would turn ``thinking`` (and ``output_config.effort``) into a
    top-level ``reasoning_effort`` of its own choosing, or drop it. Instead the bot's own parameter
    goes in ``extra_body``, which LiteLLM merges into the JSON body Poe receives. ``off`` drops
    the request's thinking on either route.
    """
    thinking = data.pop("thinking", None)
    output_config = data.get("output_config")
    if route == "chat" and isinstance(output_config, dict) and "effort" in output_config:
        rest = {k: v for k, v in output_config.items() if k != "effort"}
        if rest:
            data["output_config"] = rest
        else:
            data.pop("output_config")
    if spec.get("mode") == "off":
        return
    params = bot_thinking_params(thinking, output_config, spec)
    if params:
        extra = data.get("extra_body")
        data["extra_body"] = {**(extra if isinstance(extra, dict) else {}), **params}


class GatewayHooks(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: Any) -> Any:
        info = current_request.get()
        model = data.get("model")
        if info is not None:
            info.model = model if isinstance(model, str) else None
            info.stream = bool(data.get("stream"))
        gateway = ACTIVE.get("gateway")
        if gateway is not None and isinstance(model, str) and model not in gateway.settings.models:
            if info is not None:
                info.unknown_model = True
            raise HTTPException(status_code=404, detail=gateway.settings.unknown_model_message(model))
        if gateway is not None and isinstance(model, str) and "thinking" in data:
            mapping = gateway.settings.models.get(model)
            if mapping is not None and mapping.thinking:
                apply_thinking(data, mapping.thinking, mapping.route)
        return data

    async def async_post_call_failure_hook(
        self,
        request_data: dict,
        original_exception: Exception,
        user_api_key_dict: Any,
        traceback_str: str | None = None,
    ) -> Any:
        info = current_request.get()
        if info is None:
            return None
        headers = _response_headers(original_exception)
        retry_after = headers.get("retry-after") or headers.get("llm_provider-retry-after")
        if retry_after:
            info.retry_after = retry_after
        status = getattr(original_exception, "status_code", None)
        if isinstance(status, int):
            info.upstream_status = status
        return None


gateway_hooks = GatewayHooks()
