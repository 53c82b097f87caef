"""One request as the request log keeps it: a JSON object per line.

Never prompt or response text, never a key: only what is needed to see which model answered, how
fast, and what failed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

CLIENT_CLOSED = 499  # the client went away before the answer ended: its choice, not a failure
SCHEMA_VERSION = 2  # 2: fallbacks, agents, lowered max_tokens, members, key pools (all optional)


@dataclass(slots=True)
class RequestRecord:
    ts: float
    """When the request arrived (Unix time, seconds)."""
    id: str
    """LiteLLM's call id when it has one, else ours."""
    session: str | None
    """Claude Code's session (``x-claude-code-session-id``), when it sent one."""
    method: str
    path: str
    model: str | None
    """The model name the client asked for."""
    poe_model: str | None
    """The Poe bot that the mapping sends it to."""
    route: str | None
    """``messages`` (untranslated) or ``chat`` (translated), from the mapping."""
    stream: bool | None
    status: int
    error_type: str | None
    error_message: str | None
    latency_ms: float
    """From the request's arrival to the response's last byte."""
    ttft_ms: float | None
    """To the first generated token (streamed responses only)."""
    input_tokens: int | None
    output_tokens: int | None
    answered_model: str | None = None
    """The mapped name that answered, when a fallback did (``poe_model`` is then its bot)."""
    failed: list[dict[str, Any]] | None = None
    """Bots tried before the one that answered, in order: ``{"model", "poe_model", "status",
    "error_type"}`` each. Empty or absent: the first bot answered (or failed alone)."""
    agent_id: str | None = None
    """Claude Code's subagent (``x-claude-code-agent-id``), when a subagent asked."""
    parent_agent_id: str | None = None
    """The agent that started that subagent (``x-claude-code-parent-agent-id``)."""
    max_tokens_lowered: list[int] | None = None
    """``[asked, sent]`` when ``max_tokens`` was lowered to the bot's maximum output."""
    member: str | None = None
    """The team member whose token was sent (``[[clients]] name``); absent for the master key."""
    poe_key: str | None = None
    """Which Poe key of a pool answered (its variable name), when ``[poe] api_keys`` is set."""
    v: int = SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        """Not a failure: answered, or cancelled by the client (499: Claude Code's Esc, Ctrl-C)."""
        return self.status < 400 or self.status == CLIENT_CLOSED

    @property
    def output_tokens_per_second(self) -> float | None:
        if not self.output_tokens or self.latency_ms <= 0:
            return None
        generation_ms = self.latency_ms - (self.ttft_ms or 0.0)
        if generation_ms <= 0:
            return None
        return self.output_tokens / (generation_ms / 1000.0)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestRecord:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for f in fields(cls):
            values.setdefault(f.name, None)
        values["v"] = data.get("v", SCHEMA_VERSION)
        return cls(**values)

    @classmethod
    def from_json(cls, line: str | bytes) -> RequestRecord | None:
        """Parse one log line; ``None`` for a line that is not a complete record."""
        try:
            data = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or "ts" not in data or "status" not in data:
            return None
        try:
            return cls.from_dict(data)
        except TypeError:
            return None
