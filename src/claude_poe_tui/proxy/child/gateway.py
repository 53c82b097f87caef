"""Our layer in front of LiteLLM's app, inside the proxy child.

A plain ASGI wrapper (no framework, a few microseconds a request) that:

* answers Claude Code's side requests itself (``HEAD /``, ``POST /api/event_logging/batch``) and
  lists the mapped models at ``GET /v1/models`` in the shape both Anthropic and OpenAI clients read;
* checks the master key and answers 401 ``authentication_error`` in the client's shape (bare
  LiteLLM without a database answers 400 "No connected db.");
* rewrites every error LiteLLM produces into the client's shape with Poe's own message, the right
  Anthropic error type, and Poe's ``Retry-After``;
* records each API request in the request log (status, timings, tokens), off the request path.

The LiteLLM callback in :mod:`claude_poe_tui.proxy.child.hooks` fills in what only LiteLLM knows (the
parsed model name, the upstream exception) through the per-request :class:`RequestInfo`.
"""

from __future__ import annotations

import contextvars
import hmac
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from claude_poe_tui import __version__
from claude_poe_tui.proxy.child.errors import (
    anthropic_error_type,
    clean_message,
    client_status,
    error_body,
    is_anthropic_path,
)
from claude_poe_tui.requestlog.record import RequestRecord
from claude_poe_tui.requestlog.writer import RequestLogWriter
from claude_poe_tui.proxy.protocol import CONTROL_HEADER, RELOAD_PATH, STATUS_PATH, ProxyStatus, ReloadPayload

PUBLIC_PATHS = frozenset({"/health/liveliness", "/health/readiness", STATUS_PATH})
MAX_BUFFERED_BODY = 4 * 1024 * 1024  # non-streamed bodies above this are not parsed for tokens
MAX_ERROR_MESSAGE = 500


@dataclass(frozen=True)
class MappingInfo:
    name: str
    poe_model: str
    route: str
    thinking: dict[str, Any] | None = None
    """How Claude Code's thinking reaches the bot (compiler.thinking_spec); applied in hooks.py."""


@dataclass
class GatewaySettings:
    models: dict[str, MappingInfo]
    master_key: str
    poe_key_origin: str = "[poe] api_key"
    master_key_origin: str = "[proxy] master_key"
    request_timeout: float = 600.0
    request_log: dict[str, Any] | None = None
    config_path: str = ""
    started_at: float = field(default_factory=time.time)

    @classmethod
    def from_json(cls, data: dict[str, Any], master_key: str) -> GatewaySettings:
        models = {
            m["name"]: MappingInfo(m["name"], m["poe_model"], m["route"], m.get("thinking"))
            for m in data.get("models", [])
        }
        return cls(
            models=models,
            master_key=master_key,
            poe_key_origin=data.get("poe_key_origin", "[poe] api_key"),
            master_key_origin=data.get("master_key_origin", "[proxy] master_key"),
            request_timeout=float(data.get("request_timeout", 600.0)),
            request_log=data.get("request_log"),
            config_path=data.get("config_path", ""),
        )

    def unknown_model_message(self, model: str) -> str:
        names = ", ".join(sorted(self.models)) or "(none)"
        return (
            f"model '{model}' is not mapped to a Poe bot. Configured model names: {names}. "
            f"Add a [[models]] entry with name = \"{model}\" to {self.config_path or 'the config'}."
        )


@dataclass
class RequestInfo:
    """What one request has told us so far; shared with the LiteLLM callback."""

    started: float
    method: str
    path: str
    session: str | None
    anthropic_shape: bool
    model: str | None = None
    stream: bool | None = None
    unknown_model: bool = False
    retry_after: str | None = None
    upstream_status: int | None = None


def request_info(scope: dict[str, Any], anthropic_shape: bool) -> RequestInfo:
    return RequestInfo(
        started=time.perf_counter(),
        method=scope.get("method", "GET"),
        path=scope.get("path", ""),
        session=_header(scope, b"x-claude-code-session-id"),
        anthropic_shape=anthropic_shape,
    )


