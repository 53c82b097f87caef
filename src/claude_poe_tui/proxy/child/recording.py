"""What one request did, as the request log keeps it: watched on its way out, written off the path.

:class:`ResponseWatch` reads what the gateway sends the client (never what it does not): time to
the first generated token, token counts, and whether a stream reached its end. A stream that ends
with an error event, is cut, or never reaches ``message_stop`` (``[DONE]`` for OpenAI-style
streams) is a failed request, whatever the HTTP status said when it began.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from claude_poe_tui.proxy.child.errors import STATUS_FOR_ERROR_TYPE, anthropic_error_type
from claude_poe_tui.requestlog.record import RequestRecord

MAX_BUFFERED_BODY = 4 * 1024 * 1024  # non-streamed bodies above this are not parsed for tokens
MAX_ERROR_MESSAGE = 500


@dataclass
class RequestInfo:
    """What one request has told us so far."""

    started: float
    """``time.perf_counter()`` at arrival."""
    method: str
    path: str
    session: str | None = None
    agent_id: str | None = None
    parent_agent_id: str | None = None
    member: str | None = None
    model: str | None = None
    stream: bool | None = None
    status: int = 0
    error_message: str | None = None
    call_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    poe_model: str | None = None
    route: str | None = None
    answered_model: str | None = None
    failed: list[dict[str, Any]] | None = None
    max_tokens_lowered: list[int] | None = None
    body_bytes: int = 0
    poe_key: str | None = None
    attempt: Any = None
    """The engine's last attempt (what limits count tokens against)."""

    def fail(self, status: int, message: str) -> None:
        self.status = status
        self.error_message = message


class ResponseWatch:
    """Finds tokens, the first generated token and the end of a response, streamed or not."""

    def __init__(self, started: float, streaming: bool):
        self.started = started
        self.streaming = streaming
        self.ttft_ms: float | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.completed = False
        """A stream reached ``message_stop`` (or ``[DONE]``)."""
        self.error: tuple[int, str] | None = None
        """An error event the stream carried: (status, message)."""
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
        if b"message_stop" in line or line[5:].strip() == b"[DONE]":
            self.completed = True
            return
        if b'"usage"' in line or b'"error"' in line:
            try:
                payload = json.loads(line[5:].strip())
            except ValueError:
                return
            if isinstance(payload, dict) and (payload.get("type") == "error" or "error" in payload and "choices" not in payload):
                error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
                status = STATUS_FOR_ERROR_TYPE.get(str(error.get("type")), 500)
                self.error = (status, str(error.get("message") or "error event"))
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

    def take_answer(self, answer: Any) -> None:
        """A non-streamed answer, already parsed."""
        self._take_usage(answer)

    def finish(self) -> None:
        if self.streaming:
            if self._pending:
                self._line(self._pending)
                self._pending = b""
            return
        if self._body and not self._too_big:
            try:
                self._take_usage(json.loads(bytes(self._body)))
            except ValueError:
                pass
            self._body = bytearray()


def build_record(info: RequestInfo, watch: ResponseWatch | None) -> RequestRecord:
    status = info.status or 500
    message = info.error_message
    latency_ms = (time.perf_counter() - info.started) * 1000.0
    return RequestRecord(
        ts=time.time() - latency_ms / 1000.0,
        id=info.call_id,
        session=info.session,
        method=info.method,
        path=info.path,
        model=info.model,
        poe_model=info.poe_model,
        route=info.route,
        stream=info.stream,
        status=status,
        error_type=anthropic_error_type(status) if status >= 400 else None,
        error_message=message[:MAX_ERROR_MESSAGE] if message and status >= 400 else None,
        latency_ms=round(latency_ms, 2),
        ttft_ms=round(watch.ttft_ms, 2) if watch and watch.ttft_ms is not None else None,
        input_tokens=watch.input_tokens if watch else None,
        output_tokens=watch.output_tokens if watch else None,
        answered_model=info.answered_model,
        failed=info.failed or None,
        agent_id=info.agent_id,
        parent_agent_id=info.parent_agent_id,
        max_tokens_lowered=info.max_tokens_lowered,
        member=info.member,
        poe_key=info.poe_key,
    )
