"""Poe's Anthropic-compatible ``/v1/messages``, reached with the request as Claude Code sent it.

LiteLLM's messages transformation rebuilds the body from known fields: it drops ``output_config``
and fields it does not know, strips ``cache_control.ttl`` (one-hour caching becomes five minutes),
rewrites ``thinking.budget_tokens``, sorts and extends ``anthropic-beta`` and retries once after a
connection reset. The Claude route needs none of that, so a deployment whose route is ``messages``
is sent here by the engine: LiteLLM's Router still picks the deployment, applies limits and runs
fallbacks; this module only makes the one HTTP request.

It also checks what comes back, so a failure is never passed on as a success: a body that is not
JSON, a stream whose event is not JSON, a stream that is cut or ends before ``message_stop``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from claude_poe_tui.proxy.child.errors import STATUS_FOR_ERROR_TYPE, clean_message

DEFAULT_ANTHROPIC_VERSION = "2023-06-01"
MAX_ERROR_BODY = 64 * 1024
# Headers that describe the connection to us, or carry the client's key: never forwarded.
NOT_FORWARDED = frozenset(
    {
        b"host", b"content-length", b"authorization", b"x-api-key", b"connection", b"keep-alive",
        b"transfer-encoding", b"te", b"trailer", b"upgrade", b"proxy-authorization", b"proxy-connection",
        b"accept-encoding", b"content-encoding", b"cookie", b"x-forwarded-for", b"x-forwarded-host",
        b"x-forwarded-proto", b"x-real-ip", b"forwarded", b"expect", b"content-type",
    }
)


@dataclass
class UpstreamFailure(Exception):
    """Poe did not give an answer: its status, error type and own message, and ``Retry-After``."""

    status: int
    message: str
    retry_after: str | None = None
    during_stream: bool = False
    """The failure came after the response began (a cut, invalid JSON, an early end)."""

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


def forwarded_headers(client_headers: list[tuple[bytes, bytes]], api_key: str) -> list[tuple[bytes, bytes]]:
    """The client's headers as sent, minus connection and key headers, plus Poe's key."""
    headers = [(k, v) for k, v in client_headers if k not in NOT_FORWARDED]
    if not any(k == b"anthropic-version" for k, _ in headers):
        headers.append((b"anthropic-version", DEFAULT_ANTHROPIC_VERSION.encode()))
    headers.append((b"authorization", b"Bearer " + api_key.encode("latin-1")))
    headers.append((b"content-type", b"application/json"))
    return headers


class PoeMessages:
    """One shared connection pool to Poe; one request per call, never a retry."""

    def __init__(self) -> None:
        self.client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=100, keepalive_expiry=60),
            follow_redirects=False,
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def send(
        self,
        *,
        api_base: str,
        api_key: str,
        body: bytes,
        headers: list[tuple[bytes, bytes]],
        query: bytes,
        stream: bool,
        timeout: float,
    ) -> dict[str, Any] | AsyncIterator[bytes]:
        """Poe's answer: a dict, or the stream's bytes (whole SSE events). Raises :class:`UpstreamFailure`."""
        url = api_base.rstrip("/") + "/messages"
        if query:
            url += "?" + query.decode("latin-1")
        request = self.client.build_request(
            "POST", url, content=body, headers=forwarded_headers(headers, api_key),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 30.0)),
        )
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TimeoutException:
            raise UpstreamFailure(504, f"Poe did not answer within {timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise UpstreamFailure(502, f"could not reach Poe: {_describe(exc)}") from None
        if response.status_code != 200:
            raise await _failure_from(response)
        if not stream:
            try:
                raw = await response.aread()
            except httpx.HTTPError as exc:
                raise UpstreamFailure(502, f"Poe's answer was cut: {_describe(exc)}") from None
            finally:
                await response.aclose()
            try:
                answer = json.loads(raw)
            except ValueError:
                raise UpstreamFailure(502, f"Poe's answer is not valid JSON: {_snippet(raw)}") from None
            if not isinstance(answer, dict) or answer.get("type") == "error":
                raise _failure_from_payload(502, answer)
            return answer
        return _checked_events(response)


    async def count_tokens(self, *, api_base: str, api_key: str, body: bytes,
                           headers: list[tuple[bytes, bytes]]) -> int | None:
        """Poe's own count (``/v1/messages/count_tokens``), or None when Poe does not give one.

        Raises :class:`CountingUnsupported` when Poe has no such endpoint, so the caller stops asking.
        """
        url = api_base.rstrip("/") + "/messages/count_tokens"
        try:
            response = await self.client.post(url, content=body, headers=forwarded_headers(headers, api_key),
                                              timeout=httpx.Timeout(10.0))
        except httpx.HTTPError:
            return None
        if response.status_code in (404, 405, 501):
            raise CountingUnsupported()
        if response.status_code != 200:
            return None
        try:
            tokens = response.json().get("input_tokens")
        except (ValueError, AttributeError):
            return None
        return tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None


class CountingUnsupported(Exception):
    """Poe answers no ``/v1/messages/count_tokens`` (404/405)."""


async def _failure_from(response: httpx.Response) -> UpstreamFailure:
    try:
        raw = b""
        async for chunk in response.aiter_bytes():
            raw += chunk
            if len(raw) > MAX_ERROR_BODY:
                break
    except httpx.HTTPError:
        pass
    finally:
        await response.aclose()
    try:
        payload: Any = json.loads(raw)
    except ValueError:
        payload = _snippet(raw) or response.reason_phrase
    failure = _failure_from_payload(response.status_code, payload)
    failure.retry_after = response.headers.get("retry-after")
    return failure


def _failure_from_payload(status: int, payload: Any) -> UpstreamFailure:
    return UpstreamFailure(status, clean_message(payload) if payload not in (None, "") else f"HTTP {status}")


async def _checked_events(response: httpx.Response) -> AsyncIterator[bytes]:
    """Poe's stream, one or more whole events at a time, each checked; raises on anything broken."""
    pending = b""
    finished = False
    try:
        async for chunk in response.aiter_bytes():
            pending += chunk
            if b"\n\n" not in pending and b"\r\n\r\n" not in pending:
                continue
            pending = pending.replace(b"\r\n", b"\n")
            cut = pending.rfind(b"\n\n") + 2
            complete, pending = pending[:cut], pending[cut:]
            for event in complete.split(b"\n\n"):
                if event.strip():
                    kind = _check_event(event)
                    if kind == "message_stop":
                        finished = True
                    elif kind == "error":
                        finished = True  # Poe's own error event: passed on, the stream is over
            yield complete
    except httpx.TimeoutException:
        raise UpstreamFailure(504, "Poe stopped sending mid-stream (no data within the request timeout)",
                              during_stream=True) from None
    except httpx.HTTPError as exc:
        raise UpstreamFailure(502, f"Poe's stream was cut: {_describe(exc)}", during_stream=True) from None
    finally:
        await response.aclose()
    if pending.strip():
        _check_event(pending)
        yield pending
        finished = finished or b"message_stop" in pending
    if not finished:
        raise UpstreamFailure(502, "Poe's stream ended before message_stop", during_stream=True)


def _check_event(event: bytes) -> str:
    """The event's ``type``; :class:`UpstreamFailure` when its data is not a JSON object."""
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            data = line[5:].strip()
            try:
                payload = json.loads(data)
            except ValueError:
                raise UpstreamFailure(502, f"Poe sent a stream event that is not valid JSON: {_snippet(data)}",
                                      during_stream=True) from None
            if not isinstance(payload, dict):
                raise UpstreamFailure(502, f"Poe sent a stream event that is not a JSON object: {_snippet(data)}",
                                      during_stream=True)
            return str(payload.get("type", ""))
    if any(line and not line.startswith((b"event:", b":", b"id:", b"retry:")) for line in event.split(b"\n")):
        raise UpstreamFailure(502, f"Poe sent something that is not a stream event: {_snippet(event)}",
                              during_stream=True)
    return ""


def error_event_status(payload: dict[str, Any]) -> int:
    error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
    return STATUS_FOR_ERROR_TYPE.get(str(error.get("type")), 500)


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _snippet(raw: bytes) -> str:
    text = raw[:120].decode("utf-8", "replace").strip()
    return text + ("…" if len(raw) > 120 else "")