current_request: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar("current_request", default=None)

# The gateway the child built; the LiteLLM callback reaches the settings through it.
ACTIVE: dict[str, Any] = {}


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _client_key(scope: dict[str, Any]) -> str | None:
    api_key = _header(scope, b"x-api-key")
    if api_key:
        return api_key.strip()
    auth = _header(scope, b"authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


async def _send_json(send: Any, status: int, body: bytes, extra_headers: list[tuple[bytes, bytes]] = ()) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers.extend(extra_headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _drain(receive: Any) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


class _UsageScanner:
    """Finds token counts and the first generated token in a response, streamed or not."""

    def __init__(self, started: float):
        self.started = started
        self.streaming = False
        self.ttft_ms: float | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self._pending = b""
        self._body = bytearray()
        self._too_big = False

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if not self.streaming:
            if len(self._body) + len(chunk) > MAX_BUFFERED_BODY:
                self._too_big = True
                self._body.clear()
            elif not self._too_big:
                self._body.extend(chunk)
            return
        data = self._pending + chunk
        lines = data.split(b"\n")
        self._pending = lines.pop()
        for line in lines:
            self._line(line)

    def _line(self, line: bytes) -> None:
        if not line.startswith(b"data:"):
            return
        if self.ttft_ms is None and (
            b"content_block_delta" in line
            or (b'"delta"' in line and (b'"content":"' in line or b'"tool_calls"' in line or b'"reasoning_content"' in line)
                and b"message_delta" not in line)
        ):
            self.ttft_ms = (time.perf_counter() - self.started) * 1000.0
        if b'"usage"' in line:
            try:
                payload = json.loads(line[5:].strip())
            except ValueError:
                return
            self._take_usage(payload)

    def _take_usage(self, payload: Any) -> None:
        if not isinstance(payload, dict):
            return
        usage = payload.get("usage")
        if usage is None and isinstance(payload.get("message"), dict):
            usage = payload["message"].get("usage")
        if not isinstance(usage, dict):
            return
        for key in ("input_tokens", "prompt_tokens"):
            if isinstance(usage.get(key), int):
                self.input_tokens = usage[key]
        for key in ("output_tokens", "completion_tokens"):
            if isinstance(usage.get(key), int):
                self.output_tokens = usage[key]

    def finish(self) -> None:
        if self.streaming:
            if self._pending:
                self._line(self._pending)
            return
        if self._body and not self._too_big:
            try:
                self._take_usage(json.loads(bytes(self._body)))
            except ValueError:
                pass
            self._body = bytearray()


class Gateway:
    """The ASGI app the child serves: ours in front, LiteLLM's behind."""

    def __init__(
        self,
        app: Any,
        settings: GatewaySettings,
        log_writer: RequestLogWriter | None = None,
        *,
        control_token: str = "",
        reload_models: Callable[[dict[str, Any]], None] | None = None,
    ):
        self.app = app
        self.settings = settings
        self.log_writer = log_writer
        self._master_key = settings.master_key.encode("utf-8")
        # Reloading changes where requests (and the Poe key) go, so it takes the control token the
        # parent generated (in a 0600 file in the run folder), not the master key clients hold.
        self._control_token = control_token.encode("utf-8")
        self._reload_models = reload_models
        # For the status page: `claude-poe-tui status`, the idle stop of a background proxy.
        self.requests_served = 0
        self.in_flight = 0
        self.last_request_at: float | None = None
        ACTIVE["gateway"] = self

    # -- routing --

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if kind == "websocket":
            if not self._authorised(scope):
                await send({"type": "websocket.close", "code": 4401})
                return
            await self.app(scope, receive, send)
            return
        if kind != "http":
            await self.app(scope, receive, send)
            return

        method = scope.get("method", "GET")
        if path in PUBLIC_PATHS:
            if path == STATUS_PATH:
                await _send_json(send, 200, json.dumps(self.status()).encode())
                return
            await self.app(scope, receive, send)
            return
        if path == "/" and method in ("HEAD", "GET"):
            # Claude Code's reachability check.
            await _drain(receive)
            await _send_json(send, 200, b'{"status":"ok"}')
            return
        if path == RELOAD_PATH and method == "POST":
            await self._reload(scope, receive, send)
            return
        if path == "/api/event_logging/batch":
            # Claude Code's telemetry: accepted and dropped, so it neither errors nor retries.
            await _drain(receive)
            await _send_json(send, 200, b"{}")
            return

        anthropic_shape = is_anthropic_path(path) or _header(scope, b"anthropic-version") is not None
        if not self._authorised(scope):
            await _drain(receive)
            supplied = _client_key(scope)
            reason = (
                "no API key was sent (set ANTHROPIC_AUTH_TOKEN to the proxy's master key)"
                if not supplied
                else f"the API key sent is not this proxy's master key ({self.settings.master_key_origin}); "
                "set ANTHROPIC_AUTH_TOKEN to it (claude-poe-tui env prints it)"
            )
            body = error_body("/v1/messages" if anthropic_shape else path, 401, reason)
            await _send_json(send, 401, body)
            self._record(request_info(scope, anthropic_shape), {"status": 401, "call_id": None, "error_message": reason})
            return
        if path == "/v1/models" and method == "GET":
            await _drain(receive)
            await _send_json(send, 200, json.dumps(self.model_list()).encode())
            return
        await self._forward(scope, receive, send, anthropic_shape)

    def _authorised(self, scope: dict[str, Any]) -> bool:
        supplied = _client_key(scope)
        return supplied is not None and hmac.compare_digest(supplied.encode("utf-8"), self._master_key)

    # -- answers of our own --

    async def _reload(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Swap in a new model list: ``{"litellm": <compiled config>, "gateway": <settings>}``."""
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        token = (_header(scope, CONTROL_HEADER) or "").encode("utf-8")
        if not self._control_token or not hmac.compare_digest(token, self._control_token):
            await _send_json(send, 403, b'{"error": "reloading needs the control token"}')
            return
        if self._reload_models is None:
            await _send_json(send, 501, b'{"error": "reloading is not available"}')
            return
        try:
            payload = ReloadPayload.from_json(json.loads(b"".join(chunks)))
            self._reload_models(payload.router)
            fresh = GatewaySettings.from_json(payload.gateway, self.settings.master_key)
        except Exception as exc:  # the old list stays in place; the caller hears why
            await _send_json(send, 400, json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
            return
        self.settings.models = fresh.models
        self.settings.request_timeout = fresh.request_timeout
        await _send_json(send, 200, json.dumps({"models": sorted(self.settings.models)}).encode())

    def status(self) -> dict[str, Any]:
        return ProxyStatus(
            version=__version__,
            pid=os.getpid(),
            config=self.settings.config_path,
            started_at=self.settings.started_at,
            models=sorted(self.settings.models),
            request_log=(self.settings.request_log or {}).get("path"),
            extra={
                "requests": self.requests_served,
                "in_flight": self.in_flight,
                "last_request_at": self.last_request_at,
            },
        ).to_json()

    def model_list(self) -> dict[str, Any]:
        """Mapped names, in a shape read by Anthropic clients (Claude Code's picker) and OpenAI ones."""
        created = int(self.settings.started_at)
        data = [
            {
                "type": "model",
                "id": name,
                "display_name": f"{name} (Poe: {info.poe_model})",
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
                "object": "model",
                "created": created,
                "owned_by": "poe",
            }
            for name, info in self.settings.models.items()
        ]
        return {
            "data": data,
            "object": "list",
            "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }

    # -- the LiteLLM path --

    async def _forward(self, scope: dict[str, Any], receive: Any, send: Any, anthropic_shape: bool) -> None:
        info = request_info(scope, anthropic_shape)
        token = current_request.set(info)
        self.in_flight += 1
        self.last_request_at = time.time()
        scanner = _UsageScanner(info.started)
        state: dict[str, Any] = {"status": 0, "call_id": None, "error_body": None, "error_start": None}

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                state["status"] = status
                headers = message.get("headers", [])
                for key, value in headers:
                    if key == b"x-litellm-call-id":
                        state["call_id"] = value.decode("latin-1")
                    elif key == b"content-type" and value.startswith(b"text/event-stream"):
                        scanner.streaming = True
                if status >= 400:
                    state["error_start"] = message
                    state["error_body"] = bytearray()
                    return  # held back: rewritten once the body is complete
                await send(message)
                return
            if message["type"] == "http.response.body":
                if state["error_body"] is not None:
                    state["error_body"].extend(message.get("body", b""))
                    if not message.get("more_body"):
                        await self._send_error(send, state, info)
                    return
                scanner.feed(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.in_flight -= 1
            self.requests_served += 1
            self.last_request_at = time.time()
            current_request.reset(token)
            scanner.finish()
            self._record(info, state, scanner)

    async def _send_error(self, send: Any, state: dict[str, Any], info: RequestInfo) -> None:
        upstream_status = state["status"]
        status = client_status(upstream_status)
        raw = bytes(state["error_body"])
        try:
            parsed: Any = json.loads(raw) if raw else {}
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        if isinstance(parsed, dict) and "detail" in parsed and "error" not in parsed:
            parsed = parsed["detail"]
        message = clean_message(parsed)
        if info.unknown_model or (info.model and info.model not in self.settings.models and status in (400, 404)):
            status = 404
            message = self.settings.unknown_model_message(info.model or "?")
        elif upstream_status == 408 or (status >= 500 and "timeout" in message.lower()):
            status = 504
            message = f"Poe did not answer within {self.settings.request_timeout:g} s ([proxy] request_timeout): {message}"
        elif status == 401:
            message = f"Poe rejected the Poe API key ({self.settings.poe_key_origin}): {message}"
        elif status in (402, 429, 529) or status >= 500:
            mapping = self.settings.models.get(info.model or "")
            bot = f" (bot {mapping.poe_model})" if mapping else ""
            message = f"Poe{bot}: {message}"
        body = error_body("/v1/messages" if info.anthropic_shape else info.path, status, message)
        extra: list[tuple[bytes, bytes]] = []
        if info.retry_after:
            extra.append((b"retry-after", info.retry_after.encode("latin-1")))
        if state["call_id"]:
            extra.append((b"x-litellm-call-id", state["call_id"].encode("latin-1")))
        state["status"] = status
        state["error_message"] = message
        await _send_json(send, status, body, extra)

    # -- recording --

    def _record(self, info: RequestInfo, state: dict[str, Any], scanner: _UsageScanner | None = None) -> None:
        """One record for the request log, handed to the writer thread (never written here)."""
        if self.log_writer is None:
            return
        status = state["status"] or 500
        mapping = self.settings.models.get(info.model or "")
        error_type = None
        message = state.get("error_message")
        if status >= 400:
            error_type = anthropic_error_type(status)
        latency_ms = (time.perf_counter() - info.started) * 1000.0
        self.log_writer.submit(
            RequestRecord(
                ts=time.time() - latency_ms / 1000.0,
                id=state["call_id"] or uuid.uuid4().hex,
                session=info.session,
                method=info.method,
                path=info.path,
                model=info.model,
                poe_model=mapping.poe_model if mapping else None,
                route=mapping.route if mapping else None,
                stream=info.stream,
                status=status,
                error_type=error_type,
                error_message=message[:MAX_ERROR_MESSAGE] if message else None,
                latency_ms=round(latency_ms, 2),
                ttft_ms=round(scanner.ttft_ms, 2) if scanner and scanner.ttft_ms is not None else None,
                input_tokens=scanner.input_tokens if scanner else None,
                output_tokens=scanner.output_tokens if scanner else None,
            )
        )
