"""A stand-in for api.poe.com on loopback, behaving like Poe's documented API.

Serves what claude-poe-tui talks to:

* ``POST /v1/chat/completions``: OpenAI chat completions, streaming or not, with tool calls.
* ``POST /v1/messages``: the Anthropic-compatible endpoint, for Claude bots only.
* ``GET /v1/models``: the bot catalog (no auth, as on Poe).
* ``GET /usage/current_balance`` and ``GET /usage/points_history``.

Errors use Poe's shapes: ``{"error": {"code", "type", "message"}}`` on the OpenAI side and
``{"type": "error", "error": {"type", "message"}}`` on ``/v1/messages``.

The replies are scripted so tests can drive real clients through it:

* A user turn containing ``use the NAME tool with {JSON}`` gets a call to tool NAME with those
  arguments, when the request offers a tool of that name.
* After a tool result it answers ``Tool result received: <first 80 characters of the result>``.
* Otherwise it answers ``Hello from <bot>.`` (streamed word by word when asked to stream).
* On chat completions, a bot given one of its own reasoning parameters (``thinking_budget``,
  ``reasoning_effort``: top-level body fields, per its catalog entry) also returns
  ``reasoning_content``: ``Reasoning with thinking_budget=31999.``

With ``--strict`` it also refuses what real upstreams refuse, from each bot's catalog entry:

* ``max_tokens`` (or ``max_completion_tokens``) above the bot's ``max_output_tokens``: 400, on chat
  completions OpenAI's ``max_tokens is too large: N. This model supports at most M completion
  tokens, whereas you provided N.``, on ``/v1/messages`` Anthropic's ``max_tokens: N > M, which is
  the maximum allowed number of output tokens for BOT``;
* a prompt above the bot's ``context_length``: 400, OpenAI's ``This model's maximum context length
  is M tokens. However, your messages resulted in N tokens.`` or Anthropic's ``prompt is too long:
  N tokens > M maximum``. Prompt tokens are estimated as the JSON text of ``system``, ``messages``
  and ``tools`` divided by 4 (:func:`prompt_estimate`);
* on ``/v1/messages``, a ``thinking`` block whose ``signature`` (or a ``redacted_thinking`` block
  whose ``data``) this stand-in did not issue: 400 ``messages.I.content.J: Invalid `signature` in
  `thinking` block``, as Anthropic answers. The stand-in signs its own thinking blocks.

Test control, not part of Poe's API:

* ``POST /_standin/faults`` queues failures: ``{"status": 429, "count": 1, "retry_after": "7",
  "message": "...", "delay": 0.0}``. ``status`` 200 with a ``delay`` makes the next replies slow.
  A ``kind`` breaks the answer instead of failing it: ``reset`` (the connection is reset before any
  answer), ``cut`` (the connection closes after ``after`` stream events, or mid-body), ``badjson``
  (after ``after`` events an event that is not JSON; unstreamed, a body that is not JSON),
  ``early_end`` (the stream ends after ``after`` events without its last events), ``stall`` (after
  ``after`` events nothing for ``delay`` seconds).
* ``--fault-rate 0.05`` gives each request that chance of a random fault of every kind (soaks);
  ``GET /_standin/served`` counts the requests received per path since start.
  With ``"path": "/usage/points_history"`` (or ``/usage/current_balance``) the fault applies to that
  endpoint only (faults without a path apply to the model endpoints only); ``"body": "..."`` with
  status 200 answers that text instead (a malformed answer).
* ``POST /_standin/spend`` adds entries to the points history as if queries had been made
  elsewhere: ``{"bot": "GPT-4o", "points": 120, "usage_type": "Chat", "creation_time": <µs>,
  "count": 1}`` (all optional but ``bot``); the balance goes down by the points.
* ``GET /_standin/requests`` lists the requests received (method, path, headers, JSON body);
  ``DELETE /_standin/requests`` clears it.
* ``POST /_standin/models_delay`` ``{"seconds": 8}``: ``GET /v1/models`` answers that much later (a slow Poe).

Run: ``python tests/poe_standin.py --port 8123 [--key KEY ...] [--chunks N] [--chunk-delay S] [--strict]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import hashlib
import hmac
import json
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

DEFAULT_KEYS = ("poe-test-key",)

# Poe's catalog, as `/v1/models` describes it. Claude bots are owned by Anthropic and are the
# only ones served on `/v1/messages`.
CATALOG: list[dict[str, Any]] = [
    {
        "id": "Claude-Sonnet-4.5",
        "metadata": {"display_name": "Claude Sonnet 4.5"},
        "owned_by": "Anthropic",
        "context_window": {"context_length": 200000, "max_output_tokens": 64000},
        "pricing": {"prompt": "0.0000026", "completion": "0.000013"},
        "reasoning": {"budget": {"max_tokens": 63999, "min_tokens": 1024}, "supports_reasoning_effort": False},
        "parameters": [{"name": "thinking_budget", "schema": {"type": "integer"}}],
    },
    {
        "id": "Claude-Opus-4.5",
        "metadata": {"display_name": "Claude Opus 4.5"},
        "owned_by": "Anthropic",
        "context_window": {"context_length": 200000, "max_output_tokens": 64000},
        "pricing": {"prompt": "0.0000043", "completion": "0.000021"},
        "reasoning": {"budget": {"max_tokens": 63999, "min_tokens": 1024}, "supports_reasoning_effort": False},
        "parameters": [{"name": "thinking_budget", "schema": {"type": "integer"}}],
    },
    {
        "id": "Claude-Haiku-4.5",
        "metadata": {"display_name": "Claude Haiku 4.5"},
        "owned_by": "Anthropic",
        "context_window": {"context_length": 200000, "max_output_tokens": 64000},
        "pricing": {"prompt": "0.00000085", "completion": "0.0000043"},
        "reasoning": None,
        "parameters": [],
    },
    {
        "id": "GPT-5",
        "metadata": {"display_name": "GPT-5"},
        "owned_by": "OpenAI",
        "context_window": {"context_length": 400000, "max_output_tokens": 128000},
        "pricing": {"prompt": "0.0000011", "completion": "0.0000090"},
        "reasoning": {"budget": None, "supports_reasoning_effort": True},
        "parameters": [
            {"name": "reasoning_effort", "schema": {"type": "string", "enum": ["minimal", "low", "medium", "high"]}}
        ],
    },
    {
        "id": "GPT-4o",
        "metadata": {"display_name": "GPT-4o"},
        "owned_by": "OpenAI",
        "context_window": {"context_length": 128000, "max_output_tokens": 16384},
        "pricing": {"prompt": "0.0000022", "completion": "0.0000090"},
        "reasoning": None,
        "parameters": [],
    },
    {
        "id": "Gemini-2.5-Pro",
        "metadata": {"display_name": "Gemini 2.5 Pro"},
        "owned_by": "Google",
        "context_window": {"context_length": 1048576, "max_output_tokens": 65536},
        "pricing": {"prompt": "0.00000087", "completion": "0.0000070"},
        "reasoning": {"budget": {"max_tokens": 32768, "min_tokens": 128}, "supports_reasoning_effort": False},
        "parameters": [{"name": "thinking_budget", "schema": {"type": "integer", "maximum": 32768}}],
    },
]
CATALOG_BY_LOWER_ID = {bot["id"].lower(): bot for bot in CATALOG}

TOOL_DIRECTIVE = re.compile(r"use the (\w+) tool with (\{.*?\})(?:\s|$)", re.IGNORECASE | re.DOTALL)

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_credits",
    403: "moderation_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "provider_error",
    502: "upstream_error",
    529: "overloaded_error",
}


@dataclass
class Fault:
    status: int
    count: int = 1
    message: str = ""
    retry_after: str | None = None
    delay: float = 0.0
    kind: str = ""
    after: int = 1
    path: str | None = None
    body: str | None = None


# The faults a soak draws from, one of each kind (statuses Poe documents, and broken answers).
RANDOM_FAULTS = (
    lambda: Fault(429, retry_after="1", message="rate limited (soak)"),
    lambda: Fault(402, message="out of points (soak)"),
    lambda: Fault(500, message="provider error (soak)"),
    lambda: Fault(502, message="upstream error (soak)"),
    lambda: Fault(503, message="unavailable (soak)"),
    lambda: Fault(529, message="overloaded (soak)"),
    lambda: Fault(200, kind="reset"),
    lambda: Fault(200, kind="cut", after=2),
    lambda: Fault(200, kind="badjson", after=2),
    lambda: Fault(200, kind="early_end", after=2),
    lambda: Fault(200, kind="stall", after=2, delay=4.0),
)


def reset_connection(request: Request) -> None:
    """Reset the client's TCP connection now (RST, no answer), as a dying upstream does."""
    import socket
    import struct

    cycle = getattr(request.receive, "__self__", None)  # uvicorn's request cycle owns the transport
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("no transport to reset")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def broken(stream: Any, fault: Fault) -> Any:
    """``stream`` with ``fault`` applied after ``fault.after`` events."""
    sent = 0
    async for piece in stream:
        if sent == fault.after:
            if fault.kind == "cut":
                raise ConnectionError("stand-in: stream cut")
            if fault.kind == "badjson":
                yield b"data: {this is not json\n\n"
                return
            if fault.kind == "early_end":
                return
            if fault.kind == "stall":
                await asyncio.sleep(fault.delay)
        yield piece
        sent += 1


