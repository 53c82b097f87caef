"""The engine: LiteLLM's Router behind our gateway, and the one request each attempt makes.

A ``/v1/messages`` request goes into the Router as a *call*; the Router picks the mapping's
deployment (and, when it fails before answering, each fallback in turn) and hands every attempt to
:meth:`Engine._attempt`, which shapes the body for that bot (shaping.py) and makes exactly one
upstream request: Poe's ``/v1/messages`` as Claude Code sent it (Claude bots), or LiteLLM's
translation to chat completions (every other bot). Every attempt is kept on the call, so the
request log can name the bot that answered and the bots that failed before it.

Which failures fall back: 429, 402, 5xx, timeouts, connection errors and a broken answer, when
they happen before the first byte reaches the client. 400, 401, 403, 404 and 413 are the
request's own fault and would fail on any bot: the attempt hands them back as a refusal, so the
Router neither falls back nor cools the deployment down.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from claude_poe_tui.proxy.child import litellm_seam as seam
from claude_poe_tui.proxy.child.limits import Limiter
from claude_poe_tui.proxy.child.errors import anthropic_error_type, clean_message
from claude_poe_tui.proxy.child.settings import GatewaySettings, MappingInfo
from claude_poe_tui.proxy.child.shaping import Shaped, shape_for
from claude_poe_tui.proxy.child.upstream import CountingUnsupported, PoeMessages, UpstreamFailure
from claude_poe_tui.proxy.protocol import KEY_INFO_KEY, LIMITS_INFO_KEY, MAPPING_INFO_KEY

CALL_KWARG = "poe_tui_call"  # how a call travels through the Router to our attempt function
NO_FALLBACK_STATUSES = frozenset({400, 401, 403, 404, 413, 422})
KEY_FAILURES = frozenset({401, 402})  # a pool key that answers these is taken out of the pool
DEAD_KEY_SECONDS = 600.0  # a key taken out is tried again after this (points may have been bought)
# Body fields the Router sees (for routing and limits); the attempt builds the rest per bot.
ROUTER_FIELDS = ("messages", "max_tokens", "stream")


@dataclass
class Attempt:
    """One bot tried for a call."""

    model: str
    poe_model: str
    route: str
    shaped: Shaped
    deployment: str = ""
    """``<mapping>:<key variable>``: what limits count against."""
    limits: dict[str, int] = field(default_factory=dict)
    poe_key: str | None = None
    """The pool key's variable, with ``[poe] api_keys``."""
    status: int | None = None
    error_type: str | None = None
    message: str | None = None
    retry_after: str | None = None

    @property
    def failed(self) -> bool:
        return self.status is not None and self.status >= 400

    def fail(self, status: int, message: str, retry_after: str | None = None) -> None:
        self.status, self.message, self.retry_after = status, message, retry_after
        self.error_type = anthropic_error_type(status)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "poe_model": self.poe_model, "status": self.status,
                "error_type": self.error_type, **({"poe_key": self.poe_key} if self.poe_key else {})}


@dataclass
class MessagesCall:
    """One client request to ``/v1/messages``, through all the bots it tries."""

    model: str
    body: dict[str, Any]
    """As the client sent it; each attempt shapes its own copy."""
    stream: bool
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    query: bytes = b""
    attempts: list[Attempt] = field(default_factory=list)
    refusal: Attempt | None = None
    """Set when a bot refused the request itself (400/401/404…): no fallback, the client hears it."""

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None


class _Refused:
    """What an attempt returns for a refusal: the Router sees an (empty) answer and stops there."""

    def __aiter__(self) -> _Refused:
        return self

    async def __anext__(self) -> bytes:
        raise StopAsyncIteration


