"""Paying LiteLLM's first-request costs before a user's first request does.

FastAPI builds each route's request models lazily, the first time a request is matched against
LiteLLM's router, and LiteLLM has hundreds of routes: that work (about a second) used to land on
the first request a user sent (measured: first streamed ``/v1/messages`` 1.0-1.5 s, the next ones
about 40 ms). Before the proxy reports ready, a ``GET`` for each API path goes through
LiteLLM's app in-process: matching it builds the routes, and the router answers 405 before any key
check or handler runs, so nothing reaches Poe, nothing is logged and nothing is recorded (they
bypass our gateway). Then the modules LiteLLM
imports on its first call of each route (found with ``-X importtime``: the OpenAI client's chat
resources, the default tokenizer, ...) are imported in a thread.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from typing import Any

WARM_UP_PATHS = ("/v1/messages", "/v1/chat/completions", "/v1/messages/count_tokens")
# Imported by LiteLLM 1.106 on a route's first call (~250 ms together); a name that a later
# LiteLLM no longer has is skipped.
LAZY_MODULES = (
    "litellm.litellm_core_utils.default_encoding",
    "litellm.llms.anthropic.pass_through.messages.streaming_iterator",
    "litellm.llms.anthropic.chat.guardrail_translation.handler",
    "litellm.proxy._experimental.mcp_server.mcp_server_manager",
    "litellm.integrations.shadow_eval_logger",
)


# Only the chat route (non-Claude bots) needs these (~150 ms): a config of Claude bots alone skips
# them, and a chat mapping added later pays them on its first request.
CHAT_ROUTE_MODULES = ("openai.resources.chat",)


from claude_poe_tui.proxy.protocol import WARM_LINE


async def warm_up(app: Any, *, chat_route: bool = True) -> None:
    started = time.perf_counter()
    for path in WARM_UP_PATHS:
        try:
            await _get(app, path)
        except Exception:  # a warm-up that fails costs nothing but the warmth
            pass
    modules = LAZY_MODULES + (CHAT_ROUTE_MODULES if chat_route else ())
    await asyncio.to_thread(_import_lazy_modules, modules)
    print(f"{WARM_LINE} in {time.perf_counter() - started:.1f} s", flush=True)


def _import_lazy_modules(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:
            pass


async def _get(app: Any, path: str) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
    }
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    await app(scope, receive, send)
