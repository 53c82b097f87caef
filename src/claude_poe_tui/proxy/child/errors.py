"""Error answers in the shapes clients expect, with Poe's own message and nothing of LiteLLM's.

Pure functions and plain data: the gateway in the proxy child applies them to every error, before
and after a stream has started.

The ``error_type`` values a client (and the request log) can see, by status:

=====  ======================  ==========================================================
400    invalid_request_error   a body that is not a JSON object, a prompt over the bot's window,
                               or Poe refused the request
401    authentication_error    the master key (or a member token) is wrong, or Poe rejected the Poe key
402    billing_error           Poe: out of points
403    permission_error        Poe: moderation
404    not_found_error         a model name no mapping covers, or a bot Poe does not have
413    request_too_large       a body over ``[proxy] max_request_mb``
429    rate_limit_error        Poe's rate limit (``Retry-After`` kept)
500    api_error               Poe failed
502    api_error               Poe's answer was not valid JSON, or its stream was cut or ended early
503    api_error               Poe unavailable
504    timeout_error           Poe did not answer within ``[proxy] request_timeout``
529    overloaded_error        Poe overloaded, or the proxy stopped while a stream was open
499    cancelled               the client closed the connection first (not counted as an error)
=====  ======================  ==========================================================
"""

from __future__ import annotations

import json
import re
from typing import Any

CLIENT_CLOSED = 499  # nginx's number for "the client went away"; recorded, not an error

# Anthropic's error types by HTTP status (https://docs.claude.com/en/api/errors).
ANTHROPIC_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
    499: "cancelled",
}
# The status an error type stands for, for error events inside a stream (HTTP said 200 already).
STATUS_FOR_ERROR_TYPE: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def client_status(status: int) -> int:
    """The status the client gets for an upstream one: a timeout (408) becomes 504 timeout_error."""
    return 504 if status == 408 else status


def anthropic_error_type(status: int) -> str:
    if status in ANTHROPIC_ERROR_TYPES:
        return ANTHROPIC_ERROR_TYPES[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


_LITELLM_PREFIX = re.compile(r"^\s*(?:litellm\.)?[A-Za-z]+(?:Error|Exception)\s*:\s*")
_PROVIDER_PREFIX = re.compile(r"^\s*[A-Za-z]+Exception\s*-\s*")
_LITELLM_SUFFIXES = (
    "\n\nLiteLLM: model group",
    "LiteLLM Retried:",
    "Received Model Group=",
    ". Received Model Group",
    "\nmodel_group=",
)


def clean_message(raw: Any) -> str:
    """Poe's message out of LiteLLM's wrapping.

    ``litellm.RateLimitError: RateLimitError: PoeException - {"error": {"message": "slow down"}}
    \\n\\nLiteLLM: model group 'x' failed ...`` -> ``slow down``.
    """
    if isinstance(raw, dict):
        inner = raw.get("error") if isinstance(raw.get("error"), dict) else raw
        raw = inner.get("message", json.dumps(raw))
    text = str(raw)
    for suffix in _LITELLM_SUFFIXES:
        cut = text.find(suffix)
        if cut > 0:
            text = text[:cut]
    for _ in range(4):  # "litellm.X: X: PoeException - " has up to three layers
        stripped = _PROVIDER_PREFIX.sub("", _LITELLM_PREFIX.sub("", text, count=1), count=1)
        if stripped == text:
            break
        text = stripped
    text = text.strip()
    if text.startswith("{"):
        try:
            payload = json.loads(text)
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            error = payload.get("error", payload)
            if isinstance(error, dict) and isinstance(error.get("message"), str):
                return clean_message(error["message"])
            if isinstance(error, str):
                return error
    return text or "unknown error"


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": anthropic_error_type(status), "message": message}}


def openai_error(status: int, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": anthropic_error_type(status), "code": str(status)}}


def is_anthropic_path(path: str) -> bool:
    """Paths whose clients speak Anthropic's API (and expect its error shape)."""
    return path.startswith("/v1/messages") or path.startswith("/anthropic/") or path == "/v1/models"


def error_body(path: str, status: int, message: str) -> bytes:
    shape = anthropic_error if is_anthropic_path(path) else openai_error
    return json.dumps(shape(status, message)).encode("utf-8")


def sse_error_event(status: int, message: str) -> bytes:
    """An ``event: error`` in Anthropic's stream framing, for a stream that fails after it started."""
    payload = json.dumps(anthropic_error(status, message), ensure_ascii=False)
    return f"event: error\ndata: {payload}\n\n".encode("utf-8")


def openai_sse_error(status: int, message: str) -> bytes:
    """The same for an OpenAI-style stream (``/v1/chat/completions``)."""
    return b"data: " + json.dumps(openai_error(status, message)).encode("utf-8") + b"\n\n"
