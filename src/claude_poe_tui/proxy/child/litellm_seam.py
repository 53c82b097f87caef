"""Every place this product touches LiteLLM, in one module, for one pinned LiteLLM.

LiteLLM is the engine: its ``Router`` picks deployments, enforces limits and runs fallbacks, and
its Anthropic<->OpenAI translation serves the chat route. What we use of it, and how:

* Public API: ``litellm.Router(model_list=..., **router_settings)``, ``Router.set_model_list``
  (reloads), ``Router.acompletion`` (``/v1/chat/completions``), ``litellm.anthropic_messages``
  (the translated chat route), ``litellm.token_counter`` (count_tokens estimates), its exception
  classes, and module settings (``drop_params``, ``telemetry``, logging).
* Beyond the documented surface, on purpose:
  - ``Router.factory_function(fn, call_type="anthropic_messages")``: the Router's own wrapper for
    ``/v1/messages`` (deployment choice, limits, fallbacks, the pre-content stream fallback), with
    our function making each attempt. It is how ``Router.aanthropic_messages`` itself is built;
    using it lets the Claude route send the body as Claude Code wrote it (LiteLLM's messages
    transformation drops fields, strips ``cache_control.ttl`` and sorts betas) and lets us see
    every attempt a fallback makes.
  - the attempt's keyword arguments: ``model_info`` (our ``poe_tui_route`` and
    ``poe_tui_mapping``), ``api_base``, ``api_key``, ``timeout`` as the Router resolved them.
  - the lazily imported modules paid for at start (``LAZY_MODULES``).
  - ``Logging.response_cost_calculator`` and ``Logging._record_zero_cost_diagnostic`` replaced by
    no-ops (:func:`_skip_cost_accounting`): LiteLLM's dollar pricing of each answer, unused here.

:func:`check_version` runs first in the child: any other LiteLLM version fails loudly at start
instead of misbehaving at the first request.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from claude_poe_tui.proxy.protocol import MAPPING_INFO_KEY, ROUTE_INFO_KEY

PINNED_VERSION = "1.106.0"

# Imported by LiteLLM 1.106 on a route's first call; paid before "ready" so no user waits for them.
LAZY_MODULES = (
    "litellm.litellm_core_utils.default_encoding",
    "litellm.llms.anthropic.pass_through.messages.streaming_iterator",
    "litellm.llms.anthropic.pass_through.adapters.handler",
    "litellm.llms.anthropic.pass_through.adapters.transformation",
    "litellm.llms.anthropic.pass_through.adapters.streaming_iterator",
    "litellm.llms.openai_like.chat.handler",
    "openai.resources.chat",
)


class WrongLiteLLM(RuntimeError):
    pass


def check_version() -> str:
    try:
        found = version("litellm")
    except PackageNotFoundError:
        raise WrongLiteLLM("LiteLLM is not installed: reinstall claude-poe-tui (pip install .)") from None
    if found != PINNED_VERSION:
        raise WrongLiteLLM(
            f"claude-poe-tui needs LiteLLM {PINNED_VERSION} and found {found}: reinstall claude-poe-tui "
            f"(pip install --force-reinstall .) so its pinned version comes back"
        )
    return found


def configure() -> None:
    """Module settings: quiet, local, and nothing beyond what a request asks."""
    import litellm

    litellm.drop_params = True  # a parameter a bot does not take is dropped, not an error
    litellm.telemetry = False
    litellm.suppress_debug_info = True
    litellm.set_verbose = False
    litellm.callbacks = []
    litellm.success_callback = []
    litellm.failure_callback = []
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    _skip_cost_accounting()


def _skip_cost_accounting() -> None:
    """LiteLLM prices every answer in dollars after it ends, then, as Poe's bots have no price in its
    map, diagnoses the zero cost to log one warning. Points are counted from Poe's own history
    (points/), so neither figure is read anywhere: on the chat route they were ~12% of the child's
    CPU per request. Cost stays None, which LiteLLM already handles (an unpriced model)."""
    from litellm.litellm_core_utils.litellm_logging import Logging

    Logging._record_zero_cost_diagnostic = lambda self, *args, **kwargs: None  # type: ignore[method-assign]
    Logging.response_cost_calculator = lambda self, *args, **kwargs: None  # type: ignore[method-assign]
    Logging._response_cost_calculator = Logging.response_cost_calculator  # type: ignore[method-assign]


def install_http_client() -> None:
    """The chat route's HTTP client: LiteLLM's own transport, with a check that each stream finished.

    LiteLLM's OpenAI-SDK path (Poe's chat completions) takes ``litellm.aclient_session`` when set.
    An upstream chat stream that stops without its last chunk (no ``finish_reason``, no
    ``[DONE]``) looks complete after LiteLLM's translation, which writes ``message_stop`` anyway;
    through this client it raises instead, so the client hears an error and the log records one.
    """
    import httpx
    import litellm
    from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler

    inner = AsyncHTTPHandler.create_async_transport() or httpx.AsyncHTTPTransport()
    litellm.aclient_session = httpx.AsyncClient(transport=_FinishCheckingTransport(inner), follow_redirects=True,
                                                timeout=None)


class _StreamEndedEarly(Exception):
    pass


def _finish_checking_transport_class() -> type:
    import httpx

    class FinishCheckingStream(httpx.AsyncByteStream):
        def __init__(self, inner: Any) -> None:
            self.inner = inner
            self.tail = b""
            self.finished = False

        async def __aiter__(self):  # type: ignore[override]
            async for chunk in self.inner:
                if not self.finished:
                    window = self.tail + chunk
                    if b"[DONE]" in window or _FINISHED.search(window):
                        self.finished = True
                    self.tail = window[-64:]
                yield chunk
            if not self.finished:
                raise httpx.RemoteProtocolError("Poe's stream ended before its last chunk (no finish_reason, no [DONE])")

        async def aclose(self) -> None:
            await self.inner.aclose()

    class FinishCheckingTransport(httpx.AsyncBaseTransport):
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def handle_async_request(self, request: Any) -> Any:
            response = await self.inner.handle_async_request(request)
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                response.stream = FinishCheckingStream(response.stream)
            return response

        async def aclose(self) -> None:
            await self.inner.aclose()

    return FinishCheckingTransport


def _FinishCheckingTransport(inner: Any) -> Any:  # noqa: N802 - a class made on first use (httpx imported late)
    return _finish_checking_transport_class()(inner)


_FINISHED = __import__("re").compile(rb'"finish_reason"\s*:\s*"')


def rewrite_error_event(chunk: bytes) -> tuple[bytes, tuple[int, str] | None]:
    """Split off an ``event: error`` LiteLLM wrote into a translated stream, read as (status, message).

    LiteLLM's text ("litellm.MidStreamFallbackError: litellm.APIConnectionError: …") never reaches
    the client: the engine raises instead and the gateway writes its own error event.
    """
    at = chunk.find(b"event: error")
    if at < 0:
        return chunk, None
    before, event = chunk[:at], chunk[at:]
    text = event.decode("utf-8", "replace")
    return before, classify_error_text(text)


def classify_error_text(text: str) -> tuple[int, str]:
    """(status, message) for an error LiteLLM reported as text."""
    from claude_poe_tui.proxy.child.errors import clean_message

    import json

    message = text
    for line in text.splitlines():
        if line.startswith("data:"):
            try:
                payload = json.loads(line[5:].strip())
                message = str((payload.get("error") or {}).get("message") or text)
            except (ValueError, AttributeError):
                pass
    if "ended before its last chunk" in message:
        return 502, "Poe's stream ended before its last chunk"
    if any(words in message for words in _JSON_DECODE_WORDS):
        return 502, "Poe sent a stream event that is not valid JSON"
    if "Timeout" in message or "timed out" in message:
        return 504, "Poe stopped sending mid-stream (no data within the request timeout)"
    if any(words in message for words in ("APIConnectionError", "not completed", "TransferEncodingError",
                                          "RemoteProtocolError", "ReadError", "ServerDisconnected", "Connection")):
        return 502, "Poe's stream was cut"
    status = 429 if "RateLimit" in message else 529 if "verloaded" in message else 500
    return status, clean_message(message)


def resolve_env_reference(value: Any) -> Any:
    """``os.environ/NAME`` -> the variable's value (the child's environment holds the secrets)."""
    import os

    if isinstance(value, str) and value.startswith("os.environ/"):
        return os.environ.get(value[len("os.environ/"):]) or None
    return value


def build_router(router_config: dict[str, Any]) -> Any:
    from litellm import Router

    settings = {k: resolve_env_reference(v) for k, v in (router_config.get("router_settings") or {}).items()}
    return Router(model_list=list(router_config.get("model_list") or []), **settings)


def set_model_list(router: Any, router_config: dict[str, Any]) -> None:
    """A reload: the Router's public API for a new model list, and its fallbacks."""
    router.set_model_list(list(router_config.get("model_list") or []))
    settings = router_config.get("router_settings") or {}
    router.fallbacks = settings.get("fallbacks") or []