class Engine:
    def __init__(self, router_config: dict[str, Any], settings: GatewaySettings, say=print) -> None:
        self.settings = settings
        self.router_config = router_config
        self.router = seam.build_router(router_config)
        self._messages = seam.messages_entry(self.router, self._attempt)
        self.upstream = PoeMessages()
        self.poe_counts_tokens: bool | None = None  # unknown until Poe is asked once
        self.limits = Limiter(seam.resolve_env_reference(settings.redis_url), say=say)
        self.dead_keys: dict[str, tuple[float, str]] = {}
        """Pool keys taken out: variable -> (until when, why)."""
        self._say = say

    async def start(self) -> None:
        await self.limits.start()

    def reload(self, router_config: dict[str, Any]) -> None:
        self.router_config = router_config
        self.dead_keys.clear()  # a new configuration gives every key a new chance
        seam.set_model_list(self.router, router_config)

    async def close(self) -> None:
        await self.upstream.close()
        await self.limits.close()

    # -- key pools --

    def _take_out_key(self, key_env: str, reason: str) -> None:
        """A pool key that answered 401/402 leaves the Router's model list for a while."""
        if key_env in self.dead_keys:
            return
        self.dead_keys[key_env] = (time.monotonic() + DEAD_KEY_SECONDS, reason)
        self._say(f"claude-poe-tui: Poe key {key_env} taken out of the pool: {reason}")
        self._apply_live_keys()

    def _apply_live_keys(self) -> None:
        now = time.monotonic()
        for key_env in [k for k, (until, _) in self.dead_keys.items() if until <= now]:
            del self.dead_keys[key_env]
        live = [d for d in self.router_config.get("model_list", [])
                if (d.get("model_info") or {}).get(KEY_INFO_KEY) not in self.dead_keys]
        seam.set_model_list(self.router, {**self.router_config, "model_list": live})

    def _other_live_key(self, mapping: str, tried: set[str]) -> tuple[str, str] | None:
        """(variable, key) of a pool key for ``mapping`` neither dead nor tried in this request."""
        import os

        for deployment in self.router_config.get("model_list", []):
            info = deployment.get("model_info") or {}
            key_env = info.get(KEY_INFO_KEY)
            if info.get(MAPPING_INFO_KEY) == mapping and key_env and key_env not in tried and key_env not in self.dead_keys:
                value = os.environ.get(key_env)
                if value:
                    return key_env, value
        return None

    def key_status(self) -> dict[str, str]:
        """Pool keys taken out, and why (the status page; Keys in the dashboard)."""
        if any(until <= time.monotonic() for until, _ in self.dead_keys.values()):
            self._apply_live_keys()
        return {key: why for key, (_, why) in self.dead_keys.items()}

    # -- /v1/messages --

    async def messages(self, call: MessagesCall) -> dict[str, Any] | AsyncIterator[bytes]:
        """The answer (a dict, or SSE bytes) once a bot has begun answering; raises when all failed.

        Check ``call.refusal`` first: a bot's refusal comes back as an empty answer.
        """
        if self.dead_keys:
            self.key_status()  # keys whose time out is over come back first
            if not any(d.get("model_name") == call.model for d in seam.live_model_list(self.router)):
                reasons = "; ".join(f"{key}: {why}" for key, why in self.key_status().items())
                raise UpstreamFailure(503, f"every key of [poe] api_keys is out of the pool for now ({reasons})")
        kwargs = {key: call.body[key] for key in ROUTER_FIELDS if key in call.body}
        kwargs["stream"] = call.stream
        return await self._messages(model=call.model, **kwargs, **{CALL_KWARG: call})

    async def _attempt(self, **kwargs: Any) -> Any:
        call: MessagesCall = kwargs.pop(CALL_KWARG)
        name, route = seam.attempt_target(kwargs)
        info = kwargs.get("model_info") or {}
        mapping = self.settings.models.get(name) or MappingInfo(name, kwargs.get("model", "?"), route)
        body, shaped = shape_for(call.body, mapping)
        key_env = info.get(KEY_INFO_KEY)
        attempt = Attempt(model=mapping.name, poe_model=mapping.poe_model, route=route, shaped=shaped,
                          deployment=f"{mapping.name}:{key_env or 'poe'}", limits=dict(info.get(LIMITS_INFO_KEY) or {}),
                          poe_key=key_env)
        call.attempts.append(attempt)
        refusal = await self.limits.take(attempt.deployment, mapping.name, attempt.limits)
        if refusal is not None:
            return self._failed(call, attempt, 429, refusal.message, str(refusal.retry_after))
        timeout = float(kwargs.get("timeout") or self.settings.request_timeout)
        api_key = kwargs["api_key"]
        tried: set[str] = set()
        while True:
            try:
                result = await self._send(route, kwargs, api_key, body, call, timeout)
                break
            except UpstreamFailure as failure:
                status, message, retry_after = failure.status, failure.message, failure.retry_after
            except Exception as exc:  # LiteLLM's, from the chat route
                status, message, retry_after = describe_exception(exc)
            if status in KEY_FAILURES and key_env:
                # The key, not the bot: out of the pool, and the request goes to the next key.
                tried.add(key_env)
                self._take_out_key(key_env, f"Poe answered {status}: {message}")
                other = self._other_live_key(mapping.name, tried)
                if other is not None:
                    key_env, api_key = other
                    attempt.poe_key, attempt.deployment = key_env, f"{mapping.name}:{key_env}"
                    continue
                message = f"every key of [poe] api_keys was refused; the last said: {message}"
            return self._failed(call, attempt, status, message, retry_after)
        if call.stream:
            return self._watched(result, attempt, translated=route != "messages")
        if isinstance(result, dict):
            result.pop("_hidden_params", None)
        return result

    async def _send(self, route: str, kwargs: dict[str, Any], api_key: str, body: dict[str, Any], call: MessagesCall,
                    timeout: float) -> Any:
        """The one upstream request of an attempt."""
        if route == "messages":
            return await self.upstream.send(
                api_base=kwargs["api_base"], api_key=api_key,
                body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                headers=call.headers, query=call.query, stream=call.stream, timeout=timeout,
            )
        translated = self._translated_kwargs(kwargs, body, call.stream)
        translated["api_key"] = api_key
        return await seam.translated_messages(self.router, **translated)

    async def count_usage(self, attempt: Attempt | None, tokens: int | None) -> None:
        """After an answer: its tokens count against the deployment's ``tpm``."""
        if attempt is not None and tokens:
            await self.limits.add_tokens(attempt.deployment, attempt.limits, tokens)

    @staticmethod
    def _translated_kwargs(kwargs: dict[str, Any], body: dict[str, Any], stream: bool) -> dict[str, Any]:
        translated = {k: v for k, v in kwargs.items() if k not in ROUTER_FIELDS}
        translated.update({k: v for k, v in body.items() if k != "model"})
        translated["stream"] = stream
        return translated

    def _failed(self, call: MessagesCall, attempt: Attempt, status: int, message: str, retry_after: str | None) -> Any:
        attempt.fail(status, message, retry_after)
        if status in NO_FALLBACK_STATUSES:
            call.refusal = attempt
            return _Refused() if call.stream else {"type": "refused"}
        raise seam.fallback_exception(status, message, attempt.poe_model)

    async def _watched(self, stream: AsyncIterator[bytes], attempt: Attempt, translated: bool) -> AsyncIterator[bytes]:
        """The attempt's stream; a failure inside it is noted on the attempt, then raised on."""
        try:
            async for chunk in stream:
                error = None
                if translated and b"event: error" in chunk:
                    # LiteLLM reports a broken upstream stream as an error event of its own.
                    chunk, error = seam.rewrite_error_event(chunk)
                if chunk:
                    yield chunk
                if error is not None:
                    raise UpstreamFailure(*error, during_stream=True)
        except UpstreamFailure as failure:
            attempt.fail(failure.status, failure.message, failure.retry_after)
            raise seam.fallback_exception(failure.status, failure.message, attempt.poe_model) from None
        except Exception as exc:
            status, message, retry_after = describe_exception(exc)
            attempt.fail(status, message, retry_after)
            raise

    # -- /v1/chat/completions --

    async def chat_completions(self, body: dict[str, Any]) -> Any:
        return await self.router.acompletion(**body)

    # -- /v1/messages/count_tokens --

    def count_tokens(self, mapping: MappingInfo, body: dict[str, Any]) -> int:
        """An estimate with LiteLLM's bundled tokenizers (blocking: call in a thread)."""
        return seam.count_tokens(
            claude=mapping.route == "messages", messages=body.get("messages"), system=body.get("system"),
            tools=body.get("tools"), tool_choice=body.get("tool_choice"),
        )

    async def poe_count_tokens(self, mapping: MappingInfo, body: dict[str, Any],
                               headers: list[tuple[bytes, bytes]]) -> int | None:
        """Poe's own count for a Claude bot, when Poe answers ``count_tokens``; else None."""
        if mapping.route != "messages" or self.poe_counts_tokens is False:
            return None
        credentials = seam.deployment_credentials(self.router, mapping.name)
        if credentials is None:
            return None
        payload = json.dumps({**body, "model": mapping.poe_model}, ensure_ascii=False).encode("utf-8")
        try:
            tokens = await self.upstream.count_tokens(api_base=credentials[0], api_key=credentials[1], body=payload,
                                                      headers=headers)
        except CountingUnsupported:
            self.poe_counts_tokens = False
            return None
        if tokens is not None:
            self.poe_counts_tokens = True
        return tokens


def describe_exception(exc: BaseException) -> tuple[int, str, str | None]:
    """(status, Poe's message, Retry-After) out of whatever LiteLLM raised."""
    if isinstance(exc, UpstreamFailure):
        return exc.status, exc.message, exc.retry_after
    status = seam.exception_status(exc)
    if seam.is_invalid_json(exc):
        return 502, f"Poe's answer is not valid JSON ({clean_message(str(exc))})", None
    if seam.is_timeout(exc) or status == 408:
        status = 504
    elif seam.is_connection_error(exc):
        return 502, f"could not reach Poe, or the connection broke: {clean_message(str(exc))}", None
    elif status is None:
        status = 500
    headers = seam.exception_headers(exc)
    retry_after = headers.get("retry-after") or headers.get("llm_provider-retry-after")
    message = clean_message(getattr(exc, "message", None) or str(exc))
    return status, message, retry_after
