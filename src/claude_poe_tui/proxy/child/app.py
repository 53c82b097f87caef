"""The gateway: the ASGI app the proxy child serves, over the engine (LiteLLM's Router).

Plain ASGI, no framework: one dictionary lookup routes a request. It serves exactly

* ``POST /v1/messages`` (both routes, streamed and not) and ``POST /v1/messages/count_tokens``;
* ``GET /v1/models`` and ``GET /v1/models/{id}``, in the shape the client asks for;
* ``POST /v1/chat/completions`` for OpenAI-style clients, through the same Router;
* Claude Code's side requests (``HEAD /``, ``POST /api/event_logging/batch``), health, our status
  page and the reload path.

Everything else is 404. Keys are checked before a body is read; a body over
``[proxy] max_request_mb`` is refused (413) without being buffered; a body that is not a JSON object
gets 400; every error is in the client's shape with Poe's own message; a stream that fails after it
started ends with an ``event: error``. Each API request is recorded off the request path.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from claude_poe_tui import __version__
from claude_poe_tui.proxy.child.engine import Engine, MessagesCall, describe_exception
from claude_poe_tui.proxy.child.errors import (
    CLIENT_CLOSED,
    anthropic_error,
    openai_error,
    openai_sse_error,
    sse_error_event,
)
from claude_poe_tui.proxy.child.recording import RequestInfo, ResponseWatch, build_record
from claude_poe_tui.proxy.child.settings import GatewaySettings, MappingInfo
from claude_poe_tui.proxy.protocol import (
    CONTROL_HEADER,
    HEALTH_PATHS,
    MODELS_PATH,
    POINTS_PATH,
    RELOAD_PATH,
    REQUESTS_PATH,
    STATUS_PATH,
    ProxyStatus,
    ReloadPayload,
)
from claude_poe_tui.requestlog.writer import RequestLogWriter

Send = Callable[[dict[str, Any]], Any]
Receive = Callable[[], Any]
SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
               (b"x-accel-buffering", b"no")]
MAX_RELOAD_BYTES = 8 * 1024 * 1024
MAX_SIDE_REQUEST_BYTES = 1024 * 1024  # telemetry batches are read and dropped, up to this
MAX_MAPPINGS_BYTES = 1024 * 1024


def _ndjson(records: list[Any]) -> bytes:
    return b"".join(record.to_json().encode("utf-8") + b"\n" for record in records)


POINTS_READ_BYTES = 1 << 20
KEEP_ALIVE_EVERY = 15.0  # seconds of nothing to send before a blank line says the stream is alive


def _query(scope: dict[str, Any]) -> dict[str, str]:
    """The query string's parameters (the first value of each)."""
    from urllib.parse import parse_qs

    return {name: values[0] for name, values in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}


def _flag(query: dict[str, str], name: str) -> bool:
    return query.get(name, "0") in ("1", "true", "yes")


def _follow_query(scope: dict[str, Any], *, default_tail: int, max_tail: int) -> tuple[int, bool]:
    """``tail`` (bounded) and ``follow`` from a followed stream's query string."""
    query = _query(scope)
    try:
        tail = int(query.get("tail", str(default_tail)) or 0)
    except ValueError:
        tail = default_tail
    return max(0, min(tail, max_tail)), _flag(query, "follow")