@dataclass
class StandinState:
    keys: tuple[str, ...]
    chunks: int
    chunk_delay: float
    strict: bool = False
    models_delay: float = 0.0
    faults: collections.deque[Fault] = field(default_factory=collections.deque)
    requests: collections.deque[dict[str, Any]] = field(default_factory=lambda: collections.deque(maxlen=500))
    spent: list[dict[str, Any]] = field(default_factory=list)
    balance: int = 1_000_000
    counts_tokens: bool = False  # serve /v1/messages/count_tokens (Poe's support is not documented)
    fault_rate: float = 0.0  # chance that a request meets a random fault of any kind (soak tests)
    fault_random: Any = None
    served: collections.Counter = field(default_factory=collections.Counter)  # requests per path, ever

    def take_fault(self, path: str | None = None) -> Fault | None:
        """The first queued fault for ``path`` (``None``: the model endpoints); else, on the model
        endpoints, a random one at ``fault_rate`` (soaks)."""
        for fault in self.faults:
            if fault.path == path:
                break
        else:
            if path is None and self.fault_rate and self.fault_random.random() < self.fault_rate:
                return self.fault_random.choice(RANDOM_FAULTS)()
            return None
        fault.count -= 1
        if fault.count <= 0:
            self.faults.remove(fault)
        return fault