def live_model_list(router: Any) -> list[dict[str, Any]]:
    """The deployments the Router serves now."""
    return list(router.get_model_list() or [])


def messages_entry(router: Any, attempt: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``/v1/messages`` through the Router's machinery, each attempt made by ``attempt``."""
    return router.factory_function(attempt, call_type="anthropic_messages")


async def translated_messages(router: Any, **kwargs: Any) -> Any:
    """The chat route: LiteLLM turns the Anthropic request into chat completions and back.

    ``litellm_router`` names our Router: without it LiteLLM's adapter imports its whole
    proxy-server app to look for one (150 MB more in the child, measured).
    """
    import litellm

    return await litellm.anthropic_messages(litellm_router=router, **kwargs)


def deployment_credentials(router: Any, model_name: str) -> tuple[str, str] | None:
    """(api_base, api_key) of the model group's first deployment, keys resolved from the environment."""
    import os

    for deployment in router.get_model_list(model_name=model_name) or []:
        params = deployment.get("litellm_params") or {}
        api_base, api_key = params.get("api_base"), params.get("api_key")
        if isinstance(api_key, str) and api_key.startswith("os.environ/"):
            api_key = os.environ.get(api_key[len("os.environ/"):])
        if isinstance(api_base, str) and isinstance(api_key, str) and api_key:
            return api_base, api_key
    return None


def attempt_target(kwargs: dict[str, Any]) -> tuple[str, str]:
    """(mapping name, route) of the deployment the Router chose for this attempt."""
    info = kwargs.get("model_info") or {}
    return str(info.get(MAPPING_INFO_KEY, "")), str(info.get(ROUTE_INFO_KEY, "chat"))


def fallback_exception(status: int, message: str, model: str) -> Exception:
    """A LiteLLM exception the Router reads as "this deployment failed" (falls back, no cooldown)."""
    from litellm import exceptions

    if status == 429:
        return exceptions.RateLimitError(message=message, llm_provider="poe", model=model)
    if status == 504:
        return exceptions.Timeout(message=message, model=model, llm_provider="poe")
    if status == 503:
        return exceptions.ServiceUnavailableError(message=message, llm_provider="poe", model=model)
    if status == 500:
        return exceptions.InternalServerError(message=message, llm_provider="poe", model=model)
    return exceptions.APIError(status_code=status, message=message, llm_provider="poe", model=model)


def exception_status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status
    response_status = getattr(getattr(exc, "response", None), "status_code", None)
    return response_status if isinstance(response_status, int) else None


def exception_headers(exc: BaseException) -> dict[str, str]:
    for candidate in (
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
        getattr(exc, "headers", None),
    ):
        if candidate:
            try:
                return {str(k).lower(): str(v) for k, v in dict(candidate).items()}
            except (TypeError, ValueError):
                continue
    return {}


def is_timeout(exc: BaseException) -> bool:
    from litellm import exceptions

    return isinstance(exc, exceptions.Timeout)


_JSON_DECODE_WORDS = ("Expecting value", "Expecting property name", "Unterminated string", "Extra data",
                      "Invalid control character", "JSONDecodeError", "Invalid \\escape")


def is_invalid_json(exc: BaseException) -> bool:
    """Whether LiteLLM failed because Poe's answer was not valid JSON (it wraps the JSONDecodeError)."""
    import json

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, json.JSONDecodeError):
            return True
        current = getattr(current, "original_exception", None) or current.__cause__ or current.__context__
    text = str(getattr(exc, "message", "") or exc)
    return any(words in text for words in _JSON_DECODE_WORDS)