async def _stream_lines(receive: Receive, send: Send, history: Callable[[], Awaitable[list[Any]]],
                        new: Callable[[], Awaitable[list[Any]]], follow: bool) -> None:
    """JSON lines: ``history()`` at once, then with ``follow`` whatever ``new()`` gives, until the
    client leaves (blank lines keep a quiet stream alive)."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/x-ndjson"), (b"cache-control", b"no-cache")]})
    gone = asyncio.Event()

    async def watch_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.create_task(watch_disconnect())
    try:
        await send({"type": "http.response.body", "body": _ndjson(await history()), "more_body": follow})
        quiet = 0.0
        while follow and not gone.is_set():
            batch = await new()
            if batch:
                await send({"type": "http.response.body", "body": _ndjson(batch), "more_body": True})
                quiet = 0.0
                continue
            quiet += 0.25
            if quiet >= KEEP_ALIVE_EVERY:
                await send({"type": "http.response.body", "body": b"\n", "more_body": True})
                quiet = 0.0
            try:
                await asyncio.wait_for(gone.wait(), 0.25)
            except asyncio.TimeoutError:
                pass
        if follow:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:
        pass
    finally:
        watcher.cancel()


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    """The client closed the connection while we were answering."""


# --- small ASGI helpers ---------------------------------------------------------------------


def header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def client_key(scope: dict[str, Any]) -> str | None:
    api_key = header(scope, b"x-api-key")
    if api_key:
        return api_key.strip()
    auth = header(scope, b"authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


async def send_json(send: Send, status: int, payload: Any, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_body(scope: dict[str, Any], receive: Receive, limit: int) -> bytes:
    """The whole body, or :class:`BodyTooLarge` as soon as it is known to pass ``limit``."""
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def discard_body(receive: Receive, limit: int = MAX_SIDE_REQUEST_BYTES) -> None:
    size = 0
    while size <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            return


def parse_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


# --- the app --------------------------------------------------------------------------------


class GatewayApp:
    def __init__(
        self,
        engine: Engine,
        settings: GatewaySettings,
        log_writer: RequestLogWriter | None = None,
        *,
        control_token: str = "",
        points: Any = None,
        board: Any = None,
        slot: int = 0,
        reload_file: Path | None = None,
    ) -> None:
        self.engine = engine
        self.board = board
        """With ``[proxy] workers``: the workers' shared figures (workers.py), this worker's ``slot``."""
        self.slot = slot
        self.reload_file = reload_file
        self.points = points
        """The points service (points/service.py): budgets before a request, points after it."""
        self.settings = settings
        self.log_writer = log_writer
        self._master_key = settings.master_key.encode("utf-8")
        # Reloading changes where requests (and the Poe key) go, so it takes the control token the
        # parent generated (in a 0600 file in the run folder), not the master key clients hold.
        self._control_token = control_token.encode("utf-8")
        self.requests_served = 0
        self.in_flight = 0
        self.last_request_at: float | None = None
        self._streams: set[asyncio.Task[Any]] = set()
        self.draining = False
        self._drain_expired = False
        self.routes: dict[tuple[str, str], Callable[..., Any]] = {
            ("POST", "/v1/messages"): self.messages,
            ("POST", "/v1/messages/count_tokens"): self.count_tokens,
            ("GET", "/v1/models"): self.models,
            ("POST", "/v1/chat/completions"): self.chat_completions,
        }

    # -- routing --

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self._lifespan(receive, send)
            return
        method, path = scope["method"], scope["path"]
        handler = self.routes.get((method, path))
        if handler is not None:
            await self._api(handler, scope, receive, send)
        elif method == "GET" and path.startswith("/v1/models/"):
            await self._api(self.model, scope, receive, send)
        elif path in HEALTH_PATHS and method in ("GET", "HEAD"):
            await send_json(send, 200, {"status": "draining" if self.draining else "ok"})
        elif path == STATUS_PATH and method == "GET":
            await self._status(scope, send)
        elif path == RELOAD_PATH and method == "POST":
            await self._reload(scope, receive, send)
        elif path == REQUESTS_PATH and method == "GET":
            await self._follow_requests(scope, receive, send)
        elif path == POINTS_PATH and method == "GET":
            await self._follow_points(scope, receive, send)
        elif path == MODELS_PATH and method in ("GET", "PUT"):
            await self._mappings(scope, receive, send)
        elif path == "/" and method in ("HEAD", "GET"):  # Claude Code's reachability check
            await send_json(send, 200, {"status": "ok"})
        elif path == "/api/event_logging/batch" and method == "POST":
            # Claude Code's telemetry: read and dropped, so it neither errors nor retries.
            await discard_body(receive)
            await send_json(send, 200, b"{}")
        else:
            await send_json(send, 404, anthropic_error(404, f"no such endpoint: {method} {path}"))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _api(self, handler: Callable[..., Any], scope: dict[str, Any], receive: Receive, send: Send) -> None:
        info = RequestInfo(
            started=time.perf_counter(), method=scope["method"], path=scope["path"],
            session=header(scope, b"x-claude-code-session-id"),
            agent_id=header(scope, b"x-claude-code-agent-id"),
            parent_agent_id=header(scope, b"x-claude-code-parent-agent-id"),
        )
        anthropic_shape = not scope["path"].startswith("/v1/chat/")
        watch: ResponseWatch | None = None
        self.in_flight += 1
        self.last_request_at = time.time()
        if self.board is not None:
            self.board.request_started(self.slot)
        try:
            if not self._authorised(scope, info):
                supplied = client_key(scope)
                reason = (
                    "no API key was sent (set ANTHROPIC_AUTH_TOKEN to the proxy's master key)"
                    if not supplied
                    else f"the API key sent is not this proxy's master key ({self.settings.master_key_origin})"
                    + (" nor a member's token ([[clients]])" if self.settings.members else "")
                    + "; set ANTHROPIC_AUTH_TOKEN to it (claude-poe-tui env prints it)"
                )
                await self._error(send, info, 401, reason, anthropic_shape)
                return
            if scope["method"] == "GET":
                watch = await handler(scope, send, info)
                return
            try:
                raw = await read_body(scope, receive, self.settings.max_request_bytes)
            except BodyTooLarge:
                limit_mb = self.settings.max_request_bytes / (1024 * 1024)
                await self._error(send, info, 413, f"the request body is over {limit_mb:g} MB ([proxy] max_request_mb)",
                                  anthropic_shape)
                return
            info.body_bytes = len(raw)
            body = parse_object(raw)
            if body is None:
                await self._error(send, info, 400, "the request body must be a JSON object", anthropic_shape)
                return
            watch = await handler(scope, send, info, body)
        except ClientGone:
            info.fail(CLIENT_CLOSED, "the client closed the connection")
        finally:
            self.in_flight -= 1
            self.requests_served += 1
            self.last_request_at = time.time()
            if self.board is not None:
                self.board.request_finished(self.slot)
            if watch is not None:
                watch.finish()
            self._record(info, watch)
            if watch is not None and info.attempt is not None and (watch.input_tokens or watch.output_tokens):
                await self.engine.count_usage(info.attempt, (watch.input_tokens or 0) + (watch.output_tokens or 0))

    def _is_master_key(self, supplied: str | None) -> bool:
        return supplied is not None and hmac.compare_digest(supplied.encode("utf-8"), self._master_key)

    def _member_of(self, supplied: str | None) -> str | None:
        """The member (``[[clients]] name``) whose token this is, compared by digest; None if none."""
        if not supplied or not self.settings.members:
            return None
        return self.settings.members.get(hashlib.sha256(supplied.encode("utf-8")).hexdigest())

    def _authorised(self, scope: dict[str, Any], info: RequestInfo) -> bool:
        """The master key, or a member's token (``[[clients]]``)."""
        supplied = client_key(scope)
        if self._is_master_key(supplied):
            return True
        info.member = self._member_of(supplied)
        return info.member is not None

    async def _error(self, send: Send, info: RequestInfo, status: int, message: str, anthropic_shape: bool,
                     retry_after: str | None = None) -> None:
        info.fail(status, message)
        extra = [(b"retry-after", retry_after.encode("latin-1"))] if retry_after else None
        if extra is None:
            extra = []
        extra.append((b"request-id", info.call_id.encode()))
        body = anthropic_error(status, message) if anthropic_shape else openai_error(status, message)
        await send_json(send, status, body, extra)

    def _mapping(self, info: RequestInfo, body: dict[str, Any]) -> MappingInfo | None:
        model = body.get("model")
        info.model = model if isinstance(model, str) else None
        info.stream = bool(body.get("stream"))
        mapping = self.settings.mapping(info.model or "")
        if mapping is not None:
            info.poe_model, info.route = mapping.poe_model, mapping.route
        return mapping

    # -- /v1/messages --

    async def messages(self, scope: dict[str, Any], send: Send, info: RequestInfo, body: dict[str, Any]) -> ResponseWatch | None:
        mapping = self._mapping(info, body)
        if mapping is None:
            await self._error(send, info, 404, self.settings.unknown_model_message(str(body.get("model"))), True)
            return None
        if await self._over_budget(send, info, True):
            return None
        too_long = await self._prompt_too_long(info, mapping, body)
        if too_long is not None:
            await self._error(send, info, 400, too_long, True)
            return None
        call = MessagesCall(model=mapping.name, body=body, stream=bool(body.get("stream")),
                            headers=scope["headers"], query=scope.get("query_string", b""))
        watch = ResponseWatch(info.started, streaming=call.stream)
        try:
            answer = await self.engine.messages(call)
        except Exception as exc:
            self._take_attempts(info, call)
            status, message, retry_after = self._failure(call, exc)
            await self._error(send, info, status, self._explain(status, message, info), True, retry_after)
            return None
        self._take_attempts(info, call)
        if call.refusal is not None:
            refusal = call.refusal
            await self._error(send, info, refusal.status or 500, self._explain(refusal.status or 500, refusal.message or "", info),
                              True, refusal.retry_after)
            return None
        if not call.stream:
            if isinstance(answer, dict):
                answer.pop("_hidden_params", None)
            watch.take_answer(answer)
            info.status = 200
            await send_json(send, 200, answer, [(b"request-id", info.call_id.encode())])
            return watch
        await self._stream(send, info, call, answer, watch)
        return watch

    async def _over_budget(self, send: Send, info: RequestInfo, anthropic_shape: bool) -> bool:
        """A request that would go over a ``[budget]``, or its member's own (``[[clients]]``
        daily_points / session_points), is refused with an error Claude Code does not retry (402
        billing_error), naming the budget and how to raise it."""
        if self.points is None:
            return False
        refusal = self.points.check(info.session, info.member)
        if refusal is None:
            return False
        await self._error(send, info, refusal.status, refusal.message, anthropic_shape)
        return True

    async def _prompt_too_long(self, info: RequestInfo, mapping: MappingInfo, body: dict[str, Any]) -> str | None:
        """Anthropic's own message when the prompt is beyond the bot's window, counted here, not by Poe.

        A token takes at least about a byte, and text averages 3-4 bytes a token: a body under twice the
        window (in bytes) is never counted, so only the largest prompts pay for the count.
        """
        window = mapping.context_window
        if not window or info.body_bytes <= 2 * window:
            return None
        tokens = await asyncio.to_thread(self.engine.count_tokens, mapping, body)
        if tokens <= window:
            return None
        return f"prompt is too long: {tokens} tokens > {window} maximum"

    def _take_attempts(self, info: RequestInfo, call: MessagesCall) -> None:
        """Which bot answered (or failed last), and the bots that failed before it."""
        if not call.attempts:
            return
        last = call.attempts[-1]
        info.attempt = last
        info.poe_key = last.poe_key
        info.poe_model, info.route = last.poe_model, last.route
        if last.model != call.model:
            info.answered_model = last.model
        info.failed = [a.to_json() for a in call.attempts[:-1]] or None
        lowered = last.shaped.max_tokens_lowered
        info.max_tokens_lowered = list(lowered) if lowered else None

    def _failure(self, call: MessagesCall, exc: BaseException) -> tuple[int, str, str | None]:
        last = call.last
        if last is not None and last.failed:
            return last.status or 500, last.message or "", last.retry_after
        return describe_exception(exc)

    def _explain(self, status: int, message: str, info: RequestInfo) -> str:
        """Poe's message, with what the user needs to act on it."""
        bot = f" (bot {info.poe_model})" if info.poe_model else ""
        if status == 504:
            return f"Poe{bot} did not answer within {self.settings.request_timeout:g} s ([proxy] request_timeout): {message}"
        if status == 401:
            return f"Poe rejected the Poe API key ({self.settings.poe_key_origin}): {message}"
        if status in (402, 429, 529) or status >= 500:
            return f"Poe{bot}: {message}"
        return message

    async def _stream(self, send: Send, info: RequestInfo, call: MessagesCall, answer: Any, watch: ResponseWatch) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._streams.add(task)
        info.status = 200
        started = False
        try:
            iterator: AsyncIterator[bytes] = answer.__aiter__()
            while True:
                try:
                    chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    break
                if not started:
                    await send({"type": "http.response.start", "status": 200,
                                "headers": [*SSE_HEADERS, (b"request-id", info.call_id.encode())]})
                    started = True
                watch.feed(chunk)
                try:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                except OSError:
                    raise ClientGone() from None
            self._take_attempts(info, call)
            if watch.error is not None:
                info.fail(*watch.error)
            elif not watch.completed:
                info.fail(502, "the stream ended before message_stop")
                await self._stream_error(send, started, info, 502, f"Poe (bot {info.poe_model}): the stream ended early")
                return
        except asyncio.CancelledError:
            if not self._drain_expired:
                raise
            self._uncancel()
            info.fail(529, "the proxy stopped before the stream finished")
            await self._stream_error(send, started, info, 529,
                                     "the proxy is stopping and could not finish this answer; try again")
            return
        except ClientGone:
            info.fail(CLIENT_CLOSED, "the client closed the connection")
            return
        except Exception as exc:
            self._take_attempts(info, call)
            status, message, _ = self._failure(call, exc)
            info.fail(status, self._explain(status, message, info))
            await self._stream_error(send, started, info, status, info.error_message or message)
            return
        finally:
            if task is not None:
                self._streams.discard(task)
        if not started:
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _stream_error(self, send: Send, started: bool, info: RequestInfo, status: int, message: str) -> None:
        """End a stream with an error: an ``event: error`` once it has begun, else a plain error answer."""
        try:
            if not started:
                await send_json(send, status, anthropic_error(status, message), [(b"request-id", info.call_id.encode())])
                return
            await send({"type": "http.response.body", "body": sse_error_event(status, message), "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass

    @staticmethod
    def _uncancel() -> None:
        task = asyncio.current_task()
        if task is not None:
            while task.cancelling():
                task.uncancel()

    # -- draining on stop --

    def begin_drain(self, seconds: float) -> None:
        """No new streams are expected; those open get ``seconds`` to finish, then an error event."""
        if self.draining:
            return
        self.draining = True
        asyncio.get_running_loop().call_later(max(0.0, seconds), self._expire_streams)

    def _expire_streams(self) -> None:
        self._drain_expired = True
        for task in list(self._streams):
            task.cancel()

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    # -- count_tokens, models, chat completions --

    async def count_tokens(self, scope: dict[str, Any], send: Send, info: RequestInfo, body: dict[str, Any]) -> None:
        mapping = self._mapping(info, body)
        info.stream = False
        if mapping is None:
            await self._error(send, info, 404, self.settings.unknown_model_message(str(body.get("model"))), True)
            return
        try:
            tokens = await self.engine.poe_count_tokens(mapping, body, scope["headers"])
            if tokens is None:
                tokens = await asyncio.to_thread(self.engine.count_tokens, mapping, body)
        except Exception as exc:  # an estimate that cannot be made is an error, never a made-up count
            await self._error(send, info, 500, f"could not count the tokens: {type(exc).__name__}: {exc}", True)
            return
        info.status = 200
        await send_json(send, 200, {"input_tokens": tokens})

    async def models(self, scope: dict[str, Any], send: Send, info: RequestInfo) -> None:
        info.status = 200
        await send_json(send, 200, self.model_list(anthropic_shape=header(scope, b"anthropic-version") is not None))

    async def model(self, scope: dict[str, Any], send: Send, info: RequestInfo) -> None:
        name = scope["path"][len("/v1/models/"):]
        anthropic_shape = header(scope, b"anthropic-version") is not None
        mapping = self.settings.mapping(name)
        wanted = (mapping.picker_id or mapping.name) if mapping and anthropic_shape else (mapping.name if mapping else None)
        entry = next((m for m in self.model_list(anthropic_shape)["data"] if m["id"] == wanted), None)
        if entry is None:
            await self._error(send, info, 404, self.settings.unknown_model_message(name), anthropic_shape)
            return
        info.status = 200
        await send_json(send, 200, entry)

    def model_list(self, anthropic_shape: bool) -> dict[str, Any]:
        """Every mapping: for Anthropic clients (Claude Code's /model) under the id Claude Code keeps,
        with Poe's display name; for OpenAI clients under its own name."""
        created = int(self.settings.started_at)
        mappings = list(self.settings.models.values())
        if anthropic_shape:
            created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))
            data = [{"type": "model", "id": m.picker_id or m.name, "display_name": m.display_name or m.name,
                     "created_at": created_at} for m in mappings]
            return {"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                    "last_id": data[-1]["id"] if data else None}
        return {"object": "list", "data": [{"id": m.name, "object": "model", "created": created, "owned_by": "poe"}
                                           for m in mappings]}

    async def chat_completions(self, scope: dict[str, Any], send: Send, info: RequestInfo, body: dict[str, Any]) -> ResponseWatch | None:
        mapping = self._mapping(info, body)
        if mapping is None:
            await self._error(send, info, 404, self.settings.unknown_model_message(str(body.get("model"))), False)
            return None
        if await self._over_budget(send, info, False):
            return None
        stream = bool(body.get("stream"))
        watch = ResponseWatch(info.started, streaming=stream)
        try:
            answer = await self.engine.chat_completions({**body, "model": mapping.name})
        except Exception as exc:
            status, message, retry_after = describe_exception(exc)
            await self._error(send, info, status, self._explain(status, message, info), False, retry_after)
            return None
        info.status = 200
        if not stream:
            payload = answer.model_dump() if hasattr(answer, "model_dump") else answer
            if isinstance(payload, dict):
                payload.pop("_hidden_params", None)
            watch.take_answer(payload)
            await send_json(send, 200, payload)
            return watch
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        try:
            async for chunk in answer:
                data = b"data: " + (chunk.model_dump_json(exclude_none=True).encode() if hasattr(chunk, "model_dump_json")
                                    else json.dumps(chunk).encode()) + b"\n\n"
                watch.feed(data)
                await send({"type": "http.response.body", "body": data, "more_body": True})
            watch.feed(b"data: [DONE]\n\n")
            await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})
        except OSError:
            info.fail(CLIENT_CLOSED, "the client closed the connection")
        except Exception as exc:
            status, message, _ = describe_exception(exc)
            info.fail(status, self._explain(status, message, info))
            try:
                await send({"type": "http.response.body", "body": openai_sse_error(status, message), "more_body": False})
            except OSError:
                pass
        return watch

    # -- answers of our own --

    async def _status(self, scope: dict[str, Any], send: Send) -> None:
        if self.settings.exposed and not self._authorised(scope, RequestInfo(0.0, "GET", STATUS_PATH)):
            # Listening beyond this machine: what the proxy is and serves is for key holders only.
            await send_json(send, 401, anthropic_error(401, "this proxy's status needs the master key"))
            return
        status = self.status()
        if self.points is not None and _flag(_query(scope), "points"):
            # Asked for by a dashboard attached from elsewhere (the local one reads the file): the
            # balance, burn rate, budgets and alerts the writing worker last summed up.
            from claude_poe_tui.points.summary import read_summary

            status["points"] = read_summary(self.points.files.summary)
        await send_json(send, 200, status)

    def status(self) -> dict[str, Any]:
        writer = self.log_writer
        return ProxyStatus(
            version=__version__,
            pid=os.getpid(),
            config=self.settings.config_path,
            started_at=self.settings.started_at,
            models=sorted(self.settings.models),
            request_log=(self.settings.request_log or {}).get("path"),
            extra={
                **self._traffic(),
                "draining": self.draining,
                "request_log_failing": writer.failing if writer else None,
                "request_log_dropped": writer.dropped if writer else 0,
                "keys_out": self.engine.key_status(),
                "limits_shared": self.engine.limits.shared,
                "members": sorted(set(self.settings.members.values())),
            },
        ).to_json()

    def _traffic(self) -> dict[str, Any]:
        """Requests served, in flight and the last one's time: this process's, or all workers'."""
        if self.board is None:
            return {"requests": self.requests_served, "in_flight": self.in_flight,
                    "last_request_at": self.last_request_at, "workers": 1}
        totals = self.board.totals()
        return {"requests": totals.requests, "in_flight": totals.in_flight, "last_request_at": totals.last_request_at,
                "workers": self.board.workers, "workers_ready": totals.workers_ready, "worker_pid": os.getpid()}

    def _apply_reload(self, payload: ReloadPayload) -> None:
        fresh = GatewaySettings.from_json(payload.gateway, self.settings.master_key)
        self.engine.reload(payload.router)
        self.settings.take_reload(fresh)
        points = payload.gateway.get("points")
        if self.points is not None and isinstance(points, dict):
            # A budget changed in the dashboard (or a member's own) holds from the next request, without a restart.
            from claude_poe_tui.points.budget import BudgetLimits

            self.points.set_budget(BudgetLimits.from_json(points.get("budget")))

    def take_sibling_reload(self) -> None:
        """SIGHUP: another worker took a reload; apply what it saved (once per generation)."""
        board = self.board
        if board is None or self.reload_file is None:
            return
        target = board.reload_target
        if board.applied(self.slot) >= target:
            return
        try:
            payload = ReloadPayload.from_json(json.loads(self.reload_file.read_text(encoding="utf-8")))
            self._apply_reload(payload)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"claude-poe-tui: worker {self.slot + 1} could not apply a reload: {exc}", flush=True)
            return
        board.mark_applied(self.slot, target)

    async def _share_reload(self, raw: bytes) -> None:
        """With workers: save the reload beside the compiled files, have the master tell every
        worker, and return once all have applied it (or after 5 s)."""
        board = self.board
        if board is None or self.reload_file is None:
            return
        from claude_poe_tui.atomic import atomic_write_text

        atomic_write_text(self.reload_file, raw.decode("utf-8"), mode=0o600)
        generation = board.announce_reload()
        board.mark_applied(self.slot, generation)
        os.kill(os.getppid(), signal.SIGHUP)
        deadline = time.monotonic() + 5.0
        while not board.all_applied(generation) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)

    async def _reload(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """Swap in a new model list (a :class:`ReloadPayload`), without a restart."""
        token = (header(scope, CONTROL_HEADER) or "").encode("utf-8")
        if not self._control_token or not hmac.compare_digest(token, self._control_token):
            # Answered before the body is read: a client without the token cannot make us buffer.
            await send_json(send, 403, {"error": "reloading needs the control token"})
            return
        try:
            raw = await read_body(scope, receive, MAX_RELOAD_BYTES)
            self._apply_reload(ReloadPayload.from_json(json.loads(raw)))
        except (BodyTooLarge, ClientGone, ValueError, KeyError, TypeError) as exc:
            await send_json(send, 400, {"error": f"{type(exc).__name__}: {exc}"})  # the old list stays
            return
        await self._share_reload(raw)
        await send_json(send, 200, {"models": sorted(self.settings.models)})

    # -- the mappings, for a dashboard elsewhere --

    async def _mappings(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """GET: the config file's ``[[models]]`` in full; PUT: a new list, written into that file."""
        supplied = client_key(scope)
        if not self._is_master_key(supplied):
            # What the whole team's requests reach: the master key only, never a member's token.
            member = self._member_of(supplied)
            if member:
                await send_json(send, 403, anthropic_error(403, f"the mappings need the master key; {member}'s "
                                                                "token ([[clients]]) cannot change them"))
            else:
                await send_json(send, 401, anthropic_error(401, "the mappings need the master key"))
            return
        from claude_poe_tui.proxy.child import mappings

        path = self.settings.config_path
        if scope["method"] == "GET":
            status, payload = await asyncio.to_thread(mappings.read, path, self.settings.config_editable)
            await send_json(send, status, payload)
            return
        if not self.settings.config_editable or not path:
            await send_json(send, 409, anthropic_error(409, mappings.NOT_EDITABLE))
            return
        try:
            raw = await read_body(scope, receive, MAX_MAPPINGS_BYTES)
        except BodyTooLarge:
            await send_json(send, 413, anthropic_error(413, "the mapping list is over 1 MB"))
            return
        except ClientGone:
            return
        status, payload = await asyncio.to_thread(mappings.write, path, raw)
        if status == 200:
            print(f"claude-poe-tui: [[models]] written to {path} through {MODELS_PATH}: "
                  f"{', '.join(payload['models']) or '(none)'}", flush=True)
        await send_json(send, status, payload)

    # -- the request log, for a dashboard elsewhere --

    async def _follow_requests(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if not self._is_master_key(client_key(scope)):
            # The whole team's traffic: the master key only, never a member's token.
            await send_json(send, 401, anthropic_error(401, "the request log needs the master key"))
            return
        log = (self.settings.request_log or {}).get("path")
        if not log:
            await send_json(send, 404, anthropic_error(404, "this proxy keeps no request log ([log] enabled = false)"))
            return
        tail, follow = _follow_query(scope, default_tail=1000, max_tail=5000)
        from claude_poe_tui.requestlog.reader import LogFollower, read_tail

        follower = LogFollower(Path(log), from_end=True)
        sent_ids: set[str] = set()

        async def history() -> list[Any]:
            # The follower opens at the end first, then the history is read: a record written in
            # between comes from both, and is sent once (by its id).
            nonlocal sent_ids
            await asyncio.to_thread(follower.read, 0)
            records = await asyncio.to_thread(read_tail, Path(log), tail)
            sent_ids = {record.id for record in records}
            return records

        async def new() -> list[Any]:
            nonlocal sent_ids
            batch = await asyncio.to_thread(follower.read, 1000)
            if sent_ids and batch:
                batch = [record for record in batch if record.id not in sent_ids]
                sent_ids = set() if len(batch) else sent_ids
            return batch

        try:
            await _stream_lines(receive, send, history, new, follow)
        finally:
            follower.close()

    async def _follow_points(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """The points store as it grows, for a dashboard elsewhere (master key only)."""
        if not self._is_master_key(client_key(scope)):
            await send_json(send, 401, anthropic_error(401, "the points need the master key"))
            return
        if self.points is None:
            await send_json(send, 404, anthropic_error(404, "this proxy counts no points"))
            return
        tail, follow = _follow_query(scope, default_tail=5000, max_tail=20000)
        from claude_poe_tui.points.ledger import StoreTail

        store = StoreTail(self.points.files.store)

        async def history() -> list[Any]:
            recent: collections.deque[Any] = collections.deque(maxlen=tail)
            while True:  # in bounded pieces; a compacted store read whole is a few MiB at most
                replaced, lines = await asyncio.to_thread(store.read, POINTS_READ_BYTES)
                if replaced:
                    recent.clear()
                recent.extend(lines)
                if not lines:
                    return list(recent)

        async def new() -> list[Any]:
            # After a compaction the store is read again from its start: its lines replace the same
            # requests' lines on the other side, so sending them again changes no figure there.
            return (await asyncio.to_thread(store.read, POINTS_READ_BYTES))[1]

        await _stream_lines(receive, send, history, new, follow)

    # -- recording --

    def _record(self, info: RequestInfo, watch: ResponseWatch | None) -> None:
        """One record for the request log, handed to the writer thread (never written here)."""
        if self.log_writer is None:
            return
        record = build_record(info, watch)
        self.log_writer.submit(record)
        if self.points is not None and record.path in ("/v1/messages", "/v1/chat/completions"):
            self.points.on_record(record)