# --- helpers ------------------------------------------------------------------------------------


def poe_error(status: int, message: str, retry_after: str | None = None) -> JSONResponse:
    headers = {"Retry-After": retry_after} if retry_after else None
    body = {"error": {"code": status, "type": ERROR_TYPES.get(status, "provider_error"), "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def anthropic_error(status: int, message: str, retry_after: str | None = None) -> JSONResponse:
    anthropic_types = {402: "billing_error", 403: "permission_error", 408: "timeout_error", 500: "api_error",
                       502: "api_error"}
    error_type = anthropic_types.get(status) or ERROR_TYPES.get(status, "api_error")
    headers = {"Retry-After": retry_after} if retry_after else None
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def bearer_or_api_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict):
                if block.get("type") == "text":
                    parts.append(block.get("text", ""))
                elif block.get("type") == "tool_result":
                    parts.append(text_of(block.get("content")))
        return "\n".join(parts)
    return ""


def count_tokens(text: str) -> int:
    return max(1, len(text.split()))


def prompt_estimate(body: dict[str, Any]) -> int:
    """Prompt tokens for the limit checks: ~4 characters a token over what the model reads."""
    read = {key: body[key] for key in ("system", "messages", "tools") if key in body}
    return len(json.dumps(read, ensure_ascii=False)) // 4


SIGNING_KEY = b"poe-standin-thinking"


def sign(text: str) -> str:
    """The signature this stand-in gives a thinking block (Anthropic's are opaque; ours can be checked)."""
    return base64.b64encode(hmac.new(SIGNING_KEY, text.encode(), hashlib.sha256).digest()).decode()


def foreign_thinking(messages: list[Any]) -> str | None:
    """Where the first thinking block this stand-in did not sign sits (``messages.1.content.0``)."""
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") != "assistant" or not isinstance(message.get("content"), list):
            continue
        for j, block in enumerate(message["content"]):
            if not isinstance(block, dict):
                continue
            if block.get("type") == "thinking" and block.get("signature") != sign(str(block.get("thinking", ""))):
                return f"messages.{i}.content.{j}"
            if block.get("type") == "redacted_thinking" and not str(block.get("data", "")).startswith(sign("redacted")):
                return f"messages.{i}.content.{j}"
    return None


def limits_of(bot: dict[str, Any]) -> tuple[int | None, int | None]:
    window = bot.get("context_window") or {}
    return window.get("context_length"), window.get("max_output_tokens")


def words_of(text: str, pieces: int) -> list[str]:
    """Split ``text`` into about ``pieces`` chunks that join back to it."""
    words = text.split(" ")
    if pieces <= len(words):
        per = max(1, len(words) // pieces)
        chunks = [" ".join(words[i : i + per]) for i in range(0, len(words), per)]
        return [c + (" " if i < len(chunks) - 1 else "") for i, c in enumerate(chunks)]
    # More pieces than words: pad with single spaces so the stream has the asked-for length.
    return [w + " " for w in words[:-1]] + [words[-1]] + [""] * (pieces - len(words))


@dataclass
class Plan:
    """What the bot will answer: text, or one tool call."""

    text: str | None = None
    tool_name: str | None = None
    tool_args: dict[str, Any] | None = None


def current_turn(messages: list[dict[str, Any]]) -> tuple[str, bool]:
    """The text of the messages after the last assistant message, and whether a tool result is among them.

    A model answers the whole turn: Claude Code's turns carry reminders in separate blocks, which
    LiteLLM's translation makes separate messages (a tool result becomes a ``tool`` message).
    """
    turn: list[dict[str, Any]] = []
    for message in reversed(messages):
        if message.get("role") == "assistant":
            break
        turn.insert(0, message)
    tool_result = any(
        m.get("role") == "tool"
        or (isinstance(m.get("content"), list)
            and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in m["content"]))
        for m in turn
    )
    if tool_result:  # answer with the result's own text
        texts = [text_of(m.get("content")) for m in turn if m.get("role") == "tool"] or [
            text_of([b for b in m["content"] if isinstance(b, dict) and b.get("type") == "tool_result"])
            for m in turn if isinstance(m.get("content"), list)
        ]
        return "\n".join(t for t in texts if t), True
    return "\n".join(text_of(m.get("content")) for m in turn), False


def plan_reply(bot: str, turn_text: str, turn_has_tool_result: bool, tool_names: set[str]) -> Plan:
    if turn_has_tool_result:
        return Plan(text=f"Tool result received: {turn_text.strip()[:80]}")
    match = TOOL_DIRECTIVE.search(turn_text)
    if match and match.group(1) in tool_names:
        try:
            return Plan(tool_name=match.group(1), tool_args=json.loads(match.group(2)))
        except json.JSONDecodeError:
            pass
    return Plan(text=f"Hello from {bot}.")


# --- the app ------------------------------------------------------------------------------------


def create_app(state: StandinState) -> Starlette:
    async def record(request: Request, body: Any) -> None:
        state.served[request.url.path] += 1
        state.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": dict(request.headers),
                "body": body,
                "time": time.time(),
            }
        )

    async def read_json(request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            return None

    async def apply_fault(request: Request, anthropic: bool) -> Response | Fault | None:
        """A failure answer, a fault that breaks the answer (applied by the caller), or None."""
        fault = state.take_fault()
        if fault is None:
            return None
        if fault.kind == "reset":
            reset_connection(request)
            return Response(status_code=500)  # never reaches anyone: the connection is gone
        if fault.kind:
            return fault
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.status == 200:
            return None
        make = anthropic_error if anthropic else poe_error
        return make(fault.status, fault.message or f"Injected failure {fault.status}", fault.retry_after)

    def broken_answer(fault: Fault, payload: dict[str, Any]) -> Response:
        if fault.kind == "badjson":
            return Response(b"{this is not json", media_type="application/json")
        if fault.kind == "cut":
            raw = json.dumps(payload).encode()

            async def half():
                yield raw[: len(raw) // 2]
                raise ConnectionError("stand-in: body cut")

            return StreamingResponse(half(), media_type="application/json", headers={"content-length": str(len(raw))})
        return JSONResponse(payload)

    def spend(bot: str, points: int, usage_type: str = "API", creation_time: int | None = None) -> None:
        state.balance -= points
        state.spent.append(
            {
                "creation_time": creation_time or int(time.time() * 1_000_000),
                "bot_name": bot,
                "query_id": uuid.uuid4().hex,
                "usage_type": usage_type,
                "cost_points": points,
            }
        )

    async def usage_fault(path: str) -> Response | None:
        fault = state.take_fault(path)
        if fault is None:
            return None
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.body is not None:
            return Response(fault.body, status_code=fault.status, media_type="application/json")
        if fault.status == 200:
            return None
        return poe_error(fault.status, fault.message or f"Injected failure {fault.status}", fault.retry_after)

    # -- OpenAI chat completions --

    async def chat_completions(request: Request) -> Response:
        body = await read_json(request)
        await record(request, body)
        key = bearer_or_api_key(request)
        if key not in state.keys:
            return poe_error(401, "Invalid API key. Get yours at https://poe.com/api_key")
        if not isinstance(body, dict) or not body.get("messages"):
            return poe_error(400, "`messages` is required")
        bot = CATALOG_BY_LOWER_ID.get(str(body.get("model", "")).lower())
        if bot is None:
            return poe_error(404, f"Model '{body.get('model')}' does not exist or is not available via the API")
        if state.strict:
            context, max_output = limits_of(bot)
            asked = body.get("max_completion_tokens") or body.get("max_tokens")
            if max_output and isinstance(asked, int) and asked > max_output:
                return poe_error(400, f"max_tokens is too large: {asked}. This model supports at most {max_output} "
                                      f"completion tokens, whereas you provided {asked}.")
            prompt = prompt_estimate(body)
            if context and prompt > context:
                return poe_error(400, f"This model's maximum context length is {context} tokens. However, your "
                                      f"messages resulted in {prompt} tokens. Please reduce the length of the messages.")
        failure = await apply_fault(request, anthropic=False)
        fault = failure if isinstance(failure, Fault) else None
        if failure is not None and fault is None:
            return failure

        messages = body["messages"]
        tool_names = {t.get("function", {}).get("name") for t in body.get("tools") or []}
        plan = plan_reply(bot["id"], *current_turn(messages), tool_names)
        prompt_tokens = sum(count_tokens(text_of(m.get("content"))) for m in messages)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        completion_tokens = count_tokens(plan.text) if plan.text else 12
        spend(bot["id"], 10 + completion_tokens)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        tool_call = None
        if plan.tool_name:
            tool_call = {
                "index": 0,
                "id": f"call_{uuid.uuid4().hex[:20]}",
                "type": "function",
                "function": {"name": plan.tool_name, "arguments": json.dumps(plan.tool_args)},
            }
        finish = "tool_calls" if tool_call else "stop"
        # A bot thinks when it gets its own reasoning parameter (top-level, as Poe reads bot
        # parameters), and says with what; anything else (e.g. `thinking`) it ignores.
        honoured = [f"{p['name']}={body[p['name']]}" for p in bot.get("parameters") or [] if p["name"] in body]
        reasoning = f"Reasoning with {', '.join(honoured)}." if honoured else None

        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": plan.text}
            if reasoning:
                message["reasoning_content"] = reasoning
            if tool_call:
                message["tool_calls"] = [{k: v for k, v in tool_call.items() if k != "index"}]
            answer = {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": bot["id"],
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage,
            }
            return broken_answer(fault, answer) if fault else JSONResponse(answer)

        def chunk(delta: dict[str, Any], finish_reason: str | None = None, with_usage: bool = False) -> bytes:
            payload: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": bot["id"],
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }
            if with_usage:
                payload["usage"] = usage
            return b"data: " + json.dumps(payload).encode() + b"\n\n"

        async def stream():
            yield chunk({"role": "assistant", "content": ""})
            if reasoning:
                yield chunk({"reasoning_content": reasoning})
            if plan.text is not None:
                for piece in words_of(plan.text, state.chunks):
                    if state.chunk_delay:
                        await asyncio.sleep(state.chunk_delay)
                    yield chunk({"content": piece})
            if tool_call:
                first = dict(tool_call, function={"name": plan.tool_name, "arguments": ""})
                yield chunk({"tool_calls": [first]})
                yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": tool_call["function"]["arguments"]}}]})
            yield chunk({}, finish_reason=finish, with_usage=True)
            yield b"data: [DONE]\n\n"

        return StreamingResponse(broken(stream(), fault) if fault else stream(), media_type="text/event-stream")

    # -- Anthropic-compatible messages (Claude bots) --

    async def messages_endpoint(request: Request) -> Response:
        body = await read_json(request)
        await record(request, body)
        if bearer_or_api_key(request) not in state.keys:
            return anthropic_error(401, "Invalid API key. Get yours at https://poe.com/api_key")
        if not request.headers.get("anthropic-version"):
            return anthropic_error(400, "anthropic-version header is required")
        if not isinstance(body, dict) or not body.get("messages"):
            return anthropic_error(400, "messages: field required")
        bot = CATALOG_BY_LOWER_ID.get(str(body.get("model", "")).lower())
        if bot is None:
            return anthropic_error(404, f"model: {body.get('model')} not found")
        if bot["owned_by"] != "Anthropic":
            return anthropic_error(400, f"{bot['id']} is not available on /v1/messages; use /v1/chat/completions")
        if state.strict:
            context, max_output = limits_of(bot)
            asked = body.get("max_tokens")
            if max_output and isinstance(asked, int) and asked > max_output:
                return anthropic_error(400, f"max_tokens: {asked} > {max_output}, which is the maximum allowed "
                                            f"number of output tokens for {bot['id']}")
            prompt = prompt_estimate(body)
            if context and prompt > context:
                return anthropic_error(400, f"prompt is too long: {prompt} tokens > {context} maximum")
            where = foreign_thinking(body["messages"])
            if where is not None:
                return anthropic_error(400, f"{where}: Invalid `signature` in `thinking` block")
        failure = await apply_fault(request, anthropic=True)
        fault = failure if isinstance(failure, Fault) else None
        if failure is not None and fault is None:
            return failure

        tool_names = {t.get("name") for t in body.get("tools") or []}
        plan = plan_reply(bot["id"], *current_turn(body["messages"]), tool_names)
        thinking = isinstance(body.get("thinking"), dict) and body["thinking"].get("type") in ("enabled", "adaptive")
        input_tokens = sum(count_tokens(text_of(m.get("content"))) for m in body["messages"])
        output_tokens = count_tokens(plan.text) if plan.text else 12
        spend(bot["id"], 10 + output_tokens)
        message_id = f"msg_{uuid.uuid4().hex[:24]}"
        blocks: list[dict[str, Any]] = []
        if thinking:
            blocks.append({"type": "thinking", "thinking": "Considering the request.",
                           "signature": sign("Considering the request.")})
        if plan.text is not None:
            blocks.append({"type": "text", "text": plan.text})
        if plan.tool_name:
            blocks.append(
                {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:20]}", "name": plan.tool_name,
                 "input": plan.tool_args}
            )
        stop_reason = "tool_use" if plan.tool_name else "end_turn"
        usage = {"input_tokens": input_tokens, "output_tokens": output_tokens,
                 "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}

        if not body.get("stream"):
            answer = {"id": message_id, "type": "message", "role": "assistant", "model": bot["id"], "content": blocks,
                      "stop_reason": stop_reason, "stop_sequence": None, "usage": usage}
            return broken_answer(fault, answer) if fault else JSONResponse(answer)

        def event(name: str, data: dict[str, Any]) -> bytes:
            return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

        async def stream():
            yield event("message_start", {"type": "message_start", "message": {
                "id": message_id, "type": "message", "role": "assistant", "model": bot["id"], "content": [],
                "stop_reason": None, "stop_sequence": None, "usage": dict(usage, output_tokens=1)}})
            for index, block in enumerate(blocks):
                if block["type"] == "thinking":
                    yield event("content_block_start", {"type": "content_block_start", "index": index,
                                                        "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
                    yield event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                        "delta": {"type": "thinking_delta", "thinking": block["thinking"]}})
                    yield event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                        "delta": {"type": "signature_delta", "signature": block["signature"]}})
                elif block["type"] == "text":
                    yield event("content_block_start", {"type": "content_block_start", "index": index,
                                                        "content_block": {"type": "text", "text": ""}})
                    for piece in words_of(block["text"], state.chunks):
                        if state.chunk_delay:
                            await asyncio.sleep(state.chunk_delay)
                        yield event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                            "delta": {"type": "text_delta", "text": piece}})
                else:
                    yield event("content_block_start", {"type": "content_block_start", "index": index,
                                                        "content_block": dict(block, input={})})
                    yield event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                        "delta": {"type": "input_json_delta",
                                                                  "partial_json": json.dumps(block["input"])}})
                yield event("content_block_stop", {"type": "content_block_stop", "index": index})
            yield event("message_delta", {"type": "message_delta",
                                          "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                                          "usage": {"output_tokens": output_tokens}})
            yield event("message_stop", {"type": "message_stop"})

        return StreamingResponse(broken(stream(), fault) if fault else stream(), media_type="text/event-stream")

    # -- catalog and usage --

    async def models(request: Request) -> Response:
        await record(request, None)
        if state.models_delay:
            await asyncio.sleep(state.models_delay)
        created = 1_700_000_000_000
        data = [dict(bot, object="model", created=created, description=f"{bot['id']} on Poe", permission=[],
                     root=bot["id"], parent=None,
                     architecture={"input_modalities": ["text"], "output_modalities": ["text"], "modality": "text->text"})
                for bot in CATALOG]
        return JSONResponse({"object": "list", "data": data})

    async def current_balance(request: Request) -> Response:
        await record(request, None)
        if bearer_or_api_key(request) not in state.keys:
            return poe_error(401, "Invalid API key")
        failure = await usage_fault("/usage/current_balance")
        if failure is not None:
            return failure
        return JSONResponse({"current_point_balance": state.balance})

    async def points_history(request: Request) -> Response:
        await record(request, None)
        if bearer_or_api_key(request) not in state.keys:
            return poe_error(401, "Invalid API key")
        failure = await usage_fault("/usage/points_history")
        if failure is not None:
            return failure
        limit = min(int(request.query_params.get("limit", "20")), 100)
        # Newest first by creation time, as Poe documents (entries added with an older time sort in).
        entries = sorted(reversed(state.spent), key=lambda e: e["creation_time"], reverse=True)
        after = request.query_params.get("starting_after")
        if after:
            ids = [e["query_id"] for e in entries]
            entries = entries[ids.index(after) + 1 :] if after in ids else []
        page = entries[:limit]
        return JSONResponse({"has_more": len(entries) > limit, "length": len(page), "data": page})

    # -- test control --

    async def faults(request: Request) -> Response:
        spec = await request.json()
        state.faults.append(Fault(status=int(spec.get("status", 500)), count=int(spec.get("count", 1)),
                                  message=spec.get("message", ""), retry_after=spec.get("retry_after"),
                                  delay=float(spec.get("delay", 0.0)), kind=str(spec.get("kind", "")),
                                  after=int(spec.get("after", 1)), path=spec.get("path"), body=spec.get("body")))
        return JSONResponse({"queued": len(state.faults)})

    async def models_delay(request: Request) -> Response:
        state.models_delay = float((await request.json()).get("seconds", 0.0))
        return JSONResponse({"models_delay": state.models_delay})

    async def spend_control(request: Request) -> Response:
        spec = await request.json()
        for _ in range(int(spec.get("count", 1))):
            spend(spec["bot"], int(spec.get("points", 100)), spec.get("usage_type", "API"), spec.get("creation_time"))
        return JSONResponse({"entries": len(state.spent), "balance": state.balance})

    async def requests_log(request: Request) -> Response:
        if request.method == "DELETE":
            state.requests.clear()
            state.faults.clear()
            return JSONResponse({"cleared": True})
        return JSONResponse(list(state.requests))

    async def count_tokens_endpoint(request: Request) -> Response:
        body = await read_json(request)
        await record(request, body)
        if not state.counts_tokens:
            return poe_error(404, f"No route for {request.method} {request.url.path}")
        if bearer_or_api_key(request) not in state.keys:
            return anthropic_error(401, "Invalid API key")
        if not isinstance(body, dict) or not body.get("messages"):
            return anthropic_error(400, "messages: field required")
        tokens = sum(count_tokens(text_of(m.get("content"))) for m in body["messages"])
        return JSONResponse({"input_tokens": tokens})

    async def served(request: Request) -> Response:
        return JSONResponse(dict(state.served))

    async def unknown_v1(request: Request) -> Response:
        await record(request, await read_json(request))
        return poe_error(404, f"No route for {request.method} {request.url.path}")

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/messages", messages_endpoint, methods=["POST"]),
            Route("/v1/messages/count_tokens", count_tokens_endpoint, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/usage/current_balance", current_balance, methods=["GET"]),
            Route("/usage/points_history", points_history, methods=["GET"]),
            Route("/_standin/faults", faults, methods=["POST"]),
            Route("/_standin/models_delay", models_delay, methods=["POST"]),
            Route("/_standin/spend", spend_control, methods=["POST"]),
            Route("/_standin/requests", requests_log, methods=["GET", "DELETE"]),
            Route("/_standin/served", served, methods=["GET"]),
            Route("/v1/{rest:path}", unknown_v1, methods=["GET", "POST"]),
        ]
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", action="append", help="an accepted Poe API key (repeatable)")
    parser.add_argument("--chunks", type=int, default=8, help="text pieces per streamed answer")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between streamed pieces")
    parser.add_argument("--count-tokens", action="store_true", help="serve /v1/messages/count_tokens")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="chance of a random fault per request")
    parser.add_argument("--fault-seed", type=int, default=1, help="seed of the random faults")
    parser.add_argument("--strict", action="store_true",
                        help="refuse max_tokens above a bot's output limit, prompts above its window, foreign signatures")
    args = parser.parse_args()
    state = StandinState(keys=tuple(args.key or DEFAULT_KEYS), chunks=args.chunks, chunk_delay=args.chunk_delay,
                         counts_tokens=args.count_tokens, fault_rate=args.fault_rate,
                         fault_random=random.Random(args.fault_seed), strict=args.strict)
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