def is_connection_error(exc: BaseException) -> bool:
    """Whether the connection to Poe failed or broke (LiteLLM may wrap it as a 500)."""
    import httpx
    import openai
    from litellm import exceptions

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (exceptions.APIConnectionError, openai.APIConnectionError, httpx.TransportError,
                                ConnectionError)) and not isinstance(current, openai.APITimeoutError):
            return True
        current = getattr(current, "original_exception", None) or current.__cause__ or current.__context__
    return "Connection error" in str(getattr(exc, "message", "") or exc)


# The system prompt Anthropic adds to every request that carries tools (its tool-use pricing table,
# the same for Claude 3.5 Sonnet (Oct) through the Claude 4 family): a request with one small tool
# counts ~400 tokens, not the ~60 its text makes.
TOOL_USE_SYSTEM_TOKENS = {"auto": 346, "none": 346, "any": 313, "tool": 313}


def count_tokens(*, claude: bool, messages: Any, system: Any = None, tools: Any = None,
                 tool_choice: Any = None) -> int:
    """An estimate of the input tokens, with LiteLLM's bundled tokenizers (no network).

    Claude bots: LiteLLM's bundled Anthropic tokenizer, plus the tool-use system prompt Anthropic
    documents; other bots: OpenAI's o200k (GPT-4o's). Thinking in earlier assistant turns is not
    counted (Anthropic ignores it; the chat route does not send it). How close this comes to
    Anthropic's published counts: ``benchmarks/bench_count_tokens.py``.
    """
    import litellm

    text_messages: list[dict[str, Any]] = []
    if system:
        text_messages.append({"role": "system", "content": _plain_text(system)})
    if isinstance(messages, list):
        last = len(messages) - 1
        for index, message in enumerate(messages):
            if isinstance(message, dict):
                role = str(message.get("role", "user"))
                earlier_turn = role == "assistant" and index != last
                text_messages.append({"role": role,
                                      "content": _plain_text(message.get("content"), with_thinking=not earlier_turn)})
    if tools:
        import json

        text_messages.append({"role": "system", "content": json.dumps(tools, ensure_ascii=False)})
    model = "claude-3-5-sonnet-20240620" if claude else "gpt-4o"
    tokens = int(litellm.token_counter(model=model, messages=text_messages))
    if claude and tools:
        choice = tool_choice.get("type") if isinstance(tool_choice, dict) else None
        tokens += TOOL_USE_SYSTEM_TOKENS.get(str(choice), TOOL_USE_SYSTEM_TOKENS["auto"])
    return tokens


def _plain_text(content: Any, *, with_thinking: bool = True) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        import json

        parts = []
        for block in content:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text":
                parts.append(str(block.get("text", "")))
            elif kind == "thinking" and with_thinking:
                parts.append(str(block.get("thinking", "")))
            elif kind == "tool_use":
                parts.append(f"{block.get('name', '')} {json.dumps(block.get('input', {}), ensure_ascii=False)}")
            elif kind == "tool_result":
                parts.append(_plain_text(block.get("content")))
            elif kind in ("image", "document"):
                parts.append(" " * 4 * 1600)  # ~1,600 tokens, Anthropic's size for a typical image
        return "\n".join(parts)
    return "" if content is None else str(content)


def import_lazy_modules(chat_route: bool) -> None:
    for name in LAZY_MODULES:
        if not chat_route and name.startswith("openai."):
            continue
        try:
            importlib.import_module(name)
        except Exception:  # a module a later LiteLLM no longer has costs only the warmth
            pass
